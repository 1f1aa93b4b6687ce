package coco

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/bsampose/bsampose/internal/shareddata"
)

// cat3 is a 3-joint category used by most inline cases.
const cat3 = `{"id": 1, "name": "person", "keypoints": ["nose", "left_eye", "right_eye"], "skeleton": [[1, 2], [1, 3]]}`

// img1 is a single 640x480 image with id 1.
const img1 = `{"id": 1, "file_name": "a.jpg", "width": 640, "height": 480}`

// doc assembles a small COCO file.
func doc(images, anns, cats string) []byte {
	return []byte(`{"images": [` + images + `], "annotations": [` + anns + `], "categories": [` + cats + `]}`)
}

func hasQuirk(d *Dataset, sub string) bool {
	for _, q := range d.Quirks {
		if strings.Contains(q, sub) {
			return true
		}
	}
	return false
}

func TestParseQuirks(t *testing.T) {
	full := `"iscrowd": 0, "num_keypoints": 2, "area": 100, "bbox": [10, 20, 30, 40]`
	tests := []struct {
		name  string
		data  []byte
		quirk string // substring of one Quirks line; "" means Quirks must be empty
		check func(t *testing.T, d *Dataset)
	}{
		{
			name:  "clean",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": 1, `+full+`, "keypoints": [1, 2, 2, 3, 4, 1, 0, 0, 0]}`, cat3),
			quirk: "",
			check: func(t *testing.T, d *Dataset) {
				a := d.Annotations[0]
				want := Annotation{ID: 5, ImageID: 1, CategoryID: 1, NumKeypoints: 2, Box: Box{10, 20, 30, 40}, HasBox: true, Area: 100,
					Keypoints: []Keypoint{{1, 2, 2}, {3, 4, 1}, {0, 0, 0}}}
				if !reflect.DeepEqual(a, want) {
					t.Errorf("annotation = %+v, want %+v", a, want)
				}
			},
		},
		{
			name:  "missing area filled from bbox",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [0, 0, 30, 40], "keypoints": [1, 2, 2, 3, 4, 1, 0, 0, 0]}`, cat3),
			quirk: "area missing in 1 annotations",
			check: func(t *testing.T, d *Dataset) {
				if got := d.Annotations[0].Area; got != 1200 {
					t.Errorf("Area = %v, want 1200", got)
				}
			},
		},
		{
			name:  "missing iscrowd",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": 1, "area": 1, "bbox": [0, 0, 3, 4], "keypoints": [1, 2, 2, 3, 4, 1, 0, 0, 0]}`, cat3),
			quirk: "iscrowd missing in 1",
			check: func(t *testing.T, d *Dataset) {
				if d.Annotations[0].Crowd {
					t.Error("Crowd = true, want false")
				}
			},
		},
		{
			name:  "boolean iscrowd",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": 1, "iscrowd": true, "area": 1, "bbox": [0, 0, 3, 4], "keypoints": [0,0,0, 0,0,0, 0,0,0]}, {"id": 6, "image_id": 1, "category_id": 1, "iscrowd": false, "area": 1, "bbox": [0, 0, 3, 4], "keypoints": [1,1,2, 0,0,0, 0,0,0]}`, cat3),
			quirk: "boolean in 2 annotations",
			check: func(t *testing.T, d *Dataset) {
				if !d.Annotations[0].Crowd || d.Annotations[1].Crowd {
					t.Errorf("Crowd = %v, %v; want true, false", d.Annotations[0].Crowd, d.Annotations[1].Crowd)
				}
				if p := d.Persons(); len(p) != 1 || p[0].ID != 6 {
					t.Errorf("Persons = %+v, want only annotation 6", p)
				}
			},
		},
		{
			name:  "missing num_keypoints recounted",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 1, "bbox": [0, 0, 3, 4], "keypoints": [1, 2, 2, 3, 4, 1, 5, 5, 0]}`, cat3),
			quirk: "num_keypoints missing in 1",
			check: func(t *testing.T, d *Dataset) {
				if got := d.Annotations[0].NumKeypoints; got != 2 {
					t.Errorf("NumKeypoints = %d, want 2", got)
				}
			},
		},
		{
			name:  "num_keypoints disagrees",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": 1, "iscrowd": 0, "num_keypoints": 1, "area": 1, "bbox": [0, 0, 3, 4], "keypoints": [1, 2, 2, 3, 4, 1, 5, 5, 1]}`, cat3),
			quirk: "num_keypoints disagreed with the v>0 count in 1",
			check: func(t *testing.T, d *Dataset) {
				if got := d.Annotations[0].NumKeypoints; got != 3 {
					t.Errorf("NumKeypoints = %d, want 3 (v=1 counts as labeled)", got)
				}
			},
		},
		{
			name:  "float visibility",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": 1, `+full+`, "keypoints": [1.5, 2.25, 2.0, 3, 4, 1.0, 0, 0, 0.0]}`, cat3),
			quirk: "",
			check: func(t *testing.T, d *Dataset) {
				want := []Keypoint{{1.5, 2.25, 2}, {3, 4, 1}, {0, 0, 0}}
				if got := d.Annotations[0].Keypoints; !reflect.DeepEqual(got, want) {
					t.Errorf("Keypoints = %v, want %v", got, want)
				}
			},
		},
		{
			name:  "non-integer visibility rounded",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": 1, `+full+`, "keypoints": [1, 2, 1.6, 3, 4, 0.4, 0, 0, 0]}`, cat3),
			quirk: "2 non-integer visibility values rounded",
			check: func(t *testing.T, d *Dataset) {
				if k := d.Annotations[0].Keypoints; k[0].V != 2 || k[1].V != 0 {
					t.Errorf("V = %d, %d; want 2, 0", k[0].V, k[1].V)
				}
			},
		},
		{
			name:  "negative visibility",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": 1, `+full+`, "keypoints": [1, 2, -1, 3, 4, 2, 0, 0, 0]}`, cat3),
			quirk: "1 negative visibility values treated as unlabeled",
			check: func(t *testing.T, d *Dataset) {
				if a := d.Annotations[0]; a.Keypoints[0].V != 0 || a.NumKeypoints != 1 {
					t.Errorf("V = %d, NumKeypoints = %d; want 0, 1", a.Keypoints[0].V, a.NumKeypoints)
				}
			},
		},
		{
			name:  "0-based skeleton",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": 1, `+full+`, "keypoints": [1,2,2, 3,4,1, 0,0,0]}`, `{"id": 1, "name": "person", "keypoints": ["nose", "left_eye", "right_eye"], "skeleton": [[0, 1], [0, 2]]}`),
			quirk: "skeleton: 0-based indices detected",
			check: func(t *testing.T, d *Dataset) {
				if want := [][2]int{{0, 1}, {0, 2}}; !reflect.DeepEqual(d.Schema.Skeleton, want) {
					t.Errorf("Skeleton = %v, want %v", d.Schema.Skeleton, want)
				}
			},
		},
		{
			name:  "out-of-range skeleton edges dropped",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": 1, `+full+`, "keypoints": [1,2,2, 3,4,1, 0,0,0]}`, `{"id": 1, "name": "person", "keypoints": ["nose", "left_eye", "right_eye"], "skeleton": [[1, 2], [16, 14], [3, 17], [2, 3]]}`),
			quirk: "skeleton: dropped 2 of 4 edges out of range for 3 joints",
			check: func(t *testing.T, d *Dataset) {
				if want := [][2]int{{0, 1}, {1, 2}}; !reflect.DeepEqual(d.Schema.Skeleton, want) {
					t.Errorf("Skeleton = %v, want %v", d.Schema.Skeleton, want)
				}
			},
		},
		{
			name:  "missing skeleton",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": 1, `+full+`, "keypoints": [1,2,2, 3,4,1, 0,0,0]}`, `{"id": 1, "name": "person", "keypoints": ["nose", "left_eye", "right_eye"]}`),
			quirk: "skeleton: missing",
			check: func(t *testing.T, d *Dataset) {
				if len(d.Schema.Skeleton) != 0 {
					t.Errorf("Skeleton = %v, want empty", d.Schema.Skeleton)
				}
			},
		},
		{
			name: "unknown fields and segmentation variants",
			data: doc(`{"id": 1, "file_name": "a.jpg", "width": 640, "height": 480, "crowdIndex": 0.33, "ignore_regions_x": [[1, 2], [3]], "meta": {"a": [null, true, "x\"y"]}}`,
				`{"id": 5, "image_id": 1, "category_id": 1, `+full+`, "segmentation": {"counts": "a2b3", "size": [480, 640]}, "face_box": [1, 2, 3, 4], "keypoints": [1,2,2, 3,4,1, 0,0,0], "keypoints_3d": [[1, 2, 3]], "track_id": 0},
				 {"id": 6, "image_id": 1, "category_id": 1, `+full+`, "segmentation": [], "keypoints": [1,2,2, 3,4,1, 0,0,0]},
				 {"id": 7, "image_id": 1, "category_id": 1, `+full+`, "segmentation": {"counts": [0, 5, 307195], "size": [480, 640]}, "keypoints": [1,2,2, 3,4,1, 0,0,0]}`,
				`{"id": 1, "name": "person", "supercategory": "person", "keypoints": ["nose", "left_eye", "right_eye"], "skeleton": [[1, 2]], "keypoints_21": ["a"]}`),
			quirk: "",
			check: func(t *testing.T, d *Dataset) {
				if len(d.Annotations) != 3 || len(d.Images) != 1 {
					t.Errorf("got %d annotations, %d images; want 3, 1", len(d.Annotations), len(d.Images))
				}
			},
		},
		{
			name: "escaped keys and strings",
			data: doc(`{"i\u0064": 1, "file_name": "caf\u00e9/\"x\".jpg", "width": 640.0, "height": 480}`,
				`{"id": 5, "image_\u0069d": 1, "category_id": 1, `+full+`, "keypoints": [1,2,2, 3,4,1, 0,0,0]}`, cat3),
			quirk: "",
			check: func(t *testing.T, d *Dataset) {
				if im, ok := d.Image(1); !ok || im.FileName != `café/"x".jpg` || im.Width != 640 {
					t.Errorf("Image(1) = %+v, %v", im, ok)
				}
			},
		},
		{
			name:  "ids above 2^31 and 2^53",
			data:  doc(`{"id": 10128340000, "file_name": "val/012834_mpii_test/000000.jpg", "width": 1920, "height": 1080}`, `{"id": 9007199254740993, "image_id": 10128340000, "category_id": 1, `+full+`, "keypoints": [1,2,2, 3,4,1, 0,0,0]}`, cat3),
			quirk: "",
			check: func(t *testing.T, d *Dataset) {
				if a := d.Annotations[0]; a.ID != 9007199254740993 || a.ImageID != 10128340000 {
					t.Errorf("ids = %d, %d", a.ID, a.ImageID)
				}
				im, ok := d.Image(10128340000)
				if !ok || im.FileName != "val/012834_mpii_test/000000.jpg" {
					t.Errorf("Image = %+v, %v; want the sub-folder file name", im, ok)
				}
			},
		},
		{
			name: "string ids and image key",
			data: []byte(`{"info": [], "license": [], "image": [{"id": "03540", "file_name": "brodarski-C_x_right.jpg", "width": 640, "height": 480}],
				"annotations": [{"id": "03540", "image_id": "03540", "category_id": 1, ` + full + `, "keypoints": [1,2,2, 3,4,1, 0,0,0]}], "categories": [` + cat3 + `]}`),
			quirk: "3 ids given as strings",
			check: func(t *testing.T, d *Dataset) {
				if !hasQuirk(d, `key "image" used`) {
					t.Errorf("no quirk for the image key: %q", d.Quirks)
				}
				if a := d.Annotations[0]; a.ID != 3540 || a.ImageID != 3540 {
					t.Errorf("ids = %d, %d; want 3540", a.ID, a.ImageID)
				}
			},
		},
		{
			name:  "missing bbox derived from keypoints",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": 1, "iscrowd": 0, "keypoints": [10, 20, 2, 40, 60, 1, 500, 500, 0]}`, cat3),
			quirk: "bbox missing in 1 annotations",
			check: func(t *testing.T, d *Dataset) {
				a := d.Annotations[0]
				if a.HasBox || a.Box != (Box{10, 20, 30, 40}) || a.Area != 1200 {
					t.Errorf("HasBox %v Box %+v Area %v; want false {10 20 30 40} 1200", a.HasBox, a.Box, a.Area)
				}
			},
		},
		{
			name:  "category names disagree with annotation length",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": 1, `+full+`, "keypoints": [1,2,2, 3,4,1]}`, cat3),
			quirk: "keypoints lists 3 names but annotations carry 2 points; joints named kp0..kp1",
			check: func(t *testing.T, d *Dataset) {
				if want := []string{"kp0", "kp1"}; !reflect.DeepEqual(d.Schema.Names, want) {
					t.Errorf("Names = %v, want %v", d.Schema.Names, want)
				}
				if want := [][2]int{{0, 1}}; !reflect.DeepEqual(d.Schema.Skeleton, want) {
					t.Errorf("Skeleton = %v, want %v (edge to joint 3 dropped)", d.Schema.Skeleton, want)
				}
			},
		},
		{
			name:  "empty category keypoint list",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": 1, `+full+`, "keypoints": [1,2,2, 3,4,1, 5,6,2, 7,8,2]}`, `{"id": 1, "name": "person", "keypoints": [], "skeleton": []}`),
			quirk: "keypoints lists 0 names but annotations carry 4 points",
			check: func(t *testing.T, d *Dataset) {
				if d.Schema.K() != 4 || d.Annotations[0].NumKeypoints != 4 {
					t.Errorf("K = %d, NumKeypoints = %d; want 4, 4", d.Schema.K(), d.Annotations[0].NumKeypoints)
				}
			},
		},
		{
			name:  "unknown joint names get the default sigma",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": 1, `+full+`, "keypoints": [1,2,2, 3,4,1]}`, `{"id": 1, "name": "person", "keypoints": ["Pelvis", "Head-top"], "skeleton": [[1, 2]]}`),
			quirk: "no OKS sigma known for 1 joints (Pelvis); using default 0.067",
			check: func(t *testing.T, d *Dataset) {
				if want := []float64{DefaultSigma, 0.079}; !reflect.DeepEqual(d.Schema.Sigmas, want) {
					t.Errorf("Sigmas = %v, want %v", d.Schema.Sigmas, want)
				}
			},
		},
		{
			name: "other categories skipped, person chosen by name",
			data: doc(img1, `{"id": 4, "image_id": 1, "category_id": 2, "bbox": [0, 0, 1, 1], "area": 1, "iscrowd": 0},
				{"id": 5, "image_id": 1, "category_id": 1, `+full+`, "keypoints": [1,2,2, 3,4,1, 0,0,0]}`,
				`{"id": 2, "name": "bicycle"}, `+cat3),
			quirk: "1 annotations of other categories skipped",
			check: func(t *testing.T, d *Dataset) {
				if d.CategoryID != 1 || len(d.Annotations) != 1 || d.Annotations[0].ID != 5 {
					t.Errorf("CategoryID %d, annotations %+v", d.CategoryID, d.Annotations)
				}
			},
		},
		{
			name:  "first category with keypoints when none is named person",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": 7, `+full+`, "keypoints": [1,2,2, 3,4,1]}`, `{"id": 3, "name": "car"}, {"id": 7, "name": "human", "keypoints": ["l_hand", "r_hand"]}`),
			quirk: "skeleton: missing",
			check: func(t *testing.T, d *Dataset) {
				if d.CategoryID != 7 || !reflect.DeepEqual(d.Schema.FlipPairs, [][2]int{{0, 1}}) {
					t.Errorf("CategoryID %d FlipPairs %v; want 7 [[0 1]]", d.CategoryID, d.Schema.FlipPairs)
				}
			},
		},
		{
			name:  "nulls, missing keypoints, missing category_id, duplicate ids",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": null, "iscrowd": null, "area": null, "num_keypoints": null, "bbox": [1, 2, 3, 4], "keypoints": null}, {"id": 5, "image_id": 1, "category_id": 1, `+full+`, "keypoints": [1,2,2, 3,4,1, 0,0,0]}`, cat3),
			quirk: "keypoints missing or empty in 1 annotations",
			check: func(t *testing.T, d *Dataset) {
				for _, q := range []string{"category_id missing in 1", "1 duplicate annotation ids", "area missing in 1", "iscrowd missing in 1"} {
					if !hasQuirk(d, q) {
						t.Errorf("no quirk %q in %q", q, d.Quirks)
					}
				}
				if a := d.Annotations[0]; len(a.Keypoints) != 3 || a.NumKeypoints != 0 || a.Area != 12 {
					t.Errorf("annotation = %+v; want 3 unlabeled joints and area 12", a)
				}
			},
		},
		{
			name: "images without annotations and per-image index",
			data: doc(img1+`, {"id": 2, "file_name": "b.jpg", "width": 10, "height": 10}, {"id": 3, "file_name": "c.jpg", "width": 10, "height": 10}`,
				`{"id": 5, "image_id": 3, "category_id": 1, `+full+`, "keypoints": [1,2,2, 3,4,1, 0,0,0]}, {"id": 6, "image_id": 1, "category_id": 1, `+full+`, "keypoints": [1,2,2, 3,4,1, 0,0,0]}, {"id": 7, "image_id": 3, "category_id": 1, `+full+`, "keypoints": [1,2,2, 3,4,1, 0,0,0]}`, cat3),
			quirk: "",
			check: func(t *testing.T, d *Dataset) {
				ids := func(as []Annotation) []int64 {
					var out []int64
					for _, a := range as {
						out = append(out, a.ID)
					}
					return out
				}
				if got := ids(d.AnnotationsOf(3)); !reflect.DeepEqual(got, []int64{5, 7}) {
					t.Errorf("AnnotationsOf(3) = %v, want [5 7]", got)
				}
				if got := ids(d.AnnotationsOf(1)); !reflect.DeepEqual(got, []int64{6}) {
					t.Errorf("AnnotationsOf(1) = %v, want [6]", got)
				}
				if got := d.AnnotationsOf(2); got != nil {
					t.Errorf("AnnotationsOf(2) = %v, want nil", got)
				}
				if got := d.AnnotationsOf(99); got != nil {
					t.Errorf("AnnotationsOf(99) = %v, want nil", got)
				}
			},
		},
		{
			name:  "sigmas field from Write",
			data:  doc(img1, `{"id": 5, "image_id": 1, "category_id": 1, `+full+`, "keypoints": [1,2,2, 3,4,1, 0,0,0]}`, `{"id": 1, "name": "person", "keypoints": ["nose", "left_eye", "right_eye"], "skeleton": [[1, 2]], "sigmas": [0.1, 0.2, 0.3]}`),
			quirk: "",
			check: func(t *testing.T, d *Dataset) {
				if want := []float64{0.1, 0.2, 0.3}; !reflect.DeepEqual(d.Schema.Sigmas, want) {
					t.Errorf("Sigmas = %v, want %v", d.Schema.Sigmas, want)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse("t.json", tc.data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tc.quirk == "" && len(d.Quirks) > 0 {
				t.Errorf("Quirks = %q, want none", d.Quirks)
			}
			if tc.quirk != "" && !hasQuirk(d, tc.quirk) {
				t.Errorf("Quirks = %q, want one containing %q", d.Quirks, tc.quirk)
			}
			if d.Path != "t.json" {
				t.Errorf("Path = %q", d.Path)
			}
			for _, a := range d.Annotations {
				if len(a.Keypoints) != d.Schema.K() {
					t.Errorf("annotation %d has %d keypoints, K = %d", a.ID, len(a.Keypoints), d.Schema.K())
				}
			}
			tc.check(t, d)
		})
	}
}

