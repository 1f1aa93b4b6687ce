package kern

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// refFilter returns the float64 filter and bias gradients of c for n
// images: refConvFilter's dw and db[o] = Σ dy[o].
func refFilter(c Conv, n int, x, dy []float32) (dw, db []float64) {
	outN := c.OutH() * c.OutW()
	db = make([]float64, c.OutC)
	for i := range n {
		for o := range c.OutC {
			for _, v := range dy[(i*c.OutC+o)*outN : (i*c.OutC+o+1)*outN] {
				db[o] += float64(v)
			}
		}
	}
	return refConvFilter(c, n, to64(x), to64(dy)), db
}

// TestConvBackwardFilterCols checks BackwardFilter on filterCols (the
// packing path's convolutions, outputs narrower than shiftMinW, at least
// Workers() images) against the float64 reference, on every kernel path,
// with the default blocking, with one group of images per pass, and with
// groups of one image and one channel per dwᵀ block (partial groups,
// several row blocks and passes), channel counts that are not multiples
// of the tiles, and dbias nil and not.
func TestConvBackwardFilterCols(t *testing.T) {
	savedDepth, savedBlock, savedPanels := filterDepth, filterBlock, filterPanels
	t.Cleanup(func() { filterDepth, filterBlock, filterPanels = savedDepth, savedBlock, savedPanels })
	for _, kern := range kernels(t) {
		setPath(kern.path)
		var ws Workspace
		for _, tc := range []struct {
			name string
			c    Conv
		}{
			{"8x6_C5_7", Conv{InC: 5, OutC: 7, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 8, InW: 6}},
			{"8x6_C19_37", Conv{InC: 19, OutC: 37, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 8, InW: 6}},
			{"4x3_C4_13", Conv{InC: 4, OutC: 13, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 4, InW: 3}},
			{"7x5_5x5_C3_17", Conv{InC: 3, OutC: 17, KH: 5, KW: 5, Stride: 1, Pad: 2, InH: 7, InW: 5}},
			{"5x4_1x3_C2_9", Conv{InC: 2, OutC: 9, KH: 1, KW: 3, Stride: 1, Pad: 1, InH: 5, InW: 4}},
			{"5x1_3x1_C7_3", Conv{InC: 7, OutC: 3, KH: 3, KW: 1, Stride: 1, Pad: 0, InH: 5, InW: 1}},
			// Phase-split images (stride 2; a strided 1×1).
			{"16x12_s2_C11_67", Conv{InC: 11, OutC: 67, KH: 3, KW: 3, Stride: 2, Pad: 1, InH: 16, InW: 12}},
			{"5x5_1x1_s2_C5_7", Conv{InC: 5, OutC: 7, KH: 1, KW: 1, Stride: 2, Pad: 0, InH: 5, InW: 5}},
		} {
			c := tc.c
			if c.shiftable() {
				t.Fatalf("%s is shiftable", tc.name)
			}
			for _, blk := range []string{"default", "passes", "small"} {
				for _, n := range []int{1, 2, 3, 7, 33} {
					for _, withBias := range []bool{false, true} {
						t.Run(fmt.Sprintf("%s/%s/%s/n=%d/bias=%v", kern.name, tc.name, blk, n, withBias), func(t *testing.T) {
							filterDepth, filterBlock, filterPanels = savedDepth, savedBlock, savedPanels
							switch blk {
							case "passes":
								filterPanels = 1
							case "small":
								filterDepth, filterBlock, filterPanels = 1, 1, 1
							}
							if n >= Workers() && !c.filterColsOK(n) {
								t.Fatal("filterCols not taken")
							}
							r := rand.New(rand.NewPCG(uint64(n), 11))
							x, _, _, dy := convData(r, c, n)
							wantDw, wantDb := refFilter(c, n, x, dy)
							dw := randSlice(r, len(wantDw), 50, 60) // must be overwritten
							var db []float32
							if withBias {
								db = randSlice(r, c.OutC, 50, 60)
							}
							c.BackwardFilter(n, x, dy, dw, db, &ws)
							if e := relErr(dw, wantDw); !(e < 1e-5) {
								t.Errorf("dw relative error %g", e)
							}
							if withBias {
								if e := relErr(db, wantDb); !(e < 1e-5) {
									t.Errorf("dbias relative error %g", e)
								}
							}
						})
					}
				}
			}
		}
	}
}
