package kern

import "fmt"

// grain is the smallest slice length worth splitting across workers for
// memory-bound element-wise loops.
const grain = 1 << 15

// split runs fn over [0, n), across workers when n is large.
func split(n int, fn func(lo, hi, worker int)) {
	if n < 2*grain {
		fn(0, n, 0)
		return
	}
	parallelFor(n, fn)
}

func checkSame(op string, want int, s ...[]float32) {
	for i, v := range s {
		if len(v) != want {
			panic(fmt.Sprintf("kern: %s argument %d has length %d, want %d", op, i, len(v), want))
		}
	}
}

// ReLU sets y = max(x, 0) element-wise (NaN stays NaN, as in PyTorch);
// y may alias x. It panics if the lengths differ.
func ReLU(x, y []float32) {
	checkSame("ReLU", len(x), y)
	split(len(x), func(lo, hi, _ int) { reluVec(x[lo:hi], y[lo:hi]) })
}

func reluGo(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = relu32(v)
	}
}

// ReLUBackward sets dx = dy where y > 0 and 0 elsewhere, with y the
// output of ReLU; dx may alias dy. It panics if the lengths differ.
func ReLUBackward(y, dy, dx []float32) {
	checkSame("ReLUBackward", len(y), dy, dx)
	split(len(y), func(lo, hi, _ int) { reluBackwardVec(y[lo:hi], dy[lo:hi], dx[lo:hi]) })
}

func reluBackwardGo(y, dy, dx []float32) {
	dy = dy[:len(y)]
	dx = dx[:len(y)]
	for i, v := range y {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}

// Add sets y = a + b element-wise (a residual connection); y may alias a
// or b. It panics if the lengths differ.
func Add(a, b, y []float32) {
	checkSame("Add", len(a), b, y)
	split(len(a), func(lo, hi, _ int) { addVec(a[lo:hi], b[lo:hi], y[lo:hi], false) })
}

// AddReLU sets y = max(a + b, 0) element-wise (residual add fused with the
// block's final ReLU); y may alias a or b. Its gradient is ReLUBackward on
// y, passed to both inputs. It panics if the lengths differ.
func AddReLU(a, b, y []float32) {
	checkSame("AddReLU", len(a), b, y)
	split(len(a), func(lo, hi, _ int) { addVec(a[lo:hi], b[lo:hi], y[lo:hi], true) })
}

// addGo sets y = a + b, or max(a + b, 0) if relu.
func addGo(a, b, y []float32, relu bool) {
	b = b[:len(a)]
	y = y[:len(a)]
	if relu {
		for i, v := range a {
			y[i] = relu32(v + b[i])
		}
		return
	}
	for i, v := range a {
		y[i] = v + b[i]
	}
}

// Upsample2x is nearest-neighbour 2× upsampling:
// y[i,ch,2r+a,2q+b] = x[i,ch,r,q] for a, b in {0, 1}.
//
//   - x: n*c*h*w, NCHW.
//   - y: n*c*(2h)*(2w), NCHW.
//
// It panics if a length is wrong.
func Upsample2x(n, c, h, w int, x, y []float32) {
	checkSame("Upsample2x", n*c*h*w, x)
	checkSame("Upsample2x", 4*n*c*h*w, y)
	parallelFor(n*c, func(lo, hi, _ int) {
		for p := lo; p < hi; p++ {
			xp := x[p*h*w : (p+1)*h*w]
			yp := y[4*p*h*w : 4*(p+1)*h*w]
			for r := range h {
				src := xp[r*w : (r+1)*w]
				d0 := yp[2*r*2*w : (2*r+1)*2*w]
				d0 = d0[:2*len(src)]
				for q, v := range src {
					d0[2*q] = v
					d0[2*q+1] = v
				}
				copy(yp[(2*r+1)*2*w:(2*r+2)*2*w], d0)
			}
		}
	})
}

// Upsample2xBackward is the gradient of Upsample2x: dx[i,ch,r,q] is the sum
// of the four dy pixels (2r+a, 2q+b), overwriting dx.
//
//   - dy: n*c*(2h)*(2w), NCHW.
//   - dx: n*c*h*w, NCHW.
//
// It panics if a length is wrong.
func Upsample2xBackward(n, c, h, w int, dy, dx []float32) {
	checkSame("Upsample2xBackward", 4*n*c*h*w, dy)
	checkSame("Upsample2xBackward", n*c*h*w, dx)
	parallelFor(n*c, func(lo, hi, _ int) {
		for p := lo; p < hi; p++ {
			dxp := dx[p*h*w : (p+1)*h*w]
			dyp := dy[4*p*h*w : 4*(p+1)*h*w]
			for r := range h {
				d := dxp[r*w : (r+1)*w]
				s0 := dyp[2*r*2*w : (2*r+1)*2*w]
				s1 := dyp[(2*r+1)*2*w : (2*r+2)*2*w]
				s0 = s0[:2*len(d)]
				s1 = s1[:2*len(d)]
				for q := range d {
					d[q] = (s0[2*q] + s0[2*q+1]) + (s1[2*q] + s1[2*q+1])
				}
			}
		}
	})
}

// WeightedMSE is the pose heatmap loss: with M = n*k*hw it returns
// loss = (1/M) Σ (wt[i,j]*(p-t))² accumulated in float64, and if dp is
// non-nil overwrites it with d loss/d p = 2*wt²*(p-t)/M.
//
//   - p, t, dp: n*k*hw, row-major (i, j, pixel): predicted and target heatmaps.
//   - wt: n*k, per-keypoint weights (0 for invisible keypoints).
//
// It panics if a length is wrong.
func WeightedMSE(n, k, hw int, p, t, wt, dp []float32) float64 {
	checkSame("WeightedMSE", n*k*hw, p, t)
	checkSame("WeightedMSE", n*k, wt)
	if dp != nil {
		checkSame("WeightedMSE", n*k*hw, dp)
	}
	m := n * k * hw
	if m == 0 {
		return 0
	}
	partial := make([]float64, chunks(n*k))
	parallelFor(n*k, func(lo, hi, wk int) {
		var s float64
		for r := lo; r < hi; r++ {
			w := float64(wt[r])
			ps, ts := p[r*hw:(r+1)*hw], t[r*hw:(r+1)*hw]
			ts = ts[:len(ps)]
			var a0, a1 float64
			j := 0
			for ; j+2 <= len(ps); j += 2 {
				d0 := float64(ps[j]) - float64(ts[j])
				d1 := float64(ps[j+1]) - float64(ts[j+1])
				a0 += d0 * d0
				a1 += d1 * d1
			}
			for ; j < len(ps); j++ {
				d := float64(ps[j]) - float64(ts[j])
				a0 += d * d
			}
			s += w * w * (a0 + a1)
			if dp != nil {
				g := float32(2 * w * w / float64(m))
				ds := dp[r*hw : (r+1)*hw]
				ds = ds[:len(ps)]
				for j, v := range ps {
					ds[j] = g * (v - ts[j])
				}
			}
		}
		partial[wk] = s
	})
	var s float64
	for _, v := range partial {
		s += v
	}
	return s / float64(m)
}
