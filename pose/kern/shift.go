package kern

import "fmt"

// Shifted-image ("implicit") GEMM for convolutions with kernels larger
// than 1×1.
//
// Each input channel is split into Stride×Stride phase planes (phase
// (by, bx) holds input pixels (r*Stride+by, c*Stride+bx)), and each plane
// is stored padded: rows of wp = hz+wg floats (hz zero columns, then wg
// columns holding the plane's values, zero-filled past its end), with zero
// rows above and below. The output is computed
// on the grid q = oy*wp + ox with ox in [0, wp); the columns ox >= OutW
// are discarded afterwards. Writing ky-Pad = ay*Stride+by (and likewise
// for kx), im2col row (ci, ky, kx) is then plane (ci, by, bx) shifted by
// a constant: a column that runs off either end of a row lands in the hz
// zero columns of that row or the next. So the GEMM reads its B operand
// (forward) or A operand (filter gradient) straight from the padded planes
// through a table of row offsets, with no packing and no border masks.
// For stride 1 there is one plane per channel and wp = InW+Pad.

// shiftMinW is the narrowest output on which the shifted-image GEMM is
// used: it computes wp/OutW times the needed columns, which on narrow
// images costs more than packing saves.
var shiftMinW = 12

// shiftable reports whether the shifted-image GEMM applies.
func (c Conv) shiftable() bool {
	return c.KH*c.KW > 1 && c.OutW() >= shiftMinW
}

// adjointShiftable reports whether BackwardData can run as the forward
// pass of the adjoint convolution (stride 1, "same" padding) on the
// shifted-image GEMM.
func (c Conv) adjointShiftable() bool {
	return c.shiftable() && c.Stride == 1 && 2*c.Pad == c.KH-1 && 2*c.Pad == c.KW-1
}

// floorDiv returns floor(a/b) for b > 0.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// shiftGeom is the padded phase-plane layout of a Conv.
type shiftGeom struct {
	s            int // stride (phases per axis)
	ayMin, ayMax int // row shifts (in plane rows) of the kernel rows
	axMin, axMax int // column shifts of the kernel columns
	wg, hz       int // data and zero head columns of a padded row
	wp, rows     int // padded row width and padded rows
	plane        int // floats per padded plane (rows*wp)
	n, ld        int // grid columns OutH*wp and the row stride of the GEMM output
	size         int // floats of one padded image, with the slack the last tile reads
}

func (c Conv) shiftGeom() shiftGeom {
	s := c.Stride
	g := shiftGeom{s: s}
	g.ayMin, g.ayMax = floorDiv(-c.Pad, s), floorDiv(c.KH-1-c.Pad, s)
	g.axMin, g.axMax = floorDiv(-c.Pad, s), floorDiv(c.KW-1-c.Pad, s)
	// wg data columns per row hold every column a phase plane can have,
	// so columns past them are outside the image; the hz zero columns
	// absorb the overflow to the left (own row) and right (next row).
	g.wg = max(c.OutW(), (c.InW+s-1)/s)
	g.hz = max(-g.axMin, c.OutW()+g.axMax-g.wg, 0)
	g.wp = g.wg + g.hz
	g.rows = c.OutH() + g.ayMax - g.ayMin
	g.plane = g.rows * g.wp
	g.n = c.OutH() * g.wp
	g.ld = roundUp(g.n, nr)
	g.size = c.InC*s*s*g.plane + g.ld - g.n + g.hz + max(g.axMax, 0)
	return g
}

