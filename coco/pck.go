package coco

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// PCK is the Percentage of Correct Keypoints with mmpose's semantics
// (mmpose/evaluation/functional/keypoint_eval.py keypoint_pck_accuracy):
// a joint of person i counts when it is labeled in the ground truth
// (gt[i][j].V > 0) and norm[i] > 0; it is correct when
// ‖pred − gt‖ / norm[i] < thr (strictly). The V of pred is not used.
//
// pred, gt: one []Keypoint of length K per person, same order; norm: one
// normaliser per person, in pixels (see BoxNorm, TorsoNorm and HeadNorm;
// persons with norm <= 0 are skipped, as in mmpose).
//
// PCKh is PCK with norm[i] = HeadNorm (the head segment, head_top to neck
// or upper_neck) and thr = 0.5 by convention: a joint is correct when it is
// closer to the truth than half the head segment. MPII's official PCKh
// (Andriluka et al. 2014, evaluatePCKh.m) normalises instead by 0.6 × the
// diagonal of the annotated head box, which is not in COCO files; ours is
// the head_top–neck segment, as LSP-style evaluations use, so it is not
// MPII's published number.
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
	return jointRates(correct, counted)
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

// ErrNoHeadJoints is returned by HeadJoints when a schema cannot give PCKh.
var ErrNoHeadJoints = errors.New("coco: PCKh needs joints named head_top and neck (LSP) or upper_neck (MPII)")

// HeadJoints returns the indices of the joints that span the PCKh head
// segment: head_top, and upper_neck when the schema has it (MPII's 16
// joints), else neck (LSP's 14 joints). It returns an error wrapping
// ErrNoHeadJoints, naming the missing joints, when the schema lacks them.
func HeadJoints(s Schema) (top, neck int, err error) {
	top, neck = -1, -1
	for j, name := range s.Names {
		switch name {
		case "head_top":
			top = j
		case "upper_neck":
			neck = j
		case "neck":
			if neck < 0 || s.Names[neck] != "upper_neck" {
				neck = j
			}
		}
	}
	var missing []string
	if top < 0 {
		missing = append(missing, "head_top")
	}
	if neck < 0 {
		missing = append(missing, "neck or upper_neck")
	}
	if len(missing) > 0 {
		return -1, -1, fmt.Errorf("%w; the schema (%d joints) has no %s", ErrNoHeadJoints, s.K(), strings.Join(missing, " and no "))
	}
	return top, neck, nil
}

// HeadNorm is the PCKh normaliser: the length in pixels of the ground
// truth's head segment, from joint top to joint neck (see HeadJoints). ok
// is false when either joint is unlabeled or the length is below 1 pixel;
// callers then skip the person (norm 0 in PCK).
//
// gt: the K ground-truth keypoints of one person. It panics if top or neck
// is outside gt.
func HeadNorm(gt []Keypoint, top, neck int) (norm float64, ok bool) {
	if top < 0 || top >= len(gt) || neck < 0 || neck >= len(gt) {
		panic(fmt.Sprintf("coco: HeadNorm: joints %d, %d of %d", top, neck, len(gt)))
	}
	a, b := gt[top], gt[neck]
	if !a.Labeled() || !b.Labeled() {
		return 0, false
	}
	d := math.Hypot(a.X-b.X, a.Y-b.Y)
	return d, d >= 1
}

// PCKHits returns, per person and joint, what PCK counts: -1 when the
// joint is not counted (unlabeled, or norm[i] <= 0), 1 when it is correct,
// 0 when not; the layout is hits[i][j], persons × K. PCKFromHits(hits)
// equals PCK(pred, gt, norm, thr). It panics as PCK does.
func PCKHits(pred, gt [][]Keypoint, norm []float64, thr float64) [][]int8 {
	if len(pred) != len(gt) || len(norm) != len(gt) {
		panic(fmt.Sprintf("coco: PCKHits: %d predictions, %d ground truths, %d norms", len(pred), len(gt), len(norm)))
	}
	hits := make([][]int8, len(gt))
	for i := range gt {
		if len(pred[i]) != len(gt[i]) || (i > 0 && len(gt[i]) != len(gt[0])) {
			panic(fmt.Sprintf("coco: PCKHits: person %d has %d predicted and %d ground-truth joints", i, len(pred[i]), len(gt[i])))
		}
		h := make([]int8, len(gt[i]))
		n := norm[i]
		for j, g := range gt[i] {
			h[j] = -1
			if !(n > 0) || !g.Labeled() {
				continue
			}
			h[j] = 0
			p := pred[i][j]
			if math.Hypot((p.X-g.X)/n, (p.Y-g.Y)/n) < thr {
				h[j] = 1
			}
		}
		hits[i] = h
	}
	return hits
}

// PCKFromHits aggregates per-person hits (see PCKHits; hits[i][j]) as PCK
// does: the mean over joints of the fraction of correct counted joints,
// perJoint -1 for joints never counted. It panics if the persons' lengths
// differ.
func PCKFromHits(hits [][]int8) (mean float64, perJoint []float64) {
	if len(hits) == 0 {
		return 0, nil
	}
	k := len(hits[0])
	correct, counted := make([]int, k), make([]int, k)
	for i, h := range hits {
		if len(h) != k {
			panic(fmt.Sprintf("coco: PCKFromHits: person %d has %d joints, want %d", i, len(h), k))
		}
		for j, v := range h {
			if v >= 0 {
				counted[j]++
				correct[j] += int(v)
			}
		}
	}
	return jointRates(correct, counted)
}

// jointRates returns correct[j]/counted[j] per joint (-1 where a joint was
// never counted) and their mean over the counted joints (0 if none).
func jointRates(correct, counted []int) (mean float64, perJoint []float64) {
	perJoint = make([]float64, len(counted))
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
