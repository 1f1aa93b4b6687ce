package coco

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// sameDataset compares everything Load fills except Path and Quirks.
func sameDataset(t *testing.T, got, want *Dataset) {
	t.Helper()
	if got.CategoryID != want.CategoryID {
		t.Errorf("CategoryID = %d, want %d", got.CategoryID, want.CategoryID)
	}
	if !reflect.DeepEqual(got.Schema, want.Schema) {
		t.Errorf("Schema = %+v, want %+v", got.Schema, want.Schema)
	}
	if !reflect.DeepEqual(got.Images, want.Images) {
		t.Errorf("Images differ: %d vs %d records", len(got.Images), len(want.Images))
	}
	if len(got.Annotations) != len(want.Annotations) {
		t.Fatalf("%d annotations, want %d", len(got.Annotations), len(want.Annotations))
	}
	for i := range got.Annotations {
		if !reflect.DeepEqual(got.Annotations[i], want.Annotations[i]) {
			t.Fatalf("annotation %d = %+v, want %+v", i, got.Annotations[i], want.Annotations[i])
		}
	}
}

func roundTrip(t *testing.T, d *Dataset) *Dataset {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, d); err != nil {
		t.Fatal(err)
	}
	back, err := Parse("written.json", buf.Bytes())
	if err != nil {
		t.Fatalf("Parse(Write(d)): %v", err)
	}
	if len(back.Quirks) != 0 {
		t.Errorf("written file has quirks %q", back.Quirks)
	}
	return back
}

func TestWriteRoundTripFiles(t *testing.T) {
	check := func(t *testing.T, f string) {
		d, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		for i := range d.Annotations {
			d.Annotations[i].HasBox = true // Write always writes a bbox
		}
		sameDataset(t, roundTrip(t, d), d)
	}
	t.Run("tiny", func(t *testing.T) { check(t, "testdata/person_keypoints_tiny.json") })
	t.Run("shared", func(t *testing.T) {
		for f := range realAnnotationFiles(t) {
			t.Run(filepath.Base(filepath.Dir(filepath.Dir(f)))+"/"+filepath.Base(f), func(t *testing.T) { check(t, f) })
		}
	})
}

// TestWriteRoundTripSynthetic builds a dataset by hand with arbitrary
// float64 coordinates, as the synthetic generator does.
func TestWriteRoundTripSynthetic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	s := COCO17()
	d := &Dataset{CategoryID: 1, Schema: s}
	for i := range 20 {
		d.Images = append(d.Images, Image{ID: int64(i + 1), FileName: "images/" + string(rune('a'+i)) + ".jpg", Width: 640, Height: 480})
		for j := range 3 {
			a := Annotation{ID: int64(1e12) + int64(10*i+j), ImageID: int64(i + 1), CategoryID: 1, HasBox: true, Crowd: j == 2 && i%5 == 0}
			a.Keypoints = make([]Keypoint, s.K())
			for k := range a.Keypoints {
				if v := r.IntN(3); v > 0 {
					a.Keypoints[k] = Keypoint{X: r.Float64() * 640, Y: r.Float64() * 480, V: v}
					a.NumKeypoints++
				}
			}
			a.Box = Box{r.Float64() * 100, r.Float64() * 100, r.Float64() * 300, r.Float64() * 300}
			a.Area = a.Box.W * a.Box.H * r.Float64()
			d.Annotations = append(d.Annotations, a)
		}
	}
	if err := d.Reindex(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "person_keypoints.json")
	if err := WriteFile(path, d); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sameDataset(t, back, d)
	if got := back.AnnotationsOf(7); len(got) != 3 || got[0].ID != int64(1e12)+60 {
		t.Errorf("AnnotationsOf(7) = %+v", got)
	}
	// Custom sigmas survive through the extra category field.
	d.Schema, _ = d.Schema.WithSigmas(append([]float64{0.5}, d.Schema.Sigmas[1:]...))
	if back := roundTrip(t, d); back.Schema.Sigmas[0] != 0.5 {
		t.Errorf("sigma 0 after round trip = %v, want 0.5", back.Schema.Sigmas[0])
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil || len(entries) != 1 {
		t.Errorf("directory holds %d entries (%v), want only the written file", len(entries), err)
	}
}

func TestWriteRefuses(t *testing.T) {
	base := func() *Dataset {
		d := &Dataset{Path: "x.json", CategoryID: 1, Schema: NewSchema([]string{"a", "b"}, nil),
			Images:      []Image{{ID: 1, FileName: "a.jpg"}},
			Annotations: []Annotation{{ID: 4, ImageID: 1, Keypoints: []Keypoint{{1, 2, 2}, {0, 0, 0}}, Box: Box{0, 0, 1, 1}}}}
		return d
	}
	tests := []struct {
		name   string
		mutate func(d *Dataset)
		want   error
		msg    string
	}{
		{"keypoint length", func(d *Dataset) { d.Annotations[0].Keypoints = d.Annotations[0].Keypoints[:1] }, ErrKeypointsLength, "coco: x.json: annotation 4: keypoints: length 1, want 2 (K)"},
		{"NaN keypoint", func(d *Dataset) { d.Annotations[0].Keypoints[1].X = math.NaN() }, ErrNonFinite, "coco: x.json: annotation 4: keypoints: NaN or Inf at joint 1"},
		{"Inf area", func(d *Dataset) { d.Annotations[0].Area = math.Inf(1) }, ErrNonFinite, "coco: x.json: annotation 4: bbox: NaN or Inf in bbox or area"},
		{"bad schema", func(d *Dataset) { d.Schema.Sigmas = nil }, nil, "coco: write: coco: schema: 0 sigmas for 2 joints"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := base()
			var buf bytes.Buffer
			if err := Write(&buf, d); err != nil {
				t.Fatalf("valid dataset: %v", err)
			}
			tc.mutate(d)
			err := Write(&buf, d)
			if err == nil || err.Error() != tc.msg {
				t.Errorf("Write error = %v, want %q", err, tc.msg)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v is not %v", err, tc.want)
			}
		})
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "no", "such", "dir.json"), base()); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}
