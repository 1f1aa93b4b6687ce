// Package data turns COCO person annotations into top-down training and
// evaluation samples: box to centre/scale, random scale/rotation/flip
// (optionally shift and half-body) augmentation, bilinear affine warp
// into the network input, ImageNet normalisation, heatmap targets, and a
// parallel, prefetching batch loader whose output does not depend on the
// number of workers.
//
// It imports coco and heatmap, never gorgonia: batches are plain []float32
// that the trainer wraps into tensors. The crop geometry and the warp
// itself live in pose/geom (shared with the browser build, which must not
// pull in coco or the image decoders); Affine is an alias of geom.Affine.
//
// # Shapes
//
//   - Sample.Image: 3*H*W float32, CHW (c,y,x), RGB, normalised
//     (v/255 - mean[c]) / std[c]; outside the source image it is 0 (the mean
//     colour).
//   - Batch.X: N*3*H*W, NCHW. Batch.Target: N*K*HH*HW (n,k,y,x), from the
//     codec. Batch.Weight: N*K. H x W is the input size (default 128x96,
//     h x w), HH x HW the heatmap size (default 32x24).
//
// # Coordinates
//
// All pixel coordinates refer to pixel centres: pixel (i, j) of an image
// covers [i-0.5, i+0.5] x [j-0.5, j+0.5] and the image spans
// [-0.5, w-0.5]. Image pixels are those of the decoded file (EXIF
// orientation applied), input pixels those of the network input [W, H].
// An Affine maps image pixels to input pixels; its inverse maps decoded
// keypoints back. The box centre goes to (W/2, H/2) as in mmpose
// get_warp_matrix; a flip mirrors input x to W-1-x (an exact mirror of the
// input pixel grid) and swaps the schema's flip pairs. Heatmap pixels are
// input pixels times HW/W (the heatmap codec's convention, as mmpose).
// Boxes are [x, y, w, h] with (x, y) the top-left corner, as in COCO.
//
// # References
//
//   - B. Xiao, H. Wu, Y. Wei, "Simple Baselines for Human Pose Estimation
//     and Tracking", arXiv:1804.06208 (top-down recipe).
//   - BSAM, arXiv:2409.13173 (the project's optimiser; recipe in issue 4).
//   - mmpose parity files: mmpose/structures/bbox/transforms.py
//     (bbox_xywh2cs, get_warp_matrix, _rotate_point, _get_3rd_point),
//     mmpose/datasets/transforms/common_transforms.py (GetBBoxCenterScale,
//     RandomFlip, RandomBBoxTransform), mmpose/datasets/transforms/
//     topdown_transforms.py (TopdownAffine, _fix_aspect_ratio),
//     mmpose/datasets/transforms/loading.py (LoadImage).
package data
