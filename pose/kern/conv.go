package kern

import (
	"fmt"
	"math"
)

// Conv describes a 2-D convolution (PyTorch Conv2d with dilation 1 and
// groups 1) on NCHW float32 images of InC×InH×InW with OIHW weights of
// OutC×InC×KH×KW.
type Conv struct{ InC, OutC, KH, KW, Stride, Pad, InH, InW int }

// OutH returns the output height (InH+2*Pad-KH)/Stride + 1.
// count adds the multiply-adds of one pass over n images (as a direct
// convolution: 2*OutC*OutH*OutW*InC*KH*KW FLOP per image, whatever
// algorithm runs) to the FLOP counter.
func (c Conv) count(n int) {
	if c.Stride < 1 {
		return // invalid: the caller's check panics
	}
	flops.Add(int64(2 * n * c.OutC * c.OutH() * c.OutW() * c.InC * c.KH * c.KW))
}

func (c Conv) OutH() int { return (c.InH+2*c.Pad-c.KH)/c.Stride + 1 }

// OutW returns the output width (InW+2*Pad-KW)/Stride + 1.
func (c Conv) OutW() int { return (c.InW+2*c.Pad-c.KW)/c.Stride + 1 }

// WorkspaceSize returns the floats of im2col scratch one image needs:
// InC*KH*KW*OutH*OutW, or 0 for a 1×1 convolution with stride 1 and no
// padding, which multiplies the image directly.
func (c Conv) WorkspaceSize() int {
	if c.direct() {
		return 0
	}
	return c.InC * c.KH * c.KW * c.OutH() * c.OutW()
}

func (c Conv) direct() bool { return c.KH == 1 && c.KW == 1 && c.Stride == 1 && c.Pad == 0 }

func (c Conv) validate(op string) {
	if c.InC <= 0 || c.OutC <= 0 || c.KH <= 0 || c.KW <= 0 || c.Stride <= 0 || c.Pad < 0 || c.InH <= 0 || c.InW <= 0 {
		panic(fmt.Sprintf("kern: Conv.%s invalid %+v", op, c))
	}
	if c.InH+2*c.Pad < c.KH || c.InW+2*c.Pad < c.KW {
		panic(fmt.Sprintf("kern: Conv.%s kernel larger than padded input %+v", op, c))
	}
}

func checkLen(op, name string, s []float32, want int) {
	if len(s) != want {
		panic(fmt.Sprintf("kern: %s len(%s)=%d, want %d", op, name, len(s), want))
	}
}

// Forward computes y = conv(x, w) (+ bias), overwriting y.
//
//   - x: n*InC*InH*InW, NCHW.
//   - w: OutC*InC*KH*KW, OIHW.
//   - bias: OutC, or nil for none.
//   - y: n*OutC*OutH*OutW, NCHW.
//
// The weights are packed once per call; images are split across workers
// (a single image is split by output columns), and each worker unrolls
// its image straight into the packed GEMM operand. It panics if the Conv
// is invalid or a length is wrong.
func (c Conv) Forward(n int, x, w, bias, y []float32, ws *Workspace) {
	c.count(n)
	c.forward(n, x, w, bias, y, ws, nil)
}

// ForwardBNEval computes y = BN(conv(x, w)) with eval-mode batch norm
// (the running statistics), followed by ReLU if relu is set, overwriting
// y: y = (conv - runMean[o]) * gamma[o]/sqrt(runVar[o]+eps) + beta[o].
// It gives the same result as Forward then BatchNormEval (then ReLU) but
// applies the batch norm while the convolution output is still in cache.
//
//   - x: n*InC*InH*InW, NCHW.
//   - w: OutC*InC*KH*KW, OIHW.
//   - gamma, beta, runMean, runVar: OutC.
//   - y: n*OutC*OutH*OutW, NCHW.
//
// It panics if the Conv is invalid or a length is wrong.
func (c Conv) ForwardBNEval(n int, x, w, gamma, beta, runMean, runVar []float32, eps float64, relu bool, y []float32, ws *Workspace) {
	c.count(n)
	for _, p := range [][]float32{gamma, beta, runMean, runVar} {
		checkLen("Conv.ForwardBNEval", "batch-norm parameter", p, c.OutC)
	}
	ws = ws.prepare(Workers())
	sc := grow(&ws.bnScale, c.OutC)
	for o := range sc {
		sc[o] = float32(float64(gamma[o]) / math.Sqrt(float64(runVar[o])+eps))
	}
	ws.ep = epilogue{m: runMean, sc: sc, sh: beta, relu: relu}
	c.forward(n, x, w, nil, y, ws, &ws.ep)
	ws.ep = epilogue{}
}

