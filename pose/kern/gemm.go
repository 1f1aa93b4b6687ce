package kern

import (
	"fmt"
	"sync"
	"unsafe"
)

// Register and cache blocking of the packed GEMM (BLIS-style loop nest).
// The micro-kernel computes an mr×nr tile of C from an mr-row panel of
// op(A) and an nr-column panel of op(B), both packed k-major.
const (
	mr = 6    // rows of a micro-tile
	nr = 16   // columns of a micro-tile
	mc = 144  // rows of a packed A block (144 KiB, L2)
	nc = 4080 // columns of a packed B block (multiple of nr)
)

// kc is the depth of a packed block: 256 for the 16-column tiles (a B
// micro-panel of 16 KiB fits L1); setPath lowers it for the 64-column
// zmm tiles, whose B micro-panels are four times wider. Packed operands
// (prepackA) must be made and used under the same path.
var kc = 256

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major float32
// matrices, where op(A) is m×k and op(B) is k×n.
//
//   - a: if transA is false, m rows of k values with row stride lda (lda >= k);
//     if true, k rows of m values with row stride lda (lda >= m).
//   - b: if transB is false, k rows of n values with row stride ldb (ldb >= n);
//     if true, n rows of k values with row stride ldb (ldb >= k).
//   - c: m rows of n values with row stride ldc (ldc >= n).
//
// When beta is 0, C is overwritten and its old contents (even NaN) are
// ignored. Products of at least 2^18 multiply-adds (m*n*k) are split
// across the idle workers by blocks of C columns (or rows, for narrow C),
// with results identical to a serial run; smaller ones run on the calling
// goroutine. Concurrent calls on disjoint C are safe.
// It uses the AVX2/FMA micro-kernel when the CPU has it and a portable Go
// kernel otherwise.
//
// It panics if a dimension is negative, a leading dimension is too small or
// a slice is too short.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	flops.Add(int64(2 * m * n * k))
	w := Workers()
	if w == 1 || m*n*k < parSize {
		p := packPool.Get().(*packBuf)
		sgemm(p, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		packPool.Put(p)
		return
	}
	j := jobPool.Get().(*sgemmJob)
	*j = sgemmJob{transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, false}
	if cols := (n + nr - 1) / nr; cols >= 2*w || cols >= (m+mr-1)/mr {
		j.byCols = true
		parallelRun(cols, j)
	} else {
		parallelRun((m+mr-1)/mr, j)
	}
	*j = sgemmJob{}
	jobPool.Put(j)
}

// sgemmJob is one parallel Sgemm call: its ranges are blocks of nr C
// columns (byCols) or of mr C rows. Jobs are pooled so that a call
// allocates nothing.
type sgemmJob struct {
	transA, transB bool
	m, n, k        int
	alpha          float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	beta           float32
	c              []float32
	ldc            int
	byCols         bool
}

var jobPool = sync.Pool{New: func() any { return new(sgemmJob) }}

func (j *sgemmJob) run(lo, hi, _ int) {
	p := packPool.Get().(*packBuf)
	if j.byCols {
		j0, j1 := lo*nr, min(hi*nr, j.n)
		bo := j0
		if j.transB {
			bo = j0 * j.ldb
		}
		sgemm(p, j.transA, j.transB, j.m, j1-j0, j.k, j.alpha, j.a, j.lda, j.b[bo:], j.ldb, j.beta, j.c[j0:], j.ldc)
	} else {
		i0, i1 := lo*mr, min(hi*mr, j.m)
		ao := i0 * j.lda
		if j.transA {
			ao = i0
		}
		sgemm(p, j.transA, j.transB, i1-i0, j.n, j.k, j.alpha, j.a[ao:], j.lda, j.b, j.ldb, j.beta, j.c[i0*j.ldc:], j.ldc)
	}
	packPool.Put(p)
}

// parSize is the number of multiply-adds (m*n*k) from which Sgemm uses
// the workers.
const parSize = 1 << 18

var packPool = sync.Pool{New: func() any { return new(packBuf) }}

// packBuf holds the packed A block and B block of one GEMM caller.
type packBuf struct {
	a, b []float32
}

// aligned returns a 64-byte aligned slice of n floats from *buf, growing it
// if needed.
func aligned(buf *[]float32, n int) []float32 {
	if cap(*buf) < n+16 {
		*buf = make([]float32, n+16)
	}
	s := (*buf)[:cap(*buf)]
	off := 0
	if r := uintptr(unsafe.Pointer(&s[0])) & 63; r != 0 {
		off = int(64-r) / 4
	}
	return s[off : off+n]
}

