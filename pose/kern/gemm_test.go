package kern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// kernels returns the kernel paths to test: every path this CPU
// supports (Paths: avx512, avx2, generic). Each sub-test calls
// setPath(kern.path); the path in use before is restored at cleanup.
func kernels(t *testing.T) []struct {
	name, path string
	avx        bool
} {
	var ks []struct {
		name, path string
		avx        bool
	}
	for _, p := range Paths() {
		name := p
		if p == "generic" {
			name = "go"
		}
		ks = append(ks, struct {
			name, path string
			avx        bool
		}{name, p, p != "generic"})
	}
	saved := kernPath
	t.Cleanup(func() { setPath(saved) })
	return ks
}

func TestSgemm(t *testing.T) {
	shapes := []struct{ m, n, k int }{
		{1, 1, 1}, {5, 7, 3}, {6, 16, 8}, {13, 35, 17}, {12, 32, 259},
		{150, 50, 300}, {100, 20, 200}, {7, 4100, 5}, {0, 3, 4}, {3, 0, 4}, {3, 4, 0},
	}
	scalars := []struct{ alpha, beta float32 }{{1, 0}, {0.5, 1}, {-1.5, 0.25}, {0, 2}, {2, 0}}
	for _, kern := range kernels(t) {
		setPath(kern.path)
		r := rand.New(rand.NewPCG(1, 2))
		for _, sh := range shapes {
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					for si, sc := range scalars {
						name := fmt.Sprintf("%s/M%d_N%d_K%d/tA=%v_tB=%v/s%d", kern.name, sh.m, sh.n, sh.k, ta, tb, si)
						checkSgemm(t, name, r, ta, tb, sh.m, sh.n, sh.k, sc.alpha, sc.beta)
					}
				}
			}
		}
	}
}

func checkSgemm(t *testing.T, name string, r *rand.Rand, ta, tb bool, m, n, k int, alpha, beta float32) {
	t.Helper()
	ar, ac := m, k
	if ta {
		ar, ac = k, m
	}
	br, bc := k, n
	if tb {
		br, bc = n, k
	}
	lda, ldb, ldc := ac+3, bc+1, n+2
	a := randSlice(r, ar*lda, -1, 1)
	b := randSlice(r, br*ldb, -1, 1)
	c := randSlice(r, m*ldc, -1, 1)
	const sentinel = 777
	for i := range m {
		for j := n; j < ldc; j++ {
			c[i*ldc+j] = sentinel
		}
	}
	want := refGemm(ta, tb, m, n, k, float64(alpha), a, lda, b, ldb, float64(beta), c, ldc)
	if beta == 0 && m > 0 && n > 0 {
		c[0] = float32(math.NaN()) // beta == 0 must ignore old C
	}
	Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	tol := 1e-6*float64(k) + 1e-5
	for i := range m {
		for j := range ldc {
			got := float64(c[i*ldc+j])
			if j >= n {
				if got != sentinel {
					t.Fatalf("%s: padding C[%d,%d] changed to %g", name, i, j, got)
				}
				continue
			}
			if w := want[i*ldc+j]; !(math.Abs(got-w) <= tol) {
				t.Fatalf("%s: C[%d,%d] = %g, want %g", name, i, j, got, w)
			}
		}
	}
}

// TestKernelAVX2MatchesGo compares the two micro-kernels on the same
// packed panels.
func TestKernelAVX2MatchesGo(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2/FMA on this CPU or build")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, kb := range []int{1, 2, 3, 4, 5, 7, 64, 255, 256} {
		for _, acc := range []bool{false, true} {
			a := randSlice(r, kb*mr, -1, 1)
			b := randSlice(r, kb*nr, -1, 1)
			ldc := nr + 5
			c0 := randSlice(r, mr*ldc, -1, 1)
			c1 := append([]float32(nil), c0...)
			kernelGo(kb, a, b, c0, ldc, acc)
			microKernel(kb, a, b, c1, ldc, acc)
			for i := range c0 {
				if j := i % ldc; j >= nr {
					if c0[i] != c1[i] {
						t.Fatalf("kb=%d acc=%v: padding %d changed", kb, acc, i)
					}
					continue
				}
				if d := math.Abs(float64(c0[i] - c1[i])); d > 1e-6*float64(kb)+1e-6 {
					t.Fatalf("kb=%d acc=%v: c[%d] go %g avx2 %g", kb, acc, i, c0[i], c1[i])
				}
			}
		}
	}
}

func TestSgemmPanics(t *testing.T) {
	a := make([]float32, 12)
	tests := []struct {
		name string
		f    func()
	}{
		{"negative m", func() { Sgemm(false, false, -1, 2, 2, 1, a, 2, a, 2, 0, a, 2) }},
		{"lda too small", func() { Sgemm(false, false, 2, 2, 3, 1, a, 2, a, 2, 0, a, 2) }},
		{"ldb too small transB", func() { Sgemm(false, true, 2, 2, 3, 1, a, 3, a, 2, 0, a, 2) }},
		{"a too short", func() { Sgemm(false, false, 5, 2, 3, 1, a, 3, a, 2, 0, a, 2) }},
		{"c too short", func() { Sgemm(false, false, 2, 7, 1, 1, a, 1, a, 7, 0, a, 7) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, ok := r.(string); !ok || !strings.HasPrefix(s, "kern: ") {
					t.Fatalf("recovered %v, want a kern: panic", r)
				}
			}()
			tt.f()
		})
	}
}

