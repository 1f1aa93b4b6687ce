package synth

import (
	"image"
	"math"
)

// Owner codes stored in canvas.owner. Non-negative values are person
// indices within the image.
const (
	ownerNone     int8 = -1 // background and distractors
	ownerOccluder int8 = -2 // occluders drawn over people
)

// rgb is a linear 0..255 colour in float32.
type rgb struct{ r, g, b float32 }

func (c rgb) scale(s float32) rgb { return rgb{c.r * s, c.g * s, c.b * s} }

func (c rgb) mix(d rgb, t float32) rgb {
	return rgb{c.r + (d.r-c.r)*t, c.g + (d.g-c.g)*t, c.b + (d.b-c.b)*t}
}

// canvas is an RGB float image plus a per-pixel owner map. Integer
// coordinates are pixel centres: pixel (i, j) covers [i-0.5, i+0.5) x
// [j-0.5, j+0.5).
type canvas struct {
	w, h  int
	pix   []float32 // 3*w*h, row-major (y, x, channel)
	owner []int8    // w*h
	part  []uint8   // w*h: body part of the owning person (see partNone)
	cur   uint8     // part recorded by put for the shapes being drawn

	// Extent and pixel count of the pixels claimed by the current owner
	// since beginTrack.
	track                  int8
	minX, minY, maxX, maxY int
	count                  int
}

func newCanvas(w, h int) *canvas {
	c := &canvas{w: w, h: h, pix: make([]float32, 3*w*h), owner: make([]int8, w*h), part: make([]uint8, w*h), track: ownerNone}
	for i := range c.owner {
		c.owner[i] = ownerNone
	}
	return c
}

// beginTrack starts recording the extent of pixels claimed by owner o.
func (c *canvas) beginTrack(o int8) {
	c.track = o
	c.minX, c.minY, c.maxX, c.maxY = c.w, c.h, -1, -1
	c.count = 0
}

// endTrack stops tracking and returns the number of pixels owned by the
// tracked owner at this moment.
func (c *canvas) endTrack() int {
	n := 0
	for _, o := range c.owner {
		if o == c.track {
			n++
		}
	}
	c.track = ownerNone
	return n
}

// put blends colour col with coverage a into pixel (x, y) and claims the
// pixel for owner o when a >= 0.5 (o == ownerNone leaves the map alone).
func (c *canvas) put(x, y int, col rgb, a float32, o int8) {
	i := y*c.w + x
	p := c.pix[3*i : 3*i+3 : 3*i+3]
	if a >= 1 {
		p[0], p[1], p[2] = col.r, col.g, col.b
	} else {
		p[0] += (col.r - p[0]) * a
		p[1] += (col.g - p[1]) * a
		p[2] += (col.b - p[2]) * a
	}
	if a >= 0.5 && o != ownerNone {
		c.owner[i] = o
		c.part[i] = c.cur
		if o == c.track {
			c.minX = min(c.minX, x)
			c.maxX = max(c.maxX, x)
			c.minY = min(c.minY, y)
			c.maxY = max(c.maxY, y)
		}
	}
}

// bounds clips the box [x0, x1] x [y0, y1] (inclusive, float) to the canvas.
func (c *canvas) bounds(x0, y0, x1, y1 float64) (ix0, iy0, ix1, iy1 int) {
	ix0 = max(0, int(math.Floor(x0)))
	iy0 = max(0, int(math.Floor(y0)))
	ix1 = min(c.w-1, int(math.Ceil(x1)))
	iy1 = min(c.h-1, int(math.Ceil(y1)))
	return
}

// capsule draws an anti-aliased capsule of radius r around segment a-b.
// With shade > 0 the colour darkens towards the rim by that fraction,
// which gives limbs a rounded look.
func (c *canvas) capsule(ax, ay, bx, by, r float64, col rgb, shade float32, o int8) {
	x0, y0, x1, y1 := c.bounds(min(ax, bx)-r-1, min(ay, by)-r-1, max(ax, bx)+r+1, max(ay, by)+r+1)
	dx, dy := float32(bx-ax), float32(by-ay)
	l2 := dx*dx + dy*dy
	fr := float32(r)
	for y := y0; y <= y1; y++ {
		py := float32(y) - float32(ay)
		for x := x0; x <= x1; x++ {
			px := float32(x) - float32(ax)
			t := float32(0)
			if l2 > 0 {
				t = (px*dx + py*dy) / l2
				t = min(max(t, 0), 1)
			}
			ex, ey := px-t*dx, py-t*dy
			d := float32(math.Sqrt(float64(ex*ex + ey*ey)))
			a := fr + 0.5 - d
			if a <= 0 {
				continue
			}
			a = min(a, 1)
			cc := col
			if shade > 0 && fr > 0 {
				q := min(d/fr, 1)
				cc = col.scale(1 - shade*q*q)
			}
			c.put(x, y, cc, a, o)
		}
	}
}

