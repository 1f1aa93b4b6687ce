package optim

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
)

// refBSAM is the official algorithm in float64, written from bsam.py with
// the aliasing made explicit: the base step starts from w_min unless
// fromCenter.
type refBSAM struct {
	rhoMax, rhoMin float64
	fromCenter     bool
	base           refStepper
}

func norm(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s)
}

// step returns the points of the three passes.
func (r *refBSAM) step(w []float64, f objective) (wMax, wMin, u []float64) {
	g := f.grad(w)
	n := norm(g)
	wMax, wMin = make([]float64, len(w)), make([]float64, len(w))
	for i := range w {
		wMax[i] = w[i] + r.rhoMax*g[i]/(n+1e-12)
		wMin[i] = w[i] - r.rhoMin*g[i]/(n+1e-12)
	}
	gMax, gMin := f.grad(wMax), f.grad(wMin)
	ratio := 0.0
	if nm := norm(gMin); nm > 0 {
		ratio = norm(gMax) / nm
	}
	u = make([]float64, len(w))
	for i := range w {
		u[i] = gMax[i] + g[i] - ratio*gMin[i]
	}
	if !r.fromCenter {
		copy(w, wMin)
	}
	r.base.step(w, u)
	return wMax, wMin, u
}

type refSAM struct {
	rho  float64
	base refStepper
}

func (r *refSAM) step(w []float64, f objective) (wMax []float64) {
	g := f.grad(w)
	n := norm(g)
	wMax = make([]float64, len(w))
	for i := range w {
		wMax[i] = w[i] + r.rho*g[i]/(n+1e-12)
	}
	r.base.step(w, f.grad(wMax))
	return wMax
}

// A non-separable quadratic would hide nothing more here; an anisotropic
// one makes g, g_max and g_min point in different directions.
var testQuad = quadratic{a: []float64{1, 5, 0.3, 2.5}, c: []float64{0.5, -1, 2, 0}}

// TestBSAMVsReference compares several BSAM steps, with SGD (momentum,
// weight decay) and Adam bases and both FromCenter variants, against the
// float64 reference, checking the point of every pass.
func TestBSAMVsReference(t *testing.T) {
	type base struct {
		name string
		opt  func() Optimizer
		ref  func() refStepper
	}
	bases := []base{
		{"SGD", func() Optimizer { return NewSGD(0.05, 0.9, 0.01) }, func() refStepper { return &refSGD{lr: 0.05, mom: 0.9, wd: 0.01} }},
		{"Adam", func() Optimizer { return NewAdam(0.02, 0.9, 0.99, 1e-3, 0.01) }, func() refStepper {
			return &refAdam{lr: 0.02, b1: 0.9, b2: 0.99, eps: 1e-3, wd: 0.01}
		}},
		{"AdamW", func() Optimizer { return NewAdamW(0.02, 0.9, 0.99, 1e-3, 0.1) }, func() refStepper {
			return &refAdam{lr: 0.02, b1: 0.9, b2: 0.99, eps: 1e-3, wd: 0.1, decoupled: true}
		}},
	}
	for _, b := range bases {
		for _, fromCenter := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/FromCenter=%v", b.name, fromCenter), func(t *testing.T) {
				cfg := BSAMConfig{RhoMax: 0.3, RhoMin: 0.2, FromCenter: fromCenter}
				opt := NewBSAM(b.opt(), cfg)
				ref := &refBSAM{rhoMax: cfg.RhoMax, rhoMin: cfg.RhoMin, fromCenter: fromCenter, base: b.ref()}
				ps := mkParams([]float64{-1, 1}, []float64{0.5, 3})
				w := flat64(ps)
				for k := range 6 {
					if k == 3 { // the schedule moves RhoMin
						opt.SetRhoMin(0.1)
						ref.rhoMin = 0.1
					}
					var passes []Pass
					var points [][]float64
					w0 := slices.Clone(w)
					loss, err := opt.Step(ps, gradFunc(ps, testQuad, &passes, &points))
					if err != nil {
						t.Fatal(err)
					}
					wMax, wMin, u := ref.step(w, testQuad)
					if want := []Pass{PassCenter, PassAscent, PassDescent}; !slices.Equal(passes, want) {
						t.Fatalf("passes %v, want %v", passes, want)
					}
					if !closeTo(loss, testQuad.loss(w0), 1e-5) {
						t.Errorf("step %d: loss %v, want L(w) = %v", k, loss, testQuad.loss(w0))
					}
					assertClose(t, fmt.Sprintf("step %d: center", k), points[0], w0, 1e-5)
					assertClose(t, fmt.Sprintf("step %d: ascent", k), points[1], wMax, 1e-5)
					assertClose(t, fmt.Sprintf("step %d: descent", k), points[2], wMin, 1e-5)
					var grads []float64
					for _, p := range ps {
						for _, x := range p.Grad {
							grads = append(grads, float64(x))
						}
					}
					assertClose(t, fmt.Sprintf("step %d: Grad = u", k), grads, u, 1e-5)
					assertClose(t, fmt.Sprintf("step %d: w", k), flat64(ps), w, 1e-5)
				}
			})
		}
	}
}

