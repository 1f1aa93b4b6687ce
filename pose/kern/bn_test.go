package kern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBatchNormTrain(t *testing.T) {
	for _, k := range kernels(t) {
		setPath(k.path)
		t.Run(k.name, func(t *testing.T) { testBatchNormTrain(t) })
	}
}

func testBatchNormTrain(t *testing.T) {
	tests := []struct {
		name     string
		n, c, hw int
		relu     bool
	}{
		{"n1_c1_hw5", 1, 1, 5, false},
		{"n2_c3_hw7", 2, 3, 7, false},
		{"n3_c4_hw12_relu", 3, 4, 12, true},
		{"n1_c2_hw1", 1, 2, 1, false},
	}
	const eps, mom = 1e-5, 0.1
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(11, 12))
			x := randSlice(r, tt.n*tt.c*tt.hw, 1, 3)
			gamma := randSlice(r, tt.c, 0.5, 1.5)
			beta := randSlice(r, tt.c, -1, 1)
			wantY, wantMean, wantVar := refBN(tt.n, tt.c, tt.hw, to64(x), to64(gamma), to64(beta), eps, tt.relu)
			y := make([]float32, len(x))
			mean := make([]float32, tt.c)
			invStd := make([]float32, tt.c)
			runMean := randSlice(r, tt.c, -1, 1)
			runVar := randSlice(r, tt.c, 0.5, 2)
			rm0, rv0 := to64(runMean), to64(runVar)
			if tt.relu {
				BatchNormReLUTrain(tt.n, tt.c, tt.hw, x, gamma, beta, y, mean, invStd, runMean, runVar, mom, eps)
			} else {
				BatchNormTrain(tt.n, tt.c, tt.hw, x, gamma, beta, y, mean, invStd, runMean, runVar, mom, eps)
			}
			if e := relErr(y, wantY); !(e < 1e-6) {
				t.Errorf("y relative error %g", e)
			}
			cnt := float64(tt.n * tt.hw)
			for ch := range tt.c {
				if d := math.Abs(float64(mean[ch]) - wantMean[ch]); d > 1e-6 {
					t.Errorf("mean[%d] = %g, want %g", ch, mean[ch], wantMean[ch])
				}
				is := 1 / math.Sqrt(wantVar[ch]+eps)
				if d := math.Abs(float64(invStd[ch])/is - 1); d > 1e-6 {
					t.Errorf("invStd[%d] = %g, want %g", ch, invStd[ch], is)
				}
				unb := wantVar[ch]
				if cnt > 1 {
					unb *= cnt / (cnt - 1)
				}
				if w := 0.9*rm0[ch] + 0.1*wantMean[ch]; math.Abs(float64(runMean[ch])-w) > 1e-6 {
					t.Errorf("runMean[%d] = %g, want %g", ch, runMean[ch], w)
				}
				if w := 0.9*rv0[ch] + 0.1*unb; math.Abs(float64(runVar[ch])-w) > 1e-6 {
					t.Errorf("runVar[%d] = %g, want %g", ch, runVar[ch], w)
				}
			}
			// nil running statistics are allowed; y may alias x.
			BatchNormTrain(tt.n, tt.c, tt.hw, x, gamma, beta, x, mean, invStd, nil, nil, mom, eps)
			if !tt.relu {
				if e := relErr(x, wantY); !(e < 1e-6) {
					t.Errorf("in place: y relative error %g", e)
				}
			}
		})
	}
}

func TestBatchNormAddReLUTrain(t *testing.T) {
	for _, k := range kernels(t) {
		setPath(k.path)
		t.Run(k.name, func(t *testing.T) { testBatchNormAddReLUTrain(t) })
	}
}

