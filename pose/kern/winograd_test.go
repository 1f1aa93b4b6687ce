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

// storeCase is one call of winoStore: th×tw tiles on a grid of wp ≥ tw
// columns, ph starting off floats into its buffer and y yoff floats in.
type storeCase struct {
	th, tw, wp, off, yoff   int
	add, mean, scale, shift float32
	bn, relu                bool
}

// checkStore runs winoStore on the current path and winoStoreGo on the
// same random phase planes (with zeros, -0, NaNs with random payloads,
// infinities and values of both signs) and reports the first output
// that differs in its bits, or a guard word before or after y that was
// written. The planes end at the last float the call may read, at the
// end of a mapping (guarded) where there is one, so a read past them
// faults.
func checkStore(r *rand.Rand, tc storeCase) error {
	ps := tc.th*tc.wp + 3
	buf, free := guarded(tc.off + 3*ps + (tc.th-1)*tc.wp + tc.tw)
	defer free()
	for i := range buf {
		switch r.IntN(10) {
		case 0:
			buf[i] = 0
		case 1:
			buf[i] = float32(math.Copysign(0, -1))
		case 2:
			buf[i] = math.Float32frombits(0x7f800000 | uint32(r.Uint64())&0x807fffff | 1) // NaN, either sign
		case 3:
			buf[i] = float32(math.Inf(1 - 2*r.IntN(2)))
		default:
			buf[i] = float32(r.NormFloat64() * 2)
		}
	}
	ph := buf[tc.off:]
	const guard = float32(-12345.5)
	n := 4 * tc.th * tc.tw
	got, want := make([]float32, tc.yoff+n+16), make([]float32, tc.yoff+n+16)
	for i := range got {
		got[i], want[i] = guard, guard
	}
	winoStore(ph, ps, tc.wp, tc.th, tc.tw, got[tc.yoff:tc.yoff+n], tc.add, tc.mean, tc.scale, tc.shift, tc.bn, tc.relu)
	winoStoreGo(ph, ps, tc.wp, tc.th, tc.tw, want[tc.yoff:tc.yoff+n], tc.add, tc.mean, tc.scale, tc.shift, tc.bn, tc.relu)
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			return fmt.Errorf("%+v: y[%d] (output %d) = %g (%#x), want %g (%#x)", tc, i, i-tc.yoff, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
	return nil
}

// TestWinoStore compares the SIMD stores of the output tiles with
// winoStoreGo bit for bit on every path: all row lengths 0-40 (every
// tail of both vector widths), one to three tile rows, grids wider than
// the tiles, misaligned inputs and outputs, the four (bn, relu) cases
// and a bias of -0; NaN and -0 go through the ReLU unchanged, as in
// relu32.
func TestWinoStore(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, kern := range kernels(t) {
		setPath(kern.path)
		for tw := 0; tw <= 40; tw++ {
			for th := 1; th <= 3; th++ {
				for mode := range 4 {
					tc := storeCase{
						th: th, tw: tw, wp: tw + r.IntN(3), off: r.IntN(16), yoff: r.IntN(16),
						add: float32(r.NormFloat64()), mean: float32(r.NormFloat64()),
						scale: float32(0.5 + r.Float64()), shift: float32(r.NormFloat64()),
						bn: mode&2 != 0, relu: mode&1 != 0,
					}
					if tw%5 == 0 {
						tc.add = float32(math.Copysign(0, -1))
					}
					if err := checkStore(r, tc); err != nil {
						t.Fatalf("%s: %v", kern.path, err)
					}
				}
			}
		}
	}
}

// FuzzWinoStore checks winoStore against winoStoreGo on every path for
// arbitrary shapes and epilogue constants (not NaN: with two NaN
// operands which payload an add keeps depends on the operand order the
// compiler picks).
func FuzzWinoStore(f *testing.F) {
	f.Add(uint8(3), uint8(24), uint8(1), uint8(5), uint8(3), float32(0.5), float32(-0.25), float32(1.5), float32(0.1), uint8(3), uint64(1))
	f.Add(uint8(1), uint8(6), uint8(0), uint8(0), uint8(0), float32(0), float32(0), float32(1), float32(0), uint8(0), uint64(2))
	f.Fuzz(func(t *testing.T, th, tw, extra, off, yoff uint8, add, mean, scale, shift float32, mode uint8, seed uint64) {
		for _, v := range []float32{add, mean, scale, shift} {
			if v != v {
				t.Skip("NaN")
			}
		}
		tc := storeCase{
			th: int(th%8) + 1, tw: int(tw % 70), off: int(off % 32), yoff: int(yoff % 32),
			add: add, mean: mean, scale: scale, shift: shift, bn: mode&2 != 0, relu: mode&1 != 0,
		}
		tc.wp = tc.tw + int(extra%4)
		saved := kernPath
		defer setPath(saved)
		for _, p := range Paths() {
			setPath(p)
			if err := checkStore(rand.New(rand.NewPCG(seed, 1)), tc); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
		}
	})
}

// deal2Case is one call of deal2: rows rows of n pairs, ss and ds the
// source and destination strides (ss ≥ 2n, ds ≥ n), the three slices
// starting at the given offsets into their buffers.
type deal2Case struct {
	n, rows, ss, ds, soff, eoff, ooff int
}

// checkDeal2 runs deal2 on the current path and deal2Go on the same
// random bits (NaNs with any payload included: deal2 moves bits) and
// reports the first destination word that differs, including the guard
// words around the rows and after the last; the source ends at the end
// of a mapping (guarded) where there is one, so a read past it faults,
// and must come back unchanged.
func checkDeal2(r *rand.Rand, tc deal2Case) error {
	src, free := guarded(tc.soff + (tc.rows-1)*tc.ss + 2*tc.n)
	defer free()
	for i := range src {
		src[i] = math.Float32frombits(uint32(r.Uint64()))
	}
	saved := append([]float32(nil), src...)
	const guard = 0x7fc0dead // a NaN: compared by bits
	dlen := (tc.rows-1)*tc.ds + tc.n
	bufs := make([][]float32, 4) // got ev, got od, want ev, want od
	for j := range bufs {
		off := tc.eoff
		if j%2 == 1 {
			off = tc.ooff
		}
		bufs[j] = make([]float32, off+dlen+16)
		for i := range bufs[j] {
			bufs[j][i] = math.Float32frombits(guard)
		}
	}
	deal2(src[tc.soff:], tc.ss, bufs[0][tc.eoff:tc.eoff+dlen], bufs[1][tc.ooff:tc.ooff+dlen], tc.ds, tc.n, tc.rows)
	deal2Go(src[tc.soff:], tc.ss, bufs[2][tc.eoff:tc.eoff+dlen], bufs[3][tc.ooff:tc.ooff+dlen], tc.ds, tc.n, tc.rows)
	for j, name := range []string{"ev", "od"} {
		got, want := bufs[j], bufs[j+2]
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				return fmt.Errorf("%+v: %s[%d] = %#x, want %#x", tc, name, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
			}
		}
	}
	for i := range src {
		if math.Float32bits(src[i]) != math.Float32bits(saved[i]) {
			return fmt.Errorf("%+v: src[%d] changed", tc, i)
		}
	}
	return nil
}

