//go:build amd64 && !purego

package kern

import (
	"fmt"
	"os"

	"golang.org/x/sys/cpu"
)

// hasAVX2 and hasAVX512 say what the CPU (and the OS, which must save
// the zmm and opmask state: x/sys/cpu checks XCR0) offers, after
// GODEBUG=cpu.avx2=off / cpu.avx512f=off.
var (
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasAVX512 = hasAVX2 && cpu.X86.HasAVX512F
)

// kcZ and kcShiftZ are kc and kcShift for the zmm tiles: a 64-column
// B micro-panel of kcZ rows (and the shifted-image rows of a 64-column
// tile) must stay in L1 while the A panels stream past it.
var kcZ, kcShiftZ = 256, 192

// useAVX512 selects the zmm GEMM tiles; setPath keeps it in step with
// the function values.
var useAVX512 bool

func supportedPaths() []string {
	var p []string
	if hasAVX512 {
		p = append(p, "avx512")
	}
	if hasAVX2 {
		p = append(p, "avx2")
	}
	return append(p, "generic")
}

// setPath switches the kernels to path p (one of supportedPaths).
func setPath(p string) {
	switch p {
	case "avx512":
		if !hasAVX512 {
			panic("kern: avx512 path on a CPU without AVX-512F")
		}
		useAVX2, useAVX512 = true, true
		kc, kcShift = kcZ, kcShiftZ
		packedTiles, shiftTiles, rowsTiles = packedTilesZ, shiftTilesZ, rowsTilesZ
	case "avx2":
		if !hasAVX2 {
			panic("kern: avx2 path on a CPU without AVX2/FMA")
		}
		useAVX2, useAVX512 = true, false
		kc, kcShift = 256, 192
		packedTiles, shiftTiles, rowsTiles = packedTilesNarrow, shiftTilesNarrow, rowsTilesNarrow
	case "generic":
		useAVX2, useAVX512 = false, false
		kc, kcShift = 256, 192
		packedTiles, shiftTiles, rowsTiles = packedTilesNarrow, shiftTilesNarrow, rowsTilesNarrow
	default:
		panic("kern: unknown path " + p)
	}
	kernPath = p
}

// The start-up choice: the best path whose kernels agree with the
// float64 reference on small problems; a path that disagrees is
// reported on stderr and skipped.
func init() {
	for _, p := range supportedPaths() {
		setPath(p)
		err := selfCheck()
		if err == nil {
			return
		}
		fmt.Fprintf(os.Stderr, "kern: warning: the %s kernels disagree with the reference (%v); falling back\n", p, err)
	}
}

// callZ, callOffZ and callRowsZ call the AVX-512 kernel with nv zmm
// vectors per C row (a switch, not a table of function values, so that
// escape analysis sees the go:noescape kernels).
func callZ(nv, kb int, a, b, c *float32, ldc, bs, rows, mask int, acc bool) {
	switch nv {
	case 1:
		kernelZ1(kb, a, b, c, ldc, bs, rows, mask, acc)
	case 2:
		kernelZ2(kb, a, b, c, ldc, bs, rows, mask, acc)
	case 3:
		kernelZ3(kb, a, b, c, ldc, bs, rows, mask, acc)
	default:
		kernelZ4(kb, a, b, c, ldc, bs, rows, mask, acc)
	}
}

func callOffZ(nv, kb int, a, b *float32, off *int, c *float32, ldc, rows, mask int, acc bool) {
	switch nv {
	case 1:
		kernelOffZ1(kb, a, b, off, c, ldc, rows, mask, acc)
	case 2:
		kernelOffZ2(kb, a, b, off, c, ldc, rows, mask, acc)
	case 3:
		kernelOffZ3(kb, a, b, off, c, ldc, rows, mask, acc)
	default:
		kernelOffZ4(kb, a, b, off, c, ldc, rows, mask, acc)
	}
}

func callRowsZ(nv, kb int, a *float32, off *int, b, c *float32, ldc, bs, rows, mask int, acc bool) {
	switch nv {
	case 1:
		kernelRowsZ1(kb, a, off, b, c, ldc, bs, rows, mask, acc)
	case 2:
		kernelRowsZ2(kb, a, off, b, c, ldc, bs, rows, mask, acc)
	case 3:
		kernelRowsZ3(kb, a, off, b, c, ldc, bs, rows, mask, acc)
	default:
		kernelRowsZ4(kb, a, off, b, c, ldc, bs, rows, mask, acc)
	}
}

