package kern

import (
	"fmt"
	"math"
)

func checkBN(op string, n, c, hw int, big [][]float32, per [][]float32) {
	if n < 0 || c < 0 || hw < 0 {
		panic(fmt.Sprintf("kern: %s negative shape n=%d c=%d hw=%d", op, n, c, hw))
	}
	for i, s := range big {
		if len(s) != n*c*hw {
			panic(fmt.Sprintf("kern: %s argument %d has length %d, want n*c*hw=%d", op, i, len(s), n*c*hw))
		}
	}
	for i, s := range per {
		if len(s) != c {
			panic(fmt.Sprintf("kern: %s per-channel argument %d has length %d, want c=%d", op, i, len(s), c))
		}
	}
}

// plane returns channel ch of image i of an n*c*hw NCHW tensor.
func plane(s []float32, i, c, ch, hw int) []float32 {
	o := (i*c + ch) * hw
	return s[o : o+hw : o+hw]
}

// BatchNormTrain is training-mode batch normalisation over (N, H, W) for
// each channel: y = gamma*(x-mean)*invStd + beta with the batch mean and
// invStd = 1/sqrt(var+eps), var the biased batch variance. Statistics are
// accumulated in float64 (shifted by the channel's first value).
//
//   - x, y: n*c*hw, NCHW; y may alias x.
//   - gamma, beta: c.
//   - mean, invStd: c, written with the batch statistics (for the backward).
//   - runMean, runVar: c or nil; if non-nil they are updated in place as in
//     PyTorch: run = (1-momentum)*run + momentum*batch, where runVar uses
//     the unbiased batch variance (PyTorch's default momentum is 0.1).
//
// It panics if a length is wrong.
func BatchNormTrain(n, c, hw int, x, gamma, beta, y, mean, invStd, runMean, runVar []float32, momentum, eps float64) {
	bnTrain(n, c, hw, x, nil, gamma, beta, y, mean, invStd, runMean, runVar, momentum, eps, false)
}

// BatchNormReLUTrain is BatchNormTrain followed by ReLU in one pass:
// y = max(0, BN(x)). Use BatchNormReLUBackward for its gradient.
func BatchNormReLUTrain(n, c, hw int, x, gamma, beta, y, mean, invStd, runMean, runVar []float32, momentum, eps float64) {
	bnTrain(n, c, hw, x, nil, gamma, beta, y, mean, invStd, runMean, runVar, momentum, eps, true)
}

// BatchNormAddReLUTrain is the end of a residual block in one pass:
// y = max(0, BN(x) + res), with BN as in BatchNormTrain.
//
//   - x, res, y: n*c*hw, NCHW; y may alias x or res.
//
// Its gradient: BatchNormReLUBackward(n, c, hw, x, y, dy, ...) gives the
// gradient for x (and gamma, beta), and ReLUBackward(y, dy, dres) the
// gradient for res. It panics if a length is wrong.
func BatchNormAddReLUTrain(n, c, hw int, x, res, gamma, beta, y, mean, invStd, runMean, runVar []float32, momentum, eps float64) {
	if len(res) != n*c*hw {
		panic(fmt.Sprintf("kern: BatchNormAddReLUTrain len(res)=%d, want n*c*hw=%d", len(res), n*c*hw))
	}
	bnTrain(n, c, hw, x, res, gamma, beta, y, mean, invStd, runMean, runVar, momentum, eps, true)
}

