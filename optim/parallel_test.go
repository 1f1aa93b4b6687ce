package optim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestStepSplitBitwise checks that the steps split across goroutines
// (params totalling more than parallelMin floats) give the same bits,
// weights, statistics and state, as the same steps on one goroutine.
func TestStepSplitBitwise(t *testing.T) {
	sizes := []int{70000, 3, 40000, 1, 25000, 9, 512, 30000} // > parallelMin in all
	makers := []struct {
		name string
		make func() Stepper
	}{
		{"sgd", func() Stepper { return NewPlain(NewSGD(0.1, 0.9, 1e-4)) }},
		{"adam", func() Stepper { return NewPlain(NewAdam(1e-3, 0.9, 0.999, 1e-8, 1e-4)) }},
		{"adamw", func() Stepper { return NewPlain(NewAdamW(1e-3, 0.9, 0.999, 1e-8, 1e-2)) }},
		{"sam", func() Stepper { return NewSAM(NewSGD(0.1, 0.9, 0), 0.05) }},
		{"bsam", func() Stepper { return NewBSAM(NewSGD(0.1, 0.9, 1e-4), BSAMConfig{RhoMax: 0.05, RhoMin: 0.01}) }},
		{"absam", func() Stepper {
			return NewBSAM(NewSGD(0.1, 0.9, 1e-4), BSAMConfig{RhoMax: 0.5, RhoMin: 0.1, Adaptive: true, Eta: DefaultEta})
		}},
	}
	run := func(procs int, mk func() Stepper) ([]*Param, []StepStats) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		r := rand.New(rand.NewPCG(7, 8))
		params := make([]*Param, len(sizes))
		for i, n := range sizes {
			params[i] = &Param{Name: fmt.Sprint("p", i), Value: make([]float32, n), Grad: make([]float32, n)}
			for k := range n {
				params[i].Value[k] = float32(r.NormFloat64())
			}
		}
		// A quadratic loss with a curvature per element, so that every
		// pass sees a different gradient.
		grad := func(Pass) (float64, error) {
			var loss float64
			for _, p := range params {
				for k, w := range p.Value {
					c := float32(1 + k%5)
					p.Grad[k] = c * w
					loss += float64(c * w * w / 2)
				}
			}
			return loss, nil
		}
		o := mk()
		var stats []StepStats
		for range 3 {
			if _, err := o.Step(params, grad); err != nil {
				t.Fatal(err)
			}
			stats = append(stats, o.Last())
		}
		return params, stats
	}
	for _, m := range makers {
		t.Run(m.name, func(t *testing.T) {
			p1, s1 := run(1, m.make)
			p4, s4 := run(4, m.make)
			for i := range p1 {
				for k := range p1[i].Value {
					if math.Float32bits(p1[i].Value[k]) != math.Float32bits(p4[i].Value[k]) {
						t.Fatalf("param %d[%d]: %v on 1 goroutine, %v split", i, k, p1[i].Value[k], p4[i].Value[k])
					}
				}
			}
			for i := range s1 {
				if fmt.Sprint(s1[i]) != fmt.Sprint(s4[i]) {
					t.Fatalf("step %d stats: %+v on 1 goroutine, %+v split", i, s1[i], s4[i])
				}
			}
		})
	}
}
