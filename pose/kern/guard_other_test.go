//go:build !linux

package kern

// guarded returns n floats (on Linux they end right before an
// inaccessible page; here they are an ordinary slice).
func guarded(n int) (f []float32, free func()) {
	return make([]float32, n), func() {}
}