// forward is Forward with, if ep is non-nil and has a batch-norm
// epilogue, that epilogue instead of the bias.
func (c Conv) forward(n int, x, w, bias, y []float32, ws *Workspace, ep *epilogue) {
	c.validate("Forward")
	inSz, outN, kk := c.InC*c.InH*c.InW, c.OutH()*c.OutW(), c.InC*c.KH*c.KW
	checkLen("Conv.Forward", "x", x, n*inSz)
	checkLen("Conv.Forward", "w", w, c.OutC*kk)
	checkLen("Conv.Forward", "y", y, n*c.OutC*outN)
	if bias != nil {
		checkLen("Conv.Forward", "bias", bias, c.OutC)
	}
	if n == 0 {
		return
	}
	ws = ws.prepare(Workers())
	if c.winograd(n) {
		e := epilogue{bias: bias}
		if ep != nil {
			e = *ep
		}
		c.runWinoForward(n, x, w, y, ws, e)
		return
	}
	if c.shiftable() && n >= Workers() {
		wp := prepackAk(grow(&ws.wpack, roundUp(c.OutC, mr)*kk), false, 1, w, kk, c.OutC, kk, kBlocksOf(kk, kcShift))
		g := c.shiftGeom()
		off := growInt(&ws.off, kk)
		c.shiftOffsets(&g, off)
		j := &ws.job
		*j = convJob{kind: jobForward, c: c, ws: ws, x: x, wp: wp, off: off, y: y, ep: epilogue{bias: bias}}
		if ep != nil {
			j.ep = *ep
		}
		parallelRun(n, j)
		*j = convJob{}
		return
	}
	if ep != nil {
		// The packing paths apply the batch norm after the GEMM, per
		// image while it is in cache.
		defer c.applyEpilogue(n, ep, y)
	}
	wp := prepackA(grow(&ws.wpack, roundUp(c.OutC, mr)*kk), false, 1, w, kk, c.OutC, kk)
	phased := !c.direct() && !c.same()
	var tab []int
	if phased {
		tab = growInt(&ws.off, 3*kk)
		c.phaseTable(tab)
	}
	// image computes columns [j0, j1) of image i; g is its phase-split
	// copy when phased.
	image := func(s *scratch, i, j0, j1 int, g []float32) {
		xi := x[i*inSz : (i+1)*inSz]
		yi := y[i*c.OutC*outN : (i+1)*c.OutC*outN]
		var b opB
		switch {
		case c.direct():
			b = opB{b: xi[j0:], ldb: outN}
		case phased:
			b = opB{pack: func(dst []float32, pc, jc, kb, nb int) { c.packPhased(dst, g, tab, pc, j0+jc, kb, nb) }}
		default:
			b = opB{pack: func(dst []float32, pc, jc, kb, nb int) { c.packSame(dst, xi, &s.dyg, pc, j0+jc, kb, nb) }}
		}
		gemm(&s.pack, c.OutC, j1-j0, kk, opA{pre: wp}, b, 0, yi[j0:], outN, bias)
	}
	if n >= Workers() {
		parallelFor(n, func(lo, hi, wk int) {
			s := ws.w[wk]
			for i := lo; i < hi; i++ {
				var g []float32
				if phased {
					g = grow(&s.col, c.phaseSize())
					c.buildPhases(x[i*inSz:(i+1)*inSz], g, 0, c.InC)
				}
				image(s, i, 0, outN, g)
			}
		})
		return
	}
	blocks := (outN + nr - 1) / nr
	for i := range n {
		var g []float32
		if phased {
			g = grow(&ws.col, c.phaseSize())
			parallelFor(c.InC, func(lo, hi, _ int) { c.buildPhases(x[i*inSz:(i+1)*inSz], g, lo, hi) })
		}
		parallelFor(blocks, func(lo, hi, wk int) {
			image(ws.w[wk], i, lo*nr, min(hi*nr, outN), g)
		})
	}
}

// applyEpilogue applies ep's batch norm (and ReLU) to y in place.
func (c Conv) applyEpilogue(n int, ep *epilogue, y []float32) {
	outN := c.OutH() * c.OutW()
	parallelFor(n, func(lo, hi, _ int) {
		for i := lo; i < hi; i++ {
			for o := range c.OutC {
				p := y[(i*c.OutC+o)*outN : (i*c.OutC+o+1)*outN]
				affine(p, p, ep.m[o], ep.sc[o], ep.sh[o], ep.relu)
			}
		}
	})
}

