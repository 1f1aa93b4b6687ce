//go:build unix

package coco

import "syscall"

// cpuSeconds returns the user+system CPU time of the process, so that the
// load benchmark can report CPU cost next to wall time on a busy machine.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
