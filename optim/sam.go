package optim

import (
	"fmt"
	"math"
)

// SAM is sharpness-aware minimisation (Foret et al.) around a base
// optimizer:
//
//	g   = ∇L(w)                      (PassCenter)
//	e   = ρ·g/(||g|| + 1e-12)
//	g_s = ∇L(w + e)                  (PassAscent)
//	w   = w (restored exactly), then the base optimizer steps with g_s.
//
// Adaptive SAM (ASAM, NewASAM) replaces e with ρ·T²·g/(||T·g|| + 1e-12),
// T = |w| + η elementwise (see the package documentation).
type SAM struct {
	base     Optimizer
	rho      float64
	adaptive bool
	eta      float64
	old      map[*Param][]float32
	g        map[*Param][]float32 // adaptive only: g at w, for the direction stats
	e        []float32            // scratch: w_max - w of one param, for the direction stats
	last     StepStats
}

// NewSAM returns SAM with radius rho around base. It panics if base is nil
// or rho is negative, infinite or NaN.
func NewSAM(base Optimizer, rho float64) *SAM {
	if base == nil {
		panic("optim: NewSAM: nil base optimizer")
	}
	if !(rho >= 0) || math.IsInf(rho, 0) {
		panic(fmt.Sprintf("optim: NewSAM: invalid rho %v", rho))
	}
	return &SAM{base: base, rho: rho, old: map[*Param][]float32{}}
}

// NewASAM returns adaptive SAM (Kwon et al. 2021) with radius rho and
// T = |w| + eta around base: e = ρ·T²·g/(||T·g|| + 1e-12). It panics as
// NewSAM does, or if eta is negative, infinite or NaN.
func NewASAM(base Optimizer, rho, eta float64) *SAM {
	s := NewSAM(base, rho)
	checkEta(eta)
	s.adaptive, s.eta, s.g = true, eta, map[*Param][]float32{}
	return s
}

// Adaptive reports whether s is adaptive SAM, and its eta.
func (s *SAM) Adaptive() (bool, float64) { return s.adaptive, s.eta }

// Base returns the base optimizer.
func (s *SAM) Base() Optimizer { return s.base }

// Rho returns the radius.
func (s *SAM) Rho() float64 { return s.rho }

// LR returns the base optimizer's learning rate.
func (s *SAM) LR() float64 { return s.base.LR() }

// SetLR sets the base optimizer's learning rate.
func (s *SAM) SetLR(lr float64) { s.base.SetLR(lr) }

// Last returns the diagnostics of the last successful Step (GradNorm,
// AscentGradNorm, LossCenter, LossAscent, MaxS, RhoMax).
func (s *SAM) Last() StepStats { return s.last }

// Step makes one SAM update: grad is called with PassCenter, then
// PassAscent; after it the params hold the base optimizer's update of w,
// and each Grad holds g_s. It returns the PassCenter loss.
//
// If grad fails, Step restores w, skips the update and returns the error.
// It panics if a param is nil or, after a grad call, len(Grad) !=
// len(Value).
func (s *SAM) Step(params []*Param, grad GradFunc) (float64, error) {
	lossC, err := grad(PassCenter)
	if err != nil {
		return lossC, fmt.Errorf("optim: sam: center pass: %w", err)
	}
	n := gradNorm(params)
	var scale float32
	var nT float64
	if s.adaptive {
		eta := float32(s.eta)
		nT = adaptiveNorm(params, eta)
		scale = float32(s.rho / (nT + normEps))
		for _, p := range params {
			old := s.buf(p)
			copy(old, p.Value)
			gs := s.gbuf(p)
			copy(gs, p.Grad)
			if len(p.Value) > cap(s.e) {
				s.e = make([]float32, len(p.Value))
			}
			e := s.e[:len(p.Value)]
			adaptiveE(e, p.Value, p.Grad, eta, scale)
			for i := range e {
				p.Value[i] += e[i]
			}
		}
	} else {
		scale = float32(s.rho / (n + normEps))
		for _, p := range params {
			old := s.buf(p)
			copy(old, p.Value)
			w, g := p.Value, p.Grad
			for i := range w {
				w[i] += float32(g[i] * scale)
			}
		}
	}
	lossA, err := grad(PassAscent)
	var dir direction // u = g_max against e = w_max - w = scale·g (adaptive: against g)
	for _, p := range params {
		if err == nil && s.adaptive {
			checkParam(p)
			dir.add(p.Grad, s.g[p])
		} else if err == nil {
			if len(p.Value) > cap(s.e) {
				s.e = make([]float32, len(p.Value))
			}
			e := s.e[:len(p.Value)]
			for i, v := range p.Value {
				e[i] = v - s.old[p][i]
			}
			checkParam(p)
			dir.add(p.Grad, e)
		}
		copy(p.Value, s.old[p])
	}
	if err != nil {
		return lossC, fmt.Errorf("optim: sam: ascent pass: %w", err)
	}
	na := gradNorm(params)
	if err := s.base.Step(params); err != nil {
		return lossC, fmt.Errorf("optim: sam: base step: %w", err)
	}
	s.last = StepStats{
		GradNorm: n, AscentGradNorm: na,
		LossCenter: lossC, LossAscent: lossA, MaxS: lossA - lossC,
		RhoMax: s.rho, AdaptiveNorm: nT,
	}
	if s.adaptive {
		dir.fill(&s.last, 1)
	} else if scale > 0 {
		dir.fill(&s.last, float64(scale))
	}
	return lossC, nil
}