// ellipse draws an anti-aliased ellipse with centre (cx, cy), semi-axes rx,
// ry and rotation theta (radians).
func (c *canvas) ellipse(cx, cy, rx, ry, theta float64, col rgb, shade float32, o int8) {
	R := max(rx, ry)
	x0, y0, x1, y1 := c.bounds(cx-R-1, cy-R-1, cx+R+1, cy+R+1)
	cs, sn := float32(math.Cos(theta)), float32(math.Sin(theta))
	frx, fry := float32(rx), float32(ry)
	rmin := float32(min(rx, ry))
	for y := y0; y <= y1; y++ {
		py := float32(y) - float32(cy)
		for x := x0; x <= x1; x++ {
			px := float32(x) - float32(cx)
			u := (px*cs + py*sn) / frx
			v := (-px*sn + py*cs) / fry
			q := float32(math.Sqrt(float64(u*u + v*v)))
			a := (1-q)*rmin + 0.5
			if a <= 0 {
				continue
			}
			a = min(a, 1)
			cc := col
			if shade > 0 {
				qq := min(q, 1)
				cc = col.scale(1 - shade*qq*qq)
			}
			c.put(x, y, cc, a, o)
		}
	}
}

// polygon fills an anti-aliased convex polygon (vertices in either
// orientation). fill gives the colour at a pixel; nil means col.
func (c *canvas) polygon(pts [][2]float64, col rgb, fill func(x, y float64) rgb, o int8) {
	n := len(pts)
	if n < 3 {
		return
	}
	area := 0.0
	bx0, by0, bx1, by1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for i, p := range pts {
		q := pts[(i+1)%n]
		area += p[0]*q[1] - q[0]*p[1]
		bx0, by0 = min(bx0, p[0]), min(by0, p[1])
		bx1, by1 = max(bx1, p[0]), max(by1, p[1])
	}
	if area == 0 {
		return
	}
	sign := 1.0
	if area < 0 {
		sign = -1
	}
	// Outward unit normals and offsets: distance = nx*x + ny*y - off.
	type edge struct{ nx, ny, off float64 }
	edges := make([]edge, n)
	for i, p := range pts {
		q := pts[(i+1)%n]
		ex, ey := q[0]-p[0], q[1]-p[1]
		l := math.Hypot(ex, ey)
		if l == 0 {
			edges[i] = edge{0, 0, -1e9}
			continue
		}
		nx, ny := sign*ey/l, -sign*ex/l
		edges[i] = edge{nx, ny, nx*p[0] + ny*p[1]}
	}
	x0, y0, x1, y1 := c.bounds(bx0-1, by0-1, bx1+1, by1+1)
	for y := y0; y <= y1; y++ {
		fy := float64(y)
		for x := x0; x <= x1; x++ {
			fx := float64(x)
			sd := math.Inf(-1)
			for _, e := range edges {
				sd = max(sd, e.nx*fx+e.ny*fy-e.off)
			}
			a := 0.5 - sd
			if a <= 0 {
				continue
			}
			cc := col
			if fill != nil {
				cc = fill(fx, fy)
			}
			c.put(x, y, cc, float32(min(a, 1)), o)
		}
	}
}

// rotRect returns the corners of a w x h rectangle centred on (cx, cy) and
// rotated by theta radians.
func rotRect(cx, cy, w, h, theta float64) [][2]float64 {
	cs, sn := math.Cos(theta), math.Sin(theta)
	pts := make([][2]float64, 4)
	for i, s := range [4][2]float64{{-1, -1}, {1, -1}, {1, 1}, {-1, 1}} {
		u, v := s[0]*w/2, s[1]*h/2
		pts[i] = [2]float64{cx + u*cs - v*sn, cy + u*sn + v*cs}
	}
	return pts
}

// toRGBA converts the canvas to an 8-bit image, adding the noise values
// noise (len 3*w*h, may be nil).
func (c *canvas) toRGBA(noise []float32) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, c.w, c.h))
	for i := 0; i < c.w*c.h; i++ {
		d := img.Pix[4*i : 4*i+4 : 4*i+4]
		for k := 0; k < 3; k++ {
			v := c.pix[3*i+k]
			if noise != nil {
				v += noise[3*i+k]
			}
			d[k] = uint8(min(max(v+0.5, 0), 255))
		}
		d[3] = 255
	}
	return img
}
