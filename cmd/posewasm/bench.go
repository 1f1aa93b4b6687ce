//go:build js && wasm

package main

import (
	"fmt"
	"slices"
	"time"
)

var benchX []float32 // the input bench runs on (zeros: the mean image)

// bench times n forward passes of one image and reports milliseconds per
// inference (the network only; predict's ms adds warp and decode).
func bench(n int) (any, error) {
	if model == nil {
		return nil, fmt.Errorf("posewasm: bench before load")
	}
	md := model.Meta
	if len(benchX) != 3*md.InputH*md.InputW {
		benchX = make([]float32, 3*md.InputH*md.InputW)
	}
	ms := make([]float64, max(n, 1))
	var sum float64
	for i := range ms {
		t0 := time.Now()
		if _, err := model.Forward(benchX, 1); err != nil {
			return nil, err
		}
		ms[i] = float64(time.Since(t0).Microseconds()) / 1000
		sum += ms[i]
	}
	slices.Sort(ms)
	return map[string]any{"median_ms": ms[len(ms)/2], "min_ms": ms[0], "mean_ms": sum / float64(len(ms)),
		"iterations": len(ms), "kernel": model.Kernel().Name()}, nil
}
