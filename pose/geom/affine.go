package geom

import (
	"fmt"
	"math"

	"github.com/bsampose/bsampose/heatmap"
)

// DefaultPadding is the box padding of the top-down recipe (mmpose
// GetBBoxCenterScale padding=1.25).
const DefaultPadding = 1.25

// Box is a rectangle [x, y, w, h] in image pixels, (x, y) its top-left
// corner (the layout of coco.Box, which converts to it).
type Box struct {
	X, Y, W, H float64
}

// Affine is a 2-D affine map [a, b, c, d, e, f]:
// x' = a*x + b*y + c, y' = d*x + e*y + f (the first two rows of an
// OpenCV warp matrix).
type Affine [6]float64

// Identity is the identity map.
var Identity = Affine{1, 0, 0, 0, 1, 0}

// Apply maps (x, y).
func (m Affine) Apply(x, y float64) (float64, float64) {
	return m[0]*x + m[1]*y + m[2], m[3]*x + m[4]*y + m[5]
}

// ApplyPoint maps p.
func (m Affine) ApplyPoint(p heatmap.Point) heatmap.Point {
	x, y := m.Apply(p.X, p.Y)
	return heatmap.Point{X: x, Y: y}
}

// Det returns the determinant of the linear part.
func (m Affine) Det() float64 { return m[0]*m[4] - m[1]*m[3] }

// Invert returns the inverse map. It panics if m is singular.
func (m Affine) Invert() Affine {
	det := m.Det()
	if det == 0 || math.IsNaN(det) || math.IsInf(det, 0) {
		panic(fmt.Sprintf("geom: Invert: singular affine %v", m))
	}
	a, b, d, e := m[4]/det, -m[1]/det, -m[3]/det, m[0]/det
	return Affine{a, b, -(a*m[2] + b*m[5]), d, e, -(d*m[2] + e*m[5])}
}

// Then returns the map that applies m, then n.
func (m Affine) Then(n Affine) Affine {
	return Affine{
		n[0]*m[0] + n[1]*m[3], n[0]*m[1] + n[1]*m[4], n[0]*m[2] + n[1]*m[5] + n[2],
		n[3]*m[0] + n[4]*m[3], n[3]*m[1] + n[4]*m[4], n[3]*m[2] + n[4]*m[5] + n[5],
	}
}

// CenterScale converts a box to the centre and size [w, h] (image pixels)
// of the region that fills the input: the box centre, the box size times
// padding, widened or heightened to the input aspect ratio aspect = w/h
// (mmpose bbox_xywh2cs followed by _fix_aspect_ratio).
func CenterScale(b Box, aspect, padding float64) (center, scale [2]float64) {
	center = [2]float64{b.X + 0.5*b.W, b.Y + 0.5*b.H}
	w, h := b.W*padding, b.H*padding
	if w > h*aspect {
		h = w / aspect
	} else {
		w = h * aspect
	}
	return center, [2]float64{w, h}
}

// WarpMatrix returns the map from image pixels to input pixels of an
// outW x outH input (mmpose get_warp_matrix with shift 0 and
// fix_aspect_ratio): center goes to (outW/2, outH/2), the region width
// scale[0] to outW, and the source region is turned by rotDeg degrees
// about the centre (mmpose's sense: with y down, a positive angle turns
// the region clockwise on screen, so the content appears turned
// counter-clockwise in the input). With flip the result is then mirrored:
// input x goes to outW-1-x.
func WarpMatrix(center, scale [2]float64, rotDeg float64, flip bool, outW, outH int) Affine {
	s := float64(outW) / scale[0]
	sin, cos := math.Sincos(rotDeg * math.Pi / 180)
	// dst = s*R(-rot)*(src-center) + (outW/2, outH/2)
	a, b := s*cos, s*sin
	d, e := -s*sin, s*cos
	m := Affine{
		a, b, 0.5*float64(outW) - (a*center[0] + b*center[1]),
		d, e, 0.5*float64(outH) - (d*center[0] + e*center[1]),
	}
	if flip {
		m = m.Then(Affine{-1, 0, float64(outW - 1), 0, 1, 0})
	}
	return m
}

// BoxTransform returns the evaluation-time map from image pixels to the
// outW x outH input for the person in b: CenterScale with the input's
// aspect ratio and padding (0 means DefaultPadding), no rotation, no flip
// (pose/data's Config.Transform without augmentation).
func BoxTransform(b Box, outW, outH int, padding float64) Affine {
	if padding == 0 {
		padding = DefaultPadding
	}
	center, scale := CenterScale(b, float64(outW)/float64(outH), padding)
	return WarpMatrix(center, scale, 0, false, outW, outH)
}