// padShift writes image x (InC*InH*InW) into the padded phase planes xp
// (shiftGeom().size floats), zeroing the padding.
func (c Conv) padShift(g *shiftGeom, x, xp []float32) {
	hw := c.InH * c.InW
	s := g.s
	if s == 2 {
		c.padShift2(g, x, xp)
		return
	}
	for ci := range c.InC {
		img := x[ci*hw : (ci+1)*hw]
		for by := range s {
			for bx := range s {
				p := xp[((ci*s+by)*s+bx)*g.plane:][:g.plane]
				// Output columns c read input column c*s+bx.
				nc := 0
				if bx < c.InW {
					nc = min(g.wg, (c.InW-bx+s-1)/s)
				}
				for pr := range g.rows {
					row := p[pr*g.wp : (pr+1)*g.wp]
					iy := (pr+g.ayMin)*s + by
					if iy < 0 || iy >= c.InH {
						clear(row)
						continue
					}
					clear(row[:g.hz])
					d := row[g.hz : g.hz+nc]
					src := img[iy*c.InW : (iy+1)*c.InW]
					if s == 1 {
						copy(d, src)
					} else {
						for j := range d {
							d[j] = src[j*s+bx]
						}
					}
					clear(row[g.hz+nc:])
				}
			}
		}
	}
	clear(xp[c.InC*s*s*g.plane : g.size])
}

// padShift2 is padShift for stride 2: the rows of phase by are split
// into their even and odd columns (planes (by, 0) and (by, 1)) by one
// deal2 call per channel and phase, and only the padding is zeroed.
func (c Conv) padShift2(g *shiftGeom, x, xp []float32) {
	hw, w, wp, hz := c.InH*c.InW, c.InW, g.wp, g.hz
	half := w / 2
	for ci := range c.InC {
		img := x[ci*hw : (ci+1)*hw]
		for by := range 2 {
			p0 := xp[(ci*2+by)*2*g.plane:][:g.plane]
			p1 := xp[((ci*2+by)*2+1)*g.plane:][:g.plane]
			// Image rows 2j+by, j < nrow, are plane rows r0+j.
			r0 := -g.ayMin
			nrow := max(0, min((c.InH-by+1)/2, g.rows-r0))
			r1 := r0 + nrow
			for _, p := range [2][]float32{p0, p1} {
				clear(p[:r0*wp])
				clear(p[r1*wp:])
			}
			if nrow == 0 {
				continue
			}
			nc := [2]int{(w + 1) / 2, half}
			for pr := r0; pr < r1; pr++ {
				for b, p := range [2][]float32{p0, p1} {
					row := p[pr*wp : (pr+1)*wp]
					clear(row[:hz])
					clear(row[hz+nc[b]:])
				}
			}
			src := img[by*w:]
			if half > 0 {
				deal2(src, 2*w, p0[r0*wp+hz:], p1[r0*wp+hz:], wp, half, nrow)
			}
			if w%2 == 1 {
				for j := range nrow {
					p0[(r0+j)*wp+hz+half] = src[2*j*w+w-1]
				}
			}
		}
	}
	clear(xp[c.InC*4*g.plane : g.size])
}

// shiftOffsets fills off (InC*KH*KW) with the offset of each im2col row
// in the padded planes. It panics if a row would read outside them (a
// bug in shiftGeom).
func (c Conv) shiftOffsets(g *shiftGeom, off []int) {
	s := g.s
	r := 0
	for ci := range c.InC {
		for ky := range c.KH {
			ay := floorDiv(ky-c.Pad, s)
			by := ky - c.Pad - ay*s
			for kx := range c.KW {
				ax := floorDiv(kx-c.Pad, s)
				bx := kx - c.Pad - ax*s
				o := ((ci*s+by)*s+bx)*g.plane + (ay-g.ayMin)*g.wp + g.hz + ax
				if o < 0 || o+g.ld > g.size {
					panic(fmt.Sprintf("kern: shifted-image offset %d out of [0, %d) for %+v", o, g.size-g.ld, c))
				}
				off[r] = o
				r++
			}
		}
	}
}

// epilogue is what forwardShift applies to each output channel o when
// it copies the GEMM result out: y = v + bias[o] (if bias is non-nil),
// then y = (y-m[o])*sc[o] + sh[o] (if sc is non-nil) and ReLU (if relu).
type epilogue struct {
	bias, m, sc, sh []float32
	relu            bool
}

