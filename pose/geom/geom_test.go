package geom_test

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"testing"

	"github.com/bsampose/bsampose/heatmap"
	"github.com/bsampose/bsampose/pose/geom"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestAffine(t *testing.T) {
	tests := []struct {
		name string
		m, n geom.Affine
	}{
		{"shear and shift", geom.Affine{2, 0.5, 3, -1, 1.5, 4}, geom.Affine{0, 1, -2, 1, 0, 5}},
		{"identity", geom.Identity, geom.Affine{1, 0, 7, 0, 1, -7}},
		{"mirror", geom.Affine{-1, 0, 95, 0, 1, 0}, geom.Affine{0.5, 0, 0, 0, 0.5, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := tt.m.Invert()
			for _, p := range [][2]float64{{0, 0}, {10, -3}, {1e3, 7}} {
				x, y := tt.m.Apply(p[0], p[1])
				if bx, by := inv.Apply(x, y); !near(bx, p[0], 1e-9) || !near(by, p[1], 1e-9) {
					t.Errorf("Invert(Apply(%v)) = (%v, %v)", p, bx, by)
				}
				cx, cy := tt.m.Then(tt.n).Apply(p[0], p[1])
				if wx, wy := tt.n.Apply(x, y); !near(cx, wx, 1e-9) || !near(cy, wy, 1e-9) {
					t.Errorf("Then: (%v, %v), want (%v, %v)", cx, cy, wx, wy)
				}
				q := tt.m.ApplyPoint(heatmap.Point{X: p[0], Y: p[1]})
				if q.X != x || q.Y != y {
					t.Errorf("ApplyPoint = %v, want (%v, %v)", q, x, y)
				}
			}
		})
	}
	for _, m := range []geom.Affine{{1, 2, 0, 2, 4, 0}, {}, {math.NaN(), 0, 0, 0, 1, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Invert(%v) did not panic", m)
				}
			}()
			m.Invert()
		}()
	}
}

func TestBoxTransform(t *testing.T) {
	tests := []struct {
		name    string
		box     geom.Box
		padding float64
		// the padded region [x0, y0] .. [x0+w, y0+h] fills the 96x128 input
		x0, y0, w float64
	}{
		// centre (25, 60); 37.5 x 100 padded, widened to 75 x 100
		{"tall box widened", geom.Box{X: 10, Y: 20, W: 30, H: 80}, 0, 25 - 37.5, 10, 75},
		// centre (50, 20); 125 x 50 padded, heightened to 125 x 166.7
		{"wide box heightened", geom.Box{W: 100, H: 40}, geom.DefaultPadding, -12.5, 20 - 125/0.75/2, 125},
		{"no padding", geom.Box{X: -5, Y: 5, W: 60, H: 80}, 1, -5, 5, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := geom.BoxTransform(tt.box, 96, 128, tt.padding)
			h := tt.w * 128 / 96
			for _, c := range [][4]float64{{tt.x0, tt.y0, 0, 0}, {tt.x0 + tt.w, tt.y0 + h, 96, 128},
				{tt.box.X + tt.box.W/2, tt.box.Y + tt.box.H/2, 48, 64}} {
				if x, y := m.Apply(c[0], c[1]); !near(x, c[2], 1e-9) || !near(y, c[3], 1e-9) {
					t.Errorf("(%v, %v) -> (%v, %v), want (%v, %v)", c[0], c[1], x, y, c[2], c[3])
				}
			}
			// keypoints decoded in input pixels go back through the inverse
			inv := m.Invert()
			if x, y := inv.Apply(m.Apply(13.25, 71.5)); !near(x, 13.25, 1e-9) || !near(y, 71.5, 1e-9) {
				t.Errorf("inverse round trip: (%v, %v)", x, y)
			}
		})
	}
}

func TestWarpMatrix(t *testing.T) {
	c, s := [2]float64{50, 40}, [2]float64{96, 128}
	tests := []struct {
		name   string
		rot    float64
		flip   bool
		src    [2]float64
		wx, wy float64
	}{
		{"centre", 0, false, c, 48, 64},
		{"right of centre", 0, false, [2]float64{60, 40}, 58, 64},
		{"flip mirrors x to W-1-x", 0, true, [2]float64{60, 40}, 95 - 58, 64},
		// rot 90: a point to the right of the centre appears above it
		{"rot 90", 90, false, [2]float64{60, 40}, 48, 54},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, y := geom.WarpMatrix(c, s, tt.rot, tt.flip, 96, 128).Apply(tt.src[0], tt.src[1])
			if !near(x, tt.wx, 1e-9) || !near(y, tt.wy, 1e-9) {
				t.Errorf("(%v, %v), want (%v, %v)", x, y, tt.wx, tt.wy)
			}
		})
	}
}