// BackwardData computes dx = conv^T(dy, w), the gradient of Forward with
// respect to x, overwriting dx.
//
//   - dy: n*OutC*OutH*OutW, NCHW.
//   - w: OutC*InC*KH*KW, OIHW.
//   - dx: n*InC*InH*InW, NCHW.
//
// It computes col = Wᵀ × dy_i with the transposed weights packed once,
// then scatters col back into dx_i (col2im). It panics if the Conv is
// invalid or a length is wrong.
func (c Conv) BackwardData(n int, dy, w, dx []float32, ws *Workspace) {
	c.count(n)
	c.validate("BackwardData")
	inSz, outN, kk := c.InC*c.InH*c.InW, c.OutH()*c.OutW(), c.InC*c.KH*c.KW
	checkLen("Conv.BackwardData", "dy", dy, n*c.OutC*outN)
	checkLen("Conv.BackwardData", "w", w, c.OutC*kk)
	checkLen("Conv.BackwardData", "dx", dx, n*inSz)
	if n == 0 {
		return
	}
	ws = ws.prepare(Workers())
	if c.winograd(n) {
		// dx is the forward pass of the adjoint convolution on dy.
		wt := grow(&ws.wflip, len(w))
		c.flipWeights(w, wt)
		c.adjoint().runWinoForward(n, dy, wt, dx, ws, epilogue{})
		return
	}
	if c.adjointShiftable() && n >= Workers() {
		// dx is the forward pass of the adjoint convolution on dy.
		adj := c.adjoint()
		wt := grow(&ws.wflip, len(w))
		c.flipWeights(w, wt)
		ak := adj.InC * adj.KH * adj.KW
		wp := prepackAk(grow(&ws.wpack, roundUp(adj.OutC, mr)*ak), false, 1, wt, ak, adj.OutC, ak, kBlocksOf(ak, kcShift))
		off := growInt(&ws.off, ak)
		g := adj.shiftGeom()
		adj.shiftOffsets(&g, off)
		j := &ws.job
		*j = convJob{kind: jobForward, c: adj, ws: ws, x: dy, wp: wp, off: off, y: dx}
		parallelRun(n, j)
		*j = convJob{}
		return
	}
	wp := prepackA(grow(&ws.wpack, roundUp(kk, mr)*c.OutC), true, 1, w, kk, kk, c.OutC)
	// cols computes columns [j0, j1) of Wᵀ × dy_i into dst (ld outN).
	cols := func(s *scratch, i, j0, j1 int, dst []float32) {
		dyi := dy[i*c.OutC*outN : (i+1)*c.OutC*outN]
		gemm(&s.pack, kk, j1-j0, c.OutC, opA{pre: wp}, opB{b: dyi[j0:], ldb: outN}, 0, dst[j0:], outN, nil)
	}
	if !c.direct() && !c.same() && c.OutW() >= shiftMinW {
		// On narrower outputs the grid's extra columns cost the GEMM
		// more than the contiguous col2im saves.
		c.backwardDataGrid(n, dy, wp, dx, ws)
		return
	}
	if n >= Workers() {
		parallelFor(n, func(lo, hi, wk int) {
			s := ws.w[wk]
			for i := lo; i < hi; i++ {
				dxi := dx[i*inSz : (i+1)*inSz]
				if c.direct() {
					cols(s, i, 0, outN, dxi)
					continue
				}
				col := grow(&s.col, kk*outN)
				cols(s, i, 0, outN, col)
				c.col2im(col, dxi, 0, c.InC)
			}
		})
		return
	}
	blocks := (outN + nr - 1) / nr
	for i := range n {
		dxi := dx[i*inSz : (i+1)*inSz]
		dst := dxi
		if !c.direct() {
			dst = grow(&ws.col, kk*outN)
		}
		parallelFor(blocks, func(lo, hi, wk int) {
			cols(ws.w[wk], i, lo*nr, min(hi*nr, outN), dst)
		})
		if !c.direct() {
			parallelFor(c.InC, func(lo, hi, _ int) { c.col2im(dst, dxi, lo, hi) })
		}
	}
}

