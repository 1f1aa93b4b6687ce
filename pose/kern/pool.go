package kern

import "math"

// MaxPool3s2 is 3x3 max pooling with stride 2 and padding 1 over NCHW
// planes, split across the workers by plane: x is n*c*h*w, y and arg are
// n*c*oh*ow with oh = (h-1)/2+1, ow = (w-1)/2+1. Padding never wins (it
// acts as -Inf). arg receives the flat index, within its plane, of each
// window's maximum: the first maximum in row-major window order wins ties,
// and a NaN met first stays (nothing compares greater than it), as the
// one-plane loop maxPoolPlaneGo, which the interior fast path matches.
// It panics if a length is wrong.
func MaxPool3s2(n, c, h, w int, x, y []float32, arg []int32) {
	oh, ow := (h-1)/2+1, (w-1)/2+1
	checkSame("MaxPool3s2", n*c*h*w, x)
	checkSame("MaxPool3s2", n*c*oh*ow, y)
	if len(arg) != len(y) {
		panic("kern: MaxPool3s2: arg and y differ in length")
	}
	parallelFor(n*c, func(lo, hi, _ int) {
		for p := lo; p < hi; p++ {
			maxPoolPlane(h, w, x[p*h*w:(p+1)*h*w], y[p*oh*ow:(p+1)*oh*ow], arg[p*oh*ow:(p+1)*oh*ow])
		}
	})
}

// MaxPool3s2Backward overwrites dx (n*c*h*w) with dy (n*c*oh*ow) routed
// to the arg-max positions recorded by MaxPool3s2.
func MaxPool3s2Backward(n, c, h, w int, dy []float32, arg []int32, dx []float32) {
	oh, ow := (h-1)/2+1, (w-1)/2+1
	checkSame("MaxPool3s2Backward", n*c*h*w, dx)
	checkSame("MaxPool3s2Backward", n*c*oh*ow, dy)
	if len(arg) != len(dy) {
		panic("kern: MaxPool3s2Backward: arg and dy differ in length")
	}
	parallelFor(n*c, func(lo, hi, _ int) {
		for p := lo; p < hi; p++ {
			dxp := dx[p*h*w : (p+1)*h*w]
			clear(dxp)
			dyp := dy[p*oh*ow : (p+1)*oh*ow]
			for i, a := range arg[p*oh*ow : (p+1)*oh*ow] {
				dxp[a] += dyp[i]
			}
		}
	})
}

// maxPoolPlane pools one plane: rows and columns whose window lies
// inside the image take the fast path, the border ones maxPoolPlaneGo's
// checked loop.
func maxPoolPlane(h, w int, x, y []float32, arg []int32) {
	oh, ow := (h-1)/2+1, (w-1)/2+1
	// Output row oy reads input rows 2oy-1..2oy+1: inside for
	// 1 <= oy < h/2; the same for columns.
	yIn, xIn := h/2, w/2
	for oy := range oh {
		if oy == 0 || oy >= yIn {
			maxPoolRow(h, w, x, oy, 0, ow, y, arg)
			continue
		}
		maxPoolRow(h, w, x, oy, 0, min(1, ow), y, arg)
		i0 := (2*oy - 1) * w
		r0, r1, r2 := x[i0:i0+w], x[i0+w:i0+2*w], x[i0+2*w:i0+3*w]
		yr := y[oy*ow : (oy+1)*ow]
		ar := arg[oy*ow : (oy+1)*ow]
		for ox := 1; ox < xIn; ox++ {
			j := 2*ox - 1
			best, bi := r0[j], i0+j
			if v := r0[j+1]; v > best {
				best, bi = v, i0+j+1
			}
			if v := r0[j+2]; v > best {
				best, bi = v, i0+j+2
			}
			if v := r1[j]; v > best {
				best, bi = v, i0+w+j
			}
			if v := r1[j+1]; v > best {
				best, bi = v, i0+w+j+1
			}
			if v := r1[j+2]; v > best {
				best, bi = v, i0+w+j+2
			}
			if v := r2[j]; v > best {
				best, bi = v, i0+2*w+j
			}
			if v := r2[j+1]; v > best {
				best, bi = v, i0+2*w+j+1
			}
			if v := r2[j+2]; v > best {
				best, bi = v, i0+2*w+j+2
			}
			yr[ox], ar[ox] = best, int32(bi)
		}
		maxPoolRow(h, w, x, oy, max(1, xIn), ow, y, arg)
	}
}

// maxPoolRow pools outputs [ox0, ox1) of row oy with bounds checks.
func maxPoolRow(h, w int, x []float32, oy, ox0, ox1 int, y []float32, arg []int32) {
	ow := (w-1)/2 + 1
	for ox := ox0; ox < ox1; ox++ {
		best := float32(math.Inf(-1))
		bi := int32(-1)
		for ky := range 3 {
			iy := oy*2 - 1 + ky
			if iy < 0 || iy >= h {
				continue
			}
			for kx := range 3 {
				ix := ox*2 - 1 + kx
				if ix < 0 || ix >= w {
					continue
				}
				if v := x[iy*w+ix]; v > best || bi < 0 {
					best, bi = v, int32(iy*w+ix)
				}
			}
		}
		y[oy*ow+ox] = best
		arg[oy*ow+ox] = bi
	}
}

// maxPoolPlaneGo is the reference: every output through maxPoolRow.
func maxPoolPlaneGo(h, w int, x, y []float32, arg []int32) {
	for oy := range (h-1)/2 + 1 {
		maxPoolRow(h, w, x, oy, 0, (w-1)/2+1, y, arg)
	}
}