// TestBSAMVariantsDiffer makes sure the reference test can tell the two
// variants apart: with weight decay and momentum they end elsewhere.
func TestBSAMVariantsDiffer(t *testing.T) {
	var ends [2][]float64
	for i, fc := range []bool{false, true} {
		ps := mkParams([]float64{-1, 1, 0.5, 3})
		b := NewBSAM(NewSGD(0.05, 0.9, 0.01), BSAMConfig{RhoMax: 0.3, RhoMin: 0.2, FromCenter: fc})
		for range 3 {
			if _, err := b.Step(ps, gradFunc(ps, testQuad, nil, nil)); err != nil {
				t.Fatal(err)
			}
		}
		ends[i] = flat64(ps)
	}
	if d := math.Abs(ends[0][0] - ends[1][0]); d < 1e-3 {
		t.Errorf("variants end %v apart, want a visible difference: %v vs %v", d, ends[0], ends[1])
	}
}

// TestWhereParamsAreLeft uses a base step of lr 0 to see where each
// optimizer leaves the params: BSAM (official) at w_min, exactly as bsam.py
// does; BSAM FromCenter and SAM at w, bit for bit.
func TestWhereParamsAreLeft(t *testing.T) {
	w0 := []float64{-1, 1, 0.5, 3}
	g := testQuad.grad(w0)
	n := norm(g)
	wMin := make([]float64, 4)
	for i := range w0 {
		// float32 arithmetic as bsam.py's float32 tensors do it.
		s := float32(0.2 / (n + 1e-12))
		wMin[i] = float64(float32(w0[i]) - float32(float32(g[i])*s))
	}
	tests := []struct {
		name string
		opt  Stepper
		want []float64
	}{
		{"BSAM", NewBSAM(NewSGD(0, 0, 0), BSAMConfig{RhoMax: 0.3, RhoMin: 0.2}), wMin},
		{"BSAM/FromCenter", NewBSAM(NewSGD(0, 0, 0), BSAMConfig{RhoMax: 0.3, RhoMin: 0.2, FromCenter: true}), w0},
		{"SAM", NewSAM(NewSGD(0, 0, 0), 0.3), w0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := mkParams(w0)
			if _, err := tt.opt.Step(ps, gradFunc(ps, testQuad, nil, nil)); err != nil {
				t.Fatal(err)
			}
			assertClose(t, "w", flat64(ps), tt.want, 0)
		})
	}
}

