package kern

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// The kernel path: the GEMM tile loops of the packed GEMM (gemm), the
// shifted-image GEMM (gemmShift) and the in-place filter-gradient GEMM
// (filterShift), chosen once at start (dispatch_amd64.go) and stored in
// these function values. setPath switches them (tests, benchmarks).
var (
	packedTiles = packedTilesNarrow
	shiftTiles  = shiftTilesNarrow
	rowsTiles   = rowsTilesNarrow
	kernPath    = "generic"
)

// zw is the widest AVX-512 tile in columns: four zmm vectors.
const zw = 4 * nr

// Path names the kernels in use: "avx512" (zmm GEMM tiles, AVX2 for the
// rest), "avx2" or "generic" (pure Go). GODEBUG=cpu.avx512f=off (or
// cpu.avx2=off) makes the start-up choice skip a path.
func Path() string { return kernPath }

// Paths lists the paths this CPU and build support, best first.
func Paths() []string { return supportedPaths() }

// tileCheck runs the current tile loop of kind ("packed", "shift" or
// "rows") on random operands of the given shape and compares the result
// with a float64 reference; the operand slices start off floats past a
// 64-byte boundary, C has row stride ldc > nb with guard words in the
// gap and after the last row, and acc selects store or accumulate. It
// returns a description of the first disagreement, or nil.
func tileCheck(kind string, kb, mb, nb, off int, acc bool, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, uint64(kb*1000003+mb*1009+nb)))
	rnd := func(n int) []float32 {
		buf := make([]float32, n+off+16)
		s := buf[off : off+n]
		for i := range s {
			s[i] = float32(r.IntN(17)-8) / 8
		}
		return s
	}
	const guard = float32(-12345.5)
	ldc := nb + 3
	if kind == "shift" {
		nb = roundUp(nb, nr)
		ldc = nb
	}
	mp, np := roundUp(mb, mr), roundUp(nb, nr)
	ref := make([]float64, mb*nb)
	var a, b []float32
	var offs []int
	switch kind {
	case "packed":
		a, b = rnd(mp*kb), rnd(np*kb)
		for i := range mb {
			for j := range nb {
				var s float64
				for p := range kb {
					s += float64(a[(i/mr)*mr*kb+p*mr+i%mr]) * float64(b[(j/nr)*nr*kb+p*nr+j%nr])
				}
				ref[i*nb+j] = s
			}
		}
	case "shift":
		// B row p is b[offs[p]:offs[p]+nb]: rows in a random order.
		a, b = rnd(mp*kb), rnd((kb+2)*nb+5)
		offs = make([]int, kb)
		for p := range offs {
			offs[p] = r.IntN(kb+2)*nb + r.IntN(6)
		}
		for i := range mb {
			for j := range nb {
				var s float64
				for p := range kb {
					s += float64(a[(i/mr)*mr*kb+p*mr+i%mr]) * float64(b[offs[p]+j])
				}
				ref[i*nb+j] = s
			}
		}
	case "rows":
		// A row i is a[offs[i]:offs[i]+kb]; offs has mb entries.
		a, b = rnd((mb+2)*kb+5), rnd(np*kb)
		offs = make([]int, mb)
		for i := range offs {
			offs[i] = r.IntN(mb+2)*kb + r.IntN(6)
		}
		for i := range mb {
			for j := range nb {
				var s float64
				for p := range kb {
					s += float64(a[offs[i]+p]) * float64(b[(j/nr)*nr*kb+p*nr+j%nr])
				}
				ref[i*nb+j] = s
			}
		}
	default:
		panic("kern: tileCheck kind " + kind)
	}
	c := rnd(mb*ldc + 16)
	init := make([]float32, len(c))
	for i := range c {
		if i >= mb*ldc || i%ldc >= nb {
			c[i] = guard
		}
	}
	copy(init, c)
	switch kind {
	case "packed":
		packedTiles(kb, mb, nb, a, b, c, ldc, acc, nil)
	case "shift":
		shiftTiles(kb, mb, nb, a, b, offs, c, acc)
	case "rows":
		rowsTiles(kb, mb, nb, a, offs, b, c, ldc, acc)
	}
	for i := range c {
		row, col := i/ldc, i%ldc
		if row >= mb || col >= nb {
			if c[i] != guard {
				return fmt.Errorf("%s kb=%d m=%d n=%d off=%d acc=%v: guard word %d (row %d col %d) overwritten with %g", kind, kb, mb, nb, off, acc, i, row, col, c[i])
			}
			continue
		}
		want := ref[row*nb+col]
		if acc {
			want += float64(init[i])
		}
		if d := math.Abs(float64(c[i]) - want); d > 1e-5*(1+math.Abs(want)) || math.IsNaN(float64(c[i])) {
			return fmt.Errorf("%s kb=%d m=%d n=%d off=%d acc=%v: C[%d][%d] = %g, want %g", kind, kb, mb, nb, off, acc, row, col, c[i], want)
		}
	}
	return nil
}

// selfCheck runs tileCheck on a few small shapes with the current path.
func selfCheck() error {
	for _, kind := range []string{"packed", "shift", "rows"} {
		for _, sh := range [][3]int{{9, 13, 70}, {4, 6, 64}, {1, 1, 17}} {
			for _, acc := range []bool{false, true} {
				if err := tileCheck(kind, sh[0], sh[1], sh[2], 1, acc, 1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
