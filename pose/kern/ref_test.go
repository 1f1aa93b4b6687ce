package kern

import (
	"math"
	"math/rand/v2"
)

// Float64 reference implementations used by the tests.

func randSlice(r *rand.Rand, n int, lo, hi float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return s
}

func to64(s []float32) []float64 {
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = float64(v)
	}
	return d
}

func refGemm(transA, transB bool, m, n, k int, alpha float64, a []float32, lda int, b []float32, ldb int, beta float64, c []float32, ldc int) []float64 {
	out := to64(c)
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			old := out[i*ldc+j]
			if beta == 0 {
				old = 0
			}
			out[i*ldc+j] = alpha*s + beta*old
		}
	}
	return out
}

func refConv(c Conv, n int, x, w, bias []float64) []float64 {
	oh, ow := c.OutH(), c.OutW()
	y := make([]float64, n*c.OutC*oh*ow)
	for i := range n {
		for o := range c.OutC {
			for yy := range oh {
				for xx := range ow {
					var s float64
					if bias != nil {
						s = bias[o]
					}
					for ci := range c.InC {
						for kh := range c.KH {
							for kw := range c.KW {
								ih := yy*c.Stride - c.Pad + kh
								iw := xx*c.Stride - c.Pad + kw
								if ih < 0 || ih >= c.InH || iw < 0 || iw >= c.InW {
									continue
								}
								s += x[((i*c.InC+ci)*c.InH+ih)*c.InW+iw] * w[((o*c.InC+ci)*c.KH+kh)*c.KW+kw]
							}
						}
					}
					y[((i*c.OutC+o)*oh+yy)*ow+xx] = s
				}
			}
		}
	}
	return y
}

// convTaps calls fn for every multiply of a convolution over n images:
// the indices of the output (yi), weight (wi) and input (xi) elements it
// pairs, padding taps left out.
func convTaps(c Conv, n int, fn func(yi, wi, xi int)) {
	oh, ow := c.OutH(), c.OutW()
	for i := range n {
		for o := range c.OutC {
			for oy := range oh {
				for ox := range ow {
					yi := ((i*c.OutC+o)*oh+oy)*ow + ox
					for ci := range c.InC {
						for ky := range c.KH {
							for kx := range c.KW {
								iy, ix := oy*c.Stride-c.Pad+ky, ox*c.Stride-c.Pad+kx
								if iy < 0 || iy >= c.InH || ix < 0 || ix >= c.InW {
									continue
								}
								fn(yi, ((o*c.InC+ci)*c.KH+ky)*c.KW+kx, ((i*c.InC+ci)*c.InH+iy)*c.InW+ix)
							}
						}
					}
				}
			}
		}
	}
}

// refConvData returns BackwardData in float64: dx[xi] = Σ dy[yi] w[wi]
// over the taps that read xi.
func refConvData(c Conv, n int, dy, w []float64) []float64 {
	dx := make([]float64, n*c.InC*c.InH*c.InW)
	convTaps(c, n, func(yi, wi, xi int) { dx[xi] += dy[yi] * w[wi] })
	return dx
}

// refConvFilter returns BackwardFilter's dw in float64: dw[wi] =
// Σ dy[yi] x[xi] over the taps of weight wi.
func refConvFilter(c Conv, n int, x, dy []float64) []float64 {
	dw := make([]float64, c.OutC*c.InC*c.KH*c.KW)
	convTaps(c, n, func(yi, wi, xi int) { dw[wi] += dy[yi] * x[xi] })
	return dw
}

// refBN returns training-mode batch norm in float64 with its statistics
// (mean, biased variance).
func refBN(n, c, hw int, x, gamma, beta []float64, eps float64, relu bool) (y, mean, variance []float64) {
	y = make([]float64, len(x))
	mean = make([]float64, c)
	variance = make([]float64, c)
	cnt := float64(n * hw)
	for ch := range c {
		var s float64
		for i := range n {
			for j := range hw {
				s += x[(i*c+ch)*hw+j]
			}
		}
		mu := s / cnt
		var v float64
		for i := range n {
			for j := range hw {
				d := x[(i*c+ch)*hw+j] - mu
				v += d * d
			}
		}
		v /= cnt
		mean[ch], variance[ch] = mu, v
		for i := range n {
			for j := range hw {
				o := (i*c+ch)*hw + j
				y[o] = gamma[ch]*(x[o]-mu)/math.Sqrt(v+eps) + beta[ch]
				if relu {
					y[o] = max(0, y[o])
				}
			}
		}
	}
	return y, mean, variance
}

func refUpsample(n, c, h, w int, x []float64) []float64 {
	y := make([]float64, 4*len(x))
	for p := range n * c {
		for r := range 2 * h {
			for q := range 2 * w {
				y[(p*2*h+r)*2*w+q] = x[(p*h+r/2)*w+q/2]
			}
		}
	}
	return y
}

func refMSE(n, k, hw int, p, t, wt []float64) float64 {
	var s float64
	for r := range n * k {
		for j := range hw {
			d := wt[r] * (p[r*hw+j] - t[r*hw+j])
			s += d * d
		}
	}
	return s / float64(n*k*hw)
}

// dot64 returns Σ a*b.
func dot64(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// numGrad returns the central finite-difference gradient of f at x.
func numGrad(x []float64, f func([]float64) float64) []float64 {
	g := make([]float64, len(x))
	for i := range x {
		h := 1e-6 * max(1, math.Abs(x[i]))
		old := x[i]
		x[i] = old + h
		fp := f(x)
		x[i] = old - h
		fm := f(x)
		x[i] = old
		g[i] = (fp - fm) / (2 * h)
	}
	return g
}

// relErr returns ‖got-want‖₂ / max(‖want‖₂, tiny).
func relErr(got []float32, want []float64) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	return math.Sqrt(num) / max(math.Sqrt(den), 1e-30)
}

// im2col unrolls input channels [c0, c1) of one image x (InC*InH*InW)
// into their rows of col, a (InC*KH*KW)×(OutH*OutW) row-major matrix;
// padding reads as zero. It is the plain reference for unroll and
// packSame.
func (c Conv) im2col(x, col []float32, c0, c1 int) {
	oh, ow := c.OutH(), c.OutW()
	hw := c.InH * c.InW
	r := c0 * c.KH * c.KW
	for ci := c0; ci < c1; ci++ {
		img := x[ci*hw : (ci+1)*hw]
		for kh := 0; kh < c.KH; kh++ {
			for kw := 0; kw < c.KW; kw++ {
				dst := col[r*oh*ow : (r+1)*oh*ow]
				r++
				lo, hi := c.validOut(kw, ow, c.InW)
				for y := 0; y < oh; y++ {
					d := dst[y*ow : (y+1)*ow]
					ih := y*c.Stride - c.Pad + kh
					if ih < 0 || ih >= c.InH {
						clear(d)
						continue
					}
					src := img[ih*c.InW : (ih+1)*c.InW]
					clear(d[:lo])
					clear(d[hi:])
					if c.Stride == 1 {
						copy(d[lo:hi], src[lo-c.Pad+kw:])
						continue
					}
					iw := lo*c.Stride - c.Pad + kw
					for x := lo; x < hi; x++ {
						d[x] = src[iw]
						iw += c.Stride
					}
				}
			}
		}
	}
}
