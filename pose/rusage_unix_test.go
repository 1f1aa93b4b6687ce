//go:build unix

package pose

import (
	"syscall"
	"time"
)

// cpuTime returns the process's user+system CPU time so far (0 if
// unavailable). Benchmarks report CPU seconds per image next to img/s,
// which stays meaningful when other processes share the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
