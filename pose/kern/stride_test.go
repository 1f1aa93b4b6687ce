package kern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// stridedCases are strided and unpadded convolutions of odd and even
// sizes: output widths 1 to 13 and 24, channel counts that are not
// multiples of 6 or 16, pad 0 and 1, strides 2 and 3, 1×1 and 3×3.
func stridedCases() []Conv {
	var cs []Conv
	inC := []int{3, 5, 7, 17, 1}
	outC := []int{5, 7, 13, 19, 2}
	heights := []int{5, 6, 7, 8, 3, 4, 9}
	k := 0
	for _, st := range []int{2, 3} {
		for _, pad := range []int{1, 0} {
			for _, inW := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 16, 23, 24, 25, 27, 37, 49} {
				kh := 3
				if k%7 == 3 {
					kh = 1
				}
				c := Conv{InC: inC[k%len(inC)], OutC: outC[k/2%len(outC)], KH: kh, KW: kh, Stride: st, Pad: pad,
					InH: heights[k%len(heights)], InW: inW}
				k++
				if c.InH+2*pad < kh || inW+2*pad < kh || c.OutW() > 24 {
					continue
				}
				cs = append(cs, c)
			}
		}
	}
	return cs
}

// TestConvStrided checks Forward, BackwardData and BackwardFilter of the
// stridedCases against the float64 references for 1, 2, 3 and 7 images,
// on every kernel path, with the shifted-image paths at their usual
// width threshold and on every width.
func TestConvStrided(t *testing.T) {
	saved := shiftMinW
	t.Cleanup(func() { shiftMinW = saved })
	cases := stridedCases()
	for _, kern := range kernels(t) {
		setPath(kern.path)
		for _, minW := range []int{saved, 1} {
			shiftMinW = minW
			var ws Workspace // reused across shapes: must grow correctly
			for k, c := range cases {
				n := []int{1, 2, 3, 7}[k%4]
				name := fmt.Sprintf("%s/minW%d/C%d_%d_k%d_s%d_p%d_%dx%d_n%d", kern.name, minW, c.InC, c.OutC, c.KH, c.Stride, c.Pad, c.InH, c.InW, n)
				t.Run(name, func(t *testing.T) {
					checkConvStrided(t, c, n, &ws)
				})
			}
		}
	}
}

func checkConvStrided(t *testing.T, c Conv, n int, ws *Workspace) {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(c.InW), uint64(n)))
	x, w, bias, dy := convData(r, c, n)
	x64, w64, dy64 := to64(x), to64(w), to64(dy)
	nan := float32(math.NaN())
	y := make([]float32, len(dy))
	for i := range y {
		y[i] = nan
	}
	c.Forward(n, x, w, bias, y, ws)
	if e := relErr(y, refConv(c, n, x64, w64, to64(bias))); !(e < 1e-6) {
		t.Errorf("forward relative error %g", e)
	}
	dx := make([]float32, len(x))
	for i := range dx {
		dx[i] = nan
	}
	c.BackwardData(n, dy, w, dx, ws)
	if e := relErr(dx, refConvData(c, n, dy64, w64)); !(e < 1e-5) {
		t.Errorf("dx relative error %g", e)
	}
	dw := make([]float32, len(w))
	for i := range dw {
		dw[i] = nan
	}
	c.BackwardFilter(n, x, dy, dw, nil, ws)
	if e := relErr(dw, refConvFilter(c, n, x64, dy64)); !(e < 1e-5) {
		t.Errorf("dw relative error %g", e)
	}
}

// TestInterleave2 compares interleave2 on the current path with the
// portable loop for every length up to 70 and unaligned operands.
func TestInterleave2(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, kern := range kernels(t) {
		setPath(kern.path)
		for n := range 71 {
			for _, o := range []int{0, 1, 5} {
				a := randSlice(r, (n+1)/2+o, -1, 1)[o:]
				b := randSlice(r, n/2+o, -1, 1)[o:]
				got := make([]float32, n+o+1)
				want := make([]float32, n)
				got[n+o] = 7
				interleave2(got[o:o+n], a, b)
				interleave2Go(want, a, b)
				for i := range want {
					if got[o+i] != want[i] {
						t.Fatalf("%s n=%d off=%d: d[%d] = %g, want %g", kern.name, n, o, i, got[o+i], want[i])
					}
				}
				if got[n+o] != 7 {
					t.Fatalf("%s n=%d off=%d: wrote past the end", kern.name, n, o)
				}
			}
		}
	}
}