func TestParseRefusals(t *testing.T) {
	names17 := `"nose","left_eye","right_eye","left_ear","right_ear","left_shoulder","right_shoulder","left_elbow","right_elbow","left_wrist","right_wrist","left_hip","right_hip","left_knee","right_knee","left_ankle","right_ankle"`
	kps50 := strings.TrimSuffix(strings.Repeat("1, ", 50), ", ")
	full := `"iscrowd": 0, "area": 100, "bbox": [10, 20, 30, 40]`
	tests := []struct {
		name string
		data string
		want error
		msg  []string // substrings of the message; the first is often the exact message
	}{
		{"keypoint length", string(doc(img1, `{"id": 183545, "image_id": 1, "category_id": 1, `+full+`, "keypoints": [`+kps50+`]}`, `{"id": 1, "name": "person", "keypoints": [`+names17+`]}, {"id": 2, "name": "x"}`)),
			ErrKeypointsLength, []string{"coco: t.json: annotation 183545: keypoints: length 50, want 51 (3*17)"}},
		{"keypoint length, id last", string(doc(img1, `{"id": 76, "image_id": 1, "category_id": 1, `+full+`, "keypoints": [1,2,2, 3,4,1, 0,0,0]}, {"image_id": 1, "category_id": 1, `+full+`, "keypoints": [1,2,2, 3,4,1, 0,0], "id": 77}`, cat3)),
			ErrKeypointsLength, []string{"coco: t.json: annotation 77: keypoints: length 8, want 9 (3*3)"}},
		{"NaN in keypoints", string(doc(img1, `{"id": 7, "image_id": 1, "category_id": 1, `+full+`, "keypoints": [1, NaN, 2, 3,4,1, 0,0,0]}`, cat3)),
			ErrNonFinite, []string{"coco: t.json: annotation 7: keypoints: NaN or Infinity at byte ", "line 1"}},
		{"NaN before id", string(doc(img1, `{"keypoints": [1, 2, 2, 3,4,1, 0,0,0], "id": 8, "image_id": 1}, {"area": NaN, "id": 9}`, cat3)),
			ErrNonFinite, []string{"coco: t.json: annotation 9: area: NaN or Infinity"}},
		{"Infinity in bbox", string(doc(img1, `{"id": 7, "image_id": 1, "bbox": [1, 2, Infinity, 4]}`, cat3)),
			ErrNonFinite, []string{"annotation 7: bbox: NaN or Infinity"}},
		{"-Infinity in area", string(doc(img1, `{"id": 7, "image_id": 1, "area": -Infinity}`, cat3)),
			ErrNonFinite, []string{"annotation 7: area: NaN or Infinity"}},
		{"overflowing number", string(doc(img1, `{"id": 7, "image_id": 1, "keypoints": [1e999, 2, 2, 3,4,1, 0,0,0]}`, cat3)),
			ErrNonFinite, []string{"annotation 7: keypoints: number out of float64 range"}},
		{"negative box", string(doc(img1, `{"id": 9, "image_id": 1, "category_id": 1, "bbox": [10, 20, -3, 40], "keypoints": [1,2,2, 3,4,1, 0,0,0]}`, cat3)),
			ErrNegativeBox, []string{"coco: t.json: annotation 9: bbox: negative size w=-3 h=40"}},
		{"unknown image", string(doc(img1, `{"id": 5, "image_id": 99, "category_id": 1, `+full+`, "keypoints": [1,2,2, 3,4,1, 0,0,0]}`, cat3)),
			ErrUnknownImage, []string{"coco: t.json: annotation 5: image_id: unknown image 99"}},
		{"top level array", `[{"images": []}]`, ErrType, []string{"coco: t.json: top level: got array, want object"}},
		{"images object", `{"images": {"id": 1}, "annotations": []}`, ErrType, []string{"coco: t.json: top level: images: got object, want array"}},
		{"annotations string", `{"images": [], "annotations": "none"}`, ErrType, []string{"coco: t.json: top level: annotations: got string, want array"}},
		{"categories number", `{"images": [], "annotations": [], "categories": 3}`, ErrType, []string{"top level: categories: got number, want array"}},
		{"keypoints string", string(doc(img1, `{"id": 3, "image_id": 1, "keypoints": "1,2,2"}`, cat3)), ErrType, []string{"coco: t.json: annotation 3: keypoints: got string, want array"}},
		{"keypoint element string", string(doc(img1, `{"id": 3, "image_id": 1, "keypoints": [1, "2", 2]}`, cat3)), ErrType, []string{"coco: t.json: annotation 3: keypoints[1] is a string, want a number at byte "}},
		{"image file_name number", string(doc(`{"id": 4, "file_name": 12}`, ``, cat3)), ErrType, []string{"coco: t.json: image 4: file_name: got number, want string"}},
		{"annotation not an object", string(doc(img1, `[1, 2]`, cat3)), ErrType, []string{"annotation #0: got array, want object"}},
		{"missing comma", "{\"images\": [],\n \"annotations\": []\n \"categories\": []}", ErrSyntax, []string{"coco: t.json: top level: annotations: byte 35 (line 3, column 2): invalid character '\"' after an object value"}},
		{"truncated", `{"images": [{"id": 1, "file_na`, ErrSyntax, []string{"coco: t.json: image 1: byte 30 (line 1, column 31): unexpected end of input"}},
		{"trailing data", `{"images": [], "annotations": []} x`, ErrSyntax, []string{"coco: t.json: top level: byte 34 (line 1, column 35): data after the top-level object"}},
		{"empty input", ``, ErrSyntax, []string{"coco: t.json: top level: byte 0 (line 1, column 1): unexpected end of input"}},
		{"missing images", `{"annotations": []}`, ErrMissing, []string{`coco: t.json: top level: no "images" array`}},
		{"missing annotations", `{"images": []}`, ErrMissing, []string{`no "annotations" array`}},
		{"duplicate image", string(doc(img1+", "+img1, ``, cat3)), ErrDuplicateImage, []string{"coco: t.json: image 1: id: duplicate image id"}},
		{"visibility 3", string(doc(img1, `{"id": 3, "image_id": 1, "keypoints": [1, 2, 3, 3,4,1, 0,0,0]}`, cat3)), ErrValue, []string{"coco: t.json: annotation 3: keypoints: visibility 3 at joint 0, want 0, 1 or 2"}},
		{"bbox length", string(doc(img1, `{"id": 3, "image_id": 1, "bbox": [1, 2, 3]}`, cat3)), ErrValue, []string{"coco: t.json: annotation 3: bbox: length 3, want 4"}},
		{"negative area", string(doc(img1, `{"id": 3, "image_id": 1, "area": -5}`, cat3)), ErrValue, []string{"annotation 3: area: negative area -5"}},
		{"missing annotation id", string(doc(img1, `{"image_id": 1, "keypoints": [1,2,2, 3,4,1, 0,0,0]}`, cat3)), ErrMissing, []string{"coco: t.json: annotation #0: id: missing"}},
		{"missing image_id", string(doc(img1, `{"id": 4, "keypoints": [1,2,2, 3,4,1, 0,0,0]}`, cat3)), ErrMissing, []string{"coco: t.json: annotation 4: image_id: missing"}},
		{"missing image id", string(doc(`{"file_name": "a.jpg"}`, ``, cat3)), ErrMissing, []string{"coco: t.json: image #0: id: missing"}},
		{"bad string id", string(doc(img1, `{"id": "abc", "image_id": 1}`, cat3)), ErrValue, []string{`annotation #0: id: "abc" is not an integer id`}},
		{"id overflow", string(doc(img1, `{"id": 99999999999999999999, "image_id": 1}`, cat3)), ErrValue, []string{"annotation #0: id: integer out of int64 range"}},
		{"length not a multiple of 3 without names", string(doc(img1, `{"id": 4, "image_id": 1, "category_id": 1, "keypoints": [1, 2, 2, 3]}`, `{"id": 1, "name": "person"}`)),
			ErrKeypointsLength, []string{"coco: t.json: annotation 4: keypoints: length 4, not a multiple of 3"}},
		{"area string", string(doc(img1, `{"id": 3, "image_id": 1, "area": "12"}`, cat3)), ErrType, []string{"coco: t.json: annotation 3: area: got string, want number"}},
		{"fractional id", string(doc(img1, `{"id": 1.5, "image_id": 1}`, cat3)), ErrValue, []string{"annotation #0: id: 1.5 is not an integer id"}},
		{"negative width", string(doc(`{"id": 4, "file_name": "a.jpg", "width": -3}`, ``, cat3)), ErrValue, []string{"coco: t.json: image 4: width: -3 is not a valid size"}},
		{"NaN in skipped segmentation", string(doc(img1, `{"id": 3, "image_id": 1, "segmentation": [[1, 2, NaN]]}`, cat3)), ErrNonFinite, []string{"annotation 3: segmentation: NaN or Infinity at byte"}},
		{"mismatched brackets", string(doc(img1, `{"id": 3, "image_id": 1, "segmentation": [[1, 2}]}`, cat3)), ErrSyntax, []string{"annotation 3: segmentation: byte", "'}' closes '['"}},
		{"bad literal", string(doc(img1, `{"id": 3, "image_id": 1, "extra": nul}`, cat3)), ErrSyntax, []string{`annotation 3: extra: byte`, `invalid literal "nul"`}},
		{"unterminated string", `{"images": [{"file_name": "a.jpg`, ErrSyntax, []string{"image #0: file_name: byte 32 (line 1, column 33): unexpected end of input"}},
		{"no keypoints anywhere", string(doc(img1, `{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}`, `{"id": 1, "name": "dog"}`)), ErrNoKeypoints, []string{"coco: t.json: categories:"}},
		{"person without keypoints", string(doc(img1, `{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}`, `{"id": 1, "name": "person"}`)), ErrNoKeypoints, []string{"coco: t.json: categories: keypoints: no keypoint names"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse("t.json", []byte(tc.data))
			if err == nil {
				t.Fatalf("Parse succeeded (%d annotations), want %v", len(d.Annotations), tc.want)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %q is not %v", err, tc.want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "t.json" {
				t.Errorf("error %q is not a *Error naming t.json", err)
			}
			for _, m := range tc.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not contain %q", err, m)
				}
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.json"))
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "coco: read ") {
		t.Errorf("Load(missing) = %v, want a wrapped not-exist error", err)
	}
	p := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(p, []byte("{\n\n  \"images\": [},\n}"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(p)
	if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), p+": top level: images: byte 16 (line 3, column 14): want an array element") {
		t.Errorf("Load(bad) = %v, want a syntax error at line 3", err)
	}
}

func TestLoadTinyFixture(t *testing.T) {
	d, err := Load("testdata/person_keypoints_tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Images) != 4 || len(d.Annotations) != 15 || len(d.Quirks) != 0 {
		t.Fatalf("images %d annotations %d quirks %q; want 4, 15, none", len(d.Images), len(d.Annotations), d.Quirks)
	}
	if !reflect.DeepEqual(d.Schema, COCO17()) {
		t.Errorf("Schema = %+v, want COCO17()", d.Schema)
	}
	crowd, empty := 0, 0
	for _, a := range d.Annotations {
		if a.Crowd {
			crowd++
		} else if a.NumKeypoints == 0 {
			empty++
		}
	}
	if crowd != 1 || empty != 1 || len(d.Persons()) != 13 {
		t.Errorf("crowd %d empty %d persons %d; want 1, 1, 13", crowd, empty, len(d.Persons()))
	}
	im, ok := d.Image(3)
	if !ok || im.FileName != "sub/000000000003.jpg" || im.Width != 500 || im.Height != 375 {
		t.Errorf("Image(3) = %+v, %v", im, ok)
	}
}

// realAnnotationFiles lists every annotation file under the shared data
// folder with its images directory.
func realAnnotationFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	lsp := shareddata.Dir(t, "lspet")
	for _, s := range []string{"train", "val"} {
		files[filepath.Join(lsp, "annotations", "lspet_"+s+".json")] = filepath.Join(lsp, "images")
	}
	cm := shareddata.Dir(t, "coco_mini")
	for _, s := range []string{"train2017", "val2017"} {
		files[filepath.Join(cm, "annotations", "person_keypoints_"+s+".json")] = filepath.Join(cm, "images", s)
	}
	mm := shareddata.Dir(t, "mmpose_testdata")
	subs, err := filepath.Glob(filepath.Join(mm, "*", "annotations.json"))
	if err != nil || len(subs) < 7 {
		t.Fatalf("mmpose_testdata: found %d annotation files (%v), want 7", len(subs), err)
	}
	for _, f := range subs {
		files[f] = filepath.Join(filepath.Dir(f), "images")
	}
	return files
}

