//go:build !unix

package data

import "time"

// cpuTime is unavailable here; benchmarks then skip the CPU metrics.
func cpuTime() time.Duration { return 0 }