// rampImage has R = 10*x, G = 10*y, B = 7 (A = 255).
func rampImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(10 * x), uint8(10 * y), 7, 255})
		}
	}
	return img
}

func TestWarp(t *testing.T) {
	const w, h = 8, 6
	img := rampImage(w, h)
	rgba := image.NewRGBA(img.Rect)
	gray := image.NewGray(img.Rect)
	for y := range h {
		for x := range w {
			rgba.Set(x, y, img.At(x, y))
			gray.SetGray(x, y, color.Gray{uint8(10 * x)})
		}
	}
	// A sub-image: pixel (0, 0) of the warp is pixel (2, 1) of its parent.
	sub := rampImage(w+2, h+1).SubImage(image.Rect(2, 1, w+2, h+1))
	tests := []struct {
		name string
		img  image.Image
		m    geom.Affine
		x, y int        // output pixel
		want [3]float32 // raw 0..255 values
	}{
		{"identity", img, geom.Identity, 3, 2, [3]float32{30, 20, 7}},
		{"identity last pixel", img, geom.Identity, 7, 5, [3]float32{70, 50, 7}},
		{"half pixel shift", img, geom.Affine{1, 0, -0.5, 0, 1, -0.5}, 3, 2, [3]float32{35, 25, 7}},
		{"scale 2", img, geom.Affine{2, 0, 0, 0, 2, 0}, 3, 3, [3]float32{15, 15, 7}},
		{"mirror", img, geom.Affine{-1, 0, w - 1, 0, 1, 0}, 0, 1, [3]float32{70, 10, 7}},
		{"far outside", img, geom.Affine{1, 0, 100, 0, 1, 0}, 3, 2, [3]float32{}},
		{"left border", img, geom.Affine{1, 0, 0.5, 0, 1, 0}, 0, 2, [3]float32{0, 10, 3.5}},
		{"corner", img, geom.Affine{1, 0, -(w - 0.5) + 3, 0, 1, -(h - 0.5) + 3}, 3, 3, [3]float32{70.0 / 4, 50.0 / 4, 7.0 / 4}},
		{"rgba", rgba, geom.Affine{1, 0, -0.5, 0, 1, -0.5}, 3, 2, [3]float32{35, 25, 7}},
		{"gray converted", gray, geom.Affine{1, 0, -0.5, 0, 1, 0}, 3, 2, [3]float32{35, 35, 35}},
		{"sub-image origin", sub, geom.Identity, 1, 1, [3]float32{30, 20, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const W, H = 8, 8
			dst := make([]float32, 3*W*H)
			geom.Warp(dst, tt.img, tt.m, W, H, [3]float32{}, [3]float32{1.0 / 255, 1.0 / 255, 1.0 / 255})
			for c := range 3 {
				if got := dst[(c*H+tt.y)*W+tt.x]; math.Abs(float64(got-tt.want[c])) > 1e-3 {
					t.Errorf("channel %d at (%d,%d) = %v, want %v", c, tt.x, tt.y, got, tt.want[c])
				}
			}
		})
	}
	// Normalisation: white becomes (1-mean)/std; outside becomes 0.
	white := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	for i := range white.Pix {
		white.Pix[i] = 255
	}
	dst := make([]float32, 3*4*4)
	geom.Warp(dst, white, geom.Affine{1, 0, 2, 0, 1, 0}, 4, 4, geom.ImageNetMean, geom.ImageNetStd)
	for c := range 3 {
		want := (1 - geom.ImageNetMean[c]) / geom.ImageNetStd[c]
		if got := dst[c*16+7]; math.Abs(float64(got-want)) > 1e-5 {
			t.Errorf("white channel %d = %v, want %v", c, got, want)
		}
		if got := dst[c*16]; got != 0 {
			t.Errorf("outside channel %d = %v, want 0", c, got)
		}
	}
	defer func() {
		if recover() == nil {
			t.Errorf("Warp with a short dst did not panic")
		}
	}()
	geom.Warp(dst[:5], white, geom.Identity, 4, 4, geom.ImageNetMean, geom.ImageNetStd)
}