func TestLoadSharedData(t *testing.T) {
	for f := range realAnnotationFiles(t) {
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(f)))+"/"+filepath.Base(f), func(t *testing.T) {
			d, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Images) == 0 || len(d.Persons()) == 0 {
				t.Fatalf("%d images, %d persons", len(d.Images), len(d.Persons()))
			}
			if err := d.Schema.Validate(); err != nil {
				t.Error(err)
			}
			for _, a := range d.Annotations {
				if len(a.Keypoints) != d.Schema.K() {
					t.Fatalf("annotation %d: %d keypoints, K %d", a.ID, len(a.Keypoints), d.Schema.K())
				}
				if _, ok := d.Image(a.ImageID); !ok {
					t.Fatalf("annotation %d: image %d not indexed", a.ID, a.ImageID)
				}
				if math.IsNaN(a.Area) || a.Box.W < 0 || a.Box.H < 0 {
					t.Fatalf("annotation %d: area %v box %+v", a.ID, a.Area, a.Box)
				}
			}
		})
	}
}

// TestSharedDataFacts checks loaded counts against the dataset READMEs.
func TestSharedDataFacts(t *testing.T) {
	cm := shareddata.Dir(t, "coco_mini")
	d, err := Load(filepath.Join(cm, "annotations", "person_keypoints_train2017.json"))
	if err != nil {
		t.Fatal(err)
	}
	v1, v2 := 0, 0
	for _, a := range d.Annotations {
		for _, k := range a.Keypoints {
			switch k.V {
			case 1:
				v1++
			case 2:
				v2++
			}
		}
	}
	r := Check(d, "")
	// README: 39 images, 172 annotations, 86 with >= 1 kp, 5 crowd, 81 empty non-crowd, v=1/v=2 102/698, 3 images without annotations.
	got := []int{r.Images, r.Annotations, r.LabeledPersons, r.Crowd, r.Empty, v1, v2, r.ImagesWithoutAnnotations}
	if want := []int{39, 172, 86, 5, 81, 102, 698, 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("coco_mini train counts = %v, want %v", got, want)
	}
	// BAD_INPUTS §6: annotation 183545 has left_elbow and left_wrist with v=1.
	for _, a := range d.Annotations {
		if a.ID == 183545 {
			le, lw := a.Keypoints[7], a.Keypoints[9]
			if le != (Keypoint{322, 186, 1}) || lw != (Keypoint{373, 199, 1}) {
				t.Errorf("annotation 183545 elbow %v wrist %v", le, lw)
			}
		}
	}
	mm := shareddata.Dir(t, "mmpose_testdata")
	pt, err := Load(filepath.Join(mm, "posetrack18", "annotations.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pt.Image(10128340000); !ok {
		t.Error("posetrack18 image 10128340000 not found")
	}
	if !hasQuirk(pt, "head_bottom") {
		t.Errorf("posetrack18 quirks %q lack the unknown-sigma warning for head_bottom", pt.Quirks)
	}
}

// writeCOCOScale writes a COCO-scale keypoints file into dir by replicating
// the records of both coco_mini splits with fresh ids until there are at
// least nAnn annotations, and returns its path and size.
func writeCOCOScale(tb testing.TB, dir string, nAnn int) (string, int64) {
	tb.Helper()
	cm := shareddata.Dir(tb, "coco_mini")
	type file struct {
		Images      []map[string]json.RawMessage `json:"images"`
		Annotations []map[string]json.RawMessage `json:"annotations"`
		Categories  json.RawMessage              `json:"categories"`
	}
	var imgParts, annParts [][][]byte // each record split around its id placeholders
	var annImg []int                  // template annotation -> template image index
	imgLocal := map[int64]int{}
	var cats json.RawMessage
	split := func(m map[string]json.RawMessage, keys ...string) [][]byte {
		for _, k := range keys {
			m[k] = json.RawMessage(`"@` + k + `@"`)
		}
		b, err := json.Marshal(m)
		if err != nil {
			tb.Fatal(err)
		}
		b = pySpaced(b)
		parts := [][]byte{}
		for _, k := range keys {
			i := bytes.Index(b, []byte(`"@`+k+`@"`))
			parts = append(parts, b[:i])
			b = b[i+len(k)+4:]
		}
		return append(parts, b)
	}
	for _, s := range []string{"train2017", "val2017"} {
		raw, err := os.ReadFile(filepath.Join(cm, "annotations", "person_keypoints_"+s+".json"))
		if err != nil {
			tb.Fatal(err)
		}
		var f file
		if err := json.Unmarshal(raw, &f); err != nil {
			tb.Fatal(err)
		}
		cats = f.Categories
		for _, im := range f.Images {
			var id int64
			if err := json.Unmarshal(im["id"], &id); err != nil {
				tb.Fatal(err)
			}
			imgLocal[id] = len(imgParts)
			imgParts = append(imgParts, split(im, "id"))
		}
		for _, a := range f.Annotations {
			var id int64
			if err := json.Unmarshal(a["image_id"], &id); err != nil {
				tb.Fatal(err)
			}
			annImg = append(annImg, imgLocal[id])
			annParts = append(annParts, split(a, "id", "image_id"))
		}
	}
	copies := (nAnn + len(annParts) - 1) / len(annParts)
	path := filepath.Join(dir, "person_keypoints_cocoscale.json")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(`{"info": {"description": "coco_mini replicated"}, "licenses": [], "images": [`)
	sep := ""
	for c := range copies {
		for i, p := range imgParts {
			fmt.Fprintf(w, "%s\n%s%d%s", sep, p[0], int64(c)*1000+int64(i), p[1])
			sep = ","
		}
	}
	w.WriteString(`], "annotations": [`)
	sep = ""
	for c := range copies {
		for i, p := range annParts {
			fmt.Fprintf(w, "%s\n%s%d%s%d%s", sep, p[0], int64(c)*1000000+int64(i), p[1], int64(c)*1000+int64(annImg[i]), p[2])
			sep = ","
		}
	}
	fmt.Fprintf(w, "], \"categories\": %s}\n", cats)
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path, st.Size()
}

// pySpaced re-inserts the spaces after ',' and ':' (outside strings) that
// Python's json.dump writes and encoding/json drops, so the generated file
// has the size of the real one.
func pySpaced(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/4)
	inStr, esc := false, false
	for _, c := range b {
		out = append(out, c)
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && (c == ',' || c == ':'):
			out = append(out, ' ')
		}
	}
	return out
}