func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kern: Sgemm negative dimension m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMat("a", a, ar, ac, lda)
	checkMat("b", b, br, bc, ldb)
	checkMat("c", c, m, n, ldc)
}

func checkMat(name string, s []float32, rows, cols, ld int) {
	if ld < max(cols, 1) {
		panic(fmt.Sprintf("kern: Sgemm ld%s=%d < %d", name, ld, cols))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; len(s) < need {
		panic(fmt.Sprintf("kern: Sgemm len(%s)=%d < %d", name, len(s), need))
	}
}

// sgemm is Sgemm without argument checks, with caller-owned pack buffers.
func sgemm(p *packBuf, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if alpha == 0 {
		k = 0
	}
	gemm(p, m, n, k, opA{trans: transA, alpha: alpha, a: a, lda: lda}, opB{trans: transB, b: b, ldb: ldb}, beta, c, ldc, nil)
}

// opA is the left operand of gemm: alpha*op(A), either a matrix packed on
// the fly or (pre != nil) already packed by prepackA.
type opA struct {
	trans bool
	alpha float32
	a     []float32
	lda   int
	pre   []float32
}

// opB is the right operand of gemm: op(B) as a matrix or, when pack is
// non-nil, a function that packs op(B)[pc:pc+kb, jc:jc+nb] into dst in
// packB's layout (used to unroll convolution inputs straight into the
// panels).
type opB struct {
	trans bool
	b     []float32
	ldb   int
	pack  func(dst []float32, pc, jc, kb, nb int)
}

// prepackA packs all of alpha*op(A) (m×k) in the block order gemm walks,
// so that a matrix used by many GEMMs (conv weights) is packed once. The
// result has roundUp(m, mr)*k floats.
func prepackA(dst []float32, trans bool, alpha float32, a []float32, lda, m, k int) []float32 {
	return prepackAk(dst, trans, alpha, a, lda, m, k, kBlocks(k))
}

// prepackAk is prepackA for depth blocks of kcb.
func prepackAk(dst []float32, trans bool, alpha float32, a []float32, lda, m, k, kcb int) []float32 {
	mp := roundUp(m, mr)
	dst = dst[:mp*k]
	for pc := 0; pc < k; pc += kcb {
		kb := min(kcb, k-pc)
		for ic := 0; ic < m; ic += mc {
			packA(dst[pc*mp+ic*kb:], trans, alpha, a, lda, ic, pc, min(mc, m-ic), kb)
		}
	}
	return dst
}

// gemm computes C = A*B + beta*C (+ bias[i] on row i if bias is non-nil)
// for the operand descriptors (C m×n, k the inner dimension), BLIS loop
// order: column blocks of nc, depth blocks of kc (B block packed once),
// row blocks of mc (A block packed or taken from the prepacked A), then
// mr×nr micro-tiles. The bias is added to each tile while it is in L1.
func gemm(p *packBuf, m, n, k int, a opA, b opB, beta float32, c []float32, ldc int, bias []float32) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleC(m, n, beta, c, ldc)
		if bias != nil {
			for i := range m {
				row := c[i*ldc : i*ldc+n]
				for j := range row {
					row[j] += bias[i]
				}
			}
		}
		return
	}
	accumulate := true
	switch beta {
	case 0:
		accumulate = false
	case 1:
	default:
		scaleC(m, n, beta, c, ldc)
	}
	kcMax := kBlocks(k)
	var ap []float32
	if a.pre == nil {
		ap = aligned(&p.a, roundUp(min(m, mc), mr)*kcMax)
	}
	mp := roundUp(m, mr)
	bp := aligned(&p.b, roundUp(min(n, nc), nr)*kcMax)
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kcMax {
			kb := min(kcMax, k-pc)
			acc := accumulate || pc > 0
			var tb []float32
			if pc+kb == k {
				tb = bias
			}
			if b.pack != nil {
				b.pack(bp, pc, jc, kb, nb)
			} else {
				packB(bp, b.trans, b.b, b.ldb, pc, jc, kb, nb)
			}
			for ic := 0; ic < m; ic += mc {
				mb := min(mc, m-ic)
				apk := ap
				if a.pre != nil {
					apk = a.pre[pc*mp+ic*kb:]
				} else {
					packA(ap, a.trans, a.alpha, a.a, a.lda, ic, pc, mb, kb)
				}
				var bt []float32
				if tb != nil {
					bt = tb[ic:]
				}
				packedTiles(kb, mb, nb, apk, bp, c[ic*ldc+jc:], ldc, acc, bt)
			}
		}
	}
}

