package kern

// Winograd F(2×2, 3×3) convolutions for the 3×3, stride-1, pad-1
// layers with even input sizes (in posenet-s, 69 % of the multiply-adds:
// all of its 3×3 stride-1 layers but the 8×6 ones, see winoMinW):
// Forward and BackwardData (the forward pass of the adjoint).
// BackwardFilter stays on the shifted-image path: in the transformed
// domain (dU[p] = Σ V[p] dM[p]ᵀ, dw = Gᵀ dU G) it measured 0.92-1.07×
// the time of that path on the posenet-s layers, no gain.
// A 2×2 output tile is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, d the 4×4 input patch
// (rows 2ty-1 .. 2ty+2, columns 2tx-1 .. 2tx+2, zero outside the image)
// and g the 3×3 filter. Summed over input channels, each of the 16
// transformed positions p = 4*row+col is one GEMM,
// M[p] (OutC×T) = U[p] (OutC×InC) × V[p] (InC×T), with 16 multiply-adds
// per tile, channel pair and position where the direct convolution needs
// 36 (2.25× fewer).
//
// The 4×4 patches are those of a stride-2, pad-1, 4×4 convolution, so
// the image goes into that convolution's padded phase planes (shift.go)
// and the patch of tile q (q = ty*wp + tx on a grid of wp ≥ TW columns,
// the extra columns computed and dropped) is read at fixed offsets from
// q: the transforms work on eight tiles per AVX2 register. V[p] rows are
// read by the shifted-image GEMM through row offsets, the weights are
// packed once per call, and the output tiles go through four phase
// planes back to NCHW with the bias or batch norm and ReLU applied.
//
// Reference: Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", arXiv:1509.09308 (the F(2×2, 3×3) matrices).

// useWinograd turns the Winograd path on for the convolutions it suits;
// tests turn it off to compare with the other paths.
var useWinograd = true

// winoMinW is the narrowest input the Winograd path takes: on 8×6
// planes a quarter of the tile grid is padding, and the posenet-s 8×6
// layers measured 0.9-1.1× the time of the shifted-image path.
var winoMinW = 8

// winoCols is the target number of GEMM columns: images with few tiles
// are transformed in groups.
var winoCols = 256

// winograd reports whether Forward and BackwardData of n images take the
// Winograd path: a 3×3, stride-1, pad-1 convolution of even height and
// width (at least winoMinW wide), at least 8 channels in and out, at
// least Workers() images and the AVX2 transforms (the portable ones are
// slower than the other paths).
func (c Conv) winograd(n int) bool {
	return useWinograd && useAVX2 && c.KH == 3 && c.KW == 3 && c.Stride == 1 && c.Pad == 1 &&
		c.InH%2 == 0 && c.InW%2 == 0 && c.InW >= winoMinW && c.InC >= 8 && c.OutC >= 8 && n >= Workers()
}

// winoGeom is the Winograd layout of one image of c.
type winoGeom struct {
	patch Conv      // the 4×4, stride-2, pad-1 convolution whose patches are the tiles
	g     shiftGeom // its padded phase planes
	base  [2][2]int // offset of patch pixel (i, j) for i, j < 2 in channel 0's planes
	cstep int       // offset between channels' planes
	th    int       // tile rows
	tw    int       // tiles per row
	step  int       // GEMM columns per image: the grid's th*wp, rounded up to 8
	imgs  int       // images per GEMM
	cols  int       // imgs*step rounded up to nr: the GEMM columns of a group
	off   [16][]int // row offsets of V[p] for the GEMM
}

func (c Conv) winoGeom(ws *Workspace) *winoGeom {
	w := &ws.wg
	w.patch = Conv{InC: c.InC, OutC: c.OutC, KH: 4, KW: 4, Stride: 2, Pad: 1, InH: c.InH, InW: c.InW}
	w.g = w.patch.shiftGeom()
	off := growInt(&ws.off, 16*c.InC)
	w.patch.shiftOffsets(&w.g, off)
	for i := range 2 {
		for j := range 2 {
			w.base[i][j] = off[i*4+j]
			// The rows i+2 and columns j+2 of a patch are one plane row
			// and one column further (shiftGeom's layout).
			if off[(i+2)*4+j] != off[i*4+j]+w.g.wp || off[i*4+j+2] != off[i*4+j]+1 {
				panic("kern: Winograd: unexpected phase-plane layout")
			}
		}
	}
	w.cstep = off[16] - off[0] // InC >= 8 (winograd)
	w.th, w.tw, w.step = w.patch.OutH(), w.patch.OutW(), roundUp(w.g.n, 8)
	if w.step > w.g.ld {
		panic("kern: Winograd: grid wider than its padded planes")
	}
	w.imgs = max(1, winoCols/w.step)
	w.cols = roundUp(w.imgs*w.step, nr)
	for p := range w.off {
		o := growInt(&w.off[p], c.InC)
		for ci := range o {
			o[ci] = (p*c.InC + ci) * w.cols
		}
	}
	return w
}