// TestBSAMStats checks the free diagnostics against the losses and
// gradients of the three passes.
func TestBSAMStats(t *testing.T) {
	ps := mkParams([]float64{-1, 1, 0.5, 3})
	w := flat64(ps)
	cfg := BSAMConfig{RhoMax: 0.3, RhoMin: 0.2}
	b := NewBSAM(NewSGD(0.05, 0, 0), cfg)
	if _, err := b.Step(ps, gradFunc(ps, testQuad, nil, nil)); err != nil {
		t.Fatal(err)
	}
	wMax, wMin, _ := (&refBSAM{rhoMax: cfg.RhoMax, rhoMin: cfg.RhoMin, base: &refSGD{lr: 0.05}}).step(slices.Clone(w), testQuad)
	s := b.Last()
	lc, la, ld := testQuad.loss(w), testQuad.loss(wMax), testQuad.loss(wMin)
	got := []float64{s.GradNorm, s.AscentGradNorm, s.DescentGradNorm, s.LossCenter, s.LossAscent, s.LossDescent, s.MaxS, s.MinS, s.RhoMax, s.RhoMin}
	want := []float64{norm(testQuad.grad(w)), norm(testQuad.grad(wMax)), norm(testQuad.grad(wMin)), lc, la, ld, la - lc, lc - ld, 0.3, 0.2}
	assertClose(t, "stats", got, want, 1e-5)
	if s.MaxS <= 0 || s.MinS <= 0 {
		t.Errorf("on a convex quadratic MaxS = %v and MinS = %v should be > 0", s.MaxS, s.MinS)
	}
}

// TestSAMVsReference compares several SAM steps with the float64 reference.
func TestSAMVsReference(t *testing.T) {
	opt := NewSAM(NewSGD(0.05, 0.9, 0.01), 0.3)
	ref := &refSAM{rho: 0.3, base: &refSGD{lr: 0.05, mom: 0.9, wd: 0.01}}
	ps := mkParams([]float64{-1, 1}, []float64{0.5, 3})
	w := flat64(ps)
	for k := range 6 {
		var passes []Pass
		var points [][]float64
		w0 := slices.Clone(w)
		loss, err := opt.Step(ps, gradFunc(ps, testQuad, &passes, &points))
		if err != nil {
			t.Fatal(err)
		}
		wMax := ref.step(w, testQuad)
		if want := []Pass{PassCenter, PassAscent}; !slices.Equal(passes, want) {
			t.Fatalf("passes %v, want %v", passes, want)
		}
		assertClose(t, "ascent point", points[1], wMax, 1e-5)
		assertClose(t, fmt.Sprintf("step %d: w", k), flat64(ps), w, 1e-5)
		s := opt.Last()
		if !closeTo(loss, testQuad.loss(w0), 1e-5) || !closeTo(s.MaxS, testQuad.loss(wMax)-testQuad.loss(w0), 1e-4) {
			t.Errorf("step %d: loss %v MaxS %v", k, loss, s.MaxS)
		}
		if !closeTo(s.AscentGradNorm, norm(testQuad.grad(wMax)), 1e-5) {
			t.Errorf("step %d: AscentGradNorm %v, want %v", k, s.AscentGradNorm, norm(testQuad.grad(wMax)))
		}
	}
}

