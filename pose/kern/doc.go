// Package kern provides the float32 compute kernels behind posenet
// training and inference (SGEMM, convolution, batch norm, ReLU, nearest
// upsampling, the weighted heatmap MSE). On amd64 with AVX2 and FMA
// (checked at run time with golang.org/x/sys/cpu) the SGEMM micro-kernel,
// the batch-norm loops, ReLU, Add and the B-panel transpose run in Go
// assembly; everywhere else (js/wasm, other GOARCH, old CPUs, or the
// purego build tag) the same code paths use portable Go loops.
//
// The kernels work on plain slices, allocate nothing in the steady state
// (scratch lives in a reusable Workspace) and run on one persistent
// worker goroutine per core (GOMAXPROCS at first use): convolutions split
// the batch by image, batch norm splits by channel. Workers block on a
// channel; nothing spin-waits. On js/wasm everything runs inline.
//
// # Shapes
//
// All tensors are contiguous, row-major float32 slices:
//
//   - activations NCHW: x[((i*C+c)*H+y)*W+x] for image i, channel c;
//   - convolution weights OIHW (PyTorch layout):
//     w[((o*InC+c)*KH+ky)*KW+kx], bias per output channel;
//   - batch-norm parameters and statistics per channel (length C);
//   - heatmaps for the loss N*K*H*W with per-keypoint weights N*K.
//
// A convolution runs as one GEMM per image with no transpose:
// y_i[OutC, OH*OW] = W[OutC, InC*KH*KW] × col_i[InC*KH*KW, OH*OW], where
// col_i is the im2col unrolling (skipped for 1×1, stride-1, unpadded
// convolutions, which multiply the image directly). The weights are
// packed once per call; Forward never materialises col_i but packs its
// rows straight into the GEMM panels. Every im2col row is a shifted copy:
// of the image itself for stride-1 "same" convolutions (plus zeroed
// border columns), otherwise of a phase-split copy of the image (one
// plane per input channel, kernel column and row phase).
// BackwardData computes col = Wᵀ × dy_i and scatters it back (col2im);
// BackwardFilter sums dy_i × col_iᵀ over images into per-worker partial
// gradients. A batch smaller than the worker count is split by output
// columns (Forward, BackwardData) or output channels (BackwardFilter).
//
// Fused variants save memory passes: BatchNormReLUTrain and
// BatchNormAddReLUTrain (the end of a residual block) with
// BatchNormReLUBackward, and AddReLU.
//
// Sgemm packs op(A) into 6-row and op(B) into 16-column k-major panels
// (BLIS loop order, blocks of 144×256 and 256×4080) and runs a 6×16
// register-blocked micro-kernel (AVX2/FMA: twelve YMM accumulators; the
// Go fallback walks 2×4 sub-tiles). Large products are split over the
// workers by column or row blocks, which leaves the results bitwise the
// same as a serial run.
//
// Reductions (batch-norm statistics and gradients, bias gradients, the
// loss) accumulate in float64.
//
// # Coordinates
//
// Pixel (y, x) of a plane is element y*W+x; output pixel (oy, ox) of a
// convolution reads input rows oy*Stride-Pad+ky and columns
// ox*Stride-Pad+kx, with zero padding outside the image (PyTorch Conv2d,
// dilation 1, groups 1). Upsample2x maps output pixel (y, x) to input
// pixel (y/2, x/2) (nearest, PyTorch Upsample(scale_factor=2)).
//
// # References
//
//   - Goto and van de Geijn, "Anatomy of high-performance matrix
//     multiplication", ACM TOMS 34(3), 2008; Van Zee and van de Geijn,
//     "BLIS", ACM TOMS 41(3), 2015 (packing and blocking).
//   - Ioffe and Szegedy, "Batch Normalization", arXiv:1502.03167; running
//     statistics follow torch.nn.BatchNorm2d (momentum 0.1, unbiased
//     running variance).
//   - BSAM, arXiv:2409.13173 (the optimizer these kernels serve).
//   - The weighted heatmap MSE weights before squaring, as mmpose 0.x
//     JointsMSELoss (mmpose/models/losses/mse_loss.py), without its 0.5
//     factor: mean over N*K*H*W of (wt*(p-t))².
//   - The posenet-s layer shapes in ../shared/specs/posenet-s.md set the
//     benchmark sizes.
package kern