// TestDeal2 compares the SIMD even/odd split of winoPhases with deal2Go
// bit for bit on every path: all row lengths 0-48 (every tail of both
// vector widths and up to three full registers), one to four rows,
// strides with and without gaps between the rows, and misaligned
// sources and destinations.
func TestDeal2(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, kern := range kernels(t) {
		setPath(kern.path)
		for n := 0; n <= 48; n++ {
			for rows := 1; rows <= 4; rows++ {
				tc := deal2Case{
					n: n, rows: rows, ss: 2*n + r.IntN(3), ds: n + r.IntN(3),
					soff: r.IntN(16), eoff: r.IntN(16), ooff: r.IntN(16),
				}
				if err := checkDeal2(r, tc); err != nil {
					t.Fatalf("%s: %v", kern.path, err)
				}
			}
		}
	}
}

// FuzzDeal2 checks deal2 against deal2Go on every path for arbitrary
// shapes.
func FuzzDeal2(f *testing.F) {
	f.Add(uint8(24), uint8(3), uint8(1), uint8(2), uint8(5), uint8(3), uint8(7), uint64(1))
	f.Fuzz(func(t *testing.T, n, rows, sx, dx, soff, eoff, ooff uint8, seed uint64) {
		tc := deal2Case{
			n: int(n % 100), rows: int(rows%6) + 1, soff: int(soff % 32), eoff: int(eoff % 32), ooff: int(ooff % 32),
		}
		tc.ss, tc.ds = 2*tc.n+int(sx%5), tc.n+int(dx%5)
		saved := kernPath
		defer setPath(saved)
		for _, p := range Paths() {
			setPath(p)
			if err := checkDeal2(rand.New(rand.NewPCG(seed, 1)), tc); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
		}
	})
}

// weightCase is one call of winoWeights: n filters starting woff floats
// into their buffer, the 16 planes ps = n+gap floats apart starting uoff
// floats into theirs.
type weightCase struct {
	n, gap, woff, uoff int
}

