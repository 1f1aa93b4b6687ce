package data

import (
	"fmt"
	"math"
	"testing"

	"github.com/bsampose/bsampose/coco"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestAffine(t *testing.T) {
	m := Affine{2, 0.5, 3, -1, 1.5, 4}
	inv := m.Invert()
	for _, p := range [][2]float64{{0, 0}, {10, -3}, {1e3, 7}} {
		x, y := m.Apply(p[0], p[1])
		bx, by := inv.Apply(x, y)
		if !near(bx, p[0], 1e-9) || !near(by, p[1], 1e-9) {
			t.Errorf("Invert(Apply(%v)) = (%v, %v)", p, bx, by)
		}
		n := Affine{0, 1, -2, 1, 0, 5}
		cx, cy := m.Then(n).Apply(p[0], p[1])
		wx, wy := n.Apply(x, y)
		if !near(cx, wx, 1e-9) || !near(cy, wy, 1e-9) {
			t.Errorf("Then: (%v, %v), want (%v, %v)", cx, cy, wx, wy)
		}
	}
	if got := m.Then(m.Invert()); !near(got[0], 1, 1e-12) || !near(got[2], 0, 1e-12) || !near(got[4], 1, 1e-12) {
		t.Errorf("m then inverse = %v, want identity", got)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("Invert of a singular map did not panic")
		}
	}()
	Affine{1, 2, 0, 2, 4, 0}.Invert()
}

func TestCenterScale(t *testing.T) {
	tests := []struct {
		name   string
		box    coco.Box
		aspect float64
		center [2]float64
		scale  [2]float64
	}{
		{"tall box widened", coco.Box{X: 10, Y: 20, W: 30, H: 80}, 0.75, [2]float64{25, 60}, [2]float64{75, 100}},
		{"wide box heightened", coco.Box{X: 0, Y: 0, W: 100, H: 40}, 0.75, [2]float64{50, 20}, [2]float64{125, 125 / 0.75}},
		{"exact aspect", coco.Box{X: -5, Y: 5, W: 60, H: 80}, 0.75, [2]float64{25, 45}, [2]float64{75, 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := CenterScale(tt.box, tt.aspect, DefaultPadding)
			if !near(c[0], tt.center[0], 1e-9) || !near(c[1], tt.center[1], 1e-9) ||
				!near(s[0], tt.scale[0], 1e-9) || !near(s[1], tt.scale[1], 1e-9) {
				t.Errorf("CenterScale = %v, %v, want %v, %v", c, s, tt.center, tt.scale)
			}
		})
	}
}

func TestWarpMatrix(t *testing.T) {
	center, scale := [2]float64{100, 50}, [2]float64{75, 100}
	const W, H = 96, 128
	tests := []struct {
		name   string
		rot    float64
		flip   bool
		in     [2]float64 // image pixels
		out    [2]float64 // input pixels
		factor float64    // expected |det| = (W/scale)^2
	}{
		{"centre", 0, false, [2]float64{100, 50}, [2]float64{48, 64}, 1.28 * 1.28},
		{"region left edge", 0, false, [2]float64{62.5, 50}, [2]float64{0, 64}, 1.28 * 1.28},
		{"region top edge", 0, false, [2]float64{100, 0}, [2]float64{48, 0}, 1.28 * 1.28},
		// mmpose: src direction (-w/2, 0) rotated by +90 degrees is (0, -w/2)
		// (image y down), which maps to the input's left edge.
		{"rot 90", 90, false, [2]float64{100, 50 - 37.5}, [2]float64{0, 64}, 1.28 * 1.28},
		{"flip centre", 0, true, [2]float64{100, 50}, [2]float64{47, 64}, 1.28 * 1.28},
		{"flip left edge", 0, true, [2]float64{62.5, 50}, [2]float64{95, 64}, 1.28 * 1.28},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := WarpMatrix(center, scale, tt.rot, tt.flip, W, H)
			x, y := m.Apply(tt.in[0], tt.in[1])
			if !near(x, tt.out[0], 1e-9) || !near(y, tt.out[1], 1e-9) {
				t.Errorf("maps %v to (%v, %v), want %v", tt.in, x, y, tt.out)
			}
			if d := math.Abs(m.Det()); !near(d, tt.factor, 1e-9) {
				t.Errorf("|det| = %v, want %v", d, tt.factor)
			}
			if tt.flip != (m.Det() < 0) {
				t.Errorf("det sign %v with flip=%v", m.Det(), tt.flip)
			}
		})
	}
}

func TestKeypointBox(t *testing.T) {
	b := keypointBox([]coco.Keypoint{{X: 5, Y: 9, V: 2}, {X: 100, Y: 100, V: 0}, {X: 1, Y: 20, V: 1}})
	if b != (coco.Box{X: 1, Y: 9, W: 4, H: 11}) {
		t.Errorf("keypointBox = %v", b)
	}
	if b := keypointBox([]coco.Keypoint{{V: 0}}); b != (coco.Box{}) {
		t.Errorf("keypointBox of unlabeled = %v", b)
	}
}

// ExampleWarpMatrix maps a person box into a 128x96 (h x w) input and
// back.
func ExampleWarpMatrix() {
	box := coco.Box{X: 40, Y: 10, W: 60, H: 160}
	center, scale := CenterScale(box, 96.0/128, DefaultPadding)
	m := WarpMatrix(center, scale, 0, false, 96, 128)
	x, y := m.Apply(70, 90) // the box centre
	fmt.Printf("region %.0fx%.0f, centre -> (%.0f, %.0f)\n", scale[0], scale[1], x, y)
	bx, by := m.Invert().Apply(48, 0) // top centre of the input
	fmt.Printf("input (48, 0) <- image (%.0f, %.0f)\n", bx, by)
	// Output:
	// region 150x200, centre -> (48, 64)
	// input (48, 0) <- image (70, -10)
}