func testBatchNormAddReLUTrain(t *testing.T) {
	n, c, hw := 2, 3, 5
	const eps = 1e-5
	r := rand.New(rand.NewPCG(25, 26))
	x := randSlice(r, n*c*hw, -2, 2)
	res := randSlice(r, len(x), -1, 1)
	gamma, beta := randSlice(r, c, 0.5, 1.5), randSlice(r, c, -0.5, 0.5)
	bn, _, _ := refBN(n, c, hw, to64(x), to64(gamma), to64(beta), eps, false)
	want := make([]float64, len(x))
	for i := range want {
		want[i] = max(0, bn[i]+float64(res[i]))
	}
	y := make([]float32, len(x))
	mean, invStd := make([]float32, c), make([]float32, c)
	BatchNormAddReLUTrain(n, c, hw, x, res, gamma, beta, y, mean, invStd, nil, nil, 0.1, eps)
	if e := relErr(y, want); !(e < 1e-6) {
		t.Fatalf("y relative error %g", e)
	}
	// Gradients via BatchNormReLUBackward and ReLUBackward against finite
	// differences of L = Σ dy·y.
	dy := randSlice(r, len(x), -1, 1)
	dy64 := to64(dy)
	dx, dres := make([]float32, len(x)), make([]float32, len(x))
	dg, db := make([]float32, c), make([]float32, c)
	BatchNormReLUBackward(n, c, hw, x, y, dy, gamma, mean, invStd, dx, dg, db)
	ReLUBackward(y, dy, dres)
	loss := func(x, res []float64) float64 {
		bn, _, _ := refBN(n, c, hw, x, to64(gamma), to64(beta), eps, false)
		var s float64
		for i := range bn {
			s += dy64[i] * max(0, bn[i]+res[i])
		}
		return s
	}
	x64, r64 := to64(x), to64(res)
	if e := relErr(dx, numGrad(x64, func(v []float64) float64 { return loss(v, r64) })); !(e < 1e-4) {
		t.Errorf("dx relative error %g", e)
	}
	if e := relErr(dres, numGrad(r64, func(v []float64) float64 { return loss(x64, v) })); !(e < 1e-5) {
		t.Errorf("dres relative error %g", e)
	}
}

func TestBatchNormEval(t *testing.T) {
	n, c, hw := 2, 3, 4
	r := rand.New(rand.NewPCG(13, 14))
	x := randSlice(r, n*c*hw, -2, 2)
	gamma, beta := randSlice(r, c, 0.5, 1.5), randSlice(r, c, -1, 1)
	rm, rv := randSlice(r, c, -1, 1), randSlice(r, c, 0.1, 2)
	y := make([]float32, len(x))
	BatchNormEval(n, c, hw, x, gamma, beta, rm, rv, y, 1e-5)
	for i := range n {
		for ch := range c {
			for j := range hw {
				o := (i*c+ch)*hw + j
				want := float64(gamma[ch])*(float64(x[o])-float64(rm[ch]))/math.Sqrt(float64(rv[ch])+1e-5) + float64(beta[ch])
				if math.Abs(float64(y[o])-want) > 1e-5 {
					t.Fatalf("y[%d] = %g, want %g", o, y[o], want)
				}
			}
		}
	}
}

// TestBatchNormBackward checks the analytic gradients against central
// finite differences of L = Σ r·BN(x) in float64.
func TestBatchNormBackward(t *testing.T) {
	for _, k := range kernels(t) {
		setPath(k.path)
		t.Run(k.name, func(t *testing.T) { testBatchNormBackward(t) })
	}
}

func testBatchNormBackward(t *testing.T) {
	for _, relu := range []bool{false, true} {
		for _, sh := range []struct{ n, c, hw int }{{1, 2, 6}, {3, 2, 5}, {2, 3, 9}} {
			t.Run(fmt.Sprintf("n%d_c%d_hw%d/relu=%v", sh.n, sh.c, sh.hw, relu), func(t *testing.T) {
				const eps = 1e-5
				r := rand.New(rand.NewPCG(15, 16))
				n, c, hw := sh.n, sh.c, sh.hw
				x := randSlice(r, n*c*hw, -2, 2)
				gamma, beta := randSlice(r, c, 0.5, 1.5), randSlice(r, c, -0.5, 0.5)
				dy := randSlice(r, len(x), -1, 1)
				x64, g64, b64, dy64 := to64(x), to64(gamma), to64(beta), to64(dy)
				y := make([]float32, len(x))
				mean, invStd := make([]float32, c), make([]float32, c)
				dx := make([]float32, len(x))
				dgamma, dbeta := make([]float32, c), make([]float32, c)
				if relu {
					BatchNormReLUTrain(n, c, hw, x, gamma, beta, y, mean, invStd, nil, nil, 0.1, eps)
					BatchNormReLUBackward(n, c, hw, x, y, dy, gamma, mean, invStd, dx, dgamma, dbeta)
				} else {
					BatchNormTrain(n, c, hw, x, gamma, beta, y, mean, invStd, nil, nil, 0.1, eps)
					BatchNormBackward(n, c, hw, x, dy, gamma, mean, invStd, dx, dgamma, dbeta)
				}
				loss := func(x, g, b []float64) float64 {
					y, _, _ := refBN(n, c, hw, x, g, b, eps, relu)
					return dot64(dy64, y)
				}
				wantDx := numGrad(x64, func(v []float64) float64 { return loss(v, g64, b64) })
				wantDg := numGrad(g64, func(v []float64) float64 { return loss(x64, v, b64) })
				wantDb := numGrad(b64, func(v []float64) float64 { return loss(x64, g64, v) })
				if e := relErr(dx, wantDx); !(e < 1e-4) {
					t.Errorf("dx relative error %g", e)
				}
				if e := relErr(dgamma, wantDg); !(e < 1e-5) {
					t.Errorf("dgamma relative error %g", e)
				}
				if e := relErr(dbeta, wantDb); !(e < 1e-5) {
					t.Errorf("dbeta relative error %g", e)
				}
			})
		}
	}
}

