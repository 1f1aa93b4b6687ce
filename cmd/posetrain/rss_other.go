//go:build !unix

package main

// peakRSSMB is not available on this system.
func peakRSSMB() float64 { return -1 }
