package kern

import (
	"runtime"
	"sync"
)

// The worker pool: Workers()-1 persistent goroutines that block on a
// channel (no spinning); the calling goroutine always runs one chunk
// itself. On js/wasm GOMAXPROCS is 1 and everything runs inline.
var (
	poolOnce sync.Once
	nWorkers int
	tasks    chan task
)

type task struct {
	fn     func(lo, hi, worker int)
	lo, hi int
	worker int
	wg     *sync.WaitGroup
}

func startPool() {
	nWorkers = max(1, runtime.GOMAXPROCS(0))
	tasks = make(chan task)
	for range nWorkers - 1 {
		go func() {
			for t := range tasks {
				t.fn(t.lo, t.hi, t.worker)
				t.wg.Done()
			}
		}()
	}
}

// Workers returns the number of parallel workers the kernels use: the
// value of GOMAXPROCS when the pool first started.
func Workers() int {
	poolOnce.Do(startPool)
	return nWorkers
}

// chunks returns how many chunks parallelFor splits n items into.
func chunks(n int) int { return max(1, min(n, Workers())) }

// parallelFor splits [0, n) into chunks(n) contiguous ranges and calls
// fn(lo, hi, worker) for each, with worker the chunk index in
// [0, chunks(n)), so per-worker scratch can be indexed by it. It returns
// when all calls are done. A chunk that no idle worker can take runs on
// the caller, so nested or concurrent calls cannot deadlock.
func parallelFor(n int, fn func(lo, hi, worker int)) {
	if n <= 0 {
		return
	}
	w := chunks(n)
	if w == 1 {
		fn(0, n, 0)
		return
	}
	var wg sync.WaitGroup
	var inline [8]int
	pending := inline[:0]
	for i := 1; i < w; i++ {
		wg.Add(1)
		t := task{fn: fn, lo: i * n / w, hi: (i + 1) * n / w, worker: i, wg: &wg}
		select {
		case tasks <- t:
		default:
			wg.Done()
			pending = append(pending, i)
		}
	}
	fn(0, n/w, 0)
	for _, i := range pending {
		fn(i*n/w, (i+1)*n/w, i)
	}
	wg.Wait()
}