// TestBatchNormAccuracy checks the float64 accumulation on large channels
// (8 images of 64×48, offset mean) against an all-float64 computation.
func TestBatchNormAccuracy(t *testing.T) {
	for _, k := range kernels(t) {
		setPath(k.path)
		t.Run(k.name, func(t *testing.T) { testBatchNormAccuracy(t) })
	}
}

func testBatchNormAccuracy(t *testing.T) {
	n, c, hw := 8, 2, 64*48
	r := rand.New(rand.NewPCG(17, 18))
	x := randSlice(r, n*c*hw, 0, 4)
	dy := randSlice(r, len(x), -1, 1)
	gamma, beta := []float32{1.25, 0.75}, []float32{0.1, -0.2}
	y := make([]float32, len(x))
	mean, invStd := make([]float32, c), make([]float32, c)
	BatchNormTrain(n, c, hw, x, gamma, beta, y, mean, invStd, nil, nil, 0.1, 1e-5)
	dx := make([]float32, len(x))
	dgamma, dbeta := make([]float32, c), make([]float32, c)
	BatchNormBackward(n, c, hw, x, dy, gamma, mean, invStd, dx, dgamma, dbeta)

	x64, dy64 := to64(x), to64(dy)
	wantY, mu, v := refBN(n, c, hw, x64, to64(gamma), to64(beta), 1e-5, false)
	wantDg, wantDb := make([]float64, c), make([]float64, c)
	wantDx := make([]float64, len(x))
	cnt := float64(n * hw)
	for ch := range c {
		is := 1 / math.Sqrt(v[ch]+1e-5)
		for i := range n {
			for j := range hw {
				o := (i*c+ch)*hw + j
				wantDb[ch] += dy64[o]
				wantDg[ch] += dy64[o] * (x64[o] - mu[ch]) * is
			}
		}
		for i := range n {
			for j := range hw {
				o := (i*c+ch)*hw + j
				xh := (x64[o] - mu[ch]) * is
				wantDx[o] = float64(gamma[ch]) * is * (dy64[o] - wantDb[ch]/cnt - xh*wantDg[ch]/cnt)
			}
		}
	}
	for _, chk := range []struct {
		name string
		got  []float32
		want []float64
		tol  float64
	}{
		{"y", y, wantY, 1e-6},
		{"dgamma", dgamma, wantDg, 1e-5},
		{"dbeta", dbeta, wantDb, 1e-5},
		{"dx", dx, wantDx, 1e-5},
	} {
		if e := relErr(chk.got, chk.want); !(e < chk.tol) {
			t.Errorf("%s relative error %g, want < %g", chk.name, e, chk.tol)
		}
	}
}

func BenchmarkBatchNorm(b *testing.B) {
	shapes := []struct {
		name    string
		c, h, w int
	}{
		{"C32_64x48", 32, 64, 48},
		{"C64_32x24", 64, 32, 24},
		{"C128_16x12", 128, 16, 12},
		{"C256_8x6", 256, 8, 6},
	}
	const n = 32
	for _, s := range shapes {
		hw := s.h * s.w
		r := rand.New(rand.NewPCG(1, 1))
		x := randSlice(r, n*s.c*hw, -1, 1)
		dy := randSlice(r, len(x), -1, 1)
		y, dx := make([]float32, len(x)), make([]float32, len(x))
		gamma, beta := randSlice(r, s.c, 0.5, 1.5), randSlice(r, s.c, -1, 1)
		mean, invStd, rm, rv := make([]float32, s.c), make([]float32, s.c), make([]float32, s.c), make([]float32, s.c)
		dg, db := make([]float32, s.c), make([]float32, s.c)
		bytes := float64(4 * len(x))
		b.Run("Train/"+s.name+"/B32", func(b *testing.B) {
			m := startMeter(b)
			for b.Loop() {
				BatchNormReLUTrain(n, s.c, hw, x, gamma, beta, y, mean, invStd, rm, rv, 0.1, 1e-5)
			}
			m.reportBytes(b, 3*bytes)
		})
		b.Run("Backward/"+s.name+"/B32", func(b *testing.B) {
			m := startMeter(b)
			for b.Loop() {
				BatchNormReLUBackward(n, s.c, hw, x, y, dy, gamma, mean, invStd, dx, dg, db)
			}
			m.reportBytes(b, 7*bytes)
		})
	}
}