// packedTilesNarrow computes the mb×nb block of C at c (row stride ldc)
// from the packed A block apk and B block bp (depth kb) in mr×nr tiles of
// microKernel, storing (acc false) or adding; bias (if non-nil) is added
// to row i. Edge tiles go through a scratch tile.
func packedTilesNarrow(kb, mb, nb int, apk, bp, c []float32, ldc int, acc bool, bias []float32) {
	var tile [mr * nr]float32
	for jr := 0; jr < nb; jr += nr {
		nn := min(nr, nb-jr)
		bpan := bp[jr*kb:]
		for ir := 0; ir < mb; ir += mr {
			mm := min(mr, mb-ir)
			apan := apk[ir*kb:]
			off := ir*ldc + jr
			if mm == mr && nn == nr {
				microKernel(kb, apan, bpan, c[off:], ldc, acc)
			} else {
				microKernel(kb, apan, bpan, tile[:], nr, false)
				storeTile(c[off:], ldc, tile[:], nr, mm, nn, acc)
			}
			if bias != nil {
				addBias(c[off:], ldc, mm, nn, bias[ir:])
			}
		}
	}
}

// addBias adds bias[i] to the nn values of row i < mm of c.
func addBias(c []float32, ldc, mm, nn int, bias []float32) {
	for i := range mm {
		bv := bias[i]
		ci := c[i*ldc : i*ldc+nn]
		for j := range ci {
			ci[j] += bv
		}
	}
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// scaleC sets C = beta*C; beta == 0 writes exact zeros.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		ci := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(ci)
			continue
		}
		for j := range ci {
			ci[j] *= beta
		}
	}
}

// packA packs alpha*op(A)[ic:ic+mb, pc:pc+kb] into mr-row panels, each
// stored k-major (kb groups of mr values), zero-padding the last panel.
func packA(dst []float32, trans bool, alpha float32, a []float32, lda, ic, pc, mb, kb int) {
	for ir := 0; ir < mb; ir += mr {
		pan := dst[ir*kb : ir*kb+mr*kb]
		mm := min(mr, mb-ir)
		if trans {
			for p := range kb {
				row := a[(pc+p)*lda+ic+ir : (pc+p)*lda+ic+ir+mm]
				d := pan[p*mr : p*mr+mr]
				for i, v := range row {
					d[i] = alpha * v
				}
				clear(d[mm:])
			}
			continue
		}
		if mm == mr {
			o := (ic+ir)*lda + pc
			r0 := a[o : o+kb]
			r1 := a[o+lda : o+lda+kb]
			r2 := a[o+2*lda : o+2*lda+kb]
			r3 := a[o+3*lda : o+3*lda+kb]
			r4 := a[o+4*lda : o+4*lda+kb]
			r5 := a[o+5*lda : o+5*lda+kb]
			for p := range r0 {
				d := (*[mr]float32)(pan[p*mr:])
				d[0] = alpha * r0[p]
				d[1] = alpha * r1[p]
				d[2] = alpha * r2[p]
				d[3] = alpha * r3[p]
				d[4] = alpha * r4[p]
				d[5] = alpha * r5[p]
			}
			continue
		}
		for i := range mm {
			row := a[(ic+ir+i)*lda+pc : (ic+ir+i)*lda+pc+kb]
			for p, v := range row {
				pan[p*mr+i] = alpha * v
			}
		}
		for p := range kb {
			clear(pan[p*mr+mm : p*mr+mr])
		}
	}
}

// packB packs op(B)[pc:pc+kb, jc:jc+nb] into nr-column panels, each stored
// k-major (kb groups of nr values), zero-padding the last panel.
func packB(dst []float32, trans bool, b []float32, ldb, pc, jc, kb, nb int) {
	full := nb / nr * nr
	if !trans {
		// Stream each row of B once, scattering 16-float (64-byte) pieces
		// into the panels.
		for p := range kb {
			row := b[(pc+p)*ldb+jc : (pc+p)*ldb+jc+nb]
			o := p * nr
			scatter16(dst, o, nr*kb, row, 0, full/nr)
			if full < nb {
				d := dst[full*kb+o : full*kb+o+nr]
				n := copy(d, row[full:])
				clear(d[n:])
			}
		}
		return
	}
	for jr := 0; jr < nb; jr += nr {
		pan := dst[jr*kb : jr*kb+nr*kb]
		nn := min(nr, nb-jr)
		if nn == nr {
			packT16(pan, b, (jc+jr)*ldb+pc, ldb, kb)
			continue
		}
		for j := range nn {
			col := b[(jc+jr+j)*ldb+pc : (jc+jr+j)*ldb+pc+kb]
			for p, v := range col {
				pan[p*nr+j] = v
			}
		}
		for p := range kb {
			clear(pan[p*nr+nn : p*nr+nr])
		}
	}
}

