//go:build amd64 && !purego

package kern

// The Winograd transforms in AVX2 assembly (winograd_amd64.s), eight
// tiles per register: the arithmetic of winoInGo and winoOutGo. Offsets
// and strides are in floats.

//go:noescape
func winoInAVX2(p00, p01, p10, p11 *float32, wp, blocks int, dst *float32, ps int)

//go:noescape
func winoOutAVX2(m *float32, ps, blocks int, dst *float32, ds int)

// winoInZ and winoOutZ are winoInAVX2 and winoOutAVX2 on zmm registers
// (winograd_avx512_amd64.s): blocks counts pairs of eight-tile blocks.
//
//go:noescape
func winoInZ(p00, p01, p10, p11 *float32, wp, blocks int, dst *float32, ps int)

//go:noescape
func winoOutZ(m *float32, ps, blocks int, dst *float32, ds int)

// winoStoreAVX2 and winoStoreZ are winoStoreGo on ymm and zmm
// registers (th, tw >= 1), row tails under masks, with the same bits,
// NaN and -0 included (the ReLU keeps both, as relu32 does).
//
//go:noescape
func winoStoreAVX2(ph *float32, ps, wp, th, tw int, y *float32, add, mean, scale, shift float32, bn, relu bool)

//go:noescape
func winoStoreZ(ph *float32, ps, wp, th, tw int, y *float32, add, mean, scale, shift float32, bn, relu bool)

// deal2AVX2 and deal2Z are deal2Go on ymm and zmm registers (n, rows
// >= 1), row tails under masks.
//
//go:noescape
func deal2AVX2(src *float32, ss int, ev, od *float32, ds, n, rows int)

//go:noescape
func deal2Z(src *float32, ss int, ev, od *float32, ds, n, rows int)

// winoWeightsAVX2 and winoWeightsZ are winoWeightsGo on ymm and zmm
// registers (n >= 1): eight or sixteen filters per register, their taps
// gathered, the last register under a mask; the same bits.
//
//go:noescape
func winoWeightsAVX2(w *float32, n int, u *float32, ps int)

//go:noescape
func winoWeightsZ(w *float32, n int, u *float32, ps int)

func winoIn(x []float32, p00, p01, p10, p11, wp, blocks int, dst []float32, ps int) {
	if !useAVX2 || blocks == 0 {
		winoInGo(x, p00, p01, p10, p11, wp, blocks, dst, ps)
		return
	}
	n := 8 * blocks
	_ = x[max(p00, p01, p10, p11)+wp+1+n-1]
	_ = dst[15*ps+n-1]
	q := 0
	if useAVX512 && blocks >= 2 {
		winoInZ(&x[p00], &x[p01], &x[p10], &x[p11], wp, blocks/2, &dst[0], ps)
		if blocks%2 == 0 {
			return
		}
		q = 16 * (blocks / 2)
		blocks = 1
	}
	winoInAVX2(&x[p00+q], &x[p01+q], &x[p10+q], &x[p11+q], wp, blocks, &dst[q], ps)
}

func winoOut(m []float32, ps, blocks int, dst []float32, ds int) {
	if !useAVX2 || blocks == 0 {
		winoOutGo(m, ps, blocks, dst, ds)
		return
	}
	n := 8 * blocks
	_ = m[15*ps+n-1]
	_ = dst[3*ds+n-1]
	q := 0
	if useAVX512 && blocks >= 2 {
		winoOutZ(&m[0], ps, blocks/2, &dst[0], ds)
		if blocks%2 == 0 {
			return
		}
		q = 16 * (blocks / 2)
		blocks = 1
	}
	winoOutAVX2(&m[q], ps, blocks, &dst[q], ds)
}

func winoStore(ph []float32, ps, wp, th, tw int, y []float32, add, mean, scale, shift float32, bn, relu bool) {
	if !useAVX2 || th == 0 || tw == 0 {
		winoStoreGo(ph, ps, wp, th, tw, y, add, mean, scale, shift, bn, relu)
		return
	}
	if ps < 0 || wp < 0 {
		panic("kern: winoStore: negative stride")
	}
	_ = ph[3*ps+(th-1)*wp+tw-1]
	_ = y[4*th*tw-1]
	if useAVX512 {
		winoStoreZ(&ph[0], ps, wp, th, tw, &y[0], add, mean, scale, shift, bn, relu)
		return
	}
	winoStoreAVX2(&ph[0], ps, wp, th, tw, &y[0], add, mean, scale, shift, bn, relu)
}

func deal2(src []float32, ss int, ev, od []float32, ds, n, rows int) {
	if !useAVX2 || n == 0 || rows == 0 {
		deal2Go(src, ss, ev, od, ds, n, rows)
		return
	}
	if ss < 0 || ds < 0 {
		panic("kern: deal2: negative stride")
	}
	_ = src[(rows-1)*ss+2*n-1]
	_ = ev[(rows-1)*ds+n-1]
	_ = od[(rows-1)*ds+n-1]
	if useAVX512 {
		deal2Z(&src[0], ss, &ev[0], &od[0], ds, n, rows)
		return
	}
	deal2AVX2(&src[0], ss, &ev[0], &od[0], ds, n, rows)
}

func winoWeights(w []float32, n int, u []float32, ps int) {
	if !useAVX2 || n == 0 {
		winoWeightsGo(w, n, u, ps)
		return
	}
	if ps < n {
		panic("kern: winoWeights: overlapping planes")
	}
	_ = w[9*n-1]
	_ = u[15*ps+n-1]
	if useAVX512 {
		winoWeightsZ(&w[0], n, &u[0], ps)
		return
	}
	winoWeightsAVX2(&w[0], n, &u[0], ps)
}
