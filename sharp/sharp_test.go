package sharp

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// quad is L(w) = ½(w−c)ᵀH(w−c) + l0 with a symmetric H.
type quad struct {
	h     [][]float64
	c     []float64
	l0    float64
	calls int
}

func (q *quad) Dim() int { return len(q.c) }

func (q *quad) LossGrad(w, g []float64) (float64, error) {
	q.calls++
	n := len(q.c)
	d := make([]float64, n)
	for i := range d {
		d[i] = w[i] - q.c[i]
	}
	var l float64
	for i := range n {
		var hd float64
		for j := range n {
			hd += q.h[i][j] * d[j]
		}
		l += 0.5 * d[i] * hd
		if g != nil {
			g[i] = hd
		}
	}
	return l + q.l0, nil
}

// randomQuad returns a quadratic whose Hessian Q diag(eig) Qᵀ has the
// given eigenvalues (Q a random orthogonal matrix by Gram-Schmidt).
func randomQuad(eig []float64, seed uint64) *quad {
	n := len(eig)
	r := rand.New(rand.NewPCG(seed, 1))
	q := make([][]float64, n)
	for i := range q {
		q[i] = make([]float64, n)
		for j := range q[i] {
			q[i][j] = r.NormFloat64()
		}
		for k := range i {
			p := dot(q[i], q[k])
			for j := range q[i] {
				q[i][j] -= p * q[k][j]
			}
		}
		scale(q[i], 1/norm(q[i]))
	}
	h := make([][]float64, n)
	for i := range h {
		h[i] = make([]float64, n)
		for j := range h[i] {
			for k := range n {
				h[i][j] += q[k][i] * eig[k] * q[k][j]
			}
		}
	}
	c := make([]float64, n)
	for i := range c {
		c[i] = r.NormFloat64()
	}
	return &quad{h: h, c: c, l0: 0.25}
}

func TestSharpnessQuadraticExact(t *testing.T) {
	tests := []struct {
		name string
		eig  []float64
		rho  float64
	}{
		{"convex", []float64{5, 2, 1, 0.5}, 0.05},
		{"saddle", []float64{3, -1, 0.2}, 0.1},
		{"large rho", []float64{10, 1}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := randomQuad(tc.eig, 3)
			w := make([]float64, q.Dim())
			for i := range w {
				w[i] = float64(i) - 1
			}
			s, err := Sharpness(q, w, tc.rho)
			if err != nil {
				t.Fatal(err)
			}
			g := make([]float64, len(w))
			q.LossGrad(w, g)
			gn := norm(g)
			u := append([]float64(nil), g...)
			scale(u, 1/gn)
			var uhu float64
			for i := range u {
				for j := range u {
					uhu += u[i] * q.h[i][j] * u[j]
				}
			}
			// L(w ± ρu) − L(w) = ±ρ||g|| + ½ρ² uᵀHu.
			wantMax := tc.rho*gn + 0.5*tc.rho*tc.rho*uhu
			wantMin := tc.rho*gn - 0.5*tc.rho*tc.rho*uhu
			near := func(name string, got, want float64) {
				if math.Abs(got-want) > 1e-12*(1+math.Abs(want)) {
					t.Errorf("%s = %.15g, want %.15g", name, got, want)
				}
			}
			near("MaxS", s.MaxS, wantMax)
			near("MinS", s.MinS, wantMin)
			near("Sum", s.Sum, 2*tc.rho*gn)
			near("Diff", s.Diff, tc.rho*tc.rho*uhu)
			near("GradNorm", s.GradNorm, gn)
		})
	}
}

func TestSharpnessZeroGradient(t *testing.T) {
	q := randomQuad([]float64{1, 2}, 1)
	if _, err := Sharpness(q, append([]float64(nil), q.c...), 0.05); !errors.Is(err, ErrZeroGradient) {
		t.Errorf("at the minimum: err = %v, want ErrZeroGradient", err)
	}
}

func TestTopEigenQuadratic(t *testing.T) {
	tests := []struct {
		name string
		eig  []float64
		want float64
	}{
		{"positive", []float64{7, 3, 1, 0.1, 0.01}, 7},
		{"largest magnitude negative", []float64{-9, 4, 1}, -9},
		{"close gap", []float64{4, 3.6, 1, 0.5}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := randomQuad(tc.eig, 5)
			w := make([]float64, q.Dim())
			e, err := TopEigen(q, w, PowerConfig{Iters: 200, Tol: 1e-12, Seed: 2})
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(e.Value-tc.want) > 1e-6*math.Abs(tc.want) {
				t.Errorf("top eigenvalue %.9g, want %g (estimates %v)", e.Value, tc.want, e.Estimates[:min(5, len(e.Estimates))])
			}
			if !e.Converged {
				t.Error("not converged")
			}
			if len(e.Estimates) < 2 {
				t.Fatalf("only %d estimates recorded", len(e.Estimates))
			}
			// Each iteration costs one HVP: two gradients.
			if q.calls != 2*len(e.Estimates) {
				t.Errorf("%d oracle calls for %d iterations", q.calls, len(e.Estimates))
			}
		})
	}
}

