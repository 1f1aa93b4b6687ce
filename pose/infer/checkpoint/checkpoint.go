// Package checkpoint turns pose checkpoints (read by the leaf package
// pose/ckpt, no gorgonia) into gorgonia-free infer.Models, for posetrain
// export, predict and the web server.
//
// # Shapes
//
// Tensors keep pose's PyTorch state_dict names and OIHW layout; the
// resulting Model folds each batch norm into its convolution.
//
// # Coordinates
//
// Unchanged from the checkpoint: the codec and the input geometry are
// copied into infer.Meta.
//
// # References
//
//   - pose/ckpt.Save / pose/ckpt.Load (the file format read).
package checkpoint

import (
	"github.com/bsampose/bsampose/pose/ckpt"
	"github.com/bsampose/bsampose/pose/data"
	"github.com/bsampose/bsampose/pose/infer"
)

// Meta converts checkpoint metadata to infer.Meta. A zero mean and
// standard deviation become pose/data's ImageNet defaults (as the
// training loader does).
func Meta(m ckpt.Meta) infer.Meta {
	mean, std := m.Mean, m.Std
	if mean == ([3]float32{}) && std == ([3]float32{}) {
		mean, std = data.ImageNetMean, data.ImageNetStd
	}
	return infer.Meta{
		Preset: m.Preset, InputH: m.InputH, InputW: m.InputW, Joints: m.Joints,
		Names: m.Schema.Names, Skeleton: m.Schema.Skeleton, FlipPairs: m.Schema.FlipPairs, Sigmas: m.Schema.Sigmas,
		Codec: m.Codec, Mean: mean, Std: std,
	}
}

// Model builds the folded inference network of a loaded checkpoint.
func Model(f *ckpt.File) (*infer.Model, error) {
	return FromTensors(Meta(f.Meta), f.Tensors)
}

// FromTensors builds a Model from named tensors (a checkpoint's, or a
// live pose.Net's Params() and Buffers() copied into ckpt.Tensors).
func FromTensors(meta infer.Meta, tensors map[string]*ckpt.Tensor) (*infer.Model, error) {
	vals := make(map[string][]float32, len(tensors))
	shapes := make(map[string][]int, len(tensors))
	for name, t := range tensors {
		vals[name], shapes[name] = t.Value, t.Shape
	}
	return infer.FromTensors(meta, vals, shapes)
}

// Load reads a checkpoint file and builds its Model.
func Load(path string) (*infer.Model, *ckpt.File, error) {
	f, err := ckpt.Load(path)
	if err != nil {
		return nil, nil, err
	}
	m, err := Model(f)
	if err != nil {
		return nil, nil, err
	}
	return m, f, nil
}
