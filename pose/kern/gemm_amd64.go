//go:build amd64 && !purego

package kern

import "golang.org/x/sys/cpu"

// useAVX2 selects the assembly micro-kernel; tests may switch it off.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// fmaLoopAVX2 runs n iterations of 12 independent ymm FMAs (192 FLOP):
// the AVX2 FMA peak (gemm_amd64.s).
func fmaLoopAVX2(n int)

// kernelAVX2 is kernelGo in AVX2/FMA assembly (gemm_amd64.s). a, b and c
// point at the first element of the A panel, B panel and C tile.
//
//go:noescape
func kernelAVX2(kb int, a, b, c *float32, ldc int, acc bool)

func microKernel(kb int, a, b, c []float32, ldc int, acc bool) {
	if useAVX2 && kb > 0 {
		_ = a[kb*mr-1]
		_ = b[kb*nr-1]
		_ = c[(mr-1)*ldc+nr-1]
		kernelAVX2(kb, &a[0], &b[0], &c[0], ldc, acc)
		return
	}
	kernelGo(kb, a, b, c, ldc, acc)
}

// transpose16AVX2 is packT16's body in assembly (pack_amd64.s): it
// transposes 16 rows of kb floats (kb a multiple of 8) at row stride ldb
// into a k-major panel of 16.
//
//go:noescape
func transpose16AVX2(pan, b *float32, ldb, kb int)

// transpose16 handles the first kb&^7 columns of packT16 with AVX2 and
// returns how many it did.
func transpose16(pan, b []float32, o, ldb, kb int) int {
	k := kb &^ 7
	if !useAVX2 || k == 0 {
		return 0
	}
	_ = b[o+15*ldb+kb-1]
	_ = pan[kb*nr-1]
	transpose16AVX2(&pan[0], &b[o], ldb, k)
	return k
}

// interleave2AVX2 is the body of interleave2 in assembly
// (pack_amd64.s): 16 floats of d per block.
//
//go:noescape
func interleave2AVX2(d, a, b *float32, blocks int)

// interleave2 sets d[2t] = a[t] and d[2t+1] = b[t] (len(a) =
// (len(d)+1)/2, len(b) = len(d)/2).
func interleave2(d, a, b []float32) {
	a = a[:(len(d)+1)/2]
	b = b[:len(d)/2]
	k := 0
	if blocks := len(d) / 16; useAVX2 && blocks > 0 {
		interleave2AVX2(&d[0], &a[0], &b[0], blocks)
		k = 8 * blocks
	}
	interleave2Go(d[2*k:], a[k:], b[k:])
}

//go:noescape
func scatter16AVX2(dst, src *float32, blocks, dstride int)

// scatter16 copies blocks 16-float blocks from src[so:] (contiguous) to
// dst[do:], dst[do+dstride:], ... .
func scatter16(dst []float32, do, dstride int, src []float32, so, blocks int) {
	if blocks <= 0 {
		return
	}
	_ = dst[do+(blocks-1)*dstride+nr-1]
	_ = src[so+blocks*nr-1]
	if useAVX2 {
		scatter16AVX2(&dst[do], &src[so], blocks, dstride)
		return
	}
	scatter16Go(dst, do, dstride, src, so, blocks)
}

// kernelOffAVX2 is kernelOffGo in assembly: B row p is read at
// b + off[p] floats.
//
//go:noescape
func kernelOffAVX2(kb int, a, b *float32, off *int, c *float32, ldc int, acc bool)

func microKernelOff(kb int, a, b []float32, off []int, c []float32, ldc int, acc bool) {
	if useAVX2 && kb > 0 {
		_ = a[kb*mr-1]
		_ = off[kb-1]
		_ = c[(mr-1)*ldc+nr-1]
		// gemmShift has checked that every b[off[p]:off[p]+nr] is in range.
		kernelOffAVX2(kb, &a[0], &b[0], &off[0], &c[0], ldc, acc)
		return
	}
	kernelOffGo(kb, a, b, off, c, ldc, acc)
}

// kernelRowsAVX2 is kernelRowsGo in assembly.
//
//go:noescape
func kernelRowsAVX2(kb int, a *float32, off *int, b, c *float32, ldc int, acc bool)

func microKernelRows(kb int, a []float32, off []int, b, c []float32, ldc int, acc bool) {
	if useAVX2 && kb > 0 {
		_ = off[mr-1]
		_ = b[kb*nr-1]
		_ = c[(mr-1)*ldc+nr-1]
		// gemmShiftRows has checked that every a[off[i]:off[i]+kb] is in range.
		kernelRowsAVX2(kb, &a[0], &off[0], &b[0], &c[0], ldc, acc)
		return
	}
	kernelRowsGo(kb, a, off, b, c, ldc, acc)
}
