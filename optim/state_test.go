package optim

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// resumeCases are Steppers whose state State/SetState must carry.
var resumeCases = []struct {
	name     string
	mk       func() Stepper
	hasState bool // a fresh optimizer continues differently
}{
	{"SGD", func() Stepper { return NewPlain(NewSGD(0.05, 0, 0.01)) }, false},
	{"SGD/momentum", func() Stepper { return NewPlain(NewSGD(0.05, 0.9, 0.01)) }, true},
	{"Adam", func() Stepper { return NewPlain(NewAdam(0.05, 0.9, 0.999, 1e-8, 0.01)) }, true},
	{"AdamW", func() Stepper { return NewPlain(NewAdamW(0.05, 0.9, 0.999, 1e-8, 0.01)) }, true},
	{"SAM/SGD", func() Stepper { return NewSAM(NewSGD(0.05, 0.9, 0.01), 0.1) }, true},
	{"BSAM/SGD", func() Stepper { return NewBSAM(NewSGD(0.05, 0.9, 0.01), BSAMConfig{RhoMax: 0.1, RhoMin: 0.05}) }, true},
	{"BSAM/Adam/FromCenter", func() Stepper {
		return NewBSAM(NewAdam(0.05, 0.9, 0.999, 1e-8, 0.01), BSAMConfig{RhoMax: 0.1, RhoMin: 0.05, FromCenter: true})
	}, true},
}

