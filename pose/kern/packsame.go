package kern

// sameGuard returns, for packSame, the zero floats before each channel
// copy and the length of one copy for columns up to end.
func (c Conv) sameGuard(end int) (before, size int) {
	w := c.InW
	before = c.Pad*w + c.Pad
	after := (c.KH-1-c.Pad)*w + c.KW - 1 - c.Pad
	return before, before + max(c.InH*w, roundUp(end, nr)) + max(after, 0)
}

// packSame packs rows [pc, pc+kb) and columns [jc, jc+nb) (jc a
// multiple of nr) of the im2col matrix of image x of a same()
// convolution straight into GEMM B panels (packB's layout: panels of nr
// columns, each kb rows of nr values), without building the im2col
// matrix. Row (ci, ky, kx) is then the image shifted by
// (ky-Pad)*InW + kx-Pad, read from one of KW copies of channel ci (in
// buf, grown as needed): copy kx has zero guards before and after (the
// rows above and below the image) and zeros in the image columns that
// kernel column kx reads only by wrapping into the neighbouring row, so
// each B row is one block copy (scatter16) with no masks. The panel
// columns past nb are not zeros but values of the image (or zeros);
// the GEMM computes and drops them. (It replaced a per-row packer that
// clipped the rows and zeroed the wrapped columns one by one: 2304 rows
// of 48 columns per image of block_C256_8x6 at about 70 ns each, 23 % of
// that layer's forward time.)
func (c Conv) packSame(dst, x []float32, buf *[]float32, pc, jc, kb, nb int) {
	w, hw, k2 := c.InW, c.InH*c.InW, c.KH*c.KW
	before, size := c.sameGuard(jc + nb)
	v := grow(buf, c.KW*size)
	panelSz := nr * kb
	blocks := (nb + nr - 1) / nr
	for r := pc; r < pc+kb; {
		ci := r / k2
		rEnd := min(pc+kb, (ci+1)*k2)
		c.sameCopies(x[ci*hw:(ci+1)*hw], v, before, size)
		for ; r < rEnd; r++ {
			kx, ky := r%c.KW, r/c.KW%c.KH
			shift := (ky-c.Pad)*w + kx - c.Pad
			scatter16(dst, (r-pc)*nr, panelSz, v[kx*size:(kx+1)*size], before+jc+shift, blocks)
		}
	}
}

// sameCopies writes into v the KW copies of channel image img (InH*InW)
// that packSame and im2colSameRows read the im2col rows from: copy kx at
// v[kx*size:], before zeros, the image with the columns that kernel
// column kx reads only by wrapping into the neighbouring row zeroed,
// then zeros to size.
func (c Conv) sameCopies(img, v []float32, before, size int) {
	w, hw := c.InW, c.InH*c.InW
	for kx := range c.KW {
		p := v[kx*size : (kx+1)*size]
		clear(p[:before])
		copy(p[before:], img)
		clear(p[before+hw:])
		// Columns j outside [lo+kx-Pad, hi+kx-Pad) are read only
		// through a wrap.
		lo, hi := c.validOut(kx, c.OutW(), w)
		j0, j1 := lo+kx-c.Pad, hi+kx-c.Pad
		if j0 >= j1 {
			j0, j1 = 0, 0
		}
		for j := range w {
			if j >= j0 && j < j1 {
				continue
			}
			for q := before + j; q < before+hw; q += w {
				p[q] = 0
			}
		}
	}
}

// im2colSameRows writes the im2col rows of channels [c0, c1) of image x
// of a same() convolution into col with row stride ld, row (ci, ky, kx)
// at col[((ci-c0)*KH*KW + ky*KW + kx)*ld:] (OutH*OutW floats), each one
// block copy from sameCopies' copies of the channel (in buf, grown as
// needed) instead of im2colSame's clipped copy, clears and maskSame.
func (c Conv) im2colSameRows(x, col []float32, ld, c0, c1 int, buf *[]float32) {
	w, hw, n := c.InW, c.InH*c.InW, c.OutH()*c.OutW()
	before, size := c.sameGuard(n)
	v := grow(buf, c.KW*size)
	r := 0
	for ci := c0; ci < c1; ci++ {
		c.sameCopies(x[ci*hw:(ci+1)*hw], v, before, size)
		for ky := range c.KH {
			for kx := range c.KW {
				o := kx*size + before + (ky-c.Pad)*w + kx - c.Pad
				copy(col[r*ld:r*ld+n], v[o:o+n])
				r++
			}
		}
	}
}
