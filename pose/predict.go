package pose

import (
	"context"
	"fmt"
	"image"
	"path/filepath"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/heatmap"
	"github.com/bsampose/bsampose/pose/data"
)

// Forwarder is anything that turns a batch of network inputs into
// heatmaps: the gorgonia Net in eval mode, or a folded inference network.
// x: m*3*H*W NCHW; the result: m*K*h*w, valid until the next call.
type Forwarder interface {
	Forward(x []float32, m int) ([]float32, error)
}

// Predictor turns network inputs into keypoints in image pixels. It is
// the one inference path used by predict, eval, training's validation and
// the web server.
type Predictor struct {
	Net       Forwarder
	Codec     heatmap.MSRA
	K         int
	FlipPairs [][2]int
	Flip      bool // flip test: also run the mirrored input and average

	xflip []float32
	hm    []float32
	pts   []heatmap.Point
	sc    []float32
}

// Person is the prediction for one person crop, in image pixels.
type Person struct {
	Keypoints []coco.Keypoint // V = 2 for every joint (predicted)
	Scores    []float64       // per-joint confidence (heatmap peak)
	Score     float64         // mean joint confidence
}

// Predict runs the network on m crops x (m*3*H*W, NCHW, normalised) whose
// affines map image pixels to input pixels, and returns one Person per crop.
func (p *Predictor) Predict(x []float32, m int, affines []data.Affine) ([]Person, error) {
	W, H := p.Codec.InputW, p.Codec.InputH
	hw, hh := p.Codec.W, p.Codec.H
	K := p.K
	if len(x) != m*3*H*W || len(affines) != m {
		return nil, fmt.Errorf("pose: predict: %d inputs and %d affines for %d crops of 3x%dx%d", len(x), len(affines), m, H, W)
	}
	hm, err := p.Net.Forward(x, m)
	if err != nil {
		return nil, err
	}
	if len(hm) != m*K*hh*hw {
		return nil, fmt.Errorf("pose: predict: network gave %d values, want %d (%dx%dx%dx%d)", len(hm), m*K*hh*hw, m, K, hh, hw)
	}
	p.hm = append(p.hm[:0], hm...)
	var hmf []float32
	if p.Flip {
		p.xflip = mirrorInput(p.xflip, x, m*3*H, W)
		f, err := p.Net.Forward(p.xflip, m)
		if err != nil {
			return nil, err
		}
		hmf = f
	}
	p.pts = grow(p.pts, K)
	p.sc = growf(p.sc, K)
	out := make([]Person, m)
	n := K * hh * hw
	for i := 0; i < m; i++ {
		one := p.hm[i*n : (i+1)*n]
		if p.Flip {
			// Average with the flipped input's heatmaps, mirrored back with
			// the codec's exact sub-pixel alignment (mmpose flip test).
			f := hmf[i*n : (i+1)*n]
			p.Codec.FlipBack(f, p.FlipPairs)
			for j := range one {
				one[j] = (one[j] + f[j]) / 2
			}
		}
		p.Codec.DecodeInto(one, p.pts, p.sc)
		inv := affines[i].Invert()
		per := Person{Keypoints: make([]coco.Keypoint, K), Scores: make([]float64, K)}
		var s float64
		for k := 0; k < K; k++ {
			ix, iy := inv.Apply(p.pts[k].X, p.pts[k].Y)
			per.Keypoints[k] = coco.Keypoint{X: ix, Y: iy, V: 2}
			per.Scores[k] = float64(p.sc[k])
			s += float64(p.sc[k])
		}
		per.Score = s / float64(K)
		out[i] = per
	}
	return out, nil
}

// mirrorInput writes x with every row (rows of length w) reversed.
func mirrorInput(dst, x []float32, rows, w int) []float32 {
	dst = growf(dst, len(x))
	for r := 0; r < rows; r++ {
		src, d := x[r*w:(r+1)*w], dst[r*w:(r+1)*w]
		for j := range src {
			d[w-1-j] = src[j]
		}
	}
	return dst
}