// TestZeroGradientGuards: a zero ||g|| and a zero ||g_min|| give no NaN.
func TestZeroGradientGuards(t *testing.T) {
	t.Run("zero g", func(t *testing.T) {
		for _, fc := range []bool{false, true} {
			ps := mkParams([]float64{1, 2, 3})
			zero := func(Pass) (float64, error) {
				for _, p := range ps {
					clear(p.Grad)
				}
				return 1, nil
			}
			for _, s := range []Stepper{
				NewBSAM(NewSGD(0.1, 0.9, 0), BSAMConfig{RhoMax: 0.05, RhoMin: 0.05, FromCenter: fc}),
				NewSAM(NewSGD(0.1, 0.9, 0), 0.05),
			} {
				if _, err := s.Step(ps, zero); err != nil {
					t.Fatal(err)
				}
				assertClose(t, fmt.Sprintf("%T w", s), flat64(ps), []float64{1, 2, 3}, 0)
				st := s.Last()
				for _, v := range []float64{st.GradNorm, st.AscentGradNorm, st.DescentGradNorm, st.MaxS, st.MinS} {
					if v != 0 {
						t.Errorf("%T stats %+v, want zeros", s, st)
					}
				}
			}
		}
	})
	t.Run("zero g_min", func(t *testing.T) {
		// g = (1, 0) at the centre, g_max = (3, 4), g_min = 0: u = g_max + g.
		ps := mkParams([]float64{0, 0})
		gf := func(pass Pass) (float64, error) {
			g := map[Pass][]float64{PassCenter: {1, 0}, PassAscent: {3, 4}, PassDescent: {0, 0}}[pass]
			setGrads(ps, g)
			return 0, nil
		}
		b := NewBSAM(NewSGD(0.5, 0, 0), BSAMConfig{RhoMax: 0.1, RhoMin: 0.2})
		if _, err := b.Step(ps, gf); err != nil {
			t.Fatal(err)
		}
		// Base step at w_min = (-0.2, 0) with u = (4, 4).
		assertClose(t, "Grad", []float64{float64(ps[0].Grad[0]), float64(ps[0].Grad[1])}, []float64{4, 4}, 0)
		assertClose(t, "w", flat64(ps), []float64{-0.2 - 0.5*4, -0.5 * 4}, 1e-7)
	})
}

// TestSubnormalDescentGrad: ||g_min|| so small that ||g_max||/||g_min||
// overflows float32 still gives the finite term ||g_max||·g_min/||g_min||.
func TestSubnormalDescentGrad(t *testing.T) {
	ps := mkParams([]float64{0, 0})
	gf := func(pass Pass) (float64, error) {
		g := map[Pass][]float64{PassCenter: {1, 0}, PassAscent: {0, 2}, PassDescent: {1e-40, 0}}[pass]
		setGrads(ps, g)
		return 0, nil
	}
	b := NewBSAM(NewSGD(0, 0, 0), BSAMConfig{RhoMax: 0.1, RhoMin: 0.2})
	if _, err := b.Step(ps, gf); err != nil {
		t.Fatal(err)
	}
	// u = g_max + g - 2·(1, 0) = (0, 2) + (1, 0) - (2, 0) = (-1, 2).
	got := []float64{float64(ps[0].Grad[0]), float64(ps[0].Grad[1])}
	assertClose(t, "u", got, []float64{-1, 2}, 1e-6)
}

var errBoom = errors.New("boom")

// TestPassErrors: a failing pass leaves the params at w and the error is
// wrapped.
func TestPassErrors(t *testing.T) {
	for _, failAt := range []Pass{PassCenter, PassAscent, PassDescent} {
		for _, mk := range []func() Stepper{
			func() Stepper { return NewBSAM(NewSGD(0.1, 0.9, 0.1), BSAMConfig{RhoMax: 0.3, RhoMin: 0.2}) },
			func() Stepper { return NewSAM(NewSGD(0.1, 0.9, 0.1), 0.3) },
			func() Stepper { return NewPlain(NewSGD(0.1, 0.9, 0.1)) },
		} {
			s := mk()
			t.Run(fmt.Sprintf("%T/%v", s, failAt), func(t *testing.T) {
				ps := mkParams([]float64{-1, 1, 0.5, 3})
				inner := gradFunc(ps, testQuad, nil, nil)
				_, err := s.Step(ps, func(p Pass) (float64, error) {
					if p == failAt {
						return 0, errBoom
					}
					return inner(p)
				})
				_, isSAM := s.(*SAM)
				_, isPlain := s.(*Plain)
				reached := failAt == PassCenter || (failAt == PassAscent && !isPlain) || (failAt == PassDescent && !isSAM && !isPlain)
				if reached != errors.Is(err, errBoom) {
					t.Fatalf("err = %v, want boom: %v", err, reached)
				}
				if reached {
					assertClose(t, "w", flat64(ps), []float64{-1, 1, 0.5, 3}, 0)
				}
			})
		}
	}
}

