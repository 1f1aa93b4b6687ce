package compare

import (
	"context"
	"fmt"
	"strings"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/pose"
)

// SetEval is one evaluation of a run's checkpoint on one annotations file,
// on the ground-truth person boxes, without augmentation.
type SetEval struct {
	Ann     string     `json:"ann"`
	Persons int        `json:"persons"`
	PCK     float64    `json:"pck@0.2"`            // normalised by the box's longer side
	PCKh    *float64   `json:"pckh@0.5,omitempty"` // head segment (coco.HeadNorm); nil when the schema has no head joints
	OKS     coco.Stats `json:"oks"`
}

// RunEval is a run's eval.json: its checkpoint on the final report set
// (Config.Train.ValAnn) and, with Config.Dev, on the training probe.
type RunEval struct {
	Checkpoint string   `json:"checkpoint"` // "last" or "best"
	Flip       bool     `json:"flip"`
	Final      *SetEval `json:"final"`
	Probe      *SetEval `json:"probe,omitempty"`
}

// Hits is a run's hits.json: what PCK@0.2 and PCKh@0.5 counted on the final
// set, per person (in the file order of the ground truth's persons), one
// character per joint: '1' correct, '0' wrong, '-' not counted. The
// bootstrap of the paired differences resamples these persons.
type Hits struct {
	Joints []string `json:"joints"`
	AnnIDs []int64  `json:"ann_ids"`
	PCK    []string `json:"pck@0.2"`
	PCKh   []string `json:"pckh@0.5,omitempty"`
}

// evalSpec is one set to evaluate.
type evalSpec struct{ ann, images string }

// evaluate runs the checkpoint on every set and returns one SetEval per
// set and the hits of the first.
func evaluate(ctx context.Context, ckpt string, sets []evalSpec, batch, workers int, flip bool) ([]*SetEval, *Hits, error) {
	net, ck, err := pose.LoadNet(ckpt, batch)
	if err != nil {
		return nil, nil, err
	}
	defer net.Close()
	var out []*SetEval
	var first *Hits
	for i, s := range sets {
		gt, err := coco.Load(s.ann)
		if err != nil {
			return nil, nil, err
		}
		if ck.Meta.Joints != gt.Schema.K() {
			return nil, nil, fmt.Errorf("compare: %s predicts %d joints, %s has %d", ckpt, ck.Meta.Joints, s.ann, gt.Schema.K())
		}
		ev := pose.NewEvaluator(gt, s.images, net, ck.Meta.Codec, ck.DataConfig(), batch, workers, flip)
		m, err := ev.Run(ctx)
		if err != nil {
			return nil, nil, err
		}
		se, h := score(gt, ev, m)
		se.Ann = s.ann
		out = append(out, se)
		if i == 0 {
			first = h
		}
	}
	return out, first, nil
}

// score computes PCK@0.2 (box), PCKh@0.5 and their hits from an evaluator
// that has run on ground-truth boxes (ev.Results[i] is ev.Items[i]).
func score(gt *coco.Dataset, ev *pose.Evaluator, m *pose.Metrics) (*SetEval, *Hits) {
	n := len(ev.Items)
	preds, gts := make([][]coco.Keypoint, n), make([][]coco.Keypoint, n)
	box, head := make([]float64, n), make([]float64, n)
	h := &Hits{Joints: gt.Schema.Names, AnnIDs: make([]int64, n)}
	top, neck, herr := coco.HeadJoints(gt.Schema)
	for i, it := range ev.Items {
		preds[i], gts[i], h.AnnIDs[i] = ev.Results[i].Keypoints, it.Keypoints, it.AnnID
		box[i] = coco.BoxNorm(it.Box)
		if herr == nil {
			head[i], _ = coco.HeadNorm(it.Keypoints, top, neck)
		}
	}
	se := &SetEval{Persons: n, OKS: m.OKS}
	hb := coco.PCKHits(preds, gts, box, 0.2)
	se.PCK, _ = coco.PCKFromHits(hb)
	h.PCK = hitStrings(hb)
	if herr == nil {
		hh := coco.PCKHits(preds, gts, head, 0.5)
		v, _ := coco.PCKFromHits(hh)
		se.PCKh = &v
		h.PCKh = hitStrings(hh)
	}
	return se, h
}

func hitStrings(hits [][]int8) []string {
	out := make([]string, len(hits))
	var b strings.Builder
	for i, h := range hits {
		b.Reset()
		for _, v := range h {
			b.WriteByte("-01"[v+1])
		}
		out[i] = b.String()
	}
	return out
}

// parseHits is the inverse of hitStrings.
func parseHits(ss []string) ([][]int8, error) {
	out := make([][]int8, len(ss))
	for i, s := range ss {
		h := make([]int8, len(s))
		for j := range len(s) {
			switch s[j] {
			case '1':
				h[j] = 1
			case '0':
			case '-':
				h[j] = -1
			default:
				return nil, fmt.Errorf("compare: hits: person %d: unexpected %q", i, s[j])
			}
		}
		out[i] = h
	}
	return out, nil
}
