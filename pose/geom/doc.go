// Package geom is the top-down crop geometry shared by training, native
// inference and the browser: the affine map from a person box to the
// network input, the bilinear warp of an RGBA, NRGBA or YCbCr image into
// the normalised NCHW input, and the inverse map that takes decoded
// keypoints back to image pixels.
//
// It imports only the standard library and heatmap (for heatmap.Point),
// so the WebAssembly build (cmd/posewasm) can use it without coco, json
// or image-decoding packages. pose/data re-exports it for the training
// pipeline.
//
// # Shapes
//
//   - Warp's dst: 3*H*W float32, CHW (c,y,x), RGB, normalised
//     (v/255 - mean[c]) / std[c]; 0 (the mean colour) outside the source
//     image. W x H is the input size [W, H] (default 96 x 128).
//   - Affine: [a, b, c, d, e, f], x' = a*x + b*y + c, y' = d*x + e*y + f.
//
// # Coordinates
//
// All pixel coordinates refer to pixel centres: pixel (i, j) covers
// [i-0.5, i+0.5] x [j-0.5, j+0.5] and an image of size [w, h] spans
// [-0.5, w-0.5] x [-0.5, h-0.5]. Image pixels are those of the decoded
// image, input pixels those of the network input [W, H]. WarpMatrix maps
// image pixels to input pixels, sending the region centre to (W/2, H/2)
// as mmpose get_warp_matrix; a flip mirrors input x to W-1-x. Boxes are
// [x, y, w, h] with (x, y) the top-left corner, as in COCO.
//
// # References
//
//   - B. Xiao, H. Wu, Y. Wei, "Simple Baselines for Human Pose Estimation
//     and Tracking", arXiv:1804.06208 (the top-down crop).
//   - mmpose parity files: mmpose/structures/bbox/transforms.py
//     (bbox_xywh2cs, get_warp_matrix), mmpose/datasets/transforms/
//     topdown_transforms.py (TopdownAffine, _fix_aspect_ratio).
package geom