// winoPhases writes image x into the padded phase planes xp of the patch
// convolution (padShift's layout for stride 2, pad 1, even sizes) and
// leaves the rest of xp as it is (zero).
func (c Conv) winoPhases(g *shiftGeom, x, xp []float32) {
	hw, half := c.InH*c.InW, c.InW/2
	for ci := range c.InC {
		for by := range 2 {
			// Rows iy = 2j+by go to plane row j-ayMin of phases (by, 0) and (by, 1).
			o := ((ci*2+by)*2)*g.plane - g.ayMin*g.wp + g.hz
			deal2(x[ci*hw+by*c.InW:], 2*c.InW, xp[o:], xp[o+g.plane:], g.wp, half, c.InH/2)
		}
	}
}

// deal2Go splits rows of pairs: for r < rows and t < n,
// ev[r*ds+t] = src[r*ss+2t] and od[r*ds+t] = src[r*ss+2t+1].
func deal2Go(src []float32, ss int, ev, od []float32, ds, n, rows int) {
	for r := range rows {
		s := src[r*ss:][:2*n]
		e, o := ev[r*ds:][:n], od[r*ds:][:n]
		for t := range e {
			e[t], o[t] = s[2*t], s[2*t+1]
		}
	}
}

// winoWeightsGo is the weight transform of n filters: the 3×3 taps of
// filter q, row-major at w[9q:9q+9], go through U = G g Gᵀ (G's rows
// g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2, on the columns of g, then on the
// rows of G g) and U[p] goes to u[p*ps + q] for the 16 positions
// p = 4*row+col (ps ≥ n: the planes do not overlap).
func winoWeightsGo(w []float32, n int, u []float32, ps int) {
	for q := range n {
		g := w[9*q:][:9]
		var r [4][3]float32 // G g
		for j := range 3 {
			g0, g1, g2 := g[j], g[3+j], g[6+j]
			r[0][j] = g0
			r[1][j] = (g0 + g1 + g2) * 0.5
			r[2][j] = (g0 - g1 + g2) * 0.5
			r[3][j] = g2
		}
		for i := range 4 {
			a, b, d := r[i][0], r[i][1], r[i][2]
			u[(4*i)*ps+q] = a
			u[(4*i+1)*ps+q] = (a + b + d) * 0.5
			u[(4*i+2)*ps+q] = (a - b + d) * 0.5
			u[(4*i+3)*ps+q] = d
		}
	}
}

// winoInGo is the input transform of blocks of eight tiles: patch pixel
// (i, j) of tile q is at x[p[i%2][j%2] + (i/2)*wp + j/2 + q]; the 16
// values (Bᵀ d B)[p] go to dst[p*ps + q] for q < 8*blocks.
func winoInGo(x []float32, p00, p01, p10, p11, wp, blocks int, dst []float32, ps int) {
	pt := [2][2]int{{p00, p01}, {p10, p11}}
	for q := range 8 * blocks {
		var d [4][4]float32
		for i := range 4 {
			for j := range 4 {
				d[i][j] = x[pt[i%2][j%2]+(i/2)*wp+j/2+q]
			}
		}
		var r [4][4]float32 // Bᵀ d: rows d0-d2, d1+d2, d2-d1, d1-d3
		for j := range 4 {
			r[0][j] = d[0][j] - d[2][j]
			r[1][j] = d[1][j] + d[2][j]
			r[2][j] = d[2][j] - d[1][j]
			r[3][j] = d[1][j] - d[3][j]
		}
		for i := range 4 { // (·) B on each row
			dst[(4*i)*ps+q] = r[i][0] - r[i][2]
			dst[(4*i+1)*ps+q] = r[i][1] + r[i][2]
			dst[(4*i+2)*ps+q] = r[i][2] - r[i][1]
			dst[(4*i+3)*ps+q] = r[i][1] - r[i][3]
		}
	}
}

// winoOutGo is the output transform of blocks of eight tiles: position p
// of tile q at m[p*ps + q]; output pixel (a, b) of the tile goes to
// dst[(2a+b)*ds + q].
func winoOutGo(m []float32, ps, blocks int, dst []float32, ds int) {
	for q := range 8 * blocks {
		var s [4][2]float32 // Aᵀ X on the columns: x0+x1+x2, x1-x2-x3
		for i := range 4 {
			x0, x1, x2, x3 := m[(4*i)*ps+q], m[(4*i+1)*ps+q], m[(4*i+2)*ps+q], m[(4*i+3)*ps+q]
			s[i][0] = x0 + x1 + x2
			s[i][1] = x1 - x2 - x3
		}
		for b := range 2 {
			dst[b*ds+q] = s[0][b] + s[1][b] + s[2][b]
			dst[(2+b)*ds+q] = s[1][b] - s[2][b] - s[3][b]
		}
	}
}

