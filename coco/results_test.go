package coco

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// twoJointGT is a ground truth with images 1 and 2 and a 2-joint schema.
func twoJointGT() *Dataset {
	return &Dataset{CategoryID: 1, Schema: Schema{Names: []string{"a", "b"}, Sigmas: []float64{0.1, 0.1}},
		Images: []Image{{ID: 1}, {ID: 2}}}
}

func TestParseResults(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		n       int    // results on success
		wantErr string // substring of the error, "" for success
	}{
		{"empty list", `[]`, 0, ""},
		{"empty list with spaces", " [ ]\n", 0, ""},
		{"one", `[{"image_id":1,"category_id":1,"keypoints":[1,2,0.9,3,4,0],"score":0.5}]`, 1, ""},
		{"float id and bbox", `[{"image_id":2.0,"category_id":1,"keypoints":[1,2,1,3,4,1],"score":1,"bbox":[0,0,5,6],"extra":"x"}]`, 1, ""},
		{"empty bbox", `[{"image_id":2,"category_id":1,"keypoints":[1,2,1,3,4,1],"score":1,"bbox":[]}]`, 1, ""},
		{"not a list", `{"image_id":1}`, 0, "must be a JSON list"},
		{"string", `"results"`, 0, "must be a JSON list"},
		{"not json", `hello`, 0, "not JSON"},
		{"empty input", ``, 0, "not JSON"},
		{"entry not object", `[{"image_id":1,"category_id":1,"keypoints":[1,2,1,3,4,1],"score":1}, 3]`, 0, "result 1: want an object"},
		{"unknown image", `[{"image_id":1,"category_id":1,"keypoints":[1,2,1,3,4,1],"score":1},{"image_id":9,"category_id":1,"keypoints":[1,2,1,3,4,1],"score":1}]`, 0, "result 1: image_id 9 is not an image"},
		{"wrong length", `[{"image_id":1,"category_id":1,"keypoints":[1,2,1,3,4],"score":1}]`, 0, "result 0: keypoints has 5 numbers, want 6"},
		{"NaN token", `[{"image_id":1,"category_id":1,"keypoints":[1,2,1,3,4,1],"score":1},{"image_id":1,"category_id":1,"keypoints":[NaN,2,1,3,4,1],"score":1}]`, 0, "result 1"},
		{"Infinity token", `[{"image_id":1,"category_id":1,"keypoints":[1,2,1,3,4,1],"score":Infinity}]`, 0, "NaN and Infinity are not valid JSON"},
		{"overflow", `[{"image_id":1,"category_id":1,"keypoints":[1e999,2,1,3,4,1],"score":1}]`, 0, "result 0"},
		{"missing score", `[{"image_id":1,"category_id":1,"keypoints":[1,2,1,3,4,1]}]`, 0, "result 0: missing score"},
		{"missing keypoints", `[{"image_id":1,"category_id":1,"score":1}]`, 0, "result 0: missing keypoints"},
		{"missing image", `[{"category_id":1,"keypoints":[1,2,1,3,4,1],"score":1}]`, 0, "result 0: missing image_id"},
		{"fractional id", `[{"image_id":1.5,"category_id":1,"keypoints":[1,2,1,3,4,1],"score":1}]`, 0, "not an integer id"},
		{"bad bbox", `[{"image_id":1,"category_id":1,"keypoints":[1,2,1,3,4,1],"score":1,"bbox":[1,2,3]}]`, 0, "bbox has 3 numbers"},
		{"trailing data", `[] []`, 0, "trailing data"},
		{"truncated", `[{"image_id":1,"category_id":1,"keypoints":[1,2,1,3,4,1],"score":1}`, 0, "after result 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := ParseResults("dt.json", []byte(tc.in), twoJointGT())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if len(rs) != tc.n {
					t.Fatalf("%d results, want %d", len(rs), tc.n)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "coco: dt.json: ") {
				t.Errorf("error %q, want prefix \"coco: dt.json: \" and %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseResultsFields(t *testing.T) {
	in := `[{"image_id":2,"category_id":3,"keypoints":[1.5,2,0.25,3,4,2],"score":0.75,"bbox":[1,2,3,4]}]`
	rs, err := ParseResults("x", []byte(in), twoJointGT())
	if err != nil {
		t.Fatal(err)
	}
	want := Result{ImageID: 2, CategoryID: 3, Keypoints: []Keypoint{{1.5, 2, 1}, {3, 4, 2}},
		KeypointScores: []float64{0.25, 2}, Score: 0.75, Box: &Box{1, 2, 3, 4}}
	if !reflect.DeepEqual(rs[0], want) {
		t.Errorf("got %+v, want %+v", rs[0], want)
	}
	if a := resultArea(&rs[0]); a != 12 {
		t.Errorf("area with bbox = %v, want 12 (bbox w*h)", a)
	}
	rs[0].Box = nil
	if a := resultArea(&rs[0]); a != 1.5*2 {
		t.Errorf("area from keypoints = %v, want 3 (extent 1.5 x 2)", a)
	}
}

func TestWriteResultsRoundTrip(t *testing.T) {
	in := []Result{
		{ImageID: 1, CategoryID: 1, Keypoints: []Keypoint{{0.1, 1e-7, 1}, {123456.789, -3, 0}}, Score: 0.3},
		{ImageID: 2, CategoryID: 1, Keypoints: []Keypoint{{1, 2, 1}, {3, 4, 1}}, KeypointScores: []float64{0.9, 0.125}, Score: 1, Box: &Box{1, 2, 3, 4}},
	}
	var b bytes.Buffer
	if err := WriteResults(&b, in); err != nil {
		t.Fatal(err)
	}
	out, err := ParseResults("rt", b.Bytes(), twoJointGT())
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	// The first result had no KeypointScores: V is written and read back.
	in[0].KeypointScores = []float64{1, 0}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip:\n got %+v\nwant %+v\n%s", out, in, b.String())
	}

	b.Reset()
	if err := WriteResults(&b, nil); err != nil || strings.TrimSpace(b.String()) != "[\n]" {
		t.Errorf("empty: %q, %v", b.String(), err)
	}
	bad := []Result{{ImageID: 1, Keypoints: []Keypoint{{math.NaN(), 0, 1}}}}
	if err := WriteResults(&b, bad); err == nil || !strings.Contains(err.Error(), "result 0") {
		t.Errorf("NaN: error %v, want one naming result 0", err)
	}
}

func TestLoadResultsMissingFile(t *testing.T) {
	_, err := LoadResults(filepath.Join(t.TempDir(), "none.json"), twoJointGT())
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "coco: read ") {
		t.Errorf("error %v, want a wrapped not-exist error", err)
	}
}

