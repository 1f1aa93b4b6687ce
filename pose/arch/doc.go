// Package arch describes each preset network once, as data: a small layer
// graph (convolution, batch norm, ReLU, residual add, max pool, nearest
// upsample, the final convolution with bias) with tensor names and
// shapes. The back-ends are built from it: the gorgonia training and eval
// graphs (package pose), the gorgonia-free inference plan with batch norm
// folded (package pose/infer) and the ONNX graph (package pose/onnx).
// Adding a preset means writing one describe function here. It imports
// only the standard library, so the browser build stays small.
//
// # Shapes
//
// Node.C, H, W is a node's output per image (NCHW without N). Conv
// weights are OutC*InC*K*K (OIHW, as PyTorch); batch-norm tensors and
// biases are C. Tensor names are the node name plus ".weight", ".bias",
// ".running_mean", ".running_var" (PyTorch state_dict names, see package
// pose); Tensor.Torch is the torchvision ResNet name of a backbone tensor
// (the stem's conv1/bn1, layerL.B.* unchanged).
//
// # Coordinates
//
// Heatmaps are InputH/4 x InputW/4; the description never converts
// coordinates (see package heatmap).
//
// # References
//
//   - K. He et al., arXiv:1512.03385, and torchvision models/resnet.py
//     (ResNet v1.5: the Bottleneck's stride on its 3x3 conv).
//   - B. Xiao et al., Simple Baselines, arXiv:1804.06208 (the head).
//   - specs/posenet-s.md (posenet-s, layer for layer).
package arch
