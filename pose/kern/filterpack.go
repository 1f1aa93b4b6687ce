package kern

// filterDepth bounds the GEMM depth (pixels of a group of images) of
// filterCols: the 64-column zmm B micro-panels of dyᵀ (64 × depth floats)
// must stay in L1 while the im2col rows stream past them.
var filterDepth = 144

// filterBlock is the floats of the block of dwᵀ (rows × OutC) that
// filterCols keeps in L2 while it runs through all of a worker's images.
var filterBlock = 64 << 10

// filterPanels bounds the floats of packed dyᵀ that filterCols holds at
// once (one pass over the dwᵀ blocks per that many images).
var filterPanels = 1 << 18

// filterColsOK reports whether BackwardFilter takes filterCols: a
// convolution with a kernel larger than 1×1 (or strided or padded) that
// the shifted-image path does not take, with at least as many images as
// workers.
func (c Conv) filterColsOK(n int) bool {
	return !c.direct() && !c.shiftable() && n >= Workers()
}

// filterCols is BackwardFilter on the packing path for images [lo, hi):
// it writes into dwt (kk×OutC, row stride ldw) the transposed filter
// gradient Σ_i col_i × dy_iᵀ. The images are taken in groups whose
// pixels (filterDepth at most) make one GEMM depth block; dyᵀ of every
// group is packed once (B, OutC columns), and for each block of im2col
// rows (whole channels, the dwᵀ block in L2) the rows of every group are
// unrolled side by side (row stride the group's depth; shifted copies of
// the image for same() convolutions, else of its phase planes) and read
// in place as the A rows by rowsTiles, so nothing is transposed but dy.
// A worker with many images makes one such pass per filterPanels floats
// of packed dyᵀ.
func (c Conv) filterCols(s *scratch, lo, hi int, x, dy, dwt []float32, ldw int) {
	outN := c.OutH() * c.OutW()
	grp := max(1, min(hi-lo, filterDepth/outN))
	chunk := max(grp, filterPanels/(roundUp(c.OutC, nr)*outN)/grp*grp)
	for a := lo; a < hi; a += chunk {
		c.filterColsPass(s, a, min(hi, a+chunk), grp, x, dy, dwt, ldw, a > lo)
	}
}

// filterColsPass is filterCols for images [lo, hi) in groups of grp,
// adding to dwt if acc is set.
func (c Conv) filterColsPass(s *scratch, lo, hi, grp int, x, dy, dwt []float32, ldw int, acc bool) {
	inSz, outN, k2 := c.InC*c.InH*c.InW, c.OutH()*c.OutW(), c.KH*c.KW
	np := roundUp(c.OutC, nr)
	// B: the packed dyᵀ of each group, one after the other (group g at
	// g*np*grp*outN, depth g's images times outN).
	bp := aligned(&s.pack.b, np*(hi-lo)*outN)
	dyg := grow(&s.dyg, c.OutC*grp*outN)
	for i0 := lo; i0 < hi; i0 += grp {
		g := min(grp, hi-i0)
		k := g * outN
		for t := range g {
			dyi := dy[(i0+t)*c.OutC*outN : (i0+t+1)*c.OutC*outN]
			for o := range c.OutC {
				copy(dyg[o*k+t*outN:o*k+(t+1)*outN], dyi[o*outN:(o+1)*outN])
			}
		}
		packB(bp[(i0-lo)/grp*np*grp*outN:], true, dyg, k, 0, 0, k, c.OutC)
	}
	cb := max(1, min(c.InC, filterBlock/(c.OutC*k2)))
	col := grow(&s.col, cb*k2*grp*outN)
	off := growInt(&s.off, cb*k2)
	for c0 := 0; c0 < c.InC; c0 += cb {
		c1 := min(c.InC, c0+cb)
		rows := (c1 - c0) * k2
		for i0 := lo; i0 < hi; i0 += grp {
			g := min(grp, hi-i0)
			k := g * outN
			for t := range g {
				xi := x[(i0+t)*inSz : (i0+t+1)*inSz]
				if c.same() {
					c.im2colSameRows(xi, col[t*outN:], k, c0, c1, &s.dyg) // dyg is free again
					continue
				}
				gs := grow(&s.g, c.phaseSize())
				c.buildPhases(xi, gs, c0, c1)
				c.im2colPhasedTo(gs, col[t*outN:], k, c0, c1)
			}
			for r := range rows {
				off[r] = r * k
			}
			b := bp[(i0-lo)/grp*np*grp*outN:]
			rowsTiles(k, rows, c.OutC, col, off[:rows], b, dwt[c0*k2*ldw:], ldw, acc || i0 > lo)
		}
	}
}