func FuzzParseResults(f *testing.F) {
	f.Add([]byte(`[{"image_id":1,"category_id":1,"keypoints":[1,2,0.9,3,4,0],"score":0.5}]`))
	f.Add([]byte(`[{"image_id":2,"category_id":1,"keypoints":[1,2,1,3,4,1],"score":1,"bbox":[0,0,5,6]}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"a":[1,2]}`))
	f.Add([]byte(`[{"image_id":1e400}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		gt := twoJointGT()
		rs, err := ParseResults("fuzz", data, gt)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "coco: fuzz: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		for i, r := range rs {
			if len(r.Keypoints) != 2 || !resFinite(r.Score) {
				t.Fatalf("result %d: %+v", i, r)
			}
		}
		var b bytes.Buffer
		if err := WriteResults(&b, rs); err != nil {
			t.Fatal(err)
		}
		back, err := ParseResults("fuzz", b.Bytes(), gt)
		if err != nil || !reflect.DeepEqual(back, rs) && len(rs) > 0 {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, rs, back)
		}
		// Any parsed results evaluate without panicking or NaN.
		s := EvaluateOKS(gt, rs, gt.Schema.Sigmas)
		for _, v := range s.values() {
			if math.IsNaN(v) || v < -1 || v > 1 {
				t.Fatalf("stats %+v", s)
			}
		}
	})
}