func grow(s []heatmap.Point, n int) []heatmap.Point {
	if cap(s) < n {
		return make([]heatmap.Point, n)
	}
	return s[:n]
}

func growf(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Metrics are the numbers of one evaluation.
type Metrics struct {
	PCK      float64    `json:"pck"`   // PCK at PCKThr (default 0.2), normalised by PCKNorm; -1 with detection boxes
	PCK01    float64    `json:"pck01"` // PCK@0.1, same normalisation
	PCKThr   float64    `json:"pck_thr"`
	PCKNorm  string     `json:"pck_norm"`
	PerJoint []float64  `json:"pck_per_joint"` // at PCKThr; -1 for joints never labeled
	OKS      coco.Stats `json:"oks"`
	Persons  int        `json:"persons"`
}

// Evaluator predicts every person of a dataset and scores the predictions.
// Training's per-epoch validation and `posetrain eval --model` share it.
//
// By default the persons are the ground-truth boxes (crowd-free, at least
// one labeled joint) and PCK is computed against them. With detection
// boxes (UseDetections) every detection is a person; its result score is
// the detection score times the mean joint confidence, and PCK is not
// defined (-1).
type Evaluator struct {
	DS      *coco.Dataset
	Items   []data.Item
	Loader  *data.Loader
	Pred    *Predictor
	PCKThr  float64       // default 0.2
	PCKNorm string        // "bbox" (longer side of the box, default), "torso" or "head" (PCKh, coco.HeadNorm)
	Sigmas  []float64     // OKS sigmas; nil: the schema's
	Results []coco.Result // of the last Run

	useDets   bool
	detScores []float64 // with detections: the score of each item
	dcfg      data.Config
	codec     heatmap.MSRA
	batch     int
	workers   int
}

// NewEvaluator builds an evaluator over the ground-truth persons of ds.
func NewEvaluator(ds *coco.Dataset, imagesDir string, net Forwarder, codec heatmap.MSRA, dcfg data.Config, batch, workers int, flip bool) *Evaluator {
	e := &Evaluator{
		DS: ds, PCKThr: 0.2, PCKNorm: "bbox",
		Pred:  &Predictor{Net: net, Codec: codec, K: ds.Schema.K(), FlipPairs: ds.Schema.FlipPairs, Flip: flip},
		dcfg:  dcfg,
		codec: codec, batch: batch, workers: workers,
	}
	e.setItems(data.Items(ds, imagesDir))
	return e
}

func (e *Evaluator) setItems(items []data.Item) {
	ld, err := data.NewLoader(items, e.dcfg, nil, e.codec, e.DS.Schema.FlipPairs, e.batch, e.workers, 0)
	if err != nil {
		panic(err) // only invalid sizes, which the caller validated
	}
	e.Items, e.Loader = items, ld
}

// UseDetections replaces the ground-truth boxes by detections (COCO
// results with bbox and score) whose score is at least minScore.
func (e *Evaluator) UseDetections(dets []coco.Result, imagesDir string, minScore float64) error {
	files := make(map[int64]string, len(e.DS.Images))
	for _, im := range e.DS.Images {
		files[im.ID] = im.FileName
	}
	var items []data.Item
	e.useDets, e.detScores = true, e.detScores[:0]
	for i, d := range dets {
		if d.Box == nil {
			return fmt.Errorf("pose: detection %d (image %d) has no bbox", i, d.ImageID)
		}
		if d.Score < minScore || !(d.Box.W > 0 && d.Box.H > 0) {
			continue
		}
		name, ok := files[d.ImageID]
		if !ok {
			return fmt.Errorf("pose: detection %d: unknown image id %d", i, d.ImageID)
		}
		items = append(items, data.Item{
			ImagePath: filepath.Join(imagesDir, filepath.FromSlash(name)),
			ImageID:   d.ImageID, AnnID: -1, Box: *d.Box,
			Keypoints: make([]coco.Keypoint, e.DS.Schema.K()),
		})
		e.detScores = append(e.detScores, d.Score)
	}
	e.setItems(items)
	return nil
}

// Run predicts all persons and returns PCK and OKS AP/AR.
func (e *Evaluator) Run(ctx context.Context) (*Metrics, error) {
	var preds, gts [][]coco.Keypoint
	var norms []float64
	e.Results = e.Results[:0]
	dets := e.useDets
	idx := 0
	for b, err := range e.Loader.Epoch(ctx, 0) {
		if err != nil {
			return nil, err
		}
		people, err := e.Pred.Predict(b.X, b.N, b.Affines)
		if err != nil {
			return nil, err
		}
		for i, per := range people {
			it := b.Items[i]
			score := per.Score
			if dets {
				score *= e.detScores[idx]
			} else {
				preds = append(preds, per.Keypoints)
				gts = append(gts, it.Keypoints)
				norms = append(norms, e.norm(it))
			}
			idx++
			e.Results = append(e.Results, coco.Result{
				ImageID: it.ImageID, CategoryID: e.DS.CategoryID,
				Keypoints: per.Keypoints, KeypointScores: per.Scores, Score: score,
			})
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	m := &Metrics{Persons: idx, PCKThr: e.PCKThr, PCKNorm: e.PCKNorm, PCK: -1, PCK01: -1}
	if !dets {
		m.PCK, m.PerJoint = coco.PCK(preds, gts, norms, e.PCKThr)
		m.PCK01, _ = coco.PCK(preds, gts, norms, 0.1)
	}
	sig := e.Sigmas
	if sig == nil {
		sig = e.DS.Schema.Sigmas
	}
	m.OKS = coco.EvaluateOKS(e.DS, e.Results, sig)
	return m, nil
}

// norm is the PCK normaliser of a ground-truth person: 0 (skipped by
// coco.PCK) when the torso is asked for and not labeled.
func (e *Evaluator) norm(it data.Item) float64 {
	if e.PCKNorm == "head" {
		top, neck, err := coco.HeadJoints(e.DS.Schema)
		if err != nil {
			return 0 // no person counts; callers check the schema first
		}
		n, ok := coco.HeadNorm(it.Keypoints, top, neck)
		if !ok {
			return 0
		}
		return n
	}
	if e.PCKNorm == "torso" {
		n, ok := coco.TorsoNorm(it.Keypoints, e.DS.Schema)
		if !ok {
			return 0
		}
		return n
	}
	return coco.BoxNorm(it.Box)
}

// SchemaOf converts a dataset schema to its stored form.
func SchemaOf(s coco.Schema) SchemaMeta {
	return SchemaMeta{Names: s.Names, Skeleton: s.Skeleton, FlipPairs: s.FlipPairs, Sigmas: s.Sigmas}
}

// PredictImage runs the network on one box per person of img (image
// pixels, [x, y, w, h]); dcfg gives the padding and normalisation the model
// was trained with.
func (p *Predictor) PredictImage(img image.Image, boxes []coco.Box, dcfg data.Config) ([]Person, error) {
	W, H := p.Codec.InputW, p.Codec.InputH
	dcfg.InputW, dcfg.InputH = W, H
	x := make([]float32, len(boxes)*3*H*W)
	affines := make([]data.Affine, len(boxes))
	for i, b := range boxes {
		if !(b.W > 0 && b.H > 0) {
			return nil, fmt.Errorf("pose: predict: box %d %v has no area", i, b)
		}
		affines[i] = dcfg.Transform(data.Item{Box: b}, data.Params{})
		data.Warp(x[i*3*H*W:(i+1)*3*H*W], img, affines[i], W, H, dcfg.Mean, dcfg.Std)
	}
	return p.Predict(x, len(boxes), affines)
}
