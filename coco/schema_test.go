package coco

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestCOCO17(t *testing.T) {
	s := COCO17()
	if s.K() != 17 || s.Names[0] != "nose" || s.Names[16] != "right_ankle" {
		t.Fatalf("names = %v", s.Names)
	}
	if len(s.Skeleton) != 19 || s.Skeleton[0] != [2]int{15, 13} || s.Skeleton[18] != [2]int{4, 6} {
		t.Errorf("skeleton = %v, want 19 edges from [15 13] to [4 6]", s.Skeleton)
	}
	wantFlip := [][2]int{{1, 2}, {3, 4}, {5, 6}, {7, 8}, {9, 10}, {11, 12}, {13, 14}, {15, 16}}
	if !reflect.DeepEqual(s.FlipPairs, wantFlip) {
		t.Errorf("flip pairs = %v, want %v", s.FlipPairs, wantFlip)
	}
	// pycocotools cocoeval.py: np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0
	want := []float64{.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89}
	for i, w := range want {
		if math.Abs(s.Sigmas[i]-w/10) > 1e-12 {
			t.Errorf("sigma %d (%s) = %v, want %v", i, s.Names[i], s.Sigmas[i], w/10)
		}
	}
	if err := s.Validate(); err != nil {
		t.Error(err)
	}
	// Independent copies: editing one result does not change the next.
	s.Names[0] = "x"
	if COCO17().Names[0] != "nose" {
		t.Error("COCO17 shares its name slice")
	}
}

func TestFlipPairsOf(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		want  [][2]int
	}{
		{"LSP", []string{"right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "neck", "head_top"},
			[][2]int{{0, 5}, {1, 4}, {2, 3}, {6, 11}, {7, 10}, {8, 9}}},
		{"AIC spaces and capitals", []string{"Right Shoulder", "Right Elbow", "Left Shoulder", "Left Elbow", "Head top", "Neck"},
			[][2]int{{0, 2}, {1, 3}}},
		{"MHP hyphens", []string{"Right-ankle", "Pelvis", "Left-ankle"}, [][2]int{{0, 2}}},
		{"l_ r_ prefixes", []string{"l_hand", "r_hand", "l_foot", "nose", "r_foot"}, [][2]int{{0, 1}, {2, 4}}},
		{"side suffixes", []string{"eye_right", "eye_left"}, [][2]int{{0, 1}}},
		{"unpaired", []string{"left_wing", "right_tail", "left", "right"}, [][2]int{}},
		{"empty", nil, [][2]int{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FlipPairsOf(tc.names); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("FlipPairsOf(%q) = %v, want %v", tc.names, got, tc.want)
			}
		})
	}
}

func TestSigmaOf(t *testing.T) {
	tests := []struct {
		name  string
		want  float64
		known bool
	}{
		{"nose", 0.026, true},
		{"Left Eye", 0.025, true},
		{"right-ear", 0.035, true},
		{"LEFT_SHOULDER", 0.079, true},
		{"right_elbow", 0.072, true},
		{"left_wrist", 0.062, true},
		{"right_hip", 0.107, true},
		{"left_knee", 0.087, true},
		{"right_ankle", 0.089, true},
		{"neck", 0.079, true},
		{"Head top", 0.079, true},
		{"head", 0.079, true},
		{"pelvis", DefaultSigma, false},
		{"", DefaultSigma, false},
	}
	for _, tc := range tests {
		got, known := SigmaOf(tc.name)
		if got != tc.want || known != tc.known {
			t.Errorf("SigmaOf(%q) = %v, %v; want %v, %v", tc.name, got, known, tc.want, tc.known)
		}
	}
}