// TestWarpYCbCr: a JPEG-style YCbCr image warps like its RGB conversion
// (interpolating Y, Cb, Cr, then converting, is exact where no RGB value
// clamps), for every chroma subsampling.
func TestWarpYCbCr(t *testing.T) {
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
		t.Run(ratio.String(), func(t *testing.T) {
			full := image.NewYCbCr(image.Rect(0, 0, 13, 11), ratio)
			for i := range full.Y {
				full.Y[i] = uint8(100 + i%50)
			}
			for i := range full.Cb {
				full.Cb[i], full.Cr[i] = uint8(110+i%30), uint8(140-i%25)
			}
			yc := full.SubImage(image.Rect(1, 2, 13, 11)).(*image.YCbCr)
			rgb := image.NewNRGBA(image.Rect(0, 0, 12, 9))
			for y := range 9 {
				for x := range 12 {
					rgb.Set(x, y, yc.At(x+1, y+2))
				}
			}
			m := geom.Affine{0.9, 0.1, 0.3, -0.1, 0.9, 0.6}
			a, b := make([]float32, 3*10*10), make([]float32, 3*10*10)
			one := [3]float32{1.0 / 255, 1.0 / 255, 1.0 / 255}
			geom.Warp(a, yc, m, 10, 10, [3]float32{}, one)
			geom.Warp(b, rgb, m, 10, 10, [3]float32{}, one)
			for i := range a {
				if math.Abs(float64(a[i]-b[i])) > 0.6 { // byte rounding of the NRGBA conversion
					t.Fatalf("value %d: YCbCr %v, NRGBA %v", i, a[i], b[i])
				}
			}
		})
	}
}

func TestChromaShifts(t *testing.T) {
	for _, tt := range []struct {
		r      image.YCbCrSubsampleRatio
		sx, sy uint
	}{
		{image.YCbCrSubsampleRatio444, 0, 0}, {image.YCbCrSubsampleRatio422, 1, 0}, {image.YCbCrSubsampleRatio420, 1, 1},
		{image.YCbCrSubsampleRatio440, 0, 1}, {image.YCbCrSubsampleRatio411, 2, 0}, {image.YCbCrSubsampleRatio410, 2, 1},
	} {
		if sx, sy := geom.ChromaShifts(tt.r); sx != tt.sx || sy != tt.sy {
			t.Errorf("%v: (%d, %d), want (%d, %d)", tt.r, sx, sy, tt.sx, tt.sy)
		}
	}
}

// FuzzWarp: any invertible map warps without panicking, and every output
// value lies in the normalised range of 0..255.
func FuzzWarp(f *testing.F) {
	f.Add(1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
	f.Add(-0.5, 0.3, 100.0, 0.2, 2.0, -40.0)
	f.Add(1e-9, 0.0, 1e9, 0.0, 1e-9, -1e9)
	img := rampImage(9, 7)
	yc := image.NewYCbCr(image.Rect(0, 0, 9, 7), image.YCbCrSubsampleRatio420)
	for i := range yc.Y {
		yc.Y[i] = uint8(i * 3)
	}
	f.Fuzz(func(t *testing.T, a, b, c, d, e, g float64) {
		m := geom.Affine{a, b, c, d, e, g}
		if det := m.Det(); det == 0 || math.IsNaN(det) || math.IsInf(det, 0) || math.IsInf(1/det, 0) {
			return
		}
		for _, im := range []image.Image{img, yc} {
			dst := make([]float32, 3*6*5)
			geom.Warp(dst, im, m, 6, 5, [3]float32{}, [3]float32{1, 1, 1})
			for i, v := range dst {
				if !(v >= -1e-5 && v <= 1+1e-5) {
					inv := m.Invert()
					if math.IsNaN(inv[0]+inv[1]+inv[2]+inv[3]+inv[4]+inv[5]) || math.IsInf(inv[0]+inv[1]+inv[2]+inv[3]+inv[4]+inv[5], 0) {
						return // the inverse overflows: positions are meaningless
					}
					t.Fatalf("%T: value %d = %v outside [0, 1] for %v", im, i, v, m)
				}
			}
		}
	})
}

// ExampleBoxTransform maps a person box to the 96x128 input and a decoded
// keypoint back to image pixels.
func ExampleBoxTransform() {
	box := geom.Box{X: 100, Y: 50, W: 60, H: 160} // image pixels
	m := geom.BoxTransform(box, 96, 128, geom.DefaultPadding)
	cx, cy := m.Apply(130, 130) // the box centre
	fmt.Printf("centre -> (%.0f, %.0f)\n", cx, cy)
	x, y := m.Invert().Apply(48, 0) // top middle of the input
	fmt.Printf("input (48, 0) <- image (%.0f, %.0f)\n", x, y)
	// Output:
	// centre -> (48, 64)
	// input (48, 0) <- image (130, 30)
}

func BenchmarkWarp(b *testing.B) {
	nrgba := image.NewNRGBA(image.Rect(0, 0, 640, 480))
	yc := image.NewYCbCr(image.Rect(0, 0, 640, 480), image.YCbCrSubsampleRatio420)
	m := geom.BoxTransform(geom.Box{X: 200, Y: 40, W: 200, H: 400}, 96, 128, 0)
	dst := make([]float32, 3*96*128)
	for _, bc := range []struct {
		name string
		img  image.Image
	}{{"NRGBA_640x480_to_96x128", nrgba}, {"YCbCr420_640x480_to_96x128", yc}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				geom.Warp(dst, bc.img, m, 96, 128, geom.ImageNetMean, geom.ImageNetStd)
			}
		})
	}
}