// BenchmarkLoad loads a COCO-scale file (about 260k annotations, 73k
// images, 270 MB, like person_keypoints_train2017.json). Besides MB/s it
// reports the CPU seconds per load (the machine may be shared), the bytes
// allocated, the peak heap and the retained heap relative to the file size.
func BenchmarkLoad(b *testing.B) {
	b.Run("COCOScale", func(b *testing.B) {
		path, size := writeCOCOScale(b, b.TempDir(), 260000)
		b.SetBytes(size)
		var d *Dataset
		n := 0
		cpu0 := cpuSeconds()
		for b.Loop() {
			d = nil // let the previous result go before loading again
			var err error
			if d, err = Load(path); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.StopTimer()
		if cpu := cpuSeconds() - cpu0; cpu > 0 {
			b.ReportMetric(cpu/float64(n), "cpu-s/op")
		}
		b.ReportMetric(float64(size)/1e6, "fileMB")
		b.ReportMetric(float64(len(d.Annotations)), "annotations")
		b.ReportMetric(float64(len(d.Images)), "images")

		// Memory of one load from a collected heap: bytes allocated, the
		// peak of the heap (live and not yet collected objects, sampled
		// every millisecond) and what the Dataset retains.
		d = nil
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		stop := make(chan struct{})
		peak := make(chan uint64)
		go func() {
			s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
			var hi uint64
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for {
				metrics.Read(s)
				hi = max(hi, s[0].Value.Uint64())
				select {
				case <-stop:
					peak <- hi
					return
				case <-tick.C:
				}
			}
		}()
		d, err := Load(path)
		close(stop)
		hi := <-peak
		if err != nil {
			b.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(size), "alloc/filesize")
		b.ReportMetric(float64(hi-before.HeapAlloc)/float64(size), "peakheap/filesize")
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(size), "retained/filesize")
		runtime.KeepAlive(d)
	})
}