// weightTaps fills w with filters of 9 taps: zeros, -0, denormals and
// normal values of both signs, and per filter one of three kinds of
// specials: values near the float32 maximum and infinities (whose sums
// overflow and whose differences give the default NaN, 0xffc00000, as
// do some inputs), or one NaN with a random payload and sign among
// values that cannot overflow. Two NaNs of different payloads never
// meet in an add: which one it keeps depends on the operand order the
// compiler picks for the Go loop.
func weightTaps(r *rand.Rand, w []float32) {
	for q := 0; q+9 <= len(w); q += 9 {
		g := w[q : q+9]
		kind := r.IntN(3)
		for k := range g {
			switch r.IntN(10) {
			case 0:
				g[k] = 0
			case 1:
				g[k] = float32(math.Copysign(0, -1))
			case 2:
				g[k] = math.Float32frombits(uint32(r.Uint64()) & 0x807fffff) // denormal or ±0
			case 3:
				if kind == 0 {
					g[k] = float32(1-2*r.IntN(2)) * math.MaxFloat32 * float32(0.5+r.Float64()/2)
					continue
				}
				fallthrough
			default:
				g[k] = float32(r.NormFloat64() * 2)
			}
		}
		switch kind {
		case 0:
			for range r.IntN(3) {
				g[r.IntN(9)] = float32(math.Inf(1 - 2*r.IntN(2)))
			}
			if r.IntN(4) == 0 {
				g[r.IntN(9)] = math.Float32frombits(0xffc00000)
			}
		case 1:
			g[r.IntN(9)] = math.Float32frombits(0x7f800000 | uint32(r.Uint64())&0x807fffff | 1)
		}
	}
}

// checkWeights runs winoWeights on the current path and winoWeightsGo
// on the same filters (weightTaps) and reports the first word of the
// output buffers that differs in its bits: the 16 planes, the gaps
// between them and the guard words before and after. The filters end
// at the end of a mapping (guarded) where there is one, so a read past
// them faults, and must come back unchanged.
func checkWeights(r *rand.Rand, tc weightCase) error {
	buf, free := guarded(tc.woff + 9*tc.n)
	defer free()
	weightTaps(r, buf[tc.woff:])
	for i := range tc.woff {
		buf[i] = float32(r.NormFloat64())
	}
	saved := append([]float32(nil), buf...)
	w := buf[tc.woff:]
	ps := tc.n + tc.gap
	ulen := 15*ps + tc.n
	const guard = 0x7fc0dead // a NaN: compared by bits
	got, want := make([]float32, tc.uoff+ulen+16), make([]float32, tc.uoff+ulen+16)
	for i := range got {
		got[i], want[i] = math.Float32frombits(guard), math.Float32frombits(guard)
	}
	winoWeights(w, tc.n, got[tc.uoff:tc.uoff+ulen], ps)
	winoWeightsGo(w, tc.n, want[tc.uoff:tc.uoff+ulen], ps)
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			j := i - tc.uoff
			return fmt.Errorf("%+v: u[%d] (plane %d, filter %d) = %g (%#x), want %g (%#x)", tc, i, j/ps, j%ps,
				got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
	for i := range buf {
		if math.Float32bits(buf[i]) != math.Float32bits(saved[i]) {
			return fmt.Errorf("%+v: w[%d] changed", tc, i-tc.woff)
		}
	}
	return nil
}

// TestWinoWeights compares the SIMD weight transforms with
// winoWeightsGo bit for bit on every path: 0-40 filters (every tail of
// both vector widths and up to two full zmm registers) and a few long
// runs, planes with and without gaps, misaligned filters and planes,
// and the specials of weightTaps (NaN, ±Inf, -0, denormals, overflow).
func TestWinoWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	ns := []int{}
	for n := 0; n <= 40; n++ {
		ns = append(ns, n)
	}
	ns = append(ns, 63, 64, 65, 255, 1000, 4099)
	for _, kern := range kernels(t) {
		setPath(kern.path)
		for _, n := range ns {
			for rep := range 3 {
				tc := weightCase{n: n, gap: r.IntN(3), woff: r.IntN(4), uoff: r.IntN(4)}
				if rep == 0 {
					tc.gap = 0
				}
				if err := checkWeights(r, tc); err != nil {
					t.Fatalf("%s: %v", kern.path, err)
				}
			}
		}
	}
}

// FuzzWinoWeights checks winoWeights against winoWeightsGo on every path
// for arbitrary filter counts, gaps, offsets and filters.
func FuzzWinoWeights(f *testing.F) {
	f.Add(uint16(37), uint8(1), uint8(3), uint8(2), uint64(1))
	f.Add(uint16(16), uint8(0), uint8(0), uint8(0), uint64(2))
	f.Fuzz(func(t *testing.T, n uint16, gap, woff, uoff uint8, seed uint64) {
		tc := weightCase{n: int(n % 600), gap: int(gap % 5), woff: int(woff % 32), uoff: int(uoff % 32)}
		saved := kernPath
		defer setPath(saved)
		for _, p := range Paths() {
			setPath(p)
			if err := checkWeights(rand.New(rand.NewPCG(seed, 1)), tc); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
		}
	})
}
