package kern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
)

func TestElementwise(t *testing.T) {
	a := []float32{-2, -0.5, 0, 0.5, 3}
	b := []float32{1, 1, -1, -1, 0.5}
	tests := []struct {
		name string
		f    func(y []float32)
		want []float32
	}{
		{"ReLU", func(y []float32) { ReLU(a, y) }, []float32{0, 0, 0, 0.5, 3}},
		{"ReLUBackward", func(y []float32) { ReLUBackward([]float32{0, 1, 0, 2, 0.1}, b, y) }, []float32{0, 1, 0, -1, 0.5}},
		{"Add", func(y []float32) { Add(a, b, y) }, []float32{-1, 0.5, -1, -0.5, 3.5}},
		{"AddReLU", func(y []float32) { AddReLU(a, b, y) }, []float32{0, 0.5, 0, 0, 3.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := make([]float32, len(tt.want))
			tt.f(y)
			if !slices.Equal(y, tt.want) {
				t.Fatalf("got %v, want %v", y, tt.want)
			}
		})
	}
	// Large, aliased: exercises the parallel split.
	r := rand.New(rand.NewPCG(1, 2))
	x := randSlice(r, 5*grain+3, -1, 1)
	want := make([]float32, len(x))
	for i, v := range x {
		want[i] = max(2*v, 0)
	}
	Add(x, x, x)
	ReLU(x, x)
	if !slices.Equal(x, want) {
		t.Fatal("large in-place Add+ReLU differs")
	}
}

func TestUpsample2x(t *testing.T) {
	for _, sh := range []struct{ n, c, h, w int }{{1, 1, 1, 1}, {2, 3, 3, 5}, {1, 2, 4, 3}} {
		r := rand.New(rand.NewPCG(3, 4))
		x := randSlice(r, sh.n*sh.c*sh.h*sh.w, -1, 1)
		y := make([]float32, 4*len(x))
		Upsample2x(sh.n, sh.c, sh.h, sh.w, x, y)
		want := refUpsample(sh.n, sh.c, sh.h, sh.w, to64(x))
		for i := range y {
			if float64(y[i]) != want[i] {
				t.Fatalf("%v: y[%d] = %g, want %g", sh, i, y[i], want[i])
			}
		}
		dy := randSlice(r, len(y), -1, 1)
		dx := make([]float32, len(x))
		Upsample2xBackward(sh.n, sh.c, sh.h, sh.w, dy, dx)
		dy64 := to64(dy)
		wantDx := numGrad(to64(x), func(v []float64) float64 { return dot64(dy64, refUpsample(sh.n, sh.c, sh.h, sh.w, v)) })
		if e := relErr(dx, wantDx); !(e < 1e-6) {
			t.Fatalf("%v: dx relative error %g", sh, e)
		}
	}
}

func TestWeightedMSE(t *testing.T) {
	// Hand-computed: n=1, k=2, hw=2; wt = [1, 0.5];
	// diffs [1, -1] and [2, 0] → (1 + 1 + (0.5*2)² + 0)/4 = 0.75.
	p := []float32{1, 0, 3, 1}
	tg := []float32{0, 1, 1, 1}
	dp := make([]float32, 4)
	if got := WeightedMSE(1, 2, 2, p, tg, []float32{1, 0.5}, dp); got != 0.75 {
		t.Fatalf("loss %g, want 0.75", got)
	}
	if want := []float32{0.5, -0.5, 0.25, 0}; !slices.Equal(dp, want) {
		t.Fatalf("dp %v, want %v", dp, want)
	}

	n, k, hw := 3, 4, 7
	r := rand.New(rand.NewPCG(5, 6))
	pr, tr := randSlice(r, n*k*hw, 0, 1), randSlice(r, n*k*hw, 0, 1)
	wt := randSlice(r, n*k, 0, 2)
	wt[1] = 0
	dp = make([]float32, len(pr))
	loss := WeightedMSE(n, k, hw, pr, tr, wt, dp)
	t64, w64 := to64(tr), to64(wt)
	if want := refMSE(n, k, hw, to64(pr), t64, w64); math.Abs(loss-want) > 1e-12 {
		t.Fatalf("loss %g, want %g", loss, want)
	}
	want := numGrad(to64(pr), func(v []float64) float64 { return refMSE(n, k, hw, v, t64, w64) })
	if e := relErr(dp, want); !(e < 1e-5) {
		t.Fatalf("dp relative error %g", e)
	}
	if got := WeightedMSE(n, k, hw, pr, tr, wt, nil); got != loss {
		t.Fatalf("nil dp: loss %g, want %g", got, loss)
	}
}