// TestBNPrimitives compares the dispatching batch-norm loops (AVX2 body +
// Go tail when available) with the pure Go loops on every length 0..40
// and unaligned starts.
func TestBNPrimitives(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-5*(1+math.Abs(b)) }
	for n := 0; n <= 40; n++ {
		for _, off := range []int{0, 1, 3} {
			x := randSlice(r, n+off, -2, 2)[off:]
			y := randSlice(r, n+off, -1, 1)[off:]
			dy := randSlice(r, n+off, -1, 1)[off:]
			res := randSlice(r, n+off, -1, 1)[off:]
			for _, relu := range []bool{false, true} {
				got, want := make([]float32, n), make([]float32, n)
				affine(x, got, 0.3, 1.7, -0.2, relu)
				affineGo(x, want, 0.3, 1.7, -0.2, relu)
				for i := range got {
					if !near(float64(got[i]), float64(want[i])) {
						t.Fatalf("affine n=%d relu=%v: [%d] %g vs %g", n, relu, i, got[i], want[i])
					}
				}
			}
			got, want := make([]float32, n), make([]float32, n)
			affineAddReLU(x, res, got, 0.3, 1.7, -0.2)
			affineAddReLUGo(x, res, want, 0.3, 1.7, -0.2)
			for i := range got {
				if !near(float64(got[i]), float64(want[i])) {
					t.Fatalf("affineAddReLU n=%d: [%d] %g vs %g", n, i, got[i], want[i])
				}
			}
			for _, f := range []struct {
				name     string
				vec, ref func(y []float32)
			}{
				{"relu", func(o []float32) { reluVec(x, o) }, func(o []float32) { reluGo(x, o) }},
				{"reluBackward", func(o []float32) { reluBackwardVec(y, dy, o) }, func(o []float32) { reluBackwardGo(y, dy, o) }},
				{"add", func(o []float32) { addVec(x, y, o, false) }, func(o []float32) { addGo(x, y, o, false) }},
				{"addReLU", func(o []float32) { addVec(x, y, o, true) }, func(o []float32) { addGo(x, y, o, true) }},
			} {
				got, want := make([]float32, n), make([]float32, n)
				f.vec(got)
				f.ref(want)
				if !slices.Equal(got, want) {
					t.Fatalf("%s n=%d: %v vs %v", f.name, n, got, want)
				}
			}
			a1, a2 := shiftedSums(x, 0.25)
			b1, b2 := shiftedSumsGo(x, 0.25)
			if !near(a1, b1) || !near(a2, b2) {
				t.Fatalf("shiftedSums n=%d: (%g, %g) vs (%g, %g)", n, a1, a2, b1, b2)
			}
			for _, mask := range [][]float32{nil, y} {
				a1, a2 := gradSums(x, mask, dy, 0.1)
				b1, b2 := gradSumsGo(x, mask, dy, 0.1)
				if !near(a1, b1) || !near(a2, b2) {
					t.Fatalf("gradSums n=%d masked=%v: (%g, %g) vs (%g, %g)", n, mask != nil, a1, a2, b1, b2)
				}
				got, want := make([]float32, n), make([]float32, n)
				bnDx(x, mask, dy, got, 0.7, -0.3, 0.05, 0.1)
				bnDxGo(x, mask, dy, want, 0.7, -0.3, 0.05, 0.1)
				for i := range got {
					if !near(float64(got[i]), float64(want[i])) {
						t.Fatalf("bnDx n=%d masked=%v: [%d] %g vs %g", n, mask != nil, i, got[i], want[i])
					}
				}
			}
		}
	}
}
