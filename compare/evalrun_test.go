package compare

import (
	"fmt"
	"math"
	"testing"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/pose/data"
)

// TestScore: PCK@0.2 by the box and PCKh@0.5 by the head segment, and
// their hits, on hand-placed points.
func TestScore(t *testing.T) {
	gt := &coco.Dataset{Schema: coco.Schema{Names: []string{"left_wrist", "neck", "head_top"}}}
	kp := func(x, y float64, v int) coco.Keypoint { return coco.Keypoint{X: x, Y: y, V: v} }
	ev := &pose.Evaluator{
		Items: []data.Item{
			// Box 100 px: PCK within 20 px. Head 20 px: PCKh within 10 px.
			{AnnID: 7, Box: coco.Box{W: 100, H: 50}, Keypoints: []coco.Keypoint{kp(50, 80, 2), kp(40, 30, 2), kp(40, 10, 2)}},
			// Box 40 px: PCK within 8 px; head 10 px: within 5 px; wrist unlabeled.
			{AnnID: 9, Box: coco.Box{W: 20, H: 40}, Keypoints: []coco.Keypoint{{}, kp(10, 20, 2), kp(10, 10, 1)}},
		},
		Results: []coco.Result{
			{Keypoints: []coco.Keypoint{kp(62, 80, 0), kp(40, 45, 0), kp(43, 14, 0)}}, // 12, 15, 5 px
			{Keypoints: []coco.Keypoint{kp(0, 0, 0), kp(16, 20, 0), kp(10, 14, 0)}},   // –, 6, 4 px
		},
	}
	se, h := score(gt, ev, &pose.Metrics{OKS: coco.Stats{AP: 0.5}})
	// PCK@0.2: person 0: 12 < 20, 15 < 20, 5 < 20; person 1: 6 < 8, 4 < 8: all correct.
	// PCKh@0.5: person 0: 12 < 10 no, 15 no, 5 yes; person 1: 6 < 5 no, 4 yes.
	if se.Persons != 2 || se.PCK != 1 || se.OKS.AP != 0.5 {
		t.Errorf("PCK %v persons %d AP %v", se.PCK, se.Persons, se.OKS.AP)
	}
	if se.PCKh == nil || math.Abs(*se.PCKh-(0+0+1)/3.0) > 1e-12 {
		t.Errorf("PCKh %v, want 1/3 (wrist 0/1, neck 0/2, head_top 2/2)", se.PCKh)
	}
	if fmt.Sprint(h.AnnIDs, h.PCK, h.PCKh) != "[7 9] [111 -11] [001 -01]" {
		t.Errorf("hits %v %q %q", h.AnnIDs, h.PCK, h.PCKh)
	}
	gt.Schema.Names = []string{"a", "b", "c"}
	if se, h := score(gt, ev, &pose.Metrics{}); se.PCKh != nil || h.PCKh != nil {
		t.Error("PCKh without head joints")
	}
}
