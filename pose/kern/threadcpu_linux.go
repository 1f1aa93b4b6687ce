//go:build linux

package kern

import "syscall"

// threadCPU returns the user+system CPU seconds of the calling OS thread
// (RUSAGE_THREAD), or -1.
func threadCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1, &ru); err != nil { // 1: RUSAGE_THREAD
		return -1
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
