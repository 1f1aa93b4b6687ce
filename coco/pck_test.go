package coco_test

import (
	"fmt"
	"math"
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