// BackwardFilter computes the weight gradient dw = Σ_n dy_n ⋆ x_n
// (overwriting dw) and, if dbias is non-nil, dbias[o] = Σ over n, h, w of
// dy (overwriting dbias, accumulated in float64).
//
//   - x: n*InC*InH*InW, NCHW.
//   - dy: n*OutC*OutH*OutW, NCHW.
//   - dw: OutC*InC*KH*KW, OIHW.
//   - dbias: OutC, or nil.
//
// Each worker sums its images into its own partial dw (transposed,
// kk×OutC, except for 1×1 unpadded convolutions); the partials are added
// at the end (a single image is split by output channels). It panics if
// the Conv is invalid or a length is wrong.
func (c Conv) BackwardFilter(n int, x, dy, dw, dbias []float32, ws *Workspace) {
	c.count(n)
	c.validate("BackwardFilter")
	inSz, outN, kk := c.InC*c.InH*c.InW, c.OutH()*c.OutW(), c.InC*c.KH*c.KW
	checkLen("Conv.BackwardFilter", "x", x, n*inSz)
	checkLen("Conv.BackwardFilter", "dy", dy, n*c.OutC*outN)
	checkLen("Conv.BackwardFilter", "dw", dw, c.OutC*kk)
	if dbias != nil {
		checkLen("Conv.BackwardFilter", "dbias", dbias, c.OutC)
	}
	ws = ws.prepare(Workers())
	switch {
	case n == 0:
		clear(dw)
	case c.shiftable() && n >= Workers():
		// Each worker sums its images into its own transposed partial
		// (kk×OutC); the partials are transposed and added at the end.
		nw := chunks(n)
		g := c.shiftGeom()
		off := growInt(&ws.off, kk)
		c.shiftOffsets(&g, off)
		j := &ws.job
		*j = convJob{kind: jobFilter, c: c, ws: ws, x: x, y: dy, off: off, dw: dw, nw: nw}
		parallelRun(n, j)
		j.kind = jobFilterSum
		parallelRun((kk+nr-1)/nr, j)
		*j = convJob{}
	case c.filterColsOK(n):
		// As the shifted-image path: transposed per-worker partials,
		// transposed and added at the end.
		j := &ws.job
		*j = convJob{kind: jobFilterCols, c: c, ws: ws, x: x, y: dy, dw: dw, nw: chunks(n)}
		parallelRun(n, j)
		j.kind = jobFilterSum
		parallelRun((kk+nr-1)/nr, j)
		*j = convJob{}
	case n >= Workers():
		// 1×1 unpadded convolutions (filterColsOK takes the others):
		// x_i is its own im2col matrix.
		nw := chunks(n)
		parallelFor(n, func(lo, hi, wk int) {
			s := ws.w[wk]
			part := dw
			if wk > 0 {
				part = grow(&s.dw, len(dw))
			}
			// Small images are taken grp at a time, so that one GEMM
			// of depth grp*outN (one depth block) updates the partial
			// instead of one GEMM of depth outN per image.
			grp := max(1, min(hi-lo, kc/outN))
			cols := grow(&s.col, grp*kk*outN)
			for i0 := lo; i0 < hi; i0 += grp {
				g := min(grp, hi-i0)
				beta := float32(1)
				if i0 == lo {
					beta = 0
				}
				if g == 1 {
					xi := x[i0*inSz : (i0+1)*inSz]
					dyi := dy[i0*c.OutC*outN : (i0+1)*c.OutC*outN]
					gemm(&s.pack, c.OutC, kk, outN, opA{alpha: 1, a: dyi, lda: outN}, opB{trans: true, b: xi, ldb: outN}, beta, part, kk, nil)
					continue
				}
				// A = [dy_i0 dy_i0+1 ...] (OutC × g*outN), B = the
				// images stacked along k.
				k := g * outN
				dyg := grow(&s.dyg, c.OutC*k)
				for t := range g {
					dyi := dy[(i0+t)*c.OutC*outN : (i0+t+1)*c.OutC*outN]
					xi := x[(i0+t)*inSz : (i0+t+1)*inSz]
					for o := range c.OutC {
						copy(dyg[o*k+t*outN:o*k+(t+1)*outN], dyi[o*outN:(o+1)*outN])
					}
					copy(cols[t*kk*outN:(t+1)*kk*outN], xi)
				}
				pack := func(dst []float32, pc, jc, kb, nb int) { packColsT(dst, cols, g, kk, outN, pc, jc, kb, nb) }
				gemm(&s.pack, c.OutC, kk, k, opA{alpha: 1, a: dyg, lda: k}, opB{pack: pack}, beta, part, kk, nil)
			}
		})
		if nw > 1 {
			parallelFor(len(dw), func(lo, hi, _ int) {
				d := dw[lo:hi]
				for wk := 1; wk < nw; wk++ {
					p := ws.w[wk].dw[lo:hi]
					for j := range d {
						d[j] += p[j]
					}
				}
			})
		}
	default:
		rows := (c.OutC + mr - 1) / mr
		for i := range n {
			xi := x[i*inSz : (i+1)*inSz]
			dyi := dy[i*c.OutC*outN : (i+1)*c.OutC*outN]
			col := xi
			if !c.direct() {
				col = grow(&ws.col, kk*outN)
				g := grow(&ws.g, c.phaseSize())
				parallelFor(c.InC, func(lo, hi, _ int) { c.unroll(xi, col, &g, lo, hi) })
			}
			beta := float32(1)
			if i == 0 {
				beta = 0
			}
			parallelFor(rows, func(lo, hi, wk int) {
				o0, o1 := lo*mr, min(hi*mr, c.OutC)
				gemm(&ws.w[wk].pack, o1-o0, kk, outN, opA{alpha: 1, a: dyi[o0*outN:], lda: outN}, opB{trans: true, b: col, ldb: outN}, beta, dw[o0*kk:], kk, nil)
			})
		}
	}
	if dbias != nil {
		parallelFor(c.OutC, func(lo, hi, _ int) {
			for o := lo; o < hi; o++ {
				var s float64
				for i := range n {
					s += sum64(dy[(i*c.OutC+o)*outN : (i*c.OutC+o+1)*outN])
				}
				dbias[o] = float32(s)
			}
		})
	}
}

