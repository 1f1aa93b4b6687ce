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
// col_i is the im2col unrolling. When the output is at least 12 pixels
// wide and there are at least as many images as workers, the GEMM reads
// col_i in place ("shifted-image" or implicit GEMM, shift.go): each input
// channel is split into Stride×Stride phase planes stored with zero rows
// and a few zero columns per row, the output is computed on a grid whose
// rows are as wide as those padded rows (the extra columns are dropped
// when the result is copied out), and on that grid every im2col row is a
// padded plane shifted by a constant, so the micro-kernel loads its B
// rows through a table of offsets. Only the weights are packed, once per
// call. BackwardData of a stride-1 "same" convolution is the forward pass
// of the adjoint convolution (weights transposed and flipped) on the same
// path; BackwardFilter computes dWᵀ = col_i × dy_iᵀ with a kernel that reads
// the six A rows in place from the padded planes, per-worker partials
// transposed and summed at the end. ForwardBNEval applies eval-mode batch
// norm (and ReLU) to each output plane while it is in cache.
//
// The 3×3, stride-1, pad-1 convolutions of even height and width (at
// least 8 wide: on narrower planes a quarter of the tile grid is padding)
// with at least 8 channels in and out run as Winograd F(2×2, 3×3) when
// there are at least as many images as workers and the AVX2 transforms
// exist (winograd.go; in posenet-s the 32×24 and 16×12 residual blocks and
// the head, 69 % of the multiply-adds): each 2×2 output tile costs 16 multiply-adds per channel
// pair instead of 36, in 16 GEMMs (one per transformed position) on the
// shifted-image kernels. The input tiles are the patches of a 4×4,
// stride-2 convolution, read from its padded phase planes eight tiles per
// register; BackwardData runs as the adjoint's Winograd forward pass
// (BackwardFilter in the transformed domain measured no faster than the
// shifted-image path and is not used). The weight transforms are redone
// on every call (the weights change every step).
//
// The other convolutions (narrow outputs, a batch smaller than the
// worker count, 1×1) pack col_i into the GEMM panels: rows of the image
// itself for stride-1 "same" convolutions (plus zeroed border columns),
// otherwise of a phase-split copy (1×1, stride-1, unpadded convolutions
// multiply the image directly; for stride 2 the phase planes are split
// from the image rows by a vector even/odd deal). BackwardData then
// computes col = Wᵀ × dy_i and scatters it back (col2im). For strided
// or unpadded convolutions at least 12 pixels wide, col is computed on
// the shifted-image grid instead (dy_i written into rows as wide as the
// padded planes, zero in the extra columns), so that col2im is one
// contiguous vector add per col row into the channel's padded phase
// planes (the rows' offsets are the forward pass's), then one pass that
// interleaves the planes back into dx_i (shift.go). BackwardFilter
// computes, as on the shifted-image path, the transposed
// dWᵀ = Σ col_i × dy_iᵀ into per-worker partials (filterpack.go): the
// worker's images are taken in groups of about 144 pixels (one GEMM depth
// block), dyᵀ of each group is packed once as the small B operand, and
// for each block of whole channels (a 64K-float block of dWᵀ that stays
// in L2 over all the images) the groups' im2col rows are unrolled side by
// side and read in place as the A rows by the filterShift kernel, so only
// dy is transposed; the partials are summed and transposed in 16-row
// blocks at the end (1×1 unpadded convolutions still sum dy × xᵀ per
// group of images into OIHW partials). A batch smaller than the worker
// count is split by output columns (Forward, BackwardData) or output
// channels (BackwardFilter).
//
// Fused variants save memory passes: BatchNormReLUTrain and
// BatchNormAddReLUTrain (the end of a residual block) with
// BatchNormReLUBackward, and AddReLU.
//
// Sgemm packs op(A) into 6-row and op(B) into 16-column k-major panels
// (BLIS loop order, blocks of 144×256 and 256×4080, the depth split into
// equal blocks) and runs a 6×16 register-blocked micro-kernel (AVX2/FMA:
// twelve YMM accumulators; the Go fallback walks 2×4 sub-tiles). Large
// products are split over the workers by column or row blocks, which
// leaves the results bitwise the same as a serial run. The parallel paths
// (Sgemm, the shifted-image convolutions) hand the workers pooled job
// values rather than closures and allocate nothing per call.
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
//   - Lavin and Gray, "Fast Algorithms for Convolutional Neural
//     Networks", arXiv:1509.09308 (Winograd F(2×2, 3×3)).
//   - Dukhan, "The Indirect Convolution Algorithm", arXiv:1907.02129
//     (a GEMM reading its operand through a table of row pointers, which
//     the shifted-image convolutions do with offsets into padded planes).
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

//go:generate go run -C _gen . -out ..