func bnTrain(n, c, hw int, x, res, gamma, beta, y, mean, invStd, runMean, runVar []float32, momentum, eps float64, relu bool) {
	op := "BatchNormTrain"
	if relu {
		op = "BatchNormReLUTrain"
	}
	checkBN(op, n, c, hw, [][]float32{x, y}, [][]float32{gamma, beta, mean, invStd})
	if runMean != nil || runVar != nil {
		checkBN(op, n, c, hw, nil, [][]float32{runMean, runVar})
	}
	cnt := float64(n * hw)
	if cnt == 0 {
		return
	}
	parallelFor(c, func(lo, hi, _ int) {
		for ch := lo; ch < hi; ch++ {
			shift := float64(x[ch*hw])
			var s1, s2 float64
			for i := range n {
				a, b := shiftedSums(plane(x, i, c, ch, hw), shift)
				s1 += a
				s2 += b
			}
			m := s1 / cnt
			v := max(0, s2/cnt-m*m)
			mu := shift + m
			is := 1 / math.Sqrt(v+eps)
			mean[ch] = float32(mu)
			invStd[ch] = float32(is)
			if runMean != nil {
				unb := v
				if cnt > 1 {
					unb = v * cnt / (cnt - 1)
				}
				runMean[ch] = float32((1-momentum)*float64(runMean[ch]) + momentum*mu)
				runVar[ch] = float32((1-momentum)*float64(runVar[ch]) + momentum*unb)
			}
			sc := float32(float64(gamma[ch]) * is)
			for i := range n {
				if res != nil {
					affineAddReLU(plane(x, i, c, ch, hw), plane(res, i, c, ch, hw), plane(y, i, c, ch, hw), mean[ch], sc, beta[ch])
					continue
				}
				affine(plane(x, i, c, ch, hw), plane(y, i, c, ch, hw), mean[ch], sc, beta[ch], relu)
			}
		}
	})
}

// bnDxGo sets dx = a*g + b*(x-mu) + c0 with g = dy, masked by y > 0
// when y is non-nil; dx may alias dy.
func bnDxGo(x, y, dy, dx []float32, a, b, c0, mu float32) {
	dy = dy[:len(x)]
	dx = dx[:len(x)]
	if y != nil {
		y = y[:len(x)]
		for j, xv := range x {
			g := dy[j]
			if !(y[j] > 0) {
				g = 0
			}
			dx[j] = a*g + b*(xv-mu) + c0
		}
		return
	}
	for j, xv := range x {
		dx[j] = a*dy[j] + b*(xv-mu) + c0
	}
}

// shiftedSumsGo returns Σ(v-shift) and Σ(v-shift)² in float64.
func shiftedSumsGo(s []float32, shift float64) (float64, float64) {
	var a0, a1, b0, b1 float64
	i := 0
	for ; i+2 <= len(s); i += 2 {
		d0 := float64(s[i]) - shift
		d1 := float64(s[i+1]) - shift
		a0 += d0
		a1 += d1
		b0 += d0 * d0
		b1 += d1 * d1
	}
	for ; i < len(s); i++ {
		d := float64(s[i]) - shift
		a0 += d
		b0 += d * d
	}
	return a0 + a1, b0 + b1
}

// affineGo sets y = (x-m)*sc + sh (then max(0, ·) if relu); y may alias x.
//
//go:noinline
func affineGo(x, y []float32, m, sc, sh float32, relu bool) {
	y = y[:len(x)]
	if relu {
		for j, v := range x {
			y[j] = relu32((v-m)*sc + sh)
		}
		return
	}
	for j, v := range x {
		y[j] = (v-m)*sc + sh
	}
}

// affineAddReLUGo sets y = max(0, (x-m)*sc + sh + r); y may alias x or r.
//
//go:noinline
func affineAddReLUGo(x, r, y []float32, m, sc, sh float32) {
	r = r[:len(x)]
	y = y[:len(x)]
	for j, v := range x {
		y[j] = relu32((v-m)*sc + sh + r[j])
	}
}

// relu32 returns max(v, 0), keeping NaN (like torch.relu and the AVX2
// path) so that a diverging run stays visible.
func relu32(v float32) float32 {
	if v < 0 {
		return 0
	}
	return v
}

// BatchNormEval is inference-mode batch normalisation with the running
// statistics: y = gamma*(x-runMean)/sqrt(runVar+eps) + beta.
//
//   - x, y: n*c*hw, NCHW; y may alias x.
//   - gamma, beta, runMean, runVar: c.
//
// It panics if a length is wrong.
func BatchNormEval(n, c, hw int, x, gamma, beta, runMean, runVar, y []float32, eps float64) {
	checkBN("BatchNormEval", n, c, hw, [][]float32{x, y}, [][]float32{gamma, beta, runMean, runVar})
	parallelFor(c, func(lo, hi, _ int) {
		for ch := lo; ch < hi; ch++ {
			sc := float32(float64(gamma[ch]) / math.Sqrt(float64(runVar[ch])+eps))
			for i := range n {
				affine(plane(x, i, c, ch, hw), plane(y, i, c, ch, hw), runMean[ch], sc, beta[ch], false)
			}
		}
	})
}

