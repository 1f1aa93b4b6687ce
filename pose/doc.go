// Package pose is the top-down heatmap pose network: gorgonia graphs whose
// hot layers are our own ops over the pose/kern kernels, with gorgonia's
// symbolic differentiation for the backward pass.
//
// # Presets
//
//   - "posenet-s": the reference network of specs/posenet-s.md, layer for
//     layer (2,309,105 parameters with 17 joints; 128x96 input).
//   - "resnet18", "resnet50": SimpleBaseline-style torchvision ResNet
//     backbones (BasicBlock / v1.5 Bottleneck with 1x1 conv + BN
//     downsample, 7x7 stem and 3x3 max pool) and a three-stage head; 256x192
//     input. gorgonia has no transposed convolution, so each head stage is
//     a nearest-neighbour 2x upsample followed by conv3x3(->256) + BN + ReLU
//     instead of SimpleBaseline's 4x4 stride-2 deconvolution (same output
//     size and receptive growth, different parameter count).
//
// Every preset ends with a 1x1 convolution with bias to K heatmaps. All
// other convolutions are bias-free and followed by batch norm (eps 1e-5,
// momentum 0.1). Input height and width must be multiples of 32.
//
// Each preset is described once, as data, in package pose/arch; the
// graphs here, the pose/infer plan and the ONNX export are all built from
// that description. Checkpoints are read and written by the leaf package
// pose/ckpt (SaveCheckpoint and LoadCheckpoint wrap it).
//
// The graph is built with our custom gorgonia ops: convolution (one NCHW
// GEMM per image, no transposes), batch norm fused with the following
// ReLU, the residual add fused with its ReLU, nearest upsample, max pool
// and the weighted MSE loss, each with backward ops that gorgonia.Grad
// wires up. Every op owns an output buffer allocated once for the graph's
// batch size and reused on every step (a static memory plan: the tape
// machine's Reset frees nothing of ours). The only stock gorgonia op left
// in the training graph is the gradient sum gorgonia inserts where an
// activation feeds two layers (the residual branches). Forward's eval
// graphs go one step further and fuse each convolution with its batch
// norm (running statistics) and ReLU into one op; EvalLossGrad, whose
// backward pass needs the convolution outputs, uses unfused eval graphs
// of its own.
//
// # Shapes
//
// All tensors are float32, row-major. Images x: N*3*H*W (NCHW, H =
// InputH, W = InputW). Heatmaps and targets: N*K*h*w with h = H/4, w =
// W/4 (see Net.OutputShape). Joint weights: N*K. Convolution weights:
// OutC*InC*KH*KW (OIHW, as PyTorch); batch-norm tensors and biases: C.
//
// Tensor names follow PyTorch's state_dict conventions, so a checkpoint
// maps onto a PyTorch module of the same structure:
//
//	stem.conv.weight, stem.bn.{weight,bias,running_mean,running_var}
//	posenet-s:  layerL.0.conv / layerL.0.bn   the stride-2 conv3x3+BN+ReLU (L = 1..3)
//	            layerL.1.conv1, .bn1, .conv2, .bn2   the BasicBlock
//	resnets:    layerL.B.conv1, .bn1, .conv2, .bn2[, .conv3, .bn3]
//	            layerL.B.downsample.0 (conv), layerL.B.downsample.1 (BN)
//	head.S.conv, head.S.bn   head stage S (after its nearest upsample)
//	head.final.weight, head.final.bias
//
// (the ResNets' stem conv and BN are torchvision's conv1 and bn1).
// Params lists the trainable tensors in creation order, Buffers the
// running statistics.
//
// # Coordinates
//
// Heatmap pixel (x, y) covers input pixels [4x, 4x+4) x [4y, 4y+4); the
// network itself never converts coordinates (see package heatmap).
//
// # References
//
//   - B. Xiao, H. Wu, Y. Wei, "Simple Baselines for Human Pose Estimation
//     and Tracking", arXiv:1804.06208 (mmpose td-hm_res50_8xb64-210e_coco-256x192).
//   - K. He et al., "Deep Residual Learning for Image Recognition",
//     arXiv:1512.03385 (torchvision resnet.py for layer names and init).
//   - S. Ioffe, C. Szegedy, "Batch Normalization", arXiv:1502.03167.
//   - BSAM: arXiv:2409.13173 (why TrainStep can leave running statistics
//     untouched).
package pose
