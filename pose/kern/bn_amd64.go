//go:build amd64 && !purego

package kern

// AVX2 versions of the batch-norm loops (bn_amd64.s). Each processes
// n elements, n a positive multiple of 8; the Go wrappers below run the
// tail in Go. Pointers must cover n elements (checked by the wrappers).

//go:noescape
func affineAVX2(x, y *float32, n int, m, sc, sh float32, relu bool)

//go:noescape
func affineAddReLUAVX2(x, r, y *float32, n int, m, sc, sh float32)

//go:noescape
func sumsAVX2(x *float32, n int, shift float64) (s1, s2 float64)

//go:noescape
func gradSumsAVX2(x, y, dy *float32, n int, mu float64) (sg, sgx float64)

//go:noescape
func bnDxAVX2(x, y, dy, dx *float32, n int, a, b, c0, mu float32)

//go:noescape
func reluBackwardAVX2(y, dy, dx *float32, n int)

//go:noescape
func addAVX2(a, b, y *float32, n int, relu bool)

// body returns the length of the AVX2-processed prefix of an n-element
// loop (0 when AVX2 is off).
func body(n int) int {
	if !useAVX2 {
		return 0
	}
	return n &^ 7
}

func affine(x, y []float32, m, sc, sh float32, relu bool) {
	y = y[:len(x)]
	k := body(len(x))
	if k > 0 {
		affineAVX2(&x[0], &y[0], k, m, sc, sh, relu)
	}
	affineGo(x[k:], y[k:], m, sc, sh, relu)
}

func affineAddReLU(x, r, y []float32, m, sc, sh float32) {
	r = r[:len(x)]
	y = y[:len(x)]
	k := body(len(x))
	if k > 0 {
		affineAddReLUAVX2(&x[0], &r[0], &y[0], k, m, sc, sh)
	}
	affineAddReLUGo(x[k:], r[k:], y[k:], m, sc, sh)
}

func shiftedSums(s []float32, shift float64) (float64, float64) {
	k := body(len(s))
	var a, b float64
	if k > 0 {
		a, b = sumsAVX2(&s[0], k, shift)
	}
	ta, tb := shiftedSumsGo(s[k:], shift)
	return a + ta, b + tb
}

func gradSums(x, y, dy []float32, mu float64) (float64, float64) {
	dy = dy[:len(x)]
	k := body(len(x))
	var a, b float64
	if k > 0 {
		var yp *float32
		if y != nil {
			y = y[:len(x)]
			yp = &y[0]
		}
		a, b = gradSumsAVX2(&x[0], yp, &dy[0], k, mu)
	}
	var ty []float32
	if y != nil {
		ty = y[k:]
	}
	ta, tb := gradSumsGo(x[k:], ty, dy[k:], mu)
	return a + ta, b + tb
}

func bnDx(x, y, dy, dx []float32, a, b, c0, mu float32) {
	dy = dy[:len(x)]
	dx = dx[:len(x)]
	k := body(len(x))
	if k > 0 {
		var yp *float32
		if y != nil {
			y = y[:len(x)]
			yp = &y[0]
		}
		bnDxAVX2(&x[0], yp, &dy[0], &dx[0], k, a, b, c0, mu)
	}
	var ty []float32
	if y != nil {
		ty = y[k:]
	}
	bnDxGo(x[k:], ty, dy[k:], dx[k:], a, b, c0, mu)
}

func reluVec(x, y []float32) {
	y = y[:len(x)]
	k := body(len(x))
	if k > 0 {
		affineAVX2(&x[0], &y[0], k, 0, 1, 0, true)
	}
	reluGo(x[k:], y[k:])
}

func reluBackwardVec(y, dy, dx []float32) {
	dy = dy[:len(y)]
	dx = dx[:len(y)]
	k := body(len(y))
	if k > 0 {
		reluBackwardAVX2(&y[0], &dy[0], &dx[0], k)
	}
	reluBackwardGo(y[k:], dy[k:], dx[k:])
}

func addVec(a, b, y []float32, relu bool) {
	b = b[:len(a)]
	y = y[:len(a)]
	k := body(len(a))
	if k > 0 {
		addAVX2(&a[0], &b[0], &y[0], k, relu)
	}
	addGo(a[k:], b[k:], y[k:], relu)
}
