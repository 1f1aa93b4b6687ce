// Package onnx writes a pose network as an ONNX model (the third back-end
// of the pose/arch description, beside the gorgonia graphs and the
// pose/infer plan): Conv with batch norm folded (as torch.onnx.export does
// in eval mode), Relu, MaxPool, Add and Resize (nearest, asymmetric,
// floor), encoded with google.golang.org/protobuf's protowire, so the
// module needs no generated ONNX code. It is gorgonia-free.
//
// # Shapes
//
// Graph input "input": [batch, 3, InputH, InputW] float32, NCHW, RGB
// scaled to 0..1 and normalised by the mean and std in the metadata.
// Graph output "output": [batch, K, InputH/4, InputW/4] heatmaps. The
// batch dimension is symbolic ("batch"). Initializers: each
// convolution's folded weight (OIHW) and bias, named after the
// convolution ("layer1.0.conv.weight", ".bias").
//
// # Coordinates
//
// As in package heatmap: heatmap pixel (x, y) covers input pixels
// [4x, 4x+4) x [4y, 4y+4); the "codec" metadata entry (heatmap.MSRA as
// JSON) decodes them. The flip test and decoding stay outside the graph,
// as MMDeploy exports mmpose models.
//
// # References
//
//   - ONNX IR and operator specs, onnx/onnx.proto (field numbers used
//     here), onnx/docs/Operators.md (Conv-11, Relu-14, Add-14,
//     MaxPool-12, Resize-13).
//   - MMDeploy's mmpose export (heatmap output, decoding outside).
package onnx