// refDirection is CosUG, CoefG and SignAgree computed from u and g in float64.
func refDirection(u, g []float64) (cos, coef, sign float64) {
	var ug, gAbs, gs float64
	for i := range u {
		ug += u[i] * g[i]
		gAbs += math.Abs(g[i])
		if u[i] > 0 {
			gs += g[i]
		} else if u[i] < 0 {
			gs -= g[i]
		}
	}
	return ug / (norm(u) * norm(g)), ug / (norm(g) * norm(g)), gs / gAbs
}

// TestDirectionStats checks CosUG, CoefG and SignAgree of SAM and BSAM
// against u and g computed in float64, at a small radius (u ≈ g) and at
// radii large enough for BSAM's u to turn against g on this quadratic.
func TestDirectionStats(t *testing.T) {
	w0 := []float64{-1, 1, 0.5, 3}
	for _, tc := range []struct {
		name string
		rho  float64
	}{{"small radius", 1e-3}, {"radius 0.3", 0.3}, {"radius 2", 2}} {
		t.Run(tc.name, func(t *testing.T) {
			g := testQuad.grad(w0)
			n := norm(g)
			point := func(s float64) []float64 {
				p := slices.Clone(w0)
				for i := range p {
					p[i] += s * tc.rho * g[i] / n
				}
				return p
			}
			gMax, gMin := testQuad.grad(point(1)), testQuad.grad(point(-1))

			ps := mkParams(slices.Clone(w0))
			sam := NewSAM(NewSGD(0.01, 0, 0), tc.rho)
			if _, err := sam.Step(ps, gradFunc(ps, testQuad, nil, nil)); err != nil {
				t.Fatal(err)
			}
			c, k, s := refDirection(gMax, g)
			st := sam.Last()
			assertClose(t, "sam", []float64{st.CosUG, st.CoefG, st.SignAgree}, []float64{c, k, s}, 1e-4)

			u := make([]float64, len(g))
			r := norm(gMax) / norm(gMin)
			for i := range u {
				u[i] = gMax[i] + g[i] - r*gMin[i]
			}
			ps = mkParams(slices.Clone(w0))
			b := NewBSAM(NewSGD(0.01, 0, 0), BSAMConfig{RhoMax: tc.rho, RhoMin: tc.rho})
			if _, err := b.Step(ps, gradFunc(ps, testQuad, nil, nil)); err != nil {
				t.Fatal(err)
			}
			c, k, s = refDirection(u, g)
			st = b.Last()
			assertClose(t, "bsam", []float64{st.CosUG, st.CoefG, st.SignAgree}, []float64{c, k, s}, 1e-4)
			if tc.rho < 0.01 && (st.CosUG < 0.99 || math.Abs(st.CoefG-1) > 0.05) {
				t.Errorf("small radius: u should be close to g, got cos %v coef %v", st.CosUG, st.CoefG)
			}
		})
	}
}

// refAdaptive is the ASAM perturbation direction in float64: T²·g/||T·g||
// with T = |w| + eta.
func refAdaptive(w, g []float64, eta float64) []float64 {
	tg := make([]float64, len(w))
	for i := range w {
		tg[i] = (math.Abs(w[i]) + eta) * g[i]
	}
	n := norm(tg)
	d := make([]float64, len(w))
	for i := range w {
		t := math.Abs(w[i]) + eta
		d[i] = t * t * g[i] / (n + 1e-12)
	}
	return d
}

