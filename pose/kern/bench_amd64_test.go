//go:build amd64 && !purego

package kern

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkMicroKernelZ measures the 6×64 zmm kernel alone on
// L1-resident panels at a few depths.
func BenchmarkMicroKernelZ(b *testing.B) {
	if !hasAVX512 {
		b.Skip("no AVX-512F")
	}
	for nv := 1; nv <= 4; nv++ {
		for _, kb := range []int{64, 256} {
			b.Run(fmt.Sprintf("6x%d/kb%d", nv*nr, kb), func(b *testing.B) {
				a := make([]float32, kb*mr)
				bb := make([]float32, 4*kb*nr)
				c := make([]float32, mr*zw)
				m := startMeter(b)
				for b.Loop() {
					callZ(nv, kb, &a[0], &bb[0], &c[0], zw, nr*kb, mr, 0xffff, true)
				}
				m.report(b, 2*mr*float64(nv*nr*kb))
			})
		}
	}
}

// BenchmarkConvKC times posenet-s-like convolutions (forward and
// filter gradient, batch 32) under the avx512 path for several depth
// blocks kc/kcShift, to choose kcZ and kcShiftZ.
func BenchmarkConvKC(b *testing.B) {
	if !hasAVX512 {
		b.Skip("no AVX-512F")
	}
	saved := kernPath
	defer setPath(saved)
	sk, ss := kcZ, kcShiftZ
	defer func() { kcZ, kcShiftZ = sk, ss }()
	for _, k := range [][2]int{{256, 192}, {128, 96}, {160, 128}, {96, 64}} {
		kcZ, kcShiftZ = k[0], k[1]
		setPath("avx512")
		for _, s := range []int{0, 1, 2, 4, 5, 6} {
			cs := convShapes[s]
			for _, op := range []string{"fwd", "data", "filter"} {
				b.Run(fmt.Sprintf("kc%d_%d/%s/%s", k[0], k[1], cs.name, op), func(b *testing.B) {
					c := cs.c
					r := rand.New(rand.NewPCG(1, 1))
					x, w, bias, dy := convData(r, c, 32)
					var ws Workspace
					dw := make([]float32, len(w))
					db := make([]float32, len(bias))
					m := startMeter(b)
					for b.Loop() {
						switch op {
						case "fwd":
							c.Forward(32, x, w, bias, dy, &ws)
						case "data":
							c.BackwardData(32, dy, w, x, &ws)
						default:
							c.BackwardFilter(32, x, dy, dw, db, &ws)
						}
					}
					m.report(b, convFlops(c, 32))
				})
			}
		}
	}
}

// BenchmarkMicroKernelRowsZ and BenchmarkMicroKernelOffZ measure the
// in-place-A and shifted-B zmm kernels (6×64) alone on L1-resident data.
func BenchmarkMicroKernelRowsZ(b *testing.B) {
	if !hasAVX512 {
		b.Skip("no AVX-512F")
	}
	const kb = 128
	a := make([]float32, 8*kb)
	off := []int{0, 1, 2, kb, kb + 1, kb + 2}
	bb := make([]float32, 4*kb*nr)
	c := make([]float32, mr*zw)
	m := startMeter(b)
	for b.Loop() {
		kernelRowsZ4(kb, &a[0], &off[0], &bb[0], &c[0], zw, nr*kb, mr, 0xffff, true)
	}
	m.report(b, 2*mr*zw*kb)
}

func BenchmarkMicroKernelOffZ(b *testing.B) {
	if !hasAVX512 {
		b.Skip("no AVX-512F")
	}
	const kb = 128
	bb := make([]float32, 3*zw+8)
	off := make([]int, kb)
	for p := range off {
		off[p] = (p % 3) * zw
	}
	a := make([]float32, kb*mr)
	c := make([]float32, mr*zw)
	m := startMeter(b)
	for b.Loop() {
		kernelOffZ4(kb, &a[0], &bb[0], &off[0], &c[0], zw, mr, 0xffff, true)
	}
	m.report(b, 2*mr*zw*kb)
}
