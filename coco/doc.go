// Package coco loads, checks and writes COCO keypoints annotation files and
// holds the keypoint schema (names, skeleton, flip pairs, OKS sigmas).
//
// Load and Parse scan the JSON structure in one pass over the bytes,
// skipping unknown fields (segmentation, ...) without decoding them (they
// are checked for balanced brackets, terminated strings and NaN/Infinity
// only), and decode the fields they keep with a github.com/json-iterator/go
// Iterator reset onto each value; large annotation arrays are parsed by
// several goroutines. They repair the real-world quirks listed in
// shared/data/BAD_INPUTS.md (missing area, iscrowd, num_keypoints or bbox,
// boolean iscrowd, float or negative visibility, 0-based or out-of-range
// skeletons, string or 64-bit ids, top-level "image", unknown fields,
// category keypoint names that disagree with the annotations) and record
// one line per repaired kind, with counts, in Dataset.Quirks (visibility
// 2.0 is read as 2 without a note). Input that would poison training
// (keypoint arrays of the wrong length, NaN or Inf, negative box sizes,
// unknown image ids, wrong top-level types, malformed JSON) is refused with
// one *Error naming the file, the annotation (by its id wherever the id
// stands in the record), the field (and element: keypoints[4]) and the
// byte, line and column; the sentinel errors (ErrSyntax,
// ErrKeypointsLength, ...) match it with errors.Is.
//
// Check summarises a dataset and verifies that every image file exists and
// has a readable JPEG or PNG header. Write and WriteFile produce standard
// COCO JSON that Load reads back unchanged.
//
// # Shapes
//
// A Dataset is restricted to one category with K joints (Schema.K()).
// Every Annotation.Keypoints has length K, in the order of Schema.Names.
// Schema.Sigmas has length K. Schema.Skeleton and Schema.FlipPairs hold
// 0-based joint indices in [0, K). In the JSON file a keypoint array is
// flat, 3*K numbers (x, y, v) per annotation, and the skeleton is 1-based.
//
// # Coordinates
//
// Keypoint.X and Keypoint.Y are image pixels as stored by COCO: continuous
// coordinates whose integer values are pixel centres of the original
// annotation tool; nothing is shifted on load or write. Box is [x, y, w, h]
// with (x, y) the top-left corner, w along the image width W and h along
// the image height H; Image.Width and Image.Height are W and H. "Labeled"
// means V > 0 (1 occluded, 2 visible), never V == 2; unlabeled points are
// stored as (0, 0, 0).
//
// # References
//
//   - COCO keypoints format and OKS sigmas: Lin et al., "Microsoft COCO",
//     arXiv:1405.0312; cocodataset.org/#format-data; pycocotools cocoeval.py.
//   - CrowdPose sigmas for neck and head top: Li et al., arXiv:1812.00324.
//   - mmpose parity: mmpose/datasets/datasets/base/base_coco_style_dataset.py
//     (loading, person filter) and configs/_base_/datasets/coco.py (flip
//     pairs, sigmas).
//   - The project trains with BSAM, arXiv:2409.13173.
package coco
