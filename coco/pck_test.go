package coco_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/coco"
)

func ExamplePCK() {
	// Two persons, three joints. Person 0 has a 100-px box: the threshold
	// is 0.2*100 = 20 px. Person 1 has a 50-px box (10 px) and its joint 2
	// is not labeled.
	gt := [][]coco.Keypoint{
		{{X: 10, Y: 10, V: 2}, {X: 50, Y: 50, V: 2}, {X: 90, Y: 90, V: 1}},
		{{X: 10, Y: 10, V: 2}, {X: 20, Y: 20, V: 2}, {}},
	}
	pred := [][]coco.Keypoint{
		{{X: 15, Y: 10}, {X: 50, Y: 75}, {X: 102, Y: 99}}, // 5 px, 25 px, 15 px
		{{X: 10, Y: 22}, {X: 23, Y: 24}, {X: 0, Y: 0}},    // 12 px, 5 px, unlabeled
	}
	norm := []float64{coco.BoxNorm(coco.Box{W: 100, H: 60}), coco.BoxNorm(coco.Box{W: 30, H: 50})}
	mean, perJoint := coco.PCK(pred, gt, norm, 0.2)
	fmt.Printf("per joint %.2f, mean %.3f\n", perJoint, mean)
	// Output:
	// per joint [0.50 0.50 1.00], mean 0.667
}

func TestPCK(t *testing.T) {
	sq := func(x, y float64, v int) coco.Keypoint { return coco.Keypoint{X: x, Y: y, V: v} }
	tests := []struct {
		name     string
		pred, gt [][]coco.Keypoint
		norm     []float64
		thr      float64
		mean     float64
		perJoint []float64
	}{
		{"none", nil, nil, nil, 0.2, 0, nil},
		{"exact", [][]coco.Keypoint{{sq(1, 1, 0), sq(2, 2, 0)}}, [][]coco.Keypoint{{sq(1, 1, 2), sq(2, 2, 1)}}, []float64{10}, 0.1, 1, []float64{1, 1}},
		// Distance 3 with norm 10 is 0.3: not below 0.3 (strict, as mmpose).
		{"boundary", [][]coco.Keypoint{{sq(4, 1, 0)}}, [][]coco.Keypoint{{sq(1, 1, 2)}}, []float64{10}, 0.3, 0, []float64{0}},
		{"just inside", [][]coco.Keypoint{{sq(3.9, 1, 0)}}, [][]coco.Keypoint{{sq(1, 1, 2)}}, []float64{10}, 0.3, 1, []float64{1}},
		// A joint never labeled is -1 and left out of the mean.
		{"unlabeled joint", [][]coco.Keypoint{{sq(0, 0, 2), sq(9, 9, 2)}}, [][]coco.Keypoint{{sq(0, 0, 2), sq(0, 0, 0)}}, []float64{1}, 0.5, 1, []float64{1, -1}},
		// A person with a zero normaliser is skipped.
		{"zero norm", [][]coco.Keypoint{{sq(0, 0, 0)}, {sq(50, 0, 0)}}, [][]coco.Keypoint{{sq(0, 0, 2)}, {sq(0, 0, 2)}}, []float64{0, 100}, 0.2, 0, []float64{0}},
		// The mean weighs joints equally: joint 0 is 1/3, joint 1 is 1.
		{"joint mean", [][]coco.Keypoint{{sq(0, 0, 0), sq(0, 0, 0)}, {sq(9, 0, 0), {}}, {sq(9, 0, 0), {}}},
			[][]coco.Keypoint{{sq(0, 0, 2), sq(0, 0, 2)}, {sq(0, 0, 2), {}}, {sq(0, 0, 2), {}}}, []float64{10, 10, 10}, 0.5, 2.0 / 3, []float64{1.0 / 3, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mean, per := coco.PCK(tc.pred, tc.gt, tc.norm, tc.thr)
			if math.Abs(mean-tc.mean) > 1e-12 || len(per) != len(tc.perJoint) {
				t.Fatalf("PCK = %v, %v; want %v, %v", mean, per, tc.mean, tc.perJoint)
			}
			for j := range per {
				if math.Abs(per[j]-tc.perJoint[j]) > 1e-12 {
					t.Errorf("joint %d: %v, want %v", j, per[j], tc.perJoint[j])
				}
			}
		})
	}
}

func TestPCKPanicsOnLength(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for mismatched lengths")
		}
	}()
	coco.PCK(make([][]coco.Keypoint, 2), make([][]coco.Keypoint, 2), []float64{1}, 0.2)
}

