// Package infer runs the pose networks for inference without gorgonia:
// batch norm folded into the convolutions, one im2col + GEMM per
// convolution, preallocated buffers, so it builds for GOOS=js GOARCH=wasm
// (the browser demo, cmd/posewasm) as well as natively (predict, eval and
// the web server can use it through pose.Forwarder).
//
// The layer program is built from the preset's description in package
// pose/arch (the same one the gorgonia training graph is built from):
// each convolution with its batch norm folded in and, where they follow,
// the residual add and the ReLU fused into it.
//
// A Model comes from a checkpoint's tensors (FromTensors; package
// pose/infer/checkpoint reads checkpoint files) or from the compact model
// file (Decode, or DecodeInPlace, which leaves the float32 weights in the
// file's buffer; written by Encode and `posetrain export`; its JSON
// header is read by a small reader of its own, not encoding/json, which
// would add 150 KB to the gzipped browser download). Its GEMM
// backend is a Kernel: GoKernel (kern.Sgemm, AVX2 natively) by default,
// or PanelKernel, whose Full function in the browser is the SIMD128
// WebAssembly module of package pose/infer/simd.
//
// # Shapes
//
// Inputs x: m*3*H*W (NCHW, RGB, normalised by Meta.Mean/Std, H = InputH,
// W = InputW, both multiples of 32). Output heatmaps: m*K*(H/4)*(W/4),
// row-major (n, k, y, x). Folded weights: OutC*InC*KH*KW (OIHW) with
// w' = w*gamma/sqrt(var+1e-5) and bias b' = beta - mean*gamma/sqrt(var+1e-5)
// computed in float64. A convolution is y_i[OutC, OH*OW] = W'[OutC,
// InC*KH*KW] x col_i[InC*KH*KW, OH*OW] + b', col_i the im2col unrolling
// (row (c*KH+ky)*KW+kx, column oy*OW+ox; skipped for 1x1 stride-1 convs).
//
// The model file is "BSAMPOSE", uint32 version (1), uint32 header length,
// a JSON header {meta, tensors: [{name, shape, dtype, offset}]} and the
// folded tensors (conv prefix + ".weight" / ".bias") as float32
// little-endian, or int8 with per-output-channel float32 scales.
//
// # Coordinates
//
// PredictImage takes a person box [x, y, w, h] in image pixels and returns
// keypoints in image pixels, through pose/geom's affine (box centre to
// input centre, padding 1.25, input aspect; the same map as pose/data) and the heatmap codec's
// decode, exactly as pose.Predictor.
//
// # References
//
//   - Folding batch norm into the preceding convolution: Jacob et al.,
//     "Quantization and Training of Neural Networks for Efficient
//     Integer-Arithmetic-Only Inference", arXiv:1712.05877, section 3.2.
//   - B. Xiao et al., Simple Baselines, arXiv:1804.06208 (the networks);
//     BSAM, arXiv:2409.13173 (how they are trained).
//   - mmpose TopdownPoseEstimator.predict (the parity target of
//     PredictImage, via pose.Predictor).
package infer
