package kern

import (
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