func TestNorms(t *testing.T) {
	if got := coco.BoxNorm(coco.Box{X: 5, Y: 5, W: 30, H: 80}); got != 80 {
		t.Errorf("BoxNorm = %v, want 80", got)
	}
	s := coco.COCO17()
	kps := make([]coco.Keypoint, 17)
	kps[s.Index("left_shoulder")] = coco.Keypoint{X: 10, Y: 10, V: 2}
	kps[s.Index("right_hip")] = coco.Keypoint{X: 40, Y: 50, V: 1}
	tests := []struct {
		name string
		kps  []coco.Keypoint
		s    coco.Schema
		want float64
		ok   bool
	}{
		{"coco", kps, s, 50, true},
		{"hip unlabeled", append(append([]coco.Keypoint(nil), kps[:12]...), make([]coco.Keypoint, 5)...), s, 0, false},
		{"no such joints", make([]coco.Keypoint, 2), coco.Schema{Names: []string{"a", "b"}}, 0, false},
		{"under one pixel", []coco.Keypoint{{X: 1, Y: 1, V: 2}, {X: 1.5, Y: 1, V: 2}}, coco.Schema{Names: []string{"left_shoulder", "right_hip"}}, 0.5, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := coco.TorsoNorm(tc.kps, tc.s)
			if got != tc.want || ok != tc.ok {
				t.Errorf("TorsoNorm = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func ExampleHeadNorm() {
	// PCKh@0.5 on an LSP-style schema: the head segment (head_top to neck)
	// of this person is 20 px long, so a joint is correct within 10 px.
	s := coco.Schema{Names: []string{"left_wrist", "neck", "head_top"}}
	top, neck, err := coco.HeadJoints(s)
	if err != nil {
		panic(err)
	}
	gt := [][]coco.Keypoint{{{X: 50, Y: 80, V: 2}, {X: 40, Y: 30, V: 2}, {X: 40, Y: 10, V: 2}}}
	pred := [][]coco.Keypoint{{{X: 58, Y: 80}, {X: 40, Y: 42}, {X: 43, Y: 14}}} // 8 px, 12 px, 5 px
	n, _ := coco.HeadNorm(gt[0], top, neck)
	mean, perJoint := coco.PCK(pred, gt, []float64{n}, 0.5)
	fmt.Printf("head %.0f px, per joint %.0f, PCKh@0.5 %.3f\n", n, perJoint, mean)
	// Output:
	// head 20 px, per joint [1 0 1], PCKh@0.5 0.667
}

func TestHeadJoints(t *testing.T) {
	lsp := []string{"right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "neck", "head_top"}
	mpii := []string{"right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist"}
	for _, tc := range []struct {
		name      string
		names     []string
		top, neck int
		missing   string // substring of the error, "" for none
	}{
		{"LSP 14", lsp, 13, 12, ""},
		{"MPII 16", mpii, 9, 8, ""},
		{"upper_neck wins over neck", []string{"upper_neck", "head_top", "neck"}, 1, 0, ""},
		{"COCO 17", []string{"nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder"}, -1, -1, "no head_top and no neck or upper_neck"},
		{"no neck", []string{"head_top", "left_wrist"}, -1, -1, "no neck or upper_neck"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top, neck, err := coco.HeadJoints(coco.Schema{Names: tc.names})
			if tc.missing != "" {
				if !errors.Is(err, coco.ErrNoHeadJoints) || !strings.Contains(err.Error(), tc.missing) {
					t.Fatalf("err %v, want ErrNoHeadJoints naming %q", err, tc.missing)
				}
				return
			}
			if err != nil || top != tc.top || neck != tc.neck {
				t.Errorf("got %d, %d, %v; want %d, %d", top, neck, err, tc.top, tc.neck)
			}
		})
	}
}

func TestHeadNorm(t *testing.T) {
	for _, tc := range []struct {
		name string
		gt   []coco.Keypoint
		want float64
		ok   bool
	}{
		{"3-4-5", []coco.Keypoint{{X: 0, Y: 0, V: 2}, {X: 3, Y: 4, V: 1}}, 5, true},
		{"unlabeled top", []coco.Keypoint{{X: 0, Y: 0, V: 0}, {X: 3, Y: 4, V: 2}}, 0, false},
		{"below a pixel", []coco.Keypoint{{X: 0, Y: 0, V: 2}, {X: 0.5, Y: 0, V: 2}}, 0.5, false},
	} {
		n, ok := coco.HeadNorm(tc.gt, 0, 1)
		if ok != tc.ok || math.Abs(n-tc.want) > 1e-12 {
			t.Errorf("%s: %v, %v; want %v, %v", tc.name, n, ok, tc.want, tc.ok)
		}
	}
}

// TestPCKHits: the hits of hand-placed points, and PCKFromHits(PCKHits)
// equals PCK on them.
func TestPCKHits(t *testing.T) {
	gt := [][]coco.Keypoint{
		{{X: 10, Y: 10, V: 2}, {X: 50, Y: 50, V: 2}, {X: 90, Y: 90, V: 1}},
		{{X: 10, Y: 10, V: 2}, {X: 20, Y: 20, V: 2}, {}},
		{{X: 1, Y: 1, V: 2}, {}, {}},
	}
	pred := [][]coco.Keypoint{
		{{X: 15, Y: 10}, {X: 50, Y: 75}, {X: 102, Y: 99}},
		{{X: 10, Y: 22}, {X: 23, Y: 24}, {X: 0, Y: 0}},
		{{X: 1, Y: 1}, {}, {}},
	}
	norm := []float64{100, 50, 0}
	hits := coco.PCKHits(pred, gt, norm, 0.2)
	want := [][]int8{{1, 0, 1}, {0, 1, -1}, {-1, -1, -1}}
	if fmt.Sprint(hits) != fmt.Sprint(want) {
		t.Errorf("hits %v, want %v", hits, want)
	}
	m1, pj1 := coco.PCK(pred, gt, norm, 0.2)
	m2, pj2 := coco.PCKFromHits(hits)
	if m1 != m2 || fmt.Sprint(pj1) != fmt.Sprint(pj2) {
		t.Errorf("PCKFromHits %v %v, PCK %v %v", m2, pj2, m1, pj1)
	}
}
