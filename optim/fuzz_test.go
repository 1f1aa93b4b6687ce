package optim

import (
	"math"
	"testing"
)

// FuzzBSAMStep feeds arbitrary finite gradients (zeros included) to the
// three passes of BSAM, both variants, and requires finite weights,
// directions and diagnostics.
func FuzzBSAMStep(f *testing.F) {
	f.Add(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.05, 0.05, false)
	f.Add(1.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.1, 0.2, false)
	f.Add(1e-30, -1e-30, 1e-38, 0.0, 1e-40, 0.0, 0.05, 0.0, true)
	f.Add(-5.0, 2.0, 1.0, 1.0, -3.0, 7.0, 0.5, -0.1, true)
	f.Fuzz(func(t *testing.T, g0, g1, a0, a1, d0, d1, rhoMax, rhoMin float64, fromCenter bool) {
		in := []float64{g0, g1, a0, a1, d0, d1, rhoMax, rhoMin}
		for _, x := range in {
			if math.IsNaN(x) || math.Abs(x) > 1e6 {
				t.Skip()
			}
		}
		if rhoMax < 0 {
			rhoMax = -rhoMax
		}
		ps := mkParams([]float64{0.5, -0.25})
		grads := map[Pass][]float64{PassCenter: {g0, g1}, PassAscent: {a0, a1}, PassDescent: {d0, d1}}
		gf := func(p Pass) (float64, error) {
			setGrads(ps, grads[p])
			return float64(p), nil
		}
		b := NewBSAM(NewSGD(0.01, 0.9, 1e-4), BSAMConfig{RhoMax: rhoMax, RhoMin: rhoMin, FromCenter: fromCenter})
		for range 2 {
			if _, err := b.Step(ps, gf); err != nil {
				t.Fatal(err)
			}
		}
		s := b.Last()
		for _, x := range append(flat64(ps), float64(ps[0].Grad[0]), float64(ps[0].Grad[1]), s.GradNorm, s.AscentGradNorm, s.DescentGradNorm) {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("non-finite result: w %v grad %v stats %+v for %v", flat64(ps), ps[0].Grad, s, in)
			}
		}
	})
}