// zcols returns the zmm vectors and the opmask of the last one for a
// tile of nn columns (1 <= nn <= zw).
func zcols(nn int) (nv, mask int) {
	nv = (nn + nr - 1) / nr
	return nv, 1<<(nn-(nv-1)*nr) - 1
}

// packedTilesZ is packedTilesNarrow with 6×(16..64) zmm tiles; the
// kernels store only the rows and columns inside the block.
func packedTilesZ(kb, mb, nb int, apk, bp, c []float32, ldc int, acc bool, bias []float32) {
	if kb == 0 {
		packedTilesNarrow(kb, mb, nb, apk, bp, c, ldc, acc, bias)
		return
	}
	_ = apk[roundUp(mb, mr)*kb-1]
	_ = bp[roundUp(nb, nr)*kb-1]
	_ = c[(mb-1)*ldc+nb-1]
	if bias != nil {
		_ = bias[mb-1]
	}
	for jr := 0; jr < nb; jr += zw {
		nv, mask := zcols(min(zw, nb-jr))
		for ir := 0; ir < mb; ir += mr {
			mm := min(mr, mb-ir)
			off := ir*ldc + jr
			callZ(nv, kb, &apk[ir*kb], &bp[jr*kb], &c[off], ldc, nr*kb, mm, mask, acc)
			if bias != nil {
				addBias(c[off:], ldc, mm, min(zw, nb-jr), bias[ir:])
			}
		}
	}
}

// shiftTilesZ is shiftTilesNarrow with zmm tiles (ld is a multiple of nr).
func shiftTilesZ(kb, mb, ld int, apk, b []float32, offs []int, c []float32, acc bool) {
	if kb == 0 {
		shiftTilesNarrow(kb, mb, ld, apk, b, offs, c, acc)
		return
	}
	_ = apk[roundUp(mb, mr)*kb-1]
	_ = offs[kb-1]
	_ = c[(mb-1)*ld+ld-1]
	// gemmShift's callers guarantee b[offs[p]+ld-1] is in range, as for
	// the 16-column kernels: the zmm tiles read the same addresses.
	for jr := 0; jr < ld; jr += zw {
		nv := min(zw, ld-jr) / nr
		for ir := 0; ir < mb; ir += mr {
			mm := min(mr, mb-ir)
			callOffZ(nv, kb, &apk[ir*kb], &b[jr], &offs[0], &c[ir*ld+jr], ld, mm, 0xffff, acc)
		}
	}
}

// rowsTilesZ is rowsTilesNarrow with zmm tiles.
func rowsTilesZ(kb, kk, n int, xk []float32, off []int, bp, dwt []float32, ldw int, acc bool) {
	if kb == 0 {
		rowsTilesNarrow(kb, kk, n, xk, off, bp, dwt, ldw, acc)
		return
	}
	_ = off[kk-1]
	_ = bp[roundUp(n, nr)*kb-1]
	_ = dwt[(kk-1)*ldw+n-1]
	var edge [mr]int
	for jr := 0; jr < n; jr += zw {
		nv, mask := zcols(min(zw, n-jr))
		for ir := 0; ir < kk; ir += mr {
			mm := min(mr, kk-ir)
			o := off[ir:]
			if mm < mr {
				for t := range edge {
					edge[t] = off[min(ir+t, kk-1)]
				}
				o = edge[:]
			}
			// filterShift's callers guarantee xk[off[i]+kb-1] is in range.
			callRowsZ(nv, kb, &xk[0], &o[0], &bp[jr*kb], &dwt[ir*ldw+jr], ldw, nr*kb, mm, mask, acc)
		}
	}
}

// fmaLoopFor returns the FMA loop of isa and its FLOP per iteration.
func fmaLoopFor(isa string) (func(int), float64) {
	switch {
	case isa == "zmm" && hasAVX512:
		return fmaLoopZ, 2 * 16 * 24
	case isa == "ymm" && hasAVX2:
		return fmaLoopAVX2, 2 * 8 * 12
	}
	return nil, 0
}
