package coco

import (
	"fmt"
	"math"
)

// PCK is the Percentage of Correct Keypoints with mmpose's semantics
// (mmpose/evaluation/functional/keypoint_eval.py keypoint_pck_accuracy):
// a joint of person i counts when it is labeled in the ground truth
// (gt[i][j].V > 0) and norm[i] > 0; it is correct when
// ‖pred − gt‖ / norm[i] < thr (strictly). The V of pred is not used.
//
// pred, gt: one []Keypoint of length K per person, same order; norm: one
// normaliser per person, in pixels (see BoxNorm and TorsoNorm; persons with
// norm <= 0 are skipped, as in mmpose).
//
// perJoint[j] is the fraction of correct counted joints j, or -1 when no
// person has joint j counted. mean is the average of the perJoint values
// that are not -1 (each joint weighs the same, as in mmpose), or 0 when
// none is.
//
// It panics if pred, gt and norm differ in length or if a person's pred and
// gt differ in length from the first person's gt.
func PCK(pred, gt [][]Keypoint, norm []float64, thr float64) (mean float64, perJoint []float64) {
	if len(pred) != len(gt) || len(norm) != len(gt) {
		panic(fmt.Sprintf("coco: PCK: %d predictions, %d ground truths, %d norms", len(pred), len(gt), len(norm)))
	}
	if len(gt) == 0 {
		return 0, nil
	}
	k := len(gt[0])
	correct := make([]int, k)
	counted := make([]int, k)
	for i := range gt {
		if len(gt[i]) != k || len(pred[i]) != k {
			panic(fmt.Sprintf("coco: PCK: person %d has %d predicted and %d ground-truth joints, want %d", i, len(pred[i]), len(gt[i]), k))
		}
		n := norm[i]
		if !(n > 0) {
			continue
		}
		for j, g := range gt[i] {
			if !g.Labeled() {
				continue
			}
			counted[j]++
			p := pred[i][j]
			if math.Hypot((p.X-g.X)/n, (p.Y-g.Y)/n) < thr {
				correct[j]++
			}
		}
	}
	perJoint = make([]float64, k)
	used := 0
	for j := range perJoint {
		if counted[j] == 0 {
			perJoint[j] = -1
			continue
		}
		perJoint[j] = float64(correct[j]) / float64(counted[j])
		mean += perJoint[j]
		used++
	}
	if used > 0 {
		mean /= float64(used)
	}
	return mean, perJoint
}

// BoxNorm is the PCK normaliser of mmpose's norm_item='bbox': the longer
// side of the box, max(W, H), in pixels.
func BoxNorm(b Box) float64 { return max(b.W, b.H) }

// TorsoNorm is the PCK normaliser of mmpose's norm_item='torso' (used for
// JHMDB): the distance between the left_shoulder and right_hip joints of
// the ground truth, found by name in s.Names. ok is false when the schema
// lacks either name, either joint is unlabeled, or the distance is below 1
// pixel (mmpose then falls back to the prediction's torso; callers decide).
//
// gt: the K ground-truth keypoints of one person, in the order of s.Names.
// It panics if len(gt) != s.K().
func TorsoNorm(gt []Keypoint, s Schema) (norm float64, ok bool) {
	if len(gt) != s.K() {
		panic(fmt.Sprintf("coco: TorsoNorm: %d keypoints for %d joints", len(gt), s.K()))
	}
	ls, rh := -1, -1
	for j, name := range s.Names {
		switch name {
		case "left_shoulder":
			ls = j
		case "right_hip":
			rh = j
		}
	}
	if ls < 0 || rh < 0 || !gt[ls].Labeled() || !gt[rh].Labeled() {
		return 0, false
	}
	d := math.Hypot(gt[ls].X-gt[rh].X, gt[ls].Y-gt[rh].Y)
	return d, d >= 1
}