// BatchNormBackward is the gradient of BatchNormTrain (training-mode
// statistics). With xhat = (x-mean)*invStd and M = n*hw it writes
// dbeta = Σdy, dgamma = Σ dy*xhat (float64 accumulation) and
// dx = gamma*invStd*(dy - dbeta/M - xhat*dgamma/M), all overwritten.
//
//   - x, dy, dx: n*c*hw, NCHW; dx may alias dy.
//   - gamma, mean, invStd, dgamma, dbeta: c (mean and invStd as written by
//     BatchNormTrain).
//
// It panics if a length is wrong.
func BatchNormBackward(n, c, hw int, x, dy, gamma, mean, invStd, dx, dgamma, dbeta []float32) {
	checkBN("BatchNormBackward", n, c, hw, [][]float32{x, dy, dx}, [][]float32{gamma, mean, invStd, dgamma, dbeta})
	bnBackward(n, c, hw, x, nil, dy, gamma, mean, invStd, dx, dgamma, dbeta)
}

// BatchNormReLUBackward is the gradient of BatchNormReLUTrain: it is
// BatchNormBackward applied to dy masked by y > 0.
//
//   - x, y, dy, dx: n*c*hw, NCHW (y is BatchNormReLUTrain's output); dx may
//     alias dy.
//   - gamma, mean, invStd, dgamma, dbeta: c.
//
// It panics if a length is wrong.
func BatchNormReLUBackward(n, c, hw int, x, y, dy, gamma, mean, invStd, dx, dgamma, dbeta []float32) {
	checkBN("BatchNormReLUBackward", n, c, hw, [][]float32{x, y, dy, dx}, [][]float32{gamma, mean, invStd, dgamma, dbeta})
	bnBackward(n, c, hw, x, y, dy, gamma, mean, invStd, dx, dgamma, dbeta)
}

func bnBackward(n, c, hw int, x, y, dy, gamma, mean, invStd, dx, dgamma, dbeta []float32) {
	cnt := float64(n * hw)
	parallelFor(c, func(lo, hi, _ int) {
		for ch := lo; ch < hi; ch++ {
			mu := float64(mean[ch])
			var sg, sgx float64
			for i := range n {
				var ym []float32
				if y != nil {
					ym = plane(y, i, c, ch, hw)
				}
				a, b := gradSums(plane(x, i, c, ch, hw), ym, plane(dy, i, c, ch, hw), mu)
				sg += a
				sgx += b
			}
			is := float64(invStd[ch])
			dbeta[ch] = float32(sg)
			dgamma[ch] = float32(sgx * is)
			if cnt == 0 {
				continue
			}
			// dx = k*(g - sg/M - (x-mu)*is²*sgx/M)
			k := float64(gamma[ch]) * is
			a := float32(k)
			b := float32(-k * is * is * sgx / cnt)
			c0 := float32(-k * sg / cnt)
			muf := mean[ch]
			for i := range n {
				var ys []float32
				if y != nil {
					ys = plane(y, i, c, ch, hw)
				}
				bnDx(plane(x, i, c, ch, hw), ys, plane(dy, i, c, ch, hw), plane(dx, i, c, ch, hw), a, b, c0, muf)
			}
		}
	})
}

// gradSumsGo returns Σg and Σg*(x-mu) in float64, g = dy masked by y > 0
// when y is non-nil.
func gradSumsGo(x, y, dy []float32, mu float64) (float64, float64) {
	var s0, s1, t0, t1 float64
	dy = dy[:len(x)]
	if y != nil {
		y = y[:len(x)]
		for j, xv := range x {
			if y[j] > 0 {
				g := float64(dy[j])
				s0 += g
				t0 += g * (float64(xv) - mu)
			}
		}
		return s0, t0
	}
	j := 0
	for ; j+2 <= len(x); j += 2 {
		g0, g1 := float64(dy[j]), float64(dy[j+1])
		s0 += g0
		s1 += g1
		t0 += g0 * (float64(x[j]) - mu)
		t1 += g1 * (float64(x[j+1]) - mu)
	}
	for ; j < len(x); j++ {
		g := float64(dy[j])
		s0 += g
		t0 += g * (float64(x[j]) - mu)
	}
	return s0 + s1, t0 + t1
}
