package optim

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelMin is the number of floats below which forEach stays on the
// calling goroutine: under it starting goroutines costs more than the
// element-wise loops it would split.
const parallelMin = 1 << 16

// forEach calls fn(i) for every param index on up to GOMAXPROCS
// goroutines, each taking the next index from a shared counter (large
// params first would balance better, but the largest are few and the
// counter keeps it simple). fn(i) must touch only param i's data and
// slot i of per-param results, so the outcome does not depend on the
// split: sums are taken per param and added in param order by the
// caller, as the serial loops did. Callers check the params (and create
// any map entries) beforehand, so that fn neither panics nor writes a
// shared map.
func forEach(params []*Param, fn func(i int)) {
	total := 0
	for _, p := range params {
		total += len(p.Value)
	}
	workers := min(runtime.GOMAXPROCS(0), len(params))
	if total < parallelMin || workers < 2 {
		for i := range params {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(params) {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// sumInOrder adds per-param partial sums in param order.
func sumInOrder(s []float64) float64 {
	var t float64
	for _, v := range s {
		t += v
	}
	return t
}