func (s *SAM) buf(p *Param) []float32 {
	b, ok := s.old[p]
	if !ok || len(b) != len(p.Value) {
		b = make([]float32, len(p.Value))
		s.old[p] = b
	}
	return b
}

func (s *SAM) gbuf(p *Param) []float32 {
	b, ok := s.g[p]
	if !ok || len(b) != len(p.Value) {
		b = make([]float32, len(p.Value))
		s.g[p] = b
	}
	return b
}

// State returns the base optimizer's state, or ErrNotStateful.
func (s *SAM) State(params []*Param) (State, error) { return baseState(s.base, params) }

// SetState sets the base optimizer's state, or returns ErrNotStateful.
func (s *SAM) SetState(params []*Param, st State) error { return setBaseState(s.base, params, st) }

func baseState(base Optimizer, params []*Param) (State, error) {
	b, ok := base.(Stateful)
	if !ok {
		return State{}, ErrNotStateful
	}
	return b.State(params)
}

func setBaseState(base Optimizer, params []*Param, st State) error {
	b, ok := base.(Stateful)
	if !ok {
		return ErrNotStateful
	}
	return b.SetState(params, st)
}

// Plain runs a plain Optimizer as a Stepper: one PassCenter evaluation,
// then base.Step.
type Plain struct {
	base Optimizer
	last StepStats
}

// NewPlain wraps base. It panics if base is nil.
func NewPlain(base Optimizer) *Plain {
	if base == nil {
		panic("optim: NewPlain: nil base optimizer")
	}
	return &Plain{base: base}
}

// Base returns the wrapped optimizer.
func (o *Plain) Base() Optimizer { return o.base }

// LR returns the base optimizer's learning rate.
func (o *Plain) LR() float64 { return o.base.LR() }

// SetLR sets the base optimizer's learning rate.
func (o *Plain) SetLR(lr float64) { o.base.SetLR(lr) }

// Last returns GradNorm and LossCenter of the last successful Step.
func (o *Plain) Last() StepStats { return o.last }

// Step calls grad(PassCenter), then base.Step, and returns the loss. On a
// grad error the params are unchanged.
func (o *Plain) Step(params []*Param, grad GradFunc) (float64, error) {
	loss, err := grad(PassCenter)
	if err != nil {
		return loss, fmt.Errorf("optim: center pass: %w", err)
	}
	l, hasLast := o.base.(interface{ Last() StepStats })
	var n float64
	if !hasLast {
		n = gradNorm(params)
	}
	if err := o.base.Step(params); err != nil {
		return loss, fmt.Errorf("optim: base step: %w", err)
	}
	if hasLast {
		n = l.Last().GradNorm // the base measured g before stepping
	}
	o.last = StepStats{GradNorm: n, LossCenter: loss}
	return loss, nil
}

// State returns the base optimizer's state, or ErrNotStateful.
func (o *Plain) State(params []*Param) (State, error) { return baseState(o.base, params) }

// SetState sets the base optimizer's state, or returns ErrNotStateful.
func (o *Plain) SetState(params []*Param, st State) error { return setBaseState(o.base, params, st) }