func TestWithSigmas(t *testing.T) {
	s := NewSchema([]string{"left_hand", "right_hand", "nose"}, [][2]int{{0, 2}, {1, 2}})
	got, err := s.WithSigmas([]float64{0.1, 0.2, 0.3})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Sigmas, []float64{0.1, 0.2, 0.3}) || !reflect.DeepEqual(s.Sigmas, []float64{DefaultSigma, DefaultSigma, 0.026}) {
		t.Errorf("WithSigmas: got %v, original now %v", got.Sigmas, s.Sigmas)
	}
	if !reflect.DeepEqual(got.Names, s.Names) || !reflect.DeepEqual(got.Skeleton, s.Skeleton) || !reflect.DeepEqual(got.FlipPairs, [][2]int{{0, 1}}) {
		t.Errorf("WithSigmas changed more than sigmas: %+v", got)
	}
	for _, bad := range []struct {
		in   []float64
		want string
	}{
		{[]float64{0.1, 0.2}, "got 2 values, want 3"},
		{[]float64{0.1, math.NaN(), 0.3}, "value 1 (right_hand) is NaN"},
		{[]float64{0.1, 0.2, 0}, "value 2 (nose) is 0"},
		{[]float64{0.1, math.Inf(1), 0.3}, "is +Inf"},
		{[]float64{-0.1, 0.2, 0.3}, "is -0.1"},
	} {
		if _, err := s.WithSigmas(bad.in); err == nil || !strings.Contains(err.Error(), bad.want) || !strings.HasPrefix(err.Error(), "coco: sigmas: ") {
			t.Errorf("WithSigmas(%v) error = %v, want one containing %q", bad.in, err, bad.want)
		}
	}
}

func TestSchemaHelpers(t *testing.T) {
	s := COCO17()
	if got := s.Index("Left Wrist"); got != 9 {
		t.Errorf("Index(Left Wrist) = %d, want 9", got)
	}
	if got := s.Index("tail"); got != -1 {
		t.Errorf("Index(tail) = %d, want -1", got)
	}
	perm := s.FlipIndex()
	want := []int{0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15}
	if !reflect.DeepEqual(perm, want) {
		t.Errorf("FlipIndex = %v, want %v", perm, want)
	}
	bad := s
	bad.Sigmas = bad.Sigmas[:3]
	if err := bad.Validate(); err == nil {
		t.Error("Validate accepted 3 sigmas for 17 joints")
	}
	bad = COCO17()
	bad.Skeleton = append(bad.Skeleton, [2]int{0, 17})
	if err := bad.Validate(); err == nil {
		t.Error("Validate accepted skeleton edge [0 17]")
	}
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "coco: skeleton edge") {
			t.Errorf("NewSchema with a bad edge: recover() = %v, want a coco: panic", r)
		}
	}()
	NewSchema([]string{"a", "b"}, [][2]int{{0, 2}})
}

func ExampleCOCO17() {
	s := COCO17()
	fmt.Println(s.K(), s.Names[5], s.Sigmas[5])
	fmt.Println("skeleton[0]:", s.Skeleton[0], "flip pairs:", s.FlipPairs[:3])
	// Output:
	// 17 left_shoulder 0.079
	// skeleton[0]: [15 13] flip pairs: [[1 2] [3 4] [5 6]]
}

func ExampleParse() {
	data := []byte(`{
	  "images": [{"id": "03540", "file_name": "clip/0001.jpg", "width": 640, "height": 480}],
	  "annotations": [{"id": 7, "image_id": "03540", "category_id": 1, "iscrowd": false,
	                   "bbox": [100, 50, 80, 200], "keypoints": [120, 60, 2.0, 0, 0, 0, 140, 62, 1]}],
	  "categories": [{"id": 1, "name": "person", "keypoints": ["nose", "left_eye", "right_eye"], "skeleton": [[0, 1], [0, 2]]}]
	}`)
	d, err := Parse("example.json", data)
	if err != nil {
		fmt.Println(err)
		return
	}
	a := d.Annotations[0]
	fmt.Println(d.Schema.Names, d.Schema.Skeleton, d.Schema.FlipPairs)
	fmt.Println(a.ImageID, a.NumKeypoints, a.Keypoints[2], a.Area)
	for _, q := range d.Quirks {
		fmt.Println(q)
	}
	_, err = Parse("bad.json", []byte(`{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"id": 9, "image_id": 1, "keypoints": [1, 2, 2, 5]}],
	  "categories": [{"id": 1, "name": "person", "keypoints": ["nose", "left_eye", "right_eye"]}]}`))
	fmt.Println(err)
	// Output:
	// [nose left_eye right_eye] [[0 1] [0 2]] [[1 2]]
	// 3540 2 {140 62 1} 16000
	// ids: 2 ids given as strings; parsed as integers
	// annotations: area missing in 1 annotations; filled from bbox w*h
	// annotations: iscrowd given as a boolean in 1 annotations
	// annotations: num_keypoints missing in 1 annotations; recounted from v>0
	// skeleton: 0-based indices detected; used as 0-based
	// coco: bad.json: annotation 9: keypoints: length 4, want 9 (3*3)
}
