package kern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestConvForwardPackSame checks Forward and ForwardBNEval on the
// packing path with packSame (outputs narrower than shiftMinW, and
// batches below Workers(), which split an image by column blocks)
// against the float64 reference.
func TestConvForwardPackSame(t *testing.T) {
	for _, kern := range kernels(t) {
		setPath(kern.path)
		var ws Workspace
		for _, tc := range []struct {
			name string
			c    Conv
		}{
			{"8x6_C5", Conv{InC: 5, OutC: 7, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 8, InW: 6}},
			{"4x3_C4", Conv{InC: 4, OutC: 13, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 4, InW: 3}},
			{"7x5_5x5", Conv{InC: 3, OutC: 6, KH: 5, KW: 5, Stride: 1, Pad: 2, InH: 7, InW: 5}},
			{"5x4_1x3", Conv{InC: 2, OutC: 9, KH: 1, KW: 3, Stride: 1, Pad: 1, InH: 5, InW: 4}},
			{"3x1_1x1_p0", Conv{InC: 2, OutC: 3, KH: 3, KW: 1, Stride: 1, Pad: 0, InH: 5, InW: 1}},
			// Wider than a zmm tile: n < Workers() splits the columns.
			{"20x12_C3", Conv{InC: 3, OutC: 8, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 20, InW: 12}},
		} {
			c := tc.c
			for _, n := range []int{1, 2, 3, 7} {
				t.Run(fmt.Sprintf("%s/%s/n=%d", kern.name, tc.name, n), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(n), 9))
					x, w, bias, _ := convData(r, c, n)
					gamma := randSlice(r, c.OutC, 0.5, 1.5)
					beta, mean := randSlice(r, c.OutC, -1, 1), randSlice(r, c.OutC, -1, 1)
					variance := randSlice(r, c.OutC, 0.5, 2)
					want := refConv(c, n, to64(x), to64(w), to64(bias))
					y := make([]float32, len(want))
					for i := range y {
						y[i] = float32(math.NaN())
					}
					c.Forward(n, x, w, bias, y, &ws)
					if e := relErr(y, want); !(e < 1e-6) {
						t.Fatalf("relative error %g", e)
					}
					wantBN := refConv(c, n, to64(x), to64(w), nil)
					hw := c.OutH() * c.OutW()
					for i := range wantBN {
						o := i / hw % c.OutC
						v := (wantBN[i]-float64(mean[o]))*float64(gamma[o])/math.Sqrt(float64(variance[o])+1e-5) + float64(beta[o])
						wantBN[i] = max(0, v)
					}
					c.ForwardBNEval(n, x, w, gamma, beta, mean, variance, 1e-5, true, y, &ws)
					if e := relErr(y, wantBN); !(e < 1e-5) {
						t.Fatalf("ForwardBNEval: relative error %g", e)
					}
				})
			}
		}
	}
}
