// Package ckpt reads and writes the checkpoint format: one safetensors
// file of float32 tensors with the JSON metadata (Meta) under the
// "bsampose" key of the header's __metadata__ map, and a readable copy of
// that metadata beside it as a .json file. It is a leaf (no gorgonia): the
// training side (package pose) and the inference side
// (pose/infer/checkpoint) both read checkpoints through it.
//
// # Shapes
//
// Tensor.Value has len == product of Shape, row-major, float32 little
// endian on disk (dtype F32). Names are PyTorch state_dict names (see
// package pose and pose/arch).
//
// # Coordinates
//
// Meta.Codec and the input size describe the heatmap geometry; see
// package heatmap.
//
// # References
//
//   - safetensors format: https://github.com/huggingface/safetensors
//     (read and written with github.com/nlpodyssey/safetensors).
//   - torch.save formats (zip and legacy), read by
//     github.com/nlpodyssey/gopickle without running pickled code.
//   - torchvision models/resnet.py (the state_dict names Pretrained maps).
package ckpt
