package kern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// KERN_NOWINO=1 turns the Winograd path off, to benchmark the paths it
// replaces: KERN_NOWINO=1 go test -run XXX -bench 'Conv|PoseNetS' ./pose/kern
func init() {
	if os.Getenv("KERN_NOWINO") != "" {
		useWinograd = false
	}
}

var winoCases = []struct {
	name string
	c    Conv
	n    int
}{
	{"small_4x2", Conv{InC: 8, OutC: 9, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 4, InW: 2}, 3},
	{"even_6x8", Conv{InC: 16, OutC: 13, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 6, InW: 8}, 4},
	{"grouped_2x2", Conv{InC: 24, OutC: 16, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 2, InW: 2}, 9},
	{"posenet_8x6", Conv{InC: 32, OutC: 40, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 8, InW: 6}, 5},
	{"wide_16x24", Conv{InC: 8, OutC: 8, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 16, InW: 24}, 2},
	{"deep_4x4", Conv{InC: 200, OutC: 14, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 4, InW: 4}, 2},
}

// otherPath runs f with the Winograd path off.
func otherPath(f func()) {
	saved := useWinograd
	useWinograd = false
	defer func() { useWinograd = saved }()
	f()
}

// TestWinogradConv checks the Winograd forward pass against the float64
// reference, with bias, with the AVX2 and the portable transforms, on
// several images per GEMM, partial groups and depths above one GEMM
// block, and BackwardData (the adjoint's forward pass) against the
// other paths, which TestConvBackward checks against central
// differences.
func TestWinogradConv(t *testing.T) {
	saved := winoMinW
	winoMinW = 1
	t.Cleanup(func() { winoMinW = saved })
	for _, kern := range kernels(t) {
		setPath(kern.path)
		ws := new(Workspace).prepare(Workers())
		for _, tc := range winoCases {
			t.Run(kern.name+"/"+tc.name, func(t *testing.T) {
				c, n := tc.c, tc.n
				if kern.avx && !c.winograd(n) {
					t.Fatalf("%+v with %d images does not take the Winograd path", c, n)
				}
				r := rand.New(rand.NewPCG(11, 12))
				x, w, bias, dy := convData(r, c, n)
				want := refConv(c, n, to64(x), to64(w), to64(bias))
				y := make([]float32, len(want))
				for i := range y {
					y[i] = float32(math.NaN())
				}
				c.runWinoForward(n, x, w, y, ws, epilogue{bias: bias})
				if e := relErr(y, want); !(e < 1e-6) {
					t.Errorf("forward relative error %g", e)
				}
				dx := make([]float32, len(x))
				wt := make([]float32, len(w))
				c.flipWeights(w, wt)
				c.adjoint().runWinoForward(n, dy, wt, dx, ws, epilogue{})
				wantDx := make([]float32, len(x))
				otherPath(func() { c.BackwardData(n, dy, w, wantDx, nil) })
				if e := relErr(dx, to64(wantDx)); !(e < 1e-5) {
					t.Errorf("dx relative error %g against the other path", e)
				}
			})
		}
	}
}

// TestWinogradEntryPoints checks that Forward, ForwardBNEval,
// BackwardData and BackwardFilter take the Winograd path and agree with the other paths,
// bias, batch norm and ReLU included.
func TestWinogradEntryPoints(t *testing.T) {
	if !useAVX2 {
		t.Skip("the Winograd path needs the AVX2 transforms")
	}
	c, n := winoCases[4].c, winoCases[4].n
	r := rand.New(rand.NewPCG(13, 14))
	x, w, bias, dy := convData(r, c, n)
	gamma, beta := randSlice(r, c.OutC, 0.5, 1.5), randSlice(r, c.OutC, -1, 1)
	mean, vr := randSlice(r, c.OutC, -1, 1), randSlice(r, c.OutC, 0.1, 2)
	run := func() [][]float32 {
		y, ybn, dx := make([]float32, len(dy)), make([]float32, len(dy)), make([]float32, len(x))
		dw, db := make([]float32, len(w)), make([]float32, c.OutC)
		var ws Workspace
		c.Forward(n, x, w, bias, y, &ws)
		c.ForwardBNEval(n, x, w, gamma, beta, mean, vr, 1e-5, true, ybn, &ws)
		c.BackwardData(n, dy, w, dx, &ws)
		c.BackwardFilter(n, x, dy, dw, db, &ws)
		return [][]float32{y, ybn, dx, dw, db}
	}
	got := run()
	var want [][]float32
	otherPath(func() { want = run() })
	for i, name := range []string{"Forward", "ForwardBNEval", "BackwardData", "BackwardFilter dw", "BackwardFilter dbias"} {
		if e := relErr(got[i], to64(want[i])); !(e < 1e-5) {
			t.Errorf("%s: relative error %g against the other path", name, e)
		}
	}
}

// TestWinogradKernels checks the AVX2 and AVX-512 transforms against the
// portable ones for 1-5 blocks (the zmm code takes pairs of blocks and
// leaves an odd one to the AVX2 code).
func TestWinogradKernels(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(15, 16))
	const wp, ps = 7, 48
	src := randSlice(r, 16*ps+64, -1, 1)
	for _, kern := range kernels(t) {
		if kern.path == "generic" {
			continue
		}
		for blocks := 1; blocks <= 5; blocks++ {
			for _, tc := range []struct {
				name string
				f    func(dst []float32)
			}{
				{"in", func(dst []float32) { winoIn(src, 0, 3, 17, 21, wp, blocks, dst, ps) }},
				{"out", func(dst []float32) { winoOut(src, ps, blocks, dst, ps) }},
			} {
				t.Run(fmt.Sprintf("%s/%s/blocks%d", kern.path, tc.name, blocks), func(t *testing.T) {
					got, want := make([]float32, 16*ps), make([]float32, 16*ps)
					setPath(kern.path)
					tc.f(got)
					setPath("generic")
					tc.f(want)
					setPath(kern.path)
					if e := relErr(got, to64(want)); !(e < 1e-7) {
						t.Fatalf("%s differs from Go: relative error %g", kern.path, e)
					}
				})
			}
		}
	}
}
