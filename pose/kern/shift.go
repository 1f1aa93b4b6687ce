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
					switch s {
					case 1:
						copy(d, src)
					case 2:
						gather2(d, src[bx:bx+2*nc-1])
					default:
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
