//go:build !linux

package kern

func threadCPU() float64 { return -1 }