// refABSAM is adaptive BSAM in float64, written from the formulas of the
// package documentation.
func refABSAM(w []float64, f objective, rhoMax, rhoMin, eta float64, fromCenter bool, base refStepper) (wMax, wMin, u []float64) {
	g := f.grad(w)
	d := refAdaptive(w, g, eta)
	wMax, wMin = make([]float64, len(w)), make([]float64, len(w))
	for i := range w {
		wMax[i] = w[i] + rhoMax*d[i]
		wMin[i] = w[i] - rhoMin*d[i]
	}
	gMax, gMin := f.grad(wMax), f.grad(wMin)
	ratio := norm(gMax) / norm(gMin)
	u = make([]float64, len(w))
	for i := range w {
		u[i] = gMax[i] + g[i] - ratio*gMin[i]
	}
	if !fromCenter {
		copy(w, wMin)
	}
	base.step(w, u)
	return wMax, wMin, u
}

// TestAdaptiveVsReference runs several adaptive SAM and BSAM steps on a
// 2x2 problem (one param holds a zero weight, which only η perturbs)
// against the float64 references, checking every pass's point, u, w and
// the direction stats.
func TestAdaptiveVsReference(t *testing.T) {
	for _, tc := range []struct {
		name       string
		eta        float64
		fromCenter bool
	}{{"eta 0.01", 0.01, false}, {"eta 0.5", 0.5, false}, {"eta 0.01 from center", 0.01, true}, {"eta 0", 0, false}} {
		t.Run("BSAM/"+tc.name, func(t *testing.T) {
			opt := NewBSAM(NewSGD(0.05, 0.9, 0.01), BSAMConfig{RhoMax: 0.3, RhoMin: 0.2, FromCenter: tc.fromCenter, Adaptive: true, Eta: tc.eta})
			base := &refSGD{lr: 0.05, mom: 0.9, wd: 0.01}
			ps := mkParams([]float64{-1, 0}, []float64{0.5, 3})
			w := flat64(ps)
			for k := range 4 {
				var passes []Pass
				var points [][]float64
				w0 := slices.Clone(w)
				if _, err := opt.Step(ps, gradFunc(ps, testQuad, &passes, &points)); err != nil {
					t.Fatal(err)
				}
				g := testQuad.grad(w0)
				wMax, wMin, u := refABSAM(w, testQuad, 0.3, 0.2, tc.eta, tc.fromCenter, base)
				assertClose(t, fmt.Sprintf("step %d: ascent", k), points[1], wMax, 1e-5)
				assertClose(t, fmt.Sprintf("step %d: descent", k), points[2], wMin, 1e-5)
				var grads []float64
				for _, p := range ps {
					for _, x := range p.Grad {
						grads = append(grads, float64(x))
					}
				}
				assertClose(t, fmt.Sprintf("step %d: Grad = u", k), grads, u, 1e-5)
				assertClose(t, fmt.Sprintf("step %d: w", k), flat64(ps), w, 1e-5)
				st := opt.Last()
				c, kc, sg := refDirection(u, g)
				assertClose(t, fmt.Sprintf("step %d: direction", k), []float64{st.CosUG, st.CoefG, st.SignAgree}, []float64{c, kc, sg}, 1e-4)
				tg := make([]float64, len(g))
				for i := range g {
					tg[i] = (math.Abs(w0[i]) + tc.eta) * g[i]
				}
				if !closeTo(st.AdaptiveNorm, norm(tg), 1e-5) || !closeTo(st.GradNorm, norm(g), 1e-5) {
					t.Errorf("step %d: AdaptiveNorm %v GradNorm %v, want %v, %v", k, st.AdaptiveNorm, st.GradNorm, norm(tg), norm(g))
				}
				if tc.eta == 0 && k == 0 && points[1][1] != 0 {
					t.Errorf("eta 0: the zero weight moved to %v", points[1][1])
				}
				if tc.eta > 0 && k == 0 && points[1][1] == 0 {
					t.Error("eta > 0: the zero weight was not perturbed")
				}
			}
		})
		t.Run("SAM/"+tc.name, func(t *testing.T) {
			opt := NewASAM(NewSGD(0.05, 0.9, 0.01), 0.3, tc.eta)
			base := &refSGD{lr: 0.05, mom: 0.9, wd: 0.01}
			ps := mkParams([]float64{-1, 0}, []float64{0.5, 3})
			w := flat64(ps)
			for k := range 4 {
				var points [][]float64
				w0 := slices.Clone(w)
				if _, err := opt.Step(ps, gradFunc(ps, testQuad, nil, &points)); err != nil {
					t.Fatal(err)
				}
				g := testQuad.grad(w0)
				d := refAdaptive(w0, g, tc.eta)
				wMax := slices.Clone(w0)
				for i := range wMax {
					wMax[i] += 0.3 * d[i]
				}
				gs := testQuad.grad(wMax)
				base.step(w, gs)
				assertClose(t, fmt.Sprintf("step %d: ascent", k), points[1], wMax, 1e-5)
				assertClose(t, fmt.Sprintf("step %d: w", k), flat64(ps), w, 1e-5)
				st := opt.Last()
				c, kc, sg := refDirection(gs, g)
				assertClose(t, fmt.Sprintf("step %d: direction", k), []float64{st.CosUG, st.CoefG, st.SignAgree}, []float64{c, kc, sg}, 1e-4)
			}
		})
	}
}

