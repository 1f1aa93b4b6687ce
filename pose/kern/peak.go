package kern

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// flops counts the nominal FLOPs of the convolutions and Sgemm calls.
var flops atomic.Int64

// FLOPs returns the nominal floating-point operations done so far by
// Conv.Forward, ForwardBNEval, BackwardData, BackwardFilter (counted as
// direct convolutions, 2 per multiply-add, whatever algorithm runs) and
// Sgemm (2*m*n*k). The difference over a timed section divided by its
// time is the GFLOP/s that posetrain bench reports.
func FLOPs() int64 { return flops.Load() }

// FMAPeak measures the FP32 fused multiply-add rate of vector width isa
// ("zmm" or "ymm"; 0 if the CPU lacks it) in GFLOP/s with threads
// goroutines, each on its own OS thread, running a loop of independent
// FMAs for about dur. It is the peak that posetrain bench reports its
// figures against. Where the OS reports per-thread CPU time (Linux), the
// rate of each thread is counted per second of its own CPU time, so that
// other processes on the cores do not lower the peak (the rate the
// threads reach with the cores to themselves); elsewhere it is per
// second of wall time.
func FMAPeak(isa string, threads int, dur time.Duration) float64 {
	loop, flop := fmaLoopFor(isa)
	if loop == nil || threads < 1 {
		return 0
	}
	const chunk = 1 << 16
	// Calibrate one chunk, then run each thread for about dur.
	t0 := time.Now()
	loop(chunk)
	per := time.Since(t0)
	n := max(1, int(dur/max(per, time.Microsecond)))
	var wg sync.WaitGroup
	start := make(chan struct{})
	cpu := make([]float64, threads)
	for t := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			<-start
			c0 := threadCPU()
			for range n {
				loop(chunk)
			}
			if c0 >= 0 {
				cpu[t] = threadCPU() - c0
			}
		}()
	}
	t1 := time.Now()
	close(start)
	wg.Wait()
	el := time.Since(t1).Seconds()
	work := float64(n) * chunk * flop
	var rate float64
	for _, c := range cpu {
		if c <= 0 {
			return float64(threads) * work / el / 1e9
		}
		rate += work / c
	}
	return rate / 1e9
}
