//go:build !unix

package main

import "time"

// processCPU is not available on this system.
func processCPU() time.Duration { return -1 }
