package kern

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// usePath switches the kernels to path p for the rest of the test.
func usePath(t *testing.T, p string) {
	saved := kernPath
	t.Cleanup(func() { setPath(saved) })
	setPath(p)
}

// requireAVX512 skips (loudly) on a CPU without AVX-512, or fails when
// BSAMPOSE_REQUIRE_AVX512=1.
func requireAVX512(t *testing.T) {
	t.Helper()
	for _, p := range Paths() {
		if p == "avx512" {
			return
		}
	}
	if os.Getenv("BSAMPOSE_REQUIRE_AVX512") == "1" {
		t.Fatal("BSAMPOSE_REQUIRE_AVX512=1 but this CPU (or GODEBUG) offers no AVX-512F: the AVX-512 kernels were NOT tested")
	}
	t.Skip("SKIPPING AVX-512 TESTS: this CPU (or GODEBUG) offers no AVX-512F, so the AVX-512 kernels were NOT tested here")
}

// TestTiles compares the tile loops of every supported path with the
// float64 reference over all row tails (1-6 per tile), every column
// count up to two 64-column tiles (every opmask length), depths that
// cover the unrolled loop and its tails, misaligned bases, both store
// modes, and guard words around C.
func TestTiles(t *testing.T) {
	// shapes returns the depths, row and column counts to try: all of
	// them, or with quick (-short, and the portable kernels, which
	// are the same Go code everywhere) still every row count of a tile
	// and every opmask length on fewer shapes.
	shapes := func(quick bool) (kbs, mbs, nbs []int) {
		if quick {
			return []int{1, 7, 33}, []int{1, 2, 3, 4, 5, 6, 13},
				[]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 32, 33, 48, 49, 64, 65, 80, 127, 128, 129}
		}
		kbs = []int{1, 2, 3, 4, 5, 7, 8, 9, 16, 33}
		for i := 1; i <= 13; i++ {
			mbs = append(mbs, i)
		}
		for i := 1; i <= 2*zw+1; i++ {
			nbs = append(nbs, i)
		}
		return kbs, mbs, nbs
	}
	for _, p := range Paths() {
		t.Run(p, func(t *testing.T) {
			usePath(t, p)
			kbs, mbs, nbs := shapes(testing.Short() || p == "generic")
			n := 0
			for _, kind := range []string{"packed", "shift", "rows"} {
				for _, kb := range kbs {
					for _, mb := range mbs {
						for _, nb := range nbs {
							if kind == "shift" && nb%nr != 0 {
								continue
							}
							off := (kb + mb + nb) % 16
							for _, acc := range []bool{false, true} {
								if err := tileCheck(kind, kb, mb, nb, off, acc, 7); err != nil {
									t.Fatal(err)
								}
								n++
							}
						}
					}
				}
			}
			t.Logf("%s: %d tile problems agree with the float64 reference", p, n)
		})
	}
}

func TestAVX512Available(t *testing.T) {
	requireAVX512(t)
	if Path() != "avx512" {
		t.Fatalf("the CPU has AVX-512F but the start-up dispatch chose %q", Path())
	}
}

// TestExpectedPath checks the start-up choice against
// BSAMPOSE_EXPECT_PATH when it is set (scripts/ci-qemu.sh sets avx2).
func TestExpectedPath(t *testing.T) {
	want := os.Getenv("BSAMPOSE_EXPECT_PATH")
	if want == "" {
		t.Skip("BSAMPOSE_EXPECT_PATH not set")
	}
	if Path() != want {
		t.Fatalf("start-up dispatch chose %q, want %q (paths %v)", Path(), want, Paths())
	}
	t.Logf("kernel path %s (supported: %v)", Path(), Paths())
}

// TestPathsBitwise checks that the avx512 and avx2 paths give bit-identical
// convolutions: both accumulate each output with FMAs in the same k order
// over the same depth blocks, and the Winograd transforms do the same
// arithmetic per lane. (A training run's loss curve is then the same on
// both paths.)
func TestPathsBitwise(t *testing.T) {
	requireAVX512(t)
	saved := kernPath
	t.Cleanup(func() { setPath(saved) })
	for _, s := range convShapes {
		c := s.c
		r := rand.New(rand.NewPCG(3, 4))
		x, w, bias, dy := convData(r, c, 2)
		run := func(p string) [][]float32 {
			setPath(p)
			var ws Workspace
			y, dx := make([]float32, len(dy)), make([]float32, len(x))
			dw, db := make([]float32, len(w)), make([]float32, len(bias))
			c.Forward(2, x, w, bias, y, &ws)
			c.BackwardData(2, dy, w, dx, &ws)
			c.BackwardFilter(2, x, dy, dw, db, &ws)
			return [][]float32{y, dx, dw, db}
		}
		a, b := run("avx512"), run("avx2")
		for k, name := range []string{"Forward", "BackwardData", "BackwardFilter dw", "BackwardFilter db"} {
			for i := range a[k] {
				if math.Float32bits(a[k][i]) != math.Float32bits(b[k][i]) {
					t.Fatalf("%s %s[%d]: avx512 %g, avx2 %g", s.name, name, i, a[k][i], b[k][i])
				}
			}
		}
	}
}
