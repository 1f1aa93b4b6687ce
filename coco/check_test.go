package coco

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCheckTinyFixture(t *testing.T) {
	d, err := Load("testdata/person_keypoints_tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	r := Check(d, "")
	got := []int{r.K, r.Images, r.Annotations, r.Persons, r.LabeledPersons, r.Crowd, r.Empty, r.ImagesWithoutAnnotations, r.ImagesChecked}
	if want := []int{17, 4, 15, 14, 13, 1, 1, 0, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("counts = %v, want %v", got, want)
	}
	// Nose (visibility pattern character 0 of each annotation in the
	// fixture): labeled in 11 non-crowd annotations, v=2 in 9 of them.
	if j := r.Joints[0]; j != (JointCount{"nose", 11, 9}) {
		t.Errorf("nose = %+v, want {nose 11 9}", j)
	}
	total := 0
	for _, j := range r.Joints {
		total += j.Labeled
	}
	want := 0
	for _, a := range d.Persons() {
		want += a.NumKeypoints
	}
	if total != want {
		t.Errorf("sum of labeled joints = %d, want %d", total, want)
	}
	if r.Fatal() {
		t.Errorf("Fatal with problems %q", r.Problems())
	}
}

func TestCheckImages(t *testing.T) {
	dir := t.TempDir()
	writePNG := func(name string, w, h int) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d := &Dataset{Path: "mem.json", Schema: NewSchema([]string{"left_a", "right_a"}, nil)}
	add := func(id int64, name string, w, h int) {
		d.Images = append(d.Images, Image{ID: id, FileName: name, Width: w, Height: h})
	}
	writePNG("sub/@ok.png", 8, 6)
	add(1, "sub/@ok.png", 8, 6)
	writePNG("size.png", 8, 6)
	add(2, "size.png", 9, 6)
	if err := os.WriteFile(filepath.Join(dir, "junk.jpg"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	add(3, "junk.jpg", 0, 0)
	for i := range 12 {
		add(int64(10+i), fmt.Sprintf("missing/%02d.jpg", 11-i), 0, 0)
	}
	d.Annotations = []Annotation{{ID: 1, ImageID: 1, Keypoints: []Keypoint{{1, 1, 2}, {0, 0, 0}}, NumKeypoints: 1}}
	if err := d.Reindex(); err != nil {
		t.Fatal(err)
	}
	r := Check(d, dir)
	if r.ImagesChecked != 15 || r.Missing != 12 || r.Unreadable != 1 || r.SizeMismatch != 1 || r.ImagesWithoutAnnotations != 14 {
		t.Errorf("checked %d missing %d unreadable %d size %d without %d; want 15 12 1 1 14",
			r.ImagesChecked, r.Missing, r.Unreadable, r.SizeMismatch, r.ImagesWithoutAnnotations)
	}
	wantMissing := []string{}
	for i := range 10 {
		wantMissing = append(wantMissing, fmt.Sprintf("missing/%02d.jpg", i))
	}
	if !reflect.DeepEqual(r.MissingExamples, wantMissing) {
		t.Errorf("MissingExamples = %q, want the first ten sorted", r.MissingExamples)
	}
	if len(r.UnreadableExamples) != 1 || !strings.HasPrefix(r.UnreadableExamples[0], "junk.jpg: decode header: ") {
		t.Errorf("UnreadableExamples = %q", r.UnreadableExamples)
	}
	if len(r.SizeExamples) != 1 || r.SizeExamples[0] != "size.png: png is 8x6, annotation says 9x6" {
		t.Errorf("SizeExamples = %q", r.SizeExamples)
	}
	if !r.Fatal() || !reflect.DeepEqual(r.Problems(), []string{"12 missing image files", "1 unreadable image files"}) {
		t.Errorf("Problems = %q, want missing and unreadable", r.Problems())
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"missing/00.jpg", "missing/09.jpg", "junk.jpg: decode header", "status", "FATAL: 12 missing image files"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text report lacks %q:\n%s", s, text.String())
		}
	}
	if strings.Contains(text.String(), "missing/10.jpg") {
		t.Errorf("text report lists more than ten missing files:\n%s", text.String())
	}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if back["missing_images"] != 12.0 || back["persons_labeled"] != 1.0 {
		t.Errorf("JSON report = %s", js)
	}

	// Without an images directory nothing is opened and nothing is fatal.
	if r := Check(d, ""); r.ImagesChecked != 0 || r.Missing != 0 || r.Fatal() {
		t.Errorf("Check without images: %+v", r)
	}
	// No labeled person is fatal too.
	d.Annotations[0].NumKeypoints, d.Annotations[0].Keypoints[0].V = 0, 0
	if r := Check(d, ""); !r.Fatal() {
		t.Error("a dataset without labeled persons is not fatal")
	}
}

func TestCheckSharedData(t *testing.T) {
	for f, images := range realAnnotationFiles(t) {
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(f)))+"/"+filepath.Base(f), func(t *testing.T) {
			d, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			r := Check(d, images)
			if r.ImagesChecked != len(d.Images) || r.Missing != 0 || r.Unreadable != 0 || r.Fatal() {
				t.Errorf("checked %d of %d, missing %d %q, unreadable %d %q, problems %q",
					r.ImagesChecked, len(d.Images), r.Missing, r.MissingExamples, r.Unreadable, r.UnreadableExamples, r.Problems())
			}
			if r.LabeledPersons != len(d.Persons()) || r.Persons != r.LabeledPersons+r.Empty {
				t.Errorf("persons %d labeled %d empty %d, Persons() %d", r.Persons, r.LabeledPersons, r.Empty, len(d.Persons()))
			}
		})
	}
}