func FuzzLoadAnnotations(f *testing.F) {
	tiny, err := os.ReadFile("testdata/person_keypoints_tiny.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tiny)
	full := `"iscrowd": 0, "area": 100, "bbox": [10, 20, 30, 40]`
	for _, s := range []string{
		string(doc(img1, `{"id": 5, "image_id": 1, "category_id": 1, `+full+`, "keypoints": [1, 2, 2, 3, 4, 1, 0, 0, 0]}`, cat3)),
		string(doc(img1, `{"id": "5", "image_id": 1, "iscrowd": true, "keypoints": [1.5, 2, 2.0, 3, 4, 1, 0, 0, 0], "segmentation": {"counts": "x\"y"}}`, `{"id": 1, "name": "person", "keypoints": [], "skeleton": [[0, 1], [5, 9]]}`)),
		string(doc(img1, `{"id": 5, "image_id": 1, "bbox": [1, 2, 1e308, 1e308]}`, cat3)),
		`{"image": [{"id": 1, "file_name": "a\u00e9.jpg"}], "annotations": [], "categories": [` + cat3 + `]}`,
		`{"images": [], "annotations": [{"id": 1, "keypoints": [NaN]}]}`,
		`[1, 2]`, `{"images": [}`, ``, `{"a": tru}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse("fuzz.json", data)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), "coco: fuzz.json: ") || ce.Err == nil {
				t.Fatalf("error %q is not a *Error naming the file with a sentinel", err)
			}
			return
		}
		k := d.Schema.K()
		if k == 0 {
			t.Fatal("loaded a dataset with K = 0")
		}
		if err := d.Schema.Validate(); err != nil {
			t.Fatal(err)
		}
		for _, a := range d.Annotations {
			if len(a.Keypoints) != k {
				t.Fatalf("annotation %d: %d keypoints, K %d", a.ID, len(a.Keypoints), k)
			}
			n := 0
			for _, p := range a.Keypoints {
				if p.V < 0 || p.V > 2 || math.IsNaN(p.X) || math.IsInf(p.X, 0) || math.IsNaN(p.Y) || math.IsInf(p.Y, 0) {
					t.Fatalf("annotation %d: keypoint %+v", a.ID, p)
				}
				if p.V > 0 {
					n++
				}
			}
			if n != a.NumKeypoints || a.Box.W < 0 || a.Box.H < 0 || !(a.Area >= 0) {
				t.Fatalf("annotation %+v", a)
			}
			if _, ok := d.Image(a.ImageID); !ok {
				t.Fatalf("annotation %d: image %d not indexed", a.ID, a.ImageID)
			}
		}
		var buf bytes.Buffer
		if err := Write(&buf, d); err != nil {
			t.Fatalf("Write of a loaded dataset: %v", err)
		}
		back, err := Parse("fuzz.json", buf.Bytes())
		if err != nil {
			t.Fatalf("Parse(Write(d)): %v", err)
		}
		if len(back.Annotations) != len(d.Annotations) || len(back.Images) != len(d.Images) {
			t.Fatalf("round trip: %d/%d annotations, %d/%d images", len(back.Annotations), len(d.Annotations), len(back.Images), len(d.Images))
		}
	})
}

// TestParsePaths checks that the sequential path (GOMAXPROCS 1), the small
// file path and the parallel path give the same datasets and errors.
func TestParsePaths(t *testing.T) {
	inputs := map[string][]byte{}
	tiny, err := os.ReadFile("testdata/person_keypoints_tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	inputs["tiny"] = tiny
	if root, ok := shareddata.Root(); ok {
		for _, f := range []string{"coco_mini/annotations/person_keypoints_train2017.json", "lspet/annotations/lspet_val.json", "mmpose_testdata/posetrack18/annotations.json"} {
			if b, err := os.ReadFile(filepath.Join(root, f)); err == nil {
				inputs[f] = b
			}
		}
	}
	// An error in a late record must be the one reported by every path.
	var late strings.Builder
	late.WriteString(`{"images": [` + img1 + `], "categories": [` + cat3 + `], "annotations": [`)
	for i := range 3000 {
		fmt.Fprintf(&late, `{"id": %d, "image_id": 1, "keypoints": [1, 2, 2, 3, 4, 1, 0, 0, 0]},`, i)
	}
	late.WriteString(`{"id": 5000, "image_id": 1, "keypoints": [1, 2, 2]}, {"id": 5001, "image_id": 1, "bbox": [0, 0, -1, 1]}]}`)
	inputs["late error"] = []byte(late.String())

	type result struct {
		d   *Dataset
		err string
	}
	parse := func(b []byte, procs, min int) result {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		defer func(old int) { parallelMin = old }(parallelMin)
		parallelMin = min
		d, err := Parse("x.json", b)
		if err != nil {
			return result{err: err.Error()}
		}
		return result{d: d}
	}
	for name, b := range inputs {
		t.Run(name, func(t *testing.T) {
			seq := parse(b, 1, 4<<20)
			for _, alt := range []result{parse(b, 2, 0), parse(b, 4, 0), parse(b, 2, 1<<30)} {
				if seq.err != alt.err {
					t.Fatalf("errors differ: %q vs %q", seq.err, alt.err)
				}
				if seq.d == nil {
					continue
				}
				if len(seq.d.Annotations) == 0 {
					t.Fatal("no annotations")
				}
				if !reflect.DeepEqual(seq.d, alt.d) {
					t.Errorf("datasets differ between sequential and parallel parsing")
				}
			}
			if name == "late error" && seq.err != "coco: x.json: annotation 5001: bbox: negative size w=-1 h=1" {
				t.Errorf("late error = %q", seq.err)
			}
		})
	}
}

// TestRefusalNamesTheRecord: a refused record is named by its id wherever
// the id stands (here after the bad field, in a later line of the file),
// the wrong element by its index and the place by byte, line and column,
// in the package's words, on the sequential, small-file and parallel
// paths alike.
func TestRefusalNamesTheRecord(t *testing.T) {
	good := `{"id": 1, "image_id": 1, "keypoints": [1, 2, 2, 3, 4, 1, 0, 0, 0]},` + "\n  "
	tests := []struct {
		name   string
		record string // the second annotation, on line 2
		at     string // the bad value, whose place the message gives ("": none)
		want   error
		msg    string // %s: the place of at
	}{
		{"element string, id last", `{"image_id": 1, "keypoints": [1, 2, 2, 3, "4", 1, 0, 0, 0], "id": 77}`, `"4"`,
			ErrType, `annotation 77: keypoints[4] is a string, want a number at %s`},
		{"element boolean, string id", `{"keypoints": [1, true, 2, 3, 4, 1, 0, 0, 0], "image_id": 1, "id": "0078"}`, `true`,
			ErrType, `annotation 78: keypoints[1] is a boolean, want a number at %s`},
		{"element object in bbox", `{"bbox": [1, {"x": 2}, 3, 4], "image_id": 1, "id": 79}`, `{"x"`,
			ErrType, `annotation 79: bbox[1] is an object, want a number at %s`},
		{"nested array in keypoints", `{"keypoints": [1, [2], 2, 3, 4, 1, 0, 0, 0], "id": 80}`, `[2]`,
			ErrType, `annotation 80: keypoints[1] is an array, want a number at %s`},
		{"keypoints a string", `{"keypoints": "1, 2, 2", "image_id": 1, "id": 81}`, ``,
			ErrType, `annotation 81: keypoints: got string, want array`},
		{"NaN, id last", `{"bbox": [1, NaN, 3, 4], "image_id": 1, "id": 82}`, `NaN`,
			ErrNonFinite, `annotation 82: bbox: NaN or Infinity at %s`},
		{"NaN in a skipped field, id last", `{"segmentation": [[1, 2, -Infinity]], "id": 83}`, `-Infinity`,
			ErrNonFinite, `annotation 83: segmentation: NaN or Infinity at %s`},
		{"invalid number, id last", `{"area": 1.2.3, "image_id": 1, "id": 84}`, `1.2.3`,
			ErrSyntax, `annotation 84: area: invalid number "1.2.3" at %s`},
		{"broken brackets after the id", `{"id": 85, "segmentation": [[1, 2}]}`, `}]}`,
			ErrSyntax, `annotation 85: segmentation: %s: '}' closes '['`},
		// Broken before the id: the id cannot be trusted, the index stands.
		{"broken brackets before the id", `{"segmentation": [[1, 2}], "id": 86}`, `}], "id"`,
			ErrSyntax, `annotation #1: segmentation: %s: '}' closes '['`},
	}
	place := func(data []byte, at string) string {
		off := bytes.Index(data, []byte(at))
		line := 1 + bytes.Count(data[:off], []byte("\n"))
		return fmt.Sprintf("byte %d (line %d, column %d)", off, line, off-bytes.LastIndexByte(data[:off], '\n'))
	}
	parse := func(b []byte, procs, min int) error {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		defer func(old int) { parallelMin = old }(parallelMin)
		parallelMin = min
		_, err := Parse("t.json", b)
		return err
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := doc(img1, good+tc.record, cat3)
			want := "coco: t.json: " + tc.msg
			if tc.at != "" {
				if !bytes.Contains([]byte(tc.record), []byte(tc.at)) {
					t.Fatalf("%q is not in the record", tc.at)
				}
				// The first occurrence in the file is in the record.
				want = fmt.Sprintf(want, place(data, tc.at))
			}
			for _, path := range []struct {
				name       string
				procs, min int
			}{{"sequential", 1, 4 << 20}, {"small file", 2, 4 << 20}, {"parallel", 2, 0}} {
				err := parse(data, path.procs, path.min)
				if err == nil || err.Error() != want || !errors.Is(err, tc.want) {
					t.Errorf("%s: error %v\nwant %s (%v)", path.name, err, want, tc.want)
				}
			}
		})
	}
}