// gather2 sets d[t] = s[2t]; a separate function keeps the loop free of
// register spills.
//
//go:noinline
func gather2(d, s []float32) {
	s = s[:2*len(d)-1]
	for t := range d {
		d[t] = s[2*t]
	}
}

// same reports whether the convolution has stride 1 and an output as
// wide as its input, so that im2col rows are shifted copies of the image.
func (c Conv) same() bool { return c.Stride == 1 && c.OutW() == c.InW }

// sameRange returns, for kernel offset (kx, ky) of a same() convolution
// and output pixels [q0, q1), the shift such that pixel q reads
// img[q+shift] and the sub-range [qa, qb) of pixels whose source row lies
// inside the image (the wrapped border columns still need maskSame).
// qa >= qb means no pixel reads the image.
func (c Conv) sameRange(kx, ky, q0, q1 int) (shift, qa, qb int) {
	w := c.InW
	shift = (ky-c.Pad)*w + kx - c.Pad
	qa = max(q0, max(0, c.Pad-ky)*w, -shift)
	qb = min(q1, min(c.OutH(), c.InH+c.Pad-ky)*w, c.InH*w-shift)
	qb = max(qa, qb)
	return shift, qa, qb
}

// maskSame zeroes, in a full im2col row d (OutH*OutW) of a same()
// convolution, the columns whose source column ox+kx-Pad falls outside
// the image and wrapped into a neighbouring row.
func (c Conv) maskSame(d []float32, kx int) {
	w := c.InW
	for ox := range w {
		if ix := ox + kx - c.Pad; ix >= 0 && ix < w {
			continue
		}
		for q := ox; q < len(d); q += w {
			d[q] = 0
		}
	}
}

// packShifted packs one B row (offset o in each panel) for columns
// [jc, jc+nb): column q gets src[q+shift] for q in [qa, qb) and 0
// elsewhere, copied in 16-float blocks.
func packShifted(dst, src []float32, o, panelSz, shift, qa, qb, jc, nb int) {
	end := roundUp(nb, nr)
	// Blocks [tLo, tHi) lie wholly inside [qa, qb): one scatter call.
	tLo := roundUp(max(0, qa-jc), nr)
	tHi := max(0, qb-jc) / nr * nr
	if tLo < tHi {
		scatter16(dst, (tLo>>4)*panelSz+o, panelSz, src, jc+tLo+shift, (tHi-tLo)/nr)
	} else {
		tLo, tHi = 0, 0
	}
	for t := 0; t < end; t += nr {
		if t >= tLo && t < tHi {
			continue
		}
		d := (*[nr]float32)(dst[(t>>4)*panelSz+o:])
		q0 := jc + t
		for j := range d {
			if q := q0 + j; q >= qa && q < qb {
				d[j] = src[q+shift]
			} else {
				d[j] = 0
			}
		}
	}
}

// Phase-split images turn any convolution into shifted copies. For input
// channel ci, kernel column kx and row phase ph in [0, Stride), plane
// G[ci][kx][ph] has phaseRows() rows of OutW values:
//
//	G[ci][kx][ph][r][ox] = x[ci][r*Stride+ph][ox*Stride+kx-Pad]
//
// (0 outside the image). Writing ky-Pad = r0*Stride+ph, im2col row
// (ci, ky, kx) at output pixel q = oy*OutW+ox is G[ci][kx][ph][q+r0*OutW]
// whenever 0 <= oy+r0 < phaseRows(), and 0 otherwise.

func (c Conv) phaseRows() int { return (c.InH + c.Stride - 1) / c.Stride }

// phaseSize returns the floats of one image's phase-split copy.
func (c Conv) phaseSize() int { return c.InC * c.KW * c.Stride * c.phaseRows() * c.OutW() }

// buildPhases writes the phase planes of input channels [c0, c1) of image
// x into g (phaseSize floats).
func (c Conv) buildPhases(x, g []float32, c0, c1 int) {
	if c.Stride == 2 && c.KW == 3 && c.Pad == 1 && c.InW%2 == 0 {
		c.buildPhases2(x, g, c0, c1)
		return
	}
	ow, rows, st := c.OutW(), c.phaseRows(), c.Stride
	plane := rows * ow
	hw := c.InH * c.InW
	for ci := c0; ci < c1; ci++ {
		img := x[ci*hw : (ci+1)*hw]
		for kx := range c.KW {
			lo, hi := c.validOut(kx, ow, c.InW)
			for ph := range st {
				gp := g[((ci*c.KW+kx)*st+ph)*plane:][:plane]
				for r := range rows {
					d := gp[r*ow : (r+1)*ow]
					ih := r*st + ph
					if ih >= c.InH || lo >= hi {
						clear(d)
						continue
					}
					clear(d[:lo])
					clear(d[hi:])
					src := img[ih*c.InW : (ih+1)*c.InW]
					iw := lo*st - c.Pad + kx
					switch st {
					case 1:
						copy(d[lo:hi], src[iw:])
					case 2:
						gather2(d[lo:hi], src[iw:iw+2*(hi-lo)-1])
					default:
						for j := lo; j < hi; j++ {
							d[j] = src[iw]
							iw += st
						}
					}
				}
			}
		}
	}
}

