// Package heatmap encodes keypoints as Gaussian heatmap targets and decodes
// predicted heatmaps back to keypoints (the MSRA codec of mmpose).
//
// The package is a leaf: it imports only the standard library, so it builds
// and tests unchanged under GOOS=js GOARCH=wasm.
//
// # Shapes
//
// A heatmap stack for K joints is one []float32 of length K*H*W, row-major
// (k, y, x): element (k, y, x) is hm[(k*H+y)*W+x]. Weights are []float32 of
// length K (1 for a joint that contributes to the loss, 0 otherwise).
// Keypoints are []Point of length K, visibilities []bool of length K.
//
// # Coordinates
//
// Keypoints given to Encode and returned by Decode are in network-input
// pixels ([InputW, InputH] image, x right, y down, integer values at pixel
// centres). Heatmap pixels are input pixels scaled by W/InputW and
// H/InputH with no half-pixel offset, exactly as mmpose (heatmap
// x = input x * W/InputW); sizes are written [w, h] = [W, H] in the mmpose
// order (width first) but slices are always (y, x) row-major.
//
// # References
//
//   - B. Xiao, H. Wu, Y. Wei, "Simple Baselines for Human Pose Estimation
//     and Tracking", arXiv:1804.06208 (Gaussian targets, MSE, flip test).
//   - F. Zhang et al., "Distribution-Aware Coordinate Representation for
//     Human Pose Estimation" (DARK), arXiv:1910.06278.
//   - mmpose parity files: mmpose/codecs/msra_heatmap.py,
//     mmpose/codecs/utils/gaussian_heatmap.py (generate_gaussian_heatmaps,
//     generate_unbiased_gaussian_heatmaps), mmpose/codecs/utils/post_processing.py
//     (get_heatmap_maximum, gaussian_blur), mmpose/codecs/utils/refinement.py
//     (refine_keypoints, refine_keypoints_dark) and
//     mmpose/models/utils/tta.py (flip_heatmaps).
package heatmap