// FuzzSgemm checks arbitrary small shapes and flags against the float64
// reference.
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(5), uint8(7), uint8(3), false, true, uint64(1))
	f.Add(uint8(13), uint8(40), uint8(0), true, false, uint64(2))
	f.Fuzz(func(t *testing.T, m, n, k uint8, ta, tb bool, seed uint64) {
		r := rand.New(rand.NewPCG(seed, 9))
		checkSgemm(t, "fuzz", r, ta, tb, int(m%40), int(n%70), int(k)+int(k)%3*100, float32(r.Float64()*2-1), float32(r.IntN(3))*0.5)
	})
}

func ExampleSgemm() {
	// C (2×2) = A (2×3) × B (3×2)
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{1, 0, 0, 1, 1, 1}
	c := make([]float32, 4)
	Sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2)
	fmt.Println(c)
	// Output: [4 5 10 11]
}

// gemmShapes are the conv GEMMs of posenet-s (M=OutC, N=OH*OW,
// K=InC*KH*KW) plus the brief's reference shape.
var gemmShapes = []struct{ m, n, k int }{
	{32, 3072, 27},   // stem
	{64, 768, 288},   // layer1 down
	{64, 768, 576},   // block 64
	{128, 768, 576},  // reference shape
	{128, 192, 1152}, // block 128
	{256, 48, 2304},  // block 256
	{128, 192, 2304}, // head 1
	{64, 768, 1152},  // head 2
	{17, 768, 64},    // final 1x1
}

func BenchmarkSgemm(b *testing.B) {
	for _, kern := range []struct{ name, path string }{{"", Path()}, {"avx2_", "avx2"}, {"go_", "generic"}} {
		if kern.path == "avx2" && (Path() != "avx512") {
			continue
		}
		for _, s := range gemmShapes {
			b.Run(fmt.Sprintf("%sM%d_N%d_K%d", kern.name, s.m, s.n, s.k), func(b *testing.B) {
				saved := kernPath
				setPath(kern.path)
				defer setPath(saved)
				r := rand.New(rand.NewPCG(1, 1))
				x := randSlice(r, s.m*s.k, -1, 1)
				y := randSlice(r, s.k*s.n, -1, 1)
				z := make([]float32, s.m*s.n)
				Sgemm(false, false, s.m, s.n, s.k, 1, x, s.k, y, s.n, 0, z, s.n)
				m := startMeter(b)
				for b.Loop() {
					Sgemm(false, false, s.m, s.n, s.k, 1, x, s.k, y, s.n, 0, z, s.n)
				}
				m.report(b, 2*float64(s.m*s.n*s.k))
			})
		}
	}
}

// TestNoAllocs checks that the parallel Sgemm and the convolution paths
// posenet-s trains on allocate nothing once their Workspace has grown.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	if Workers() < 2 {
		t.Skip("needs 2 workers for the parallel paths")
	}
	m, n, k := 64, 768, 576 // above parSize: split over the workers
	a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	cv := Conv{InC: 16, OutC: 32, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 16, InW: 12}
	cs := Conv{InC: 16, OutC: 32, KH: 3, KW: 3, Stride: 2, Pad: 1, InH: 32, InW: 24}
	const imgs = 4
	x := make([]float32, imgs*16*32*24)
	w := make([]float32, 32*16*9)
	y := make([]float32, imgs*32*16*12)
	p := make([]float32, 32)
	var ws Workspace
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"Sgemm", func() { Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n) }},
		{"Sgemm/transB", func() { Sgemm(false, true, m, n, k, 1, a, k, b, k, 1, c, n) }},
		{"Forward", func() { cv.Forward(imgs, x[:imgs*16*16*12], w, nil, y, &ws) }},
		{"Forward/stride2", func() { cs.Forward(imgs, x, w, nil, y, &ws) }},
		{"ForwardBNEval", func() { cv.ForwardBNEval(imgs, x[:imgs*16*16*12], w, p, p, p, p, 1e-5, true, y, &ws) }},
		{"BackwardData", func() { cv.BackwardData(imgs, y, w, x[:imgs*16*16*12], &ws) }},
		{"BackwardFilter", func() { cv.BackwardFilter(imgs, x[:imgs*16*16*12], y, w, nil, &ws) }},
		{"BackwardFilter/stride2", func() { cs.BackwardFilter(imgs, x, y, w, nil, &ws) }},
		// The shifted-image paths the Winograd path replaces above.
		{"Forward/shift", func() { otherPath(func() { cv.Forward(imgs, x[:imgs*16*16*12], w, nil, y, &ws) }) }},
		{"BackwardData/shift", func() { otherPath(func() { cv.BackwardData(imgs, y, w, x[:imgs*16*16*12], &ws) }) }},
		{"BackwardFilter/shift", func() { otherPath(func() { cv.BackwardFilter(imgs, x[:imgs*16*16*12], y, w, nil, &ws) }) }},
	} {
		tc.f() // grow the buffers
		if got := testing.AllocsPerRun(50, tc.f); got != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tc.name, got)
		}
	}
}