// phaseTable fills tab (3*InC*KH*KW ints) with, for each im2col row
// of a phase-split convolution, where it lies in the phase-split image
// g: output pixel q reads g[q+tab[3r]] for q in [tab[3r+1], tab[3r+2])
// and is zero elsewhere (packPhased's table, made once per call).
func (c Conv) phaseTable(tab []int) {
	n := c.OutH() * c.OutW()
	r := 0
	for ci := range c.InC {
		for ky := range c.KH {
			for kx := range c.KW {
				po, shift, qa, qb := c.phaseRowAt(ci, ky, kx, 0, n)
				tab[3*r], tab[3*r+1], tab[3*r+2] = po+shift, qa, qb
				r++
			}
		}
	}
}

// buildPhases2 is buildPhases for stride 2, three kernel columns, pad 1
// and an even width (OutW = InW/2): planes kx = 1 and 2 hold the even
// and odd columns of the rows of phase ph, split by one deal2 call, and
// plane kx = 0 is plane 2 moved one column right.
func (c Conv) buildPhases2(x, g []float32, c0, c1 int) {
	ow, rows := c.OutW(), c.phaseRows()
	plane := rows * ow
	hw := c.InH * c.InW
	for ci := c0; ci < c1; ci++ {
		img := x[ci*hw : (ci+1)*hw]
		for ph := range 2 {
			var p [3][]float32
			for kx := range p {
				p[kx] = g[((ci*3+kx)*2+ph)*plane:][:plane]
			}
			nrow := (c.InH - ph + 1) / 2
			for kx := range p {
				clear(p[kx][nrow*ow:])
			}
			if nrow == 0 {
				continue
			}
			deal2(img[ph*c.InW:], 2*c.InW, p[1], p[2], ow, ow, nrow)
			copy(p[0][1:nrow*ow], p[2][:nrow*ow-1])
			for r := range nrow {
				p[0][r*ow] = 0
			}
		}
	}
}

// packPhased packs rows [pc, pc+kb) and columns [jc, jc+nb) of the
// im2col matrix of a convolution from its phase-split image g straight
// into GEMM B panels (packB's layout: panels of nr columns, each kb rows
// of nr values, zero-padded), without building the im2col matrix; tab
// is the phaseTable.
func (c Conv) packPhased(dst, g []float32, tab []int, pc, jc, kb, nb int) {
	panelSz := nr * kb
	tab = tab[3*pc : 3*(pc+kb)]
	for p := range kb {
		t := tab[3*p : 3*p+3 : 3*p+3]
		qa := max(jc, t[1])
		qb := max(qa, min(jc+nb, t[2]))
		packShifted(dst, g, p*nr, panelSz, t[0], qa, qb, jc, nb)
	}
}

// phaseRow returns, for im2col row (ci, ky, kx) and output pixels
// [q0, q1), the phase plane of g it reads, the shift (pixel q reads
// plane[q+shift]) and the range [qa, qb) of pixels that read the plane
// (the others are zero).
func (c Conv) phaseRow(g []float32, ci, ky, kx, q0, q1 int) (plane []float32, shift, qa, qb int) {
	po, shift, qa, qb := c.phaseRowAt(ci, ky, kx, q0, q1)
	sz := c.phaseRows() * c.OutW()
	return g[po : po+sz], shift, qa, qb
}

// phaseRowAt is phaseRow with the plane given by its offset in g.
func (c Conv) phaseRowAt(ci, ky, kx, q0, q1 int) (po, shift, qa, qb int) {
	ow, rows, st := c.OutW(), c.phaseRows(), c.Stride
	t := ky - c.Pad
	r0 := floorDiv(t, st)
	ph := t - r0*st
	po = ((ci*c.KW+kx)*st + ph) * rows * ow
	qa = max(q0, max(0, -r0)*ow)
	qb = max(qa, min(q1, min(c.OutH(), rows-r0)*ow))
	return po, r0 * ow, qa, qb
}

// im2colPhased is im2col for input channels [c0, c1) from their phase
// planes in g (see buildPhases): one shifted copy per row.
func (c Conv) im2colPhased(g, col []float32, c0, c1 int) {
	c.im2colPhasedTo(g, col[c0*c.KH*c.KW*c.OutH()*c.OutW():], c.OutH()*c.OutW(), c0, c1)
}

