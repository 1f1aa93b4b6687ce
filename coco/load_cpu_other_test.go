//go:build !unix

package coco

// cpuSeconds is unavailable here; the benchmark then omits cpu-s/op.
func cpuSeconds() float64 { return 0 }