// forwardShift is Forward on the shifted-image path for images [lo, hi):
// wpk is the packed weights (prepackA layout), off the row offsets.
func (c Conv) forwardShift(s *scratch, lo, hi int, x, wpk []float32, off []int, ep *epilogue, y []float32) {
	inSz, outN, kk := c.InC*c.InH*c.InW, c.OutH()*c.OutW(), c.InC*c.KH*c.KW
	g := c.shiftGeom()
	wp, ld := g.wp, g.ld
	xp := grow(&s.g, g.size)
	cp := grow(&s.col, c.OutC*ld)
	ow := c.OutW()
	for i := lo; i < hi; i++ {
		c.padShift(&g, x[i*inSz:(i+1)*inSz], xp)
		gemmShift(c.OutC, ld, kk, wpk, xp, off, cp)
		yi := y[i*c.OutC*outN : (i+1)*c.OutC*outN]
		for o := range c.OutC {
			src := cp[o*ld:]
			dst := yi[o*outN : (o+1)*outN]
			for oy := range c.OutH() {
				d := dst[oy*ow : (oy+1)*ow]
				sr := src[oy*wp : oy*wp+ow]
				if ep.bias == nil {
					copy(d, sr)
					continue
				}
				bv := ep.bias[o]
				for j, v := range sr {
					d[j] = v + bv
				}
			}
			if ep.sc != nil {
				// The plane is still in L1.
				affine(dst, dst, ep.m[o], ep.sc[o], ep.sh[o], ep.relu)
			}
		}
	}
}

// gemmShift computes C (m×ld, row stride ld) = A × B, with A the weights
// packed by prepackAk (m×k, depth blocks of kBlocksOf(k, kcShift)) and
// B[r][q] = b[off[r]+q] for q < ld.
func gemmShift(m, ld, k int, apre, b []float32, off []int, c []float32) {
	if k == 0 || m == 0 {
		clear(c[:m*ld])
		return
	}
	mp := roundUp(m, mr)
	kcb := kBlocksOf(k, kcShift)
	for pc := 0; pc < k; pc += kcb {
		kb := min(kcb, k-pc)
		offs := off[pc : pc+kb]
		acc := pc > 0
		for ic := 0; ic < m; ic += mc {
			mb := min(mc, m-ic)
			apk := apre[pc*mp+ic*kb:]
			shiftTiles(kb, mb, ld, apk, b, offs, c[ic*ld:], acc)
		}
	}
}

// shiftTilesNarrow computes the mb×ld block of C at c (row stride ld) of
// gemmShift for one depth block: A packed (apk), B row p at b[offs[p]:].
func shiftTilesNarrow(kb, mb, ld int, apk, b []float32, offs []int, c []float32, acc bool) {
	var tile [mr * nr]float32
	for jr := 0; jr < ld; jr += nr {
		bj := b[jr:]
		for ir := 0; ir < mb; ir += mr {
			mm := min(mr, mb-ir)
			off := ir*ld + jr
			if mm == mr {
				microKernelOff(kb, apk[ir*kb:], bj, offs, c[off:], ld, acc)
				continue
			}
			microKernelOff(kb, apk[ir*kb:], bj, offs, tile[:], nr, false)
			storeTile(c[off:], ld, tile[:], nr, mm, nr, acc)
		}
	}
}