func run(t *testing.T, s Stepper, ps []*Param, n int) {
	t.Helper()
	for range n {
		if _, err := s.Step(ps, gradFunc(ps, testQuad, nil, nil)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestResumeBitExact saves the state mid-run, restores it into a fresh
// optimizer and fresh params, and requires the continuation to match bit
// for bit.
func TestResumeBitExact(t *testing.T) {
	for _, tc := range resumeCases {
		t.Run(tc.name, func(t *testing.T) {
			ps := mkParams([]float64{-1, 1}, []float64{0.5, 3})
			s := tc.mk()
			run(t, s, ps, 4)
			st, err := s.(Stateful).State(ps)
			if err != nil {
				t.Fatal(err)
			}
			saved := [][]float32{slices.Clone(ps[0].Value), slices.Clone(ps[1].Value)}

			ps2 := []*Param{
				{Name: "p0", Value: slices.Clone(saved[0]), Grad: make([]float32, 2)},
				{Name: "p1", Value: slices.Clone(saved[1]), Grad: make([]float32, 2)},
			}
			s2 := tc.mk()
			if err := s2.(Stateful).SetState([]*Param{ps2[1], ps2[0]}, st); err != nil {
				t.Fatal(err)
			}
			// Neither optimizer may alias the exported buffers.
			for _, b := range st.Tensors {
				for i := range b {
					b[i] = float32(math.NaN())
				}
			}
			run(t, s, ps, 4)
			run(t, s2, ps2, 4)
			for i := range ps {
				for j := range ps[i].Value {
					if math.Float32bits(ps[i].Value[j]) != math.Float32bits(ps2[i].Value[j]) {
						t.Fatalf("resumed %v, uninterrupted %v", flat64(ps2), flat64(ps))
					}
				}
			}
			// The comparison is sensitive: without the state the run differs.
			ps3 := []*Param{
				{Name: "p0", Value: slices.Clone(saved[0]), Grad: make([]float32, 2)},
				{Name: "p1", Value: slices.Clone(saved[1]), Grad: make([]float32, 2)},
			}
			run(t, tc.mk(), ps3, 4)
			if differ := !slices.Equal(flat64(ps3), flat64(ps)); differ != tc.hasState {
				t.Errorf("fresh optimizer continues differently: %v, want %v", differ, tc.hasState)
			}
		})
	}
}

type stateless struct{ *SGD }

func (stateless) State() {} // hides SGD's State: not Stateful

func TestSetStateErrors(t *testing.T) {
	ps := mkParams([]float64{1, 2}, []float64{3})
	sgd := NewSGD(0.1, 0.9, 0)
	adam := NewAdam(0.1, 0.9, 0.999, 1e-8, 0)
	tests := []struct {
		name   string
		opt    Stateful
		params []*Param
		st     State
		want   string
	}{
		{"SGD/length", sgd, ps, State{Tensors: map[string][]float32{"p0.momentum_buffer": {1}}}, "length"},
		{"SGD/unknown key", sgd, ps, State{Tensors: map[string][]float32{"p9.momentum_buffer": {1}}}, "match"},
		{"SGD/steps", sgd, ps, State{Steps: map[string]int64{"p0": 1}}, "step"},
		{"Adam/incomplete", adam, ps, State{Tensors: map[string][]float32{"p0.exp_avg": {1, 2}}}, "incomplete"},
		{"Adam/step 0", adam, ps, State{Tensors: map[string][]float32{"p1.exp_avg": {1}, "p1.exp_avg_sq": {1}}, Steps: map[string]int64{"p1": 0}}, "step 0"},
		{"Adam/length", adam, ps, State{Tensors: map[string][]float32{"p1.exp_avg": {1, 2}, "p1.exp_avg_sq": {1}}, Steps: map[string]int64{"p1": 3}}, "lengths"},
		{"Adam/unknown key", adam, ps, State{Tensors: map[string][]float32{"p1.exp_avg": {1}, "p1.exp_avg_sq": {1}, "x": {1}}, Steps: map[string]int64{"p1": 3}}, "match"},
		{"duplicate names", adam, []*Param{ps[0], {Name: "p0", Value: []float32{1}, Grad: []float32{0}}}, State{}, "duplicate"},
		{"empty name", sgd, []*Param{{Value: []float32{1}, Grad: []float32{0}}}, State{}, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opt.SetState(tt.params, tt.st)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "optim: ") {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	for _, s := range []Stateful{NewSAM(stateless{sgd}, 0.1), NewBSAM(stateless{sgd}, BSAMConfig{}), NewPlain(stateless{sgd})} {
		if _, err := s.State(ps); !errors.Is(err, ErrNotStateful) {
			t.Errorf("%T.State: err = %v, want ErrNotStateful", s, err)
		}
		if err := s.SetState(ps, State{}); !errors.Is(err, ErrNotStateful) {
			t.Errorf("%T.SetState: err = %v, want ErrNotStateful", s, err)
		}
	}
}

// TestStateKeys pins the exported names, which end up in checkpoints.
func TestStateKeys(t *testing.T) {
	ps := mkParams([]float64{1, 2})
	ps[0].Name = "conv1.weight"
	for _, tc := range []struct {
		opt interface {
			Optimizer
			Stateful
		}
		keys  []string
		steps int64
	}{
		{NewSGD(0.1, 0.9, 0), []string{"conv1.weight.momentum_buffer"}, 0},
		{NewAdam(0.1, 0.9, 0.999, 1e-8, 0), []string{"conv1.weight.exp_avg", "conv1.weight.exp_avg_sq"}, 2},
	} {
		st, err := tc.opt.State(ps)
		if err != nil || len(st.Tensors) != 0 {
			t.Fatalf("%T before any step: %v, %v; want empty", tc.opt, st, err)
		}
		for range 2 {
			setGrads(ps, []float64{1, 1})
			if err := tc.opt.Step(ps); err != nil {
				t.Fatal(err)
			}
		}
		st, err = tc.opt.State(ps)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for k := range st.Tensors {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, tc.keys) || st.Steps["conv1.weight"] != tc.steps {
			t.Errorf("%T: keys %v steps %v, want %v and %d", tc.opt, keys, st.Steps, tc.keys, tc.steps)
		}
	}
}

// bare is an Optimizer with nothing else (no Last, no State).
type bare struct{ o *SGD }

func (b bare) Step(ps []*Param) error { return b.o.Step(ps) }
func (b bare) LR() float64            { return b.o.LR() }
func (b bare) SetLR(lr float64)       { b.o.SetLR(lr) }

// TestPlainStats checks Plain's diagnostics with a base that reports its
// own GradNorm and with one that does not.
func TestPlainStats(t *testing.T) {
	for _, base := range []Optimizer{NewSGD(0.1, 0, 0), bare{NewSGD(0.1, 0, 0)}} {
		ps := mkParams([]float64{1, 2})
		p := NewPlain(base)
		loss, err := p.Step(ps, func(Pass) (float64, error) {
			setGrads(ps, []float64{3, 4})
			return 7, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if s := p.Last(); loss != 7 || s.LossCenter != 7 || s.GradNorm != 5 {
			t.Errorf("%T: loss %v stats %+v, want 7 and GradNorm 5", base, loss, s)
		}
	}
}
