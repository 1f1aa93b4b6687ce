package kern

import (
	"math/rand/v2"
	"testing"
	"time"
)

// flopMeter reports GFLOP/s of wall time and, where the OS tells CPU
// time, GFLOP per CPU-second ("GFLOP/cpu-s"), which stays meaningful when
// other processes share the cores.
type flopMeter struct {
	cpu0 time.Duration
}

func startMeter(b *testing.B) *flopMeter {
	b.Helper()
	return &flopMeter{cpu0: cpuTime()}
}

// report is called after the b.Loop loop with the FLOPs of one iteration.
func (m *flopMeter) report(b *testing.B, flops float64) {
	total := flops * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu := cpuTime() - m.cpu0; cpu > 0 && m.cpu0 > 0 {
		b.ReportMetric(total/cpu.Seconds()/1e9, "GFLOP/cpu-s")
	}
}

// BenchmarkMicroKernel measures the register-blocked kernel alone on
// L1-resident panels (the ceiling for Sgemm).
func BenchmarkMicroKernel(b *testing.B) {
	const kb = 256
	a := make([]float32, kb*mr)
	bb := make([]float32, kb*nr)
	c := make([]float32, mr*nr)
	m := startMeter(b)
	for b.Loop() {
		microKernel(kb, a, bb, c, nr, true)
	}
	m.report(b, 2*mr*nr*kb)
}

// reportBytes is report for memory-bound kernels: GB/s of wall time and
// GB per CPU-second for the bytes one iteration moves.
func (m *flopMeter) reportBytes(b *testing.B, bytes float64) {
	total := bytes * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds()/1e9, "GB/s")
	if cpu := cpuTime() - m.cpu0; cpu > 0 && m.cpu0 > 0 {
		b.ReportMetric(total/cpu.Seconds()/1e9, "GB/cpu-s")
	}
}

// reportImages reports images/s of wall time and, where known, images
// per CPU-second divided by Workers() ("img/s-if-alone": the rate if the
// process had its cores to itself).
func (m *flopMeter) reportImages(b *testing.B, perIter int) {
	total := float64(perIter * b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), "img/s")
	if cpu := cpuTime() - m.cpu0; cpu > 0 && m.cpu0 > 0 {
		b.ReportMetric(total/cpu.Seconds()*float64(Workers()), "img/s-if-alone")
	}
}

// BenchmarkMicroKernelOff measures the shifted-image kernel alone on an
// L1-resident padded image (3×3 taps of 28 channels of 6×26), the
// ceiling for the convolutions' implicit GEMM.
func BenchmarkMicroKernelOff(b *testing.B) {
	c := Conv{InC: 28, OutC: 6, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 4, InW: 25}
	g := c.shiftGeom()
	kb := c.InC * 9
	off := make([]int, kb)
	c.shiftOffsets(&g, off)
	a := make([]float32, kb*mr)
	img := make([]float32, g.size)
	cc := make([]float32, mr*nr)
	m := startMeter(b)
	for b.Loop() {
		microKernelOff(kb, a, img, off, cc, nr, true)
	}
	m.report(b, 2*mr*nr*float64(kb))
}

// BenchmarkMicroKernelRows measures the in-place-A kernel of the
// filter gradient alone on L1-resident data.
func BenchmarkMicroKernelRows(b *testing.B) {
	const kb = 256
	a := make([]float32, 8*kb)
	off := []int{0, 1, 2, kb, kb + 1, kb + 2}
	bb := make([]float32, kb*nr)
	c := make([]float32, mr*nr)
	m := startMeter(b)
	for b.Loop() {
		microKernelRows(kb, a, off, bb, c, nr, true)
	}
	m.report(b, 2*mr*nr*kb)
}

// BenchmarkGemmShift measures the shifted-image GEMM of one image on the
// posenet-s convolutions it serves (forward; the grid's discarded
// columns count as work), with the padded image built beforehand: the
// GEMM alone, to compare with BenchmarkSgemm's packed GEMM on the same
// shapes.
func BenchmarkGemmShift(b *testing.B) {
	for _, s := range convShapes {
		c := s.c
		if !c.shiftable() {
			continue
		}
		b.Run(s.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			x, w, _, _ := convData(r, c, 1)
			g := c.shiftGeom()
			kk := c.InC * c.KH * c.KW
			off := make([]int, kk)
			c.shiftOffsets(&g, off)
			wp := prepackAk(make([]float32, roundUp(c.OutC, mr)*kk), false, 1, w, kk, c.OutC, kk, kBlocksOf(kk, kcShift))
			xp := make([]float32, g.size)
			c.padShift(&g, x, xp)
			cp := make([]float32, c.OutC*g.ld)
			m := startMeter(b)
			for b.Loop() {
				gemmShift(c.OutC, g.ld, kk, wp, xp, off, cp)
			}
			m.report(b, 2*float64(c.OutC*g.ld*kk))
		})
	}
}

// BenchmarkWinoStore measures the store of one channel's output tiles
// (bias, batch norm and ReLU) on the posenet-s Winograd layers, per path.
func BenchmarkWinoStore(b *testing.B) {
	saved := kernPath
	b.Cleanup(func() { setPath(saved) })
	for _, sh := range []struct {
		name   string
		th, tw int
	}{{"H32W24", 16, 12}, {"H16W12", 8, 6}} {
		wp := sh.tw + 1
		ps := roundUp(sh.th*wp, 8)
		ph := randSlice(rand.New(rand.NewPCG(1, 2)), 4*ps, -1, 1)
		y := make([]float32, 4*sh.th*sh.tw)
		for _, p := range Paths() {
			b.Run(sh.name+"/"+p, func(b *testing.B) {
				setPath(p)
				for b.Loop() {
					winoStore(ph, ps, wp, sh.th, sh.tw, y, 0, 0.1, 1.5, 0.2, true, true)
				}
				b.SetBytes(int64(4 * len(y)))
			})
		}
	}
}

// BenchmarkWinoWeights measures the Winograd weight transform of a
// 512→512 3×3 convolution (one call over all its filters), per path
// (generic is winoWeightsGo).
func BenchmarkWinoWeights(b *testing.B) {
	saved := kernPath
	b.Cleanup(func() { setPath(saved) })
	const n = 512 * 512
	w := randSlice(rand.New(rand.NewPCG(1, 2)), 9*n, -1, 1)
	u := make([]float32, 16*n)
	for _, p := range Paths() {
		b.Run("C512/"+p, func(b *testing.B) {
			setPath(p)
			for b.Loop() {
				winoWeights(w, n, u, n)
			}
			b.SetBytes(int64(4 * (len(w) + len(u))))
		})
	}
}