func TestTraceQuadratic(t *testing.T) {
	eig := []float64{6, 3, 2, 1, 0.5, -0.5, 0.1, 0.05}
	var want float64
	for _, e := range eig {
		want += e
	}
	q := randomQuad(eig, 9)
	w := make([]float64, q.Dim())
	tr, err := Trace(q, w, HutchinsonConfig{Samples: 40, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !(tr.Low <= want && want <= tr.High) {
		t.Errorf("trace %g outside the 95%% CI [%g, %g] (mean %g)", want, tr.Low, tr.High, tr.Mean)
	}
	if !(tr.StdErr > 0) || tr.High-tr.Low > want {
		t.Errorf("implausible interval [%g, %g], stderr %g", tr.Low, tr.High, tr.StdErr)
	}
	// Over many seeds about 95 % of the intervals cover the trace.
	cover := 0
	const runs = 200
	for s := range runs {
		tr, err := Trace(q, w, HutchinsonConfig{Samples: 10, Seed: uint64(100 + s)})
		if err != nil {
			t.Fatal(err)
		}
		if tr.Low <= want && want <= tr.High {
			cover++
		}
	}
	if cover < 180 || cover == runs {
		t.Errorf("the 95%% interval covered the trace in %d of %d runs", cover, runs)
	}
	// A diagonal Hessian gives zᵀHz = tr H exactly for every z.
	d := &quad{h: [][]float64{{2, 0}, {0, 5}}, c: []float64{0, 0}}
	tr, err = Trace(d, []float64{1, 1}, HutchinsonConfig{Samples: 3})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(tr.Mean-7) > 1e-9 || tr.StdErr > 1e-9 {
		t.Errorf("diagonal: trace %g ± %g, want 7 ± 0", tr.Mean, tr.StdErr)
	}
	if _, err := Trace(d, []float64{1, 1}, HutchinsonConfig{Samples: 1}); err == nil {
		t.Error("1 sample: no error")
	}
}

func TestFilterNormalized(t *testing.T) {
	w := []float64{
		1, 2, 2, // filter 0 of a 2x3 "conv", norm 3
		0, 0, 4, // filter 1, norm 4
		7, 8, // a 1-D tensor (bias): zero direction
	}
	blocks := []Block{{Name: "conv.weight", Offset: 0, Shape: []int{2, 3}}, {Name: "bn.weight", Offset: 6, Shape: []int{2}}}
	d := FilterNormalized(w, blocks, 1)
	for f, want := range []float64{3, 4} {
		if got := norm(d[3*f : 3*f+3]); math.Abs(got-want) > 1e-12 {
			t.Errorf("filter %d: direction norm %g, want %g", f, got, want)
		}
	}
	if d[6] != 0 || d[7] != 0 {
		t.Errorf("1-D block direction %v, want zeros", d[6:])
	}
	d2 := FilterNormalized(w, blocks, 2)
	if d2[0] == d[0] {
		t.Error("another seed gives the same direction")
	}
}

func TestProfileQuadratic(t *testing.T) {
	q := randomQuad([]float64{2, 1}, 7)
	w := append([]float64(nil), q.c...)
	d := []float64{1, 0}
	alphas := Linspace(-1, 1, 5)
	ls, err := Profile(q, w, d, alphas)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range alphas {
		want := q.l0 + 0.5*a*a*q.h[0][0]
		if math.Abs(ls[i]-want) > 1e-12 {
			t.Errorf("alpha %g: loss %g, want %g", a, ls[i], want)
		}
	}
}

func TestAnalyzeAndPlot(t *testing.T) {
	q := randomQuad([]float64{4, 1, 0.5}, 2)
	w := []float64{1, 1, 1}
	var prog bytes.Buffer
	r, err := Analyze(q, w, Config{Rho: 0.1, PowerIters: 50, Hutchinson: 20, ProfilePts: 11, Progress: &prog})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.Eigen.Value-4) > 1e-3 || r.Trace == nil || len(r.Losses) != 11 {
		t.Errorf("report: eigen %v, trace %v, %d profile points", r.Eigen.Value, r.Trace, len(r.Losses))
	}
	if !strings.Contains(prog.String(), "top eigenvalue") {
		t.Errorf("progress %q", prog.String())
	}
	var tab bytes.Buffer
	r.WriteTable(&tab)
	for _, s := range []string{"MaxS(rho=0.1)", "top eigenvalue", "Hessian trace"} {
		if !strings.Contains(tab.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, tab.String())
		}
	}
	path := filepath.Join(t.TempDir(), "profile.png")
	if err := PlotProfile(path, "test", r.Alphas, r.Losses); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("profile.png: err %v, %d bytes", err, len(b))
	}
	// Skipping measures.
	r, err = Analyze(q, w, Config{PowerIters: -1, Hutchinson: -1, ProfileRange: -1})
	if err != nil || r.Eigen != nil || r.Trace != nil || r.Losses != nil {
		t.Errorf("skipped measures present: %+v, %v", r, err)
	}
}

func BenchmarkHVP(b *testing.B) {
	for _, n := range []int{16, 64} {
		b.Run(fmt.Sprintf("quad_N%d", n), func(b *testing.B) {
			eig := make([]float64, n)
			for i := range eig {
				eig[i] = float64(i + 1)
			}
			q := randomQuad(eig, 1)
			w, v, hv := make([]float64, n), make([]float64, n), make([]float64, n)
			v[0] = 1
			for b.Loop() {
				if err := HVP(q, w, v, hv, 1e-2); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