// im2colPhasedTo is im2colPhased into col with row stride ld, row
// (ci, ky, kx) at col[((ci-c0)*KH*KW + ky*KW + kx)*ld:].
func (c Conv) im2colPhasedTo(g, col []float32, ld, c0, c1 int) {
	n := c.OutH() * c.OutW()
	r := 0
	for ci := c0; ci < c1; ci++ {
		for ky := range c.KH {
			for kx := range c.KW {
				d := col[r*ld : r*ld+n]
				r++
				gp, shift, qa, qb := c.phaseRow(g, ci, ky, kx, 0, n)
				clear(d[:qa])
				copy(d[qa:qb], gp[qa+shift:qb+shift])
				clear(d[qb:])
			}
		}
	}
}

// unroll is im2col for channels [c0, c1) by shifted copies: of the image
// for a same() convolution, else of its phase planes (in *g, grown as
// needed).
func (c Conv) unroll(x, col []float32, g *[]float32, c0, c1 int) {
	if c.same() {
		c.im2colSame(x, col, c0, c1)
		return
	}
	gs := grow(g, c.phaseSize())
	c.buildPhases(x, gs, c0, c1)
	c.im2colPhased(gs, col, c0, c1)
}

// im2colSame is im2col for a same() convolution.
func (c Conv) im2colSame(x, col []float32, c0, c1 int) {
	n := c.OutH() * c.OutW()
	hw := c.InH * c.InW
	r := c0 * c.KH * c.KW
	for ci := c0; ci < c1; ci++ {
		img := x[ci*hw : (ci+1)*hw]
		for ky := range c.KH {
			for kx := range c.KW {
				d := col[r*n : (r+1)*n]
				r++
				shift, qa, qb := c.sameRange(kx, ky, 0, n)
				clear(d[:qa])
				copy(d[qa:qb], img[qa+shift:qb+shift])
				clear(d[qb:])
				c.maskSame(d, kx)
			}
		}
	}
}

// col2im is the adjoint of im2col: for input channels [c0, c1) it
// overwrites dx (InC*InH*InW) with the sum of the col entries that read
// each pixel.
//
// For a same-size stride-1 convolution it zeroes col's wrapped border
// columns (col is scratch) and adds each row as one shifted slice.
func (c Conv) col2im(col, dx []float32, c0, c1 int) {
	oh, ow := c.OutH(), c.OutW()
	hw := c.InH * c.InW
	clear(dx[c0*hw : c1*hw])
	r := c0 * c.KH * c.KW
	if c.same() {
		for ci := c0; ci < c1; ci++ {
			img := dx[ci*hw : (ci+1)*hw]
			for ky := range c.KH {
				for kx := range c.KW {
					src := col[r*oh*ow : (r+1)*oh*ow]
					r++
					c.maskSame(src, kx)
					shift, qa, qb := c.sameRange(kx, ky, 0, len(src))
					if qa >= qb {
						continue
					}
					d := img[qa+shift : qb+shift]
					addVec(d, src[qa:qb], d, false)
				}
			}
		}
		return
	}
	for ci := c0; ci < c1; ci++ {
		img := dx[ci*hw : (ci+1)*hw]
		for kh := 0; kh < c.KH; kh++ {
			for kw := 0; kw < c.KW; kw++ {
				src := col[r*oh*ow : (r+1)*oh*ow]
				r++
				lo, hi := c.validOut(kw, ow, c.InW)
				for y := 0; y < oh; y++ {
					ih := y*c.Stride - c.Pad + kh
					if ih < 0 || ih >= c.InH {
						continue
					}
					s := src[y*ow : (y+1)*ow]
					d := img[ih*c.InW : (ih+1)*c.InW]
					iw := lo*c.Stride - c.Pad + kw
					if c.Stride == 1 {
						dd := d[iw : iw+hi-lo]
						for j, v := range s[lo:hi] {
							dd[j] += v
						}
						continue
					}
					for x := lo; x < hi; x++ {
						d[iw] += s[x]
						iw += c.Stride
					}
				}
			}
		}
	}
}

// validOut returns the output columns [lo, hi) whose input column
// x*Stride-Pad+k lies inside [0, in).
func (c Conv) validOut(k, out, in int) (lo, hi int) {
	// smallest x with x*s >= pad-k
	lo = 0
	if d := c.Pad - k; d > 0 {
		lo = (d + c.Stride - 1) / c.Stride
	}
	// largest x with x*s - pad + k <= in-1
	hi = 0
	if t := in - 1 + c.Pad - k; t >= 0 {
		hi = t/c.Stride + 1
	}
	hi = min(hi, out)
	lo = min(lo, hi)
	return lo, hi
}