// scatter16Go is the portable scatter16.
func scatter16Go(dst []float32, do, dstride int, src []float32, so, blocks int) {
	for i := range blocks {
		*(*[nr]float32)(dst[do+i*dstride:]) = *(*[nr]float32)(src[so+i*nr:])
	}
}

// packT16 transposes 16 rows of kb values (row j at b[o+j*ldb:]) into
// the k-major panel pan (kb groups of 16).
func packT16(pan, b []float32, o, ldb, kb int) {
	var r [nr][]float32
	for j := range r {
		r[j] = b[o+j*ldb : o+j*ldb+kb]
	}
	r0, r1, r2, r3, r4, r5, r6, r7 := r[0], r[1][:len(r[0])], r[2][:len(r[0])], r[3][:len(r[0])], r[4][:len(r[0])], r[5][:len(r[0])], r[6][:len(r[0])], r[7][:len(r[0])]
	r8, r9, r10, r11, r12, r13, r14, r15 := r[8][:len(r0)], r[9][:len(r0)], r[10][:len(r0)], r[11][:len(r0)], r[12][:len(r0)], r[13][:len(r0)], r[14][:len(r0)], r[15][:len(r0)]
	for p := transpose16(pan, b, o, ldb, kb); p < len(r0); p++ {
		d := (*[nr]float32)(pan[p*nr:])
		d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
		d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
		d[8], d[9], d[10], d[11] = r8[p], r9[p], r10[p], r11[p]
		d[12], d[13], d[14], d[15] = r12[p], r13[p], r14[p], r15[p]
	}
}

// kernelGo is the portable micro-kernel: with A an mr×kb panel and B a
// kb×nr panel (packed k-major), it stores (acc=false) or adds (acc=true)
// their product into the mr×nr tile of c with row stride ldc.
//
// It walks the tile in 2×4 sub-tiles: eight accumulators stay in
// registers on amd64 and, more importantly, on js/wasm, where wider
// sub-tiles spill (measured 1.5× faster on amd64 and 2-3× faster under
// node than 3×4).
func kernelGo(kb int, a, b, c []float32, ldc int, acc bool) {
	a = a[:kb*mr]
	b = b[:kb*nr]
	_ = c[(mr-1)*ldc+nr-1]
	for i0 := 0; i0 < mr; i0 += 2 {
		for j0 := 0; j0 < nr; j0 += 4 {
			var c00, c01, c02, c03, c10, c11, c12, c13 float32
			for p := range kb {
				ap := a[p*mr+i0 : p*mr+i0+2 : p*mr+i0+2]
				bp := b[p*nr+j0 : p*nr+j0+4 : p*nr+j0+4]
				a0, a1 := ap[0], ap[1]
				b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
				c00 += a0 * b0
				c01 += a0 * b1
				c02 += a0 * b2
				c03 += a0 * b3
				c10 += a1 * b0
				c11 += a1 * b1
				c12 += a1 * b2
				c13 += a1 * b3
			}
			store2x4(c[i0*ldc+j0:], ldc, acc, c00, c01, c02, c03, c10, c11, c12, c13)
		}
	}
}

// store2x4 writes (acc false) or adds (acc true) a 2x4 tile of the pure-Go
// kernels at c (row stride ldc).
func store2x4(c []float32, ldc int, acc bool, c00, c01, c02, c03, c10, c11, c12, c13 float32) {
	r0 := c[0:4:4]
	r1 := c[ldc : ldc+4 : ldc+4]
	if acc {
		r0[0] += c00
		r0[1] += c01
		r0[2] += c02
		r0[3] += c03
		r1[0] += c10
		r1[1] += c11
		r1[2] += c12
		r1[3] += c13
		return
	}
	r0[0], r0[1], r0[2], r0[3] = c00, c01, c02, c03
	r1[0], r1[1], r1[2], r1[3] = c10, c11, c12, c13
}

// storeTile writes the top-left mm x nn block of tile (row stride nr) into
// c (row stride ldc), adding to c when acc is set: the edge-tile path of
// the micro-kernel callers, which compute a full tile into scratch.
func storeTile(c []float32, ldc int, tile []float32, nr, mm, nn int, acc bool) {
	for i := range mm {
		ci := c[i*ldc : i*ldc+nn]
		ti := tile[i*nr : i*nr+nn]
		if acc {
			for j := range ci {
				ci[j] += ti[j]
			}
		} else {
			copy(ci, ti)
		}
	}
}