// forwardWino is Forward on the Winograd path for images [lo, hi): up
// holds the 16 weight matrices packed by prepackAk (blocks of
// roundUp(OutC, mr)*InC floats).
func (c Conv) forwardWino(s *scratch, wg *winoGeom, lo, hi int, x, up []float32, ep *epilogue, y []float32) {
	inSz, outSz := c.InC*c.InH*c.InW, c.OutC*c.InH*c.InW
	g := &wg.g
	xp := grow(&s.g, g.size)
	v := grow(&s.col, 16*c.InC*wg.cols)
	m := grow(&s.dyg, 16*c.OutC*wg.cols)
	ph := grow(&s.wino, 4*wg.cols)
	usz := roundUp(c.OutC, mr) * c.InC
	blocks := wg.step / 8
	clear(xp) // winoPhases writes the same data positions for every image
	for i0 := lo; i0 < hi; i0 += wg.imgs {
		gi := min(wg.imgs, hi-i0)
		for k := range gi {
			c.winoPhases(g, x[(i0+k)*inSz:][:inSz], xp)
			for ci := range c.InC {
				o := ci * wg.cstep
				winoIn(xp, o+wg.base[0][0], o+wg.base[0][1], o+wg.base[1][0], o+wg.base[1][1], g.wp, blocks,
					v[ci*wg.cols+k*wg.step:], c.InC*wg.cols)
			}
		}
		cols := roundUp(gi*wg.step, nr)
		for p := range 16 {
			gemmShift(c.OutC, cols, c.InC, up[p*usz:(p+1)*usz], v, wg.off[p], m[p*c.OutC*cols:])
		}
		for o := range c.OutC {
			winoOut(m[o*cols:], c.OutC*cols, cols/8, ph, cols)
			var add, mean, scale, shift float32
			if ep.bias != nil {
				add = ep.bias[o]
			}
			bn := ep.sc != nil
			if bn {
				mean, scale, shift = ep.m[o], ep.sc[o], ep.sh[o]
			}
			for k := range gi {
				yo := y[(i0+k)*outSz+o*c.InH*c.InW:][:c.InH*c.InW]
				winoStore(ph[k*wg.step:], cols, g.wp, wg.th, wg.tw, yo, add, mean, scale, shift, bn, ep.relu)
			}
		}
	}
}

// winoStoreGo writes the output tiles of one channel of one image into
// y (2th rows of 2tw floats, row-major) through the epilogue: output
// pixel (2ty+a, 2tx+b) is f(ph[(2a+b)*ps + ty*wp + tx]), the phase planes
// of winoOut, with f(v) = v+add, then (v-mean)*scale+shift if bn, then
// relu32(v) if relu (NaN stays NaN, -0 stays -0, as in the affine
// epilogue of the other convolution paths), each step rounded to
// float32: the conversion keeps the compiler from fusing the multiply
// and add (GOAMD64=v3), so that the SIMD versions, which round both,
// give the same bits.
func winoStoreGo(ph []float32, ps, wp, th, tw int, y []float32, add, mean, scale, shift float32, bn, relu bool) {
	for ty := range th {
		for a := range 2 {
			row := y[(2*ty+a)*2*tw:][:2*tw]
			e := ph[(2*a)*ps+ty*wp:][:tw]
			od := ph[(2*a+1)*ps+ty*wp:][:tw]
			for tx := range tw {
				v0, v1 := e[tx]+add, od[tx]+add
				if bn {
					v0 = float32((v0-mean)*scale) + shift
					v1 = float32((v1-mean)*scale) + shift
				}
				if relu {
					v0, v1 = relu32(v0), relu32(v1)
				}
				row[2*tx], row[2*tx+1] = v0, v1
			}
		}
	}
}

// runWinoForward runs the Winograd forward pass of n images on the
// workers: weights transformed (by output channel) and packed (by
// position), then the images.
func (c Conv) runWinoForward(n int, x, w, y []float32, ws *Workspace, ep epilogue) {
	c.winoGeom(ws)
	u := grow(&ws.wino, 16*c.OutC*c.InC)
	up := grow(&ws.wpack, 16*roundUp(c.OutC, mr)*c.InC)
	j := &ws.job
	*j = convJob{kind: jobWinoWeights, c: c, ws: ws, x: w, wp: u, y: up}
	parallelRun(c.OutC, j)
	j.kind = jobWinoPack
	parallelRun(16, j)
	*j = convJob{kind: jobWinoForward, c: c, ws: ws, x: x, wp: up, y: y, ep: ep}
	parallelRun(n, j)
	*j = convJob{}
}

// winoPack packs the transformed weight matrices of positions [lo, hi)
// (j.wp) into j.y for gemmShift.
func (j *convJob) winoPack(lo, hi int) {
	c := j.c
	plane := c.OutC * c.InC
	usz := roundUp(c.OutC, mr) * c.InC
	kcb := kBlocksOf(c.InC, kcShift)
	for p := lo; p < hi; p++ {
		prepackAk(j.y[p*usz:(p+1)*usz], false, 1, j.wp[p*plane:(p+1)*plane], c.InC, c.OutC, c.InC, kcb)
	}
}
