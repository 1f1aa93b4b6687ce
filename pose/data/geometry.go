package data

import (
	"math"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/pose/geom"
)

// DefaultPadding is the box padding of the top-down recipe (mmpose
// GetBBoxCenterScale padding=1.25).
const DefaultPadding = geom.DefaultPadding

// Affine is a 2-D affine map [a, b, c, d, e, f]:
// x' = a*x + b*y + c, y' = d*x + e*y + f (the first two rows of an
// OpenCV warp matrix). It is geom.Affine (the geometry the browser shares).
type Affine = geom.Affine

// Identity is the identity map.
var Identity = geom.Identity

// CenterScale converts a box to the centre and size [w, h] (image pixels)
// of the region that fills the input: the box centre, the box size times
// padding, widened or heightened to the input aspect ratio aspect = w/h
// (mmpose bbox_xywh2cs followed by _fix_aspect_ratio; geom.CenterScale).
func CenterScale(b coco.Box, aspect, padding float64) (center, scale [2]float64) {
	return geom.CenterScale(geom.Box(b), aspect, padding)
}

// WarpMatrix returns the map from image pixels to input pixels of an
// outW x outH input (mmpose get_warp_matrix with shift 0 and
// fix_aspect_ratio): center goes to (outW/2, outH/2), the region width
// scale[0] to outW, and the source region is turned by rotDeg degrees
// about the centre (mmpose's sense: with y down, a positive angle turns
// the region clockwise on screen, so the content appears turned
// counter-clockwise in the input). With flip the result is then mirrored:
// input x goes to outW-1-x. It is geom.WarpMatrix.
func WarpMatrix(center, scale [2]float64, rotDeg float64, flip bool, outW, outH int) Affine {
	return geom.WarpMatrix(center, scale, rotDeg, flip, outW, outH)
}

// keypointBox returns the tight box of the labeled keypoints (zero if
// none).
func keypointBox(kps []coco.Keypoint) coco.Box {
	x0, y0 := math.Inf(1), math.Inf(1)
	x1, y1 := math.Inf(-1), math.Inf(-1)
	for _, k := range kps {
		if !k.Labeled() {
			continue
		}
		x0, y0 = math.Min(x0, k.X), math.Min(y0, k.Y)
		x1, y1 = math.Max(x1, k.X), math.Max(y1, k.Y)
	}
	if x0 > x1 {
		return coco.Box{}
	}
	return coco.Box{X: x0, Y: y0, W: x1 - x0, H: y1 - y0}
}
