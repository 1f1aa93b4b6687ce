//go:build !amd64 || purego

package kern

// useAVX2 is always false without the amd64 assembly.
var useAVX2 = false

func microKernel(kb int, a, b, c []float32, ldc int, acc bool) {
	kernelGo(kb, a, b, c, ldc, acc)
}

func transpose16(pan, b []float32, o, ldb, kb int) int { return 0 }

func scatter16(dst []float32, do, dstride int, src []float32, so, blocks int) {
	scatter16Go(dst, do, dstride, src, so, blocks)
}

func microKernelOff(kb int, a, b []float32, off []int, c []float32, ldc int, acc bool) {
	kernelOffGo(kb, a, b, off, c, ldc, acc)
}

func microKernelRows(kb int, a []float32, off []int, b, c []float32, ldc int, acc bool) {
	kernelRowsGo(kb, a, off, b, c, ldc, acc)
}

func interleave2(d, a, b []float32) { interleave2Go(d, a, b) }