// kernelOffGo is kernelGo with B row p read at b[off[p]:off[p]+nr].
func kernelOffGo(kb int, a, b []float32, off []int, c []float32, ldc int, acc bool) {
	a = a[:kb*mr]
	off = off[:kb]
	_ = c[(mr-1)*ldc+nr-1]
	for i0 := 0; i0 < mr; i0 += 2 {
		for j0 := 0; j0 < nr; j0 += 4 {
			var c00, c01, c02, c03, c10, c11, c12, c13 float32
			for p, o := range off {
				ap := a[p*mr+i0 : p*mr+i0+2 : p*mr+i0+2]
				bp := b[o+j0 : o+j0+4 : o+j0+4]
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

// flipWeights writes the weights of the adjoint convolution: wt[ci][o]
// [ky][kx] = w[o][ci][KH-1-ky][KW-1-kx] (wt: InC*OutC*KH*KW).
func (c Conv) flipWeights(w, wt []float32) {
	k2 := c.KH * c.KW
	for o := range c.OutC {
		for ci := range c.InC {
			src := w[(o*c.InC+ci)*k2 : (o*c.InC+ci+1)*k2]
			dst := wt[(ci*c.OutC+o)*k2 : (ci*c.OutC+o+1)*k2]
			for j, v := range src {
				dst[k2-1-j] = v
			}
		}
	}
}

// adjoint returns the convolution whose Forward is c's BackwardData when
// c is a stride-1 "same" convolution (with flipWeights' weights).
func (c Conv) adjoint() Conv {
	return Conv{InC: c.OutC, OutC: c.InC, KH: c.KH, KW: c.KW, Stride: 1, Pad: c.Pad, InH: c.OutH(), InW: c.OutW()}
}

// kernelRowsGo is kernelGo with row i of the A panel read in place at
// a[off[i]:off[i]+kb] (off has mr entries).
func kernelRowsGo(kb int, a []float32, off []int, b, c []float32, ldc int, acc bool) {
	b = b[:kb*nr]
	_ = c[(mr-1)*ldc+nr-1]
	for i0 := 0; i0 < mr; i0 += 2 {
		ra := a[off[i0] : off[i0]+kb]
		rb := a[off[i0+1] : off[i0+1]+kb]
		for j0 := 0; j0 < nr; j0 += 4 {
			var c00, c01, c02, c03, c10, c11, c12, c13 float32
			for p := range ra {
				bp := b[p*nr+j0 : p*nr+j0+4 : p*nr+j0+4]
				a0, a1 := ra[p], rb[p]
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

// kBlocks returns the depth of the blocks that split k into
// ceil(k/kc) nearly equal parts (no short last block).
func kBlocks(k int) int { return kBlocksOf(k, kc) }

// kBlocksOf is kBlocks for blocks of at most kmax.
func kBlocksOf(k, kmax int) int {
	nb := (k + kmax - 1) / kmax
	return (k + nb - 1) / nb
}

// kcShift bounds the depth of the blocks of the shifted-image GEMM.
// (setPath changes it with the path, as kc.)
var kcShift = 192

// filterShift is BackwardFilter on the shifted-image path for images
// [lo, hi): it adds (beta=1) or writes (first image, beta=0) into dwt
// (kk×OutC, row stride ldw) the transposed filter gradient
// Σ_i col_i × dy_iᵀ, with col_i read in place from the padded image and
// dy_i padded to the same grid (zero in the discarded columns).
func (c Conv) filterShift(s *scratch, lo, hi int, x, dy []float32, off []int, dwt []float32, ldw int) {
	inSz, outN, kk := c.InC*c.InH*c.InW, c.OutH()*c.OutW(), c.InC*c.KH*c.KW
	g := c.shiftGeom()
	wp, n, ld := g.wp, g.n, g.ld
	ow := c.OutW()
	xp := grow(&s.g, g.size)
	dyp := grow(&s.col, c.OutC*ld)
	kbMax := kBlocks(ld)
	np := roundUp(c.OutC, nr)
	bp := aligned(&s.pack.b, np*kbMax)
	for i := lo; i < hi; i++ {
		c.padShift(&g, x[i*inSz:(i+1)*inSz], xp)
		dyi := dy[i*c.OutC*outN : (i+1)*c.OutC*outN]
		for o := range c.OutC {
			d := dyp[o*ld : (o+1)*ld]
			src := dyi[o*outN : (o+1)*outN]
			for oy := range c.OutH() {
				r := d[oy*wp : (oy+1)*wp]
				copy(r, src[oy*ow:(oy+1)*ow])
				clear(r[ow:])
			}
			clear(d[n:])
		}
		for pc := 0; pc < ld; pc += kbMax {
			kb := min(kbMax, ld-pc)
			acc := i > lo || pc > 0
			packB(bp, true, dyp, ld, pc, 0, kb, c.OutC)
			xk := xp[pc:]
			rowsTiles(kb, kk, c.OutC, xk, off, bp, dwt, ldw, acc)
		}
	}
}

// rowsTilesNarrow computes the kk×n block of dwt (row stride ldw) of
// filterShift for one depth block: row i of A read in place at
// xk[off[i]:], B the packed panels bp.
func rowsTilesNarrow(kb, kk, n int, xk []float32, off []int, bp, dwt []float32, ldw int, acc bool) {
	var tile [mr * nr]float32
	var edge [mr]int
	for jr := 0; jr < n; jr += nr {
		nn := min(nr, n-jr)
		bpan := bp[jr*kb:]
		for ir := 0; ir < kk; ir += mr {
			mm := min(mr, kk-ir)
			co := ir*ldw + jr
			if mm == mr && nn == nr {
				microKernelRows(kb, xk, off[ir:ir+mr], bpan, dwt[co:], ldw, acc)
				continue
			}
			for t := range edge {
				edge[t] = off[min(ir+t, kk-1)]
			}
			microKernelRows(kb, xk, edge[:], bpan, tile[:], nr, false)
			storeTile(dwt[co:], ldw, tile[:], nr, mm, nn, acc)
		}
	}
}

// BackwardData of the convolutions that are neither same() nor direct()
// (strided or unpadded ones) runs on the padded phase-plane grid of
// shiftGeom, as the adjoint of the shifted-image forward pass: with dy_i
// written onto the grid (rows of wp, zero in the columns ox >= OutW),
// col = Wᵀ × dy_i is one packed GEMM (kk × g.n), and im2col row r at grid
// column q read padded-plane element off[r]+q, so col2im is one
// contiguous vector add per row into the padded planes of the channel
// (no masks, no strided scatter; the grid's extra columns of col are
// exactly zero), followed by one pass that copies the planes' data
// columns back into dx, interleaving the phases.

// chanSpan returns the floats of the padded-plane gradient of one input
// channel: its Stride² planes plus the slack that the last row of col
// reaches past them.
func (g *shiftGeom) chanSpan() int {
	return g.s*g.s*g.plane + g.ld - g.n + g.hz + max(g.axMax, 0)
}

// backwardDataGrid is BackwardData on the grid; wp is Wᵀ (kk × OutC)
// packed by prepackA.
func (c Conv) backwardDataGrid(n int, dy, wp, dx []float32, ws *Workspace) {
	inSz, outN, kk := c.InC*c.InH*c.InW, c.OutH()*c.OutW(), c.InC*c.KH*c.KW
	g := c.shiftGeom()
	off := growInt(&ws.off, kk)
	c.shiftOffsets(&g, off)
	off = off[:c.KH*c.KW] // channel 0's rows: the offsets inside a channel
	gn, cs := g.n, g.chanSpan()
	if n >= Workers() {
		parallelFor(n, func(lo, hi, wk int) {
			s := ws.w[wk]
			dyp := grow(&s.dyg, c.OutC*gn)
			col := grow(&s.col, kk*gn)
			xg := grow(&s.g, cs)
			for i := lo; i < hi; i++ {
				c.gridDy(&g, dy[i*c.OutC*outN:(i+1)*c.OutC*outN], dyp)
				gemm(&s.pack, kk, gn, c.OutC, opA{pre: wp}, opB{b: dyp, ldb: gn}, 0, col, gn, nil)
				c.col2imGrid(&g, off, col, dx[i*inSz:(i+1)*inSz], xg, 0, c.InC)
			}
		})
		return
	}
	dyp := grow(&ws.g, c.OutC*gn)
	col := grow(&ws.col, kk*gn)
	blocks := (gn + nr - 1) / nr
	for i := range n {
		c.gridDy(&g, dy[i*c.OutC*outN:(i+1)*c.OutC*outN], dyp)
		parallelFor(blocks, func(lo, hi, wk int) {
			j0, j1 := lo*nr, min(hi*nr, gn)
			gemm(&ws.w[wk].pack, kk, j1-j0, c.OutC, opA{pre: wp}, opB{b: dyp[j0:], ldb: gn}, 0, col[j0:], gn, nil)
		})
		dxi := dx[i*inSz : (i+1)*inSz]
		parallelFor(c.InC, func(lo, hi, wk int) {
			c.col2imGrid(&g, off, col, dxi, grow(&ws.w[wk].g, cs), lo, hi)
		})
	}
}

// gridDy writes dy_i (OutC*OutH*OutW) onto the grid: row oy of channel
// o at dst[o*g.n+oy*g.wp:], zero in the columns ox >= OutW (dst:
// OutC*g.n).
func (c Conv) gridDy(g *shiftGeom, dy, dst []float32) {
	oh, ow, wp := c.OutH(), c.OutW(), g.wp
	for o := range c.OutC {
		src := dy[o*oh*ow : (o+1)*oh*ow]
		d := dst[o*g.n : (o+1)*g.n]
		for oy := range oh {
			r := d[oy*wp : (oy+1)*wp]
			copy(r, src[oy*ow:(oy+1)*ow])
			clear(r[ow:])
		}
	}
}

// col2imGrid overwrites channels [c0, c1) of dx_i (InC*InH*InW) with the
// adjoint of the grid's im2col applied to col (kk rows of g.n): off holds
// the KH*KW offsets of a channel's rows in its padded planes, xg is
// chanSpan floats of scratch.
func (c Conv) col2imGrid(g *shiftGeom, off []int, col, dx, xg []float32, c0, c1 int) {
	k2, gn, hw := c.KH*c.KW, g.n, c.InH*c.InW
	xg = xg[:g.chanSpan()]
	for ci := c0; ci < c1; ci++ {
		clear(xg)
		for t, o := range off {
			r := ci*k2 + t
			d := xg[o : o+gn]
			addVec(d, col[r*gn:(r+1)*gn], d, false)
		}
		c.unpadShift(g, xg, dx[ci*hw:(ci+1)*hw])
	}
}

// unpadShift is the adjoint of padShift for one channel: it overwrites
// the image d (InH*InW) with the data columns of the channel's padded
// planes xg, interleaving the phases; rows no plane holds are zeroed.
func (c Conv) unpadShift(g *shiftGeom, xg, d []float32) {
	s, w := g.s, c.InW
	for iy := range c.InH {
		row := d[iy*w : (iy+1)*w]
		pr := iy/s - g.ayMin
		if pr >= g.rows {
			clear(row)
			continue
		}
		base := (iy%s)*s*g.plane + pr*g.wp + g.hz
		switch s {
		case 1:
			copy(row, xg[base:base+w])
		case 2:
			interleave2(row, xg[base:base+(w+1)/2], xg[base+g.plane:base+g.plane+w/2])
		default:
			for bx := range min(s, w) {
				p := xg[base+bx*g.plane:]
				for j, ix := 0, bx; ix < w; j, ix = j+1, ix+s {
					row[ix] = p[j]
				}
			}
		}
	}
}

// interleave2Go is the portable interleave2.
func interleave2Go(d, a, b []float32) {
	h := len(d) / 2
	a = a[:(len(d)+1)/2]
	b = b[:h]
	for t := range h {
		d[2*t] = a[t]
		d[2*t+1] = b[t]
	}
	if len(d)%2 == 1 {
		d[2*h] = a[h]
	}
}
