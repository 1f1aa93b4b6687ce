package kern

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMaxPool3s2 compares MaxPool3s2 (fast interior, several planes
// across the workers) with the checked loop on every plane, bit for bit
// and index for index, over sizes with odd and even sides and values
// with ties, NaN, infinities and -0.
func TestMaxPool3s2(t *testing.T) {
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 0, 1}
	for _, tc := range []struct{ n, c, h, w int }{
		{1, 1, 1, 1}, {1, 1, 1, 5}, {1, 1, 2, 2}, {1, 1, 3, 3}, {1, 1, 4, 4}, {2, 3, 5, 4},
		{1, 2, 6, 7}, {3, 5, 9, 8}, {2, 64, 64, 48}, {1, 1, 2, 9}, {1, 1, 9, 2},
	} {
		r := rand.New(rand.NewPCG(uint64(tc.h), uint64(tc.w)))
		x := make([]float32, tc.n*tc.c*tc.h*tc.w)
		for i := range x {
			switch r.IntN(10) {
			case 0:
				x[i] = specials[r.IntN(len(specials))]
			case 1, 2:
				x[i] = float32(r.IntN(3)) // ties
			default:
				x[i] = float32(r.NormFloat64())
			}
		}
		oh, ow := (tc.h-1)/2+1, (tc.w-1)/2+1
		y := make([]float32, tc.n*tc.c*oh*ow)
		arg := make([]int32, len(y))
		MaxPool3s2(tc.n, tc.c, tc.h, tc.w, x, y, arg)
		wy := make([]float32, len(y))
		warg := make([]int32, len(y))
		for p := range tc.n * tc.c {
			maxPoolPlaneGo(tc.h, tc.w, x[p*tc.h*tc.w:(p+1)*tc.h*tc.w], wy[p*oh*ow:(p+1)*oh*ow], warg[p*oh*ow:(p+1)*oh*ow])
		}
		for i := range y {
			if math.Float32bits(y[i]) != math.Float32bits(wy[i]) || arg[i] != warg[i] {
				t.Fatalf("%v: output %d = %v at %d, want %v at %d", tc, i, y[i], arg[i], wy[i], warg[i])
			}
		}
		dy := make([]float32, len(y))
		for i := range dy {
			dy[i] = float32(r.IntN(100))
		}
		dx := make([]float32, len(x))
		for i := range dx {
			dx[i] = 99 // overwritten
		}
		MaxPool3s2Backward(tc.n, tc.c, tc.h, tc.w, dy, arg, dx)
		want := make([]float32, len(x))
		for p := range tc.n * tc.c {
			for i, a := range warg[p*oh*ow : (p+1)*oh*ow] {
				want[p*tc.h*tc.w+int(a)] += dy[p*oh*ow+i]
			}
		}
		if !slices.Equal(dx, want) {
			t.Fatalf("%v: backward differs", tc)
		}
	}
}

func BenchmarkMaxPool3s2(b *testing.B) {
	const n, c, h, w = 8, 64, 128, 96 // ResNet-50's stem pool at 256x192
	x := make([]float32, n*c*h*w)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] = r.Float32()
	}
	y := make([]float32, n*c*64*48)
	arg := make([]int32, len(y))
	for b.Loop() {
		MaxPool3s2(n, c, h, w, x, y, arg)
	}
}
