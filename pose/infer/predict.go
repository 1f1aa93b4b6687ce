package infer

import (
	"fmt"
	"image"

	"github.com/bsampose/bsampose/heatmap"
	"github.com/bsampose/bsampose/pose/geom"
)

// Keypoint is one predicted joint in image pixels.
type Keypoint struct {
	Name  string  `json:"name"`
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
	Score float64 `json:"score"` // heatmap peak
}

// norm returns the input normalisation of the model: Meta.Mean and
// Meta.Std, or ImageNet's when both are zero (as pose/data's Config).
func (md *Model) norm() (mean, std [3]float32) {
	mean, std = md.Meta.Mean, md.Meta.Std
	if mean == ([3]float32{}) && std == ([3]float32{}) {
		mean, std = geom.ImageNetMean, geom.ImageNetStd
	}
	return mean, std
}

// predScratch is the reusable state of PredictImage.
type predScratch struct {
	x, xf      []float32
	hm         []float32
	pts        []heatmap.Point
	sc         []float32
	hasScratch bool
}

// PredictImage predicts the keypoints of the person in box (image pixels)
// of img. It is pose.Predictor.PredictImage for one box, step for step:
// the crop of pose/data's Transform (geom.BoxTransform with the default
// padding) and geom.Warp, Forward, the codec's DecodeInto, the
// same flip test when flip is set (mirrored input, the codec's FlipBack
// with its sub-pixel alignment, heatmaps averaged), and the inverse affine. The
// package tests check it against pose.Predictor.
func (md *Model) PredictImage(img image.Image, box geom.Box, flip bool) ([]Keypoint, error) {
	if !(box.W > 0 && box.H > 0) {
		return nil, fmt.Errorf("infer: predict: box %v has no area", box)
	}
	W, H := md.Meta.InputW, md.Meta.InputH
	K, hh, hw := md.OutputShape()
	mean, std := md.norm()
	s := &md.scratch
	if !s.hasScratch {
		*s = predScratch{hasScratch: true, x: make([]float32, 3*H*W), xf: make([]float32, 3*H*W),
			hm: make([]float32, K*hh*hw), pts: make([]heatmap.Point, K), sc: make([]float32, K)}
	}
	aff := geom.BoxTransform(box, W, H, geom.DefaultPadding)
	geom.Warp(s.x, img, aff, W, H, mean, std)
	hm, err := md.Forward(s.x, 1)
	if err != nil {
		return nil, err
	}
	copy(s.hm, hm)
	codec := md.Meta.Codec
	if flip {
		for r := range 3 * H {
			src, d := s.x[r*W:(r+1)*W], s.xf[r*W:(r+1)*W]
			for j := range src {
				d[W-1-j] = src[j]
			}
		}
		hf, err := md.Forward(s.xf, 1)
		if err != nil {
			return nil, err
		}
		codec.FlipBack(hf, md.Meta.FlipPairs)
		for j := range s.hm {
			s.hm[j] = (s.hm[j] + hf[j]) / 2
		}
	}
	codec.DecodeInto(s.hm, s.pts, s.sc)
	inv := aff.Invert()
	out := make([]Keypoint, K)
	for k := range K {
		x, y := inv.Apply(s.pts[k].X, s.pts[k].Y)
		out[k] = Keypoint{X: x, Y: y, Score: float64(s.sc[k])}
		if k < len(md.Meta.Names) {
			out[k].Name = md.Meta.Names[k]
		}
	}
	return out, nil
}
