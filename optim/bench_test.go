package optim

import (
	"fmt"
	"testing"
)

// benchParams returns n parameters split over 8 tensors, with constant
// gradients.
func benchParams(n int) []*Param {
	ps := make([]*Param, 8)
	for i := range ps {
		p := &Param{Name: fmt.Sprint(i), Value: make([]float32, n/8), Grad: make([]float32, n/8)}
		for j := range p.Value {
			p.Value[j] = 1
			p.Grad[j] = 1e-3
		}
		ps[i] = p
	}
	return ps
}

// trivial leaves the gradients as they are: the benchmarks measure the
// O(parameters) work of a step, not a network.
func trivial(Pass) (float64, error) { return 0, nil }

var benchSizes = []struct {
	name string
	n    int
}{{"P10K", 10_000}, {"P1M", 1_000_000}}

func benchStepper(b *testing.B, mk func() Stepper) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			ps := benchParams(sz.n)
			s := mk()
			b.SetBytes(int64(4 * sz.n))
			for b.Loop() {
				if _, err := s.Step(ps, trivial); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSGDStep(b *testing.B) {
	benchStepper(b, func() Stepper { return NewPlain(NewSGD(1e-6, 0.9, 1e-4)) })
}

func BenchmarkAdamStep(b *testing.B) {
	benchStepper(b, func() Stepper { return NewPlain(NewAdam(1e-6, 0.9, 0.999, 1e-8, 1e-4)) })
}

func BenchmarkSAMStep(b *testing.B) {
	benchStepper(b, func() Stepper { return NewSAM(NewSGD(1e-6, 0.9, 1e-4), 0.05) })
}

func BenchmarkBSAMStep(b *testing.B) {
	benchStepper(b, func() Stepper {
		return NewBSAM(NewSGD(1e-6, 0.9, 1e-4), BSAMConfig{RhoMax: 0.05, RhoMin: 0.05})
	})
}