func sum64(s []float32) float64 {
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(s); i += 4 {
		a0 += float64(s[i])
		a1 += float64(s[i+1])
		a2 += float64(s[i+2])
		a3 += float64(s[i+3])
	}
	for ; i < len(s); i++ {
		a0 += float64(s[i])
	}
	return (a0 + a1) + (a2 + a3)
}

// convJob is the loop body of the shifted-image paths, kept in the
// Workspace so that running it on the workers allocates nothing.
type convJob struct {
	kind int
	c    Conv
	ws   *Workspace
	x, y []float32 // forward: input and output; filter: x and dy
	wp   []float32 // packed weights (forward)
	off  []int
	ep   epilogue
	dw   []float32 // filter gradient (OIHW)
	nw   int       // workers holding filter partials
}

const (
	jobForward     = iota // images [lo, hi) through forwardShift
	jobFilter             // images [lo, hi) into worker partials (transposed)
	jobFilterSum          // dw rows' columns [16lo, 16hi) from the partials
	jobFilterCols         // images [lo, hi) into worker partials by filterCols
	jobWinoWeights        // output channels [lo, hi) of the Winograd weights
	jobWinoPack           // positions [lo, hi) of the Winograd weights packed
	jobWinoForward        // images [lo, hi) through forwardWino
)

func (j *convJob) run(lo, hi, wk int) {
	c, ws := j.c, j.ws
	switch j.kind {
	case jobForward:
		c.forwardShift(ws.w[wk], lo, hi, j.x, j.wp, j.off, &j.ep, j.y)
	case jobFilter:
		s := ws.w[wk]
		c.filterShift(s, lo, hi, j.x, j.y, j.off, grow(&s.dw, len(j.dw)), c.OutC)
	case jobFilterCols:
		s := ws.w[wk]
		c.filterCols(s, lo, hi, j.x, j.y, grow(&s.dw, len(j.dw)), c.OutC)
	case jobWinoWeights:
		// U[p][o][ci] = (G w[o][ci] Gᵀ)[p] for o in [lo, hi): the
		// filters q = o*InC+ci of the range are consecutive.
		q0, q1 := lo*c.InC, hi*c.InC
		winoWeights(j.x[9*q0:9*q1], q1-q0, j.wp[q0:], c.OutC*c.InC)
	case jobWinoPack:
		j.winoPack(lo, hi)
	case jobWinoForward:
		c.forwardWino(ws.w[wk], &ws.wg, lo, hi, j.x, j.wp, &j.ep, j.y)
	case jobFilterSum:
		// Blocks of 16 partial rows: packT16 transposes each into
		// 16-float pieces of the dw rows (whole columns of the
		// partials, kk strided reads per dw row, missed the caches).
		kk, oc := c.InC*c.KH*c.KW, c.OutC
		t := grow(&ws.w[wk].col, nr*oc)
		for rb := lo; rb < hi; rb++ {
			r0 := rb * nr
			if r0+nr > kk {
				for o := range oc {
					d := j.dw[o*kk+r0 : (o+1)*kk]
					for r := range d {
						v := ws.w[0].dw[(r0+r)*oc+o]
						for w := 1; w < j.nw; w++ {
							v += ws.w[w].dw[(r0+r)*oc+o]
						}
						d[r] = v
					}
				}
				continue
			}
			for w := range j.nw {
				packT16(t, ws.w[w].dw, r0*oc, oc, oc)
				for o := range oc {
					d := (*[nr]float32)(j.dw[o*kk+r0:])
					src := (*[nr]float32)(t[o*nr:])
					if w == 0 {
						*d = *src
						continue
					}
					for r := range d {
						d[r] += src[r]
					}
				}
			}
		}
	}
}

// packColsT packs rows [pc, pc+kb) and columns [jc, jc+nb) of B = Cᵀ,
// where C (kk × g*outN) is g im2col matrices (each kk × outN, stored one
// after the other in cols) side by side, into GEMM B panels (packB's
// layout). B row p is column p%outN of image p/outN.
func packColsT(dst, cols []float32, g, kk, outN, pc, jc, kb, nb int) {
	for jr := 0; jr < nb; jr += nr {
		nn := min(nr, nb-jr)
		pan := dst[jr*kb : jr*kb+nr*kb]
		r0 := jc + jr // first im2col row (B column) of the panel
		for p := 0; p < kb; {
			t, q := (pc+p)/outN, (pc+p)%outN
			run := min(kb-p, outN-q) // B rows within image t
			col := cols[t*kk*outN : (t+1)*kk*outN]
			d := pan[p*nr:]
			if nn == nr {
				packT16(d, col, r0*outN+q, outN, run)
			} else {
				for j := range nn {
					src := col[(r0+j)*outN+q : (r0+j)*outN+q+run]
					for i, v := range src {
						d[i*nr+j] = v
					}
				}
				for i := range run {
					clear(d[i*nr+nn : i*nr+nr])
				}
			}
			p += run
		}
	}
}