func TestParallelFor(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 17, 1000} {
		hits := make([]int32, n)
		var maxWorker atomic.Int32
		parallelFor(n, func(lo, hi, w int) {
			if int32(w) > maxWorker.Load() {
				maxWorker.Store(int32(w))
			}
			// Nested calls must not deadlock.
			parallelFor(2, func(int, int, int) {})
			for i := lo; i < hi; i++ {
				atomic.AddInt32(&hits[i], 1)
			}
		})
		for i, h := range hits {
			if h != 1 {
				t.Fatalf("n=%d: index %d visited %d times", n, i, h)
			}
		}
		if w := int(maxWorker.Load()); n > 0 && w >= chunks(n) {
			t.Fatalf("n=%d: worker index %d >= chunks %d", n, w, chunks(n))
		}
	}
}

func BenchmarkUpsample(b *testing.B) {
	const n = 32
	for _, s := range []struct {
		name    string
		c, h, w int
	}{{"C256_8x6", 256, 8, 6}, {"C128_16x12", 128, 16, 12}} {
		x := make([]float32, n*s.c*s.h*s.w)
		y := make([]float32, 4*len(x))
		bytes := float64(20 * len(x))
		b.Run("Forward/"+s.name+"/B32", func(b *testing.B) {
			m := startMeter(b)
			for b.Loop() {
				Upsample2x(n, s.c, s.h, s.w, x, y)
			}
			m.reportBytes(b, bytes)
		})
		b.Run("Backward/"+s.name+"/B32", func(b *testing.B) {
			m := startMeter(b)
			for b.Loop() {
				Upsample2xBackward(n, s.c, s.h, s.w, y, x)
			}
			m.reportBytes(b, bytes)
		})
	}
}

func ExampleWeightedMSE() {
	// One image, two keypoints of 2 pixels; the second keypoint has
	// weight 0.5.
	p := []float32{1, 0, 3, 1}
	t := []float32{0, 1, 1, 1}
	dp := make([]float32, len(p))
	loss := WeightedMSE(1, 2, 2, p, t, []float32{1, 0.5}, dp)
	fmt.Println(loss, dp)
	// Output: 0.75 [0.5 -0.5 0.25 0]
}

// TestReLUNaN checks that NaN survives ReLU on every code path (AVX2 body
// and Go tail), as in PyTorch, so divergence is not hidden.
func TestReLUNaN(t *testing.T) {
	for _, n := range []int{1, 8, 13} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(math.NaN())
		}
		for name, f := range map[string]func(y []float32){
			"ReLU":    func(y []float32) { ReLU(x, y) },
			"AddReLU": func(y []float32) { AddReLU(x, x, y) },
			"BatchNormReLUTrain": func(y []float32) {
				BatchNormReLUTrain(1, 1, n, x, []float32{1}, []float32{0}, y, make([]float32, 1), make([]float32, 1), nil, nil, 0.1, 1e-5)
			},
		} {
			y := make([]float32, n)
			f(y)
			for i, v := range y {
				if v == v {
					t.Fatalf("%s n=%d: y[%d] = %g, want NaN", name, n, i, v)
				}
			}
		}
	}
}
