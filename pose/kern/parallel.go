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
	r      ranger
	lo, hi int
	worker int
	wg     *sync.WaitGroup
}

// ranger is a parallel loop body. Callers that must not allocate pass a
// pooled pointer (a closure handed to another goroutine always escapes
// to the heap).
type ranger interface{ run(lo, hi, worker int) }

type funcRanger func(lo, hi, worker int)

func (f funcRanger) run(lo, hi, worker int) { f(lo, hi, worker) }

var wgPool = sync.Pool{New: func() any { return new(sync.WaitGroup) }}

func startPool() {
	nWorkers = max(1, runtime.GOMAXPROCS(0))
	tasks = make(chan task)
	for range nWorkers - 1 {
		go func() {
			for t := range tasks {
				t.r.run(t.lo, t.hi, t.worker)
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
func parallelFor(n int, fn func(lo, hi, worker int)) { parallelRun(n, funcRanger(fn)) }

// parallelRun is parallelFor for a ranger; it allocates nothing.
func parallelRun(n int, r ranger) {
	if n <= 0 {
		return
	}
	w := chunks(n)
	if w == 1 {
		r.run(0, n, 0)
		return
	}
	wg := wgPool.Get().(*sync.WaitGroup)
	var inline [8]int
	pending := inline[:0]
	for i := 1; i < w; i++ {
		wg.Add(1)
		t := task{r: r, lo: i * n / w, hi: (i + 1) * n / w, worker: i, wg: wg}
		select {
		case tasks <- t:
		default:
			wg.Done()
			pending = append(pending, i)
		}
	}
	r.run(0, n/w, 0)
	for _, i := range pending {
		r.run(i*n/w, (i+1)*n/w, i)
	}
	wg.Wait()
	wgPool.Put(wg)
}