// TestAdaptiveScaleInvariance: rescaling the weights of a quadratic by a
// diagonal s (f(w) = q(w/s)) and η = 0 moves adaptive SAM's ascent point
// by exactly s; plain SAM's is not (the property ASAM is built for).
func TestAdaptiveScaleInvariance(t *testing.T) {
	s := []float64{1, 10, 0.1, 3}
	w0 := []float64{-1, 0.7, 0.5, 3}
	ws := make([]float64, len(w0))
	for i := range w0 {
		ws[i] = w0[i] * s[i]
	}
	scaled := scaledObjective{testQuad, s}
	ascent := func(opt Stepper, w []float64, f objective) []float64 {
		ps := mkParams(slices.Clone(w))
		var points [][]float64
		if _, err := opt.Step(ps, gradFunc(ps, f, nil, &points)); err != nil {
			t.Fatal(err)
		}
		return points[1]
	}
	a := ascent(NewASAM(NewSGD(0.01, 0, 0), 0.1, 0), w0, testQuad)
	b := ascent(NewASAM(NewSGD(0.01, 0, 0), 0.1, 0), ws, scaled)
	for i := range a {
		a[i] *= s[i]
	}
	assertClose(t, "adaptive: scaled ascent point", b, a, 1e-4)
	p := ascent(NewSAM(NewSGD(0.01, 0, 0), 0.1), w0, testQuad)
	q := ascent(NewSAM(NewSGD(0.01, 0, 0), 0.1), ws, scaled)
	var diff float64
	for i := range p {
		diff = max(diff, math.Abs(q[i]-p[i]*s[i]))
	}
	if diff < 1e-3 {
		t.Errorf("plain SAM looks scale-invariant too (max diff %v): the test cannot tell them apart", diff)
	}
}

// scaledObjective is f(w) = q(w/s).
type scaledObjective struct {
	q quadratic
	s []float64
}

func (o scaledObjective) div(w []float64) []float64 {
	v := make([]float64, len(w))
	for i := range w {
		v[i] = w[i] / o.s[i]
	}
	return v
}
func (o scaledObjective) loss(w []float64) float64 { return o.q.loss(o.div(w)) }
func (o scaledObjective) grad(w []float64) []float64 {
	g := o.q.grad(o.div(w))
	for i := range g {
		g[i] /= o.s[i]
	}
	return g
}

func TestAdaptiveEtaPanics(t *testing.T) {
	for _, eta := range []float64{-1, math.NaN(), math.Inf(1)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewASAM eta %v: no panic", eta)
				}
			}()
			NewASAM(NewSGD(0.1, 0, 0), 0.1, eta)
		}()
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewBSAM eta %v: no panic", eta)
				}
			}()
			NewBSAM(NewSGD(0.1, 0, 0), BSAMConfig{RhoMax: 0.1, Adaptive: true, Eta: eta})
		}()
	}
}
