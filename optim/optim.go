package optim

import (
	"errors"
	"fmt"
	"math"
)

// Param is one trainable tensor, flattened. Value and Grad have the same length.
type Param struct {
	Name  string
	Value []float32 // updated in place
	Grad  []float32 // written by the caller's GradFunc
}

// Optimizer applies one update from the current gradients.
//
// Step reads every Param.Grad and updates every Param.Value in place. It
// panics if a Param is nil or len(Grad) != len(Value).
type Optimizer interface {
	Step(params []*Param) error
	LR() float64
	SetLR(lr float64)
}

// Pass says which evaluation a GradFunc call is; only PassCenter may update
// batch-norm running statistics.
type Pass int

const (
	PassCenter  Pass = iota // at w
	PassAscent              // at w + e_max
	PassDescent             // at w - e_min (BSAM only)
)

// String returns "center", "ascent" or "descent".
func (p Pass) String() string {
	switch p {
	case PassCenter:
		return "center"
	case PassAscent:
		return "ascent"
	case PassDescent:
		return "descent"
	}
	return fmt.Sprintf("Pass(%d)", int(p))
}

// GradFunc evaluates the loss on the current batch at the current Values,
// overwrites every Grad, and returns the loss.
type GradFunc func(pass Pass) (loss float64, err error)

// Stepper is an optimizer that evaluates the gradient itself, through a
// GradFunc, as many times as it needs: SAM (two passes), BSAM (three) and
// Plain (one, wrapping any Optimizer). A training loop written against
// Stepper runs all of them.
type Stepper interface {
	// Step returns the loss of the PassCenter evaluation.
	Step(params []*Param, grad GradFunc) (loss float64, err error)
	LR() float64
	SetLR(lr float64)
	Last() StepStats
}

// StepStats are the diagnostics of the last Step, gathered from the passes
// the step makes anyway (no extra forward or backward pass).
//
// Fields a step does not compute are 0: SGD, Adam and AdamW fill only
// GradNorm; SAM leaves the Descent fields and MinS at 0.
type StepStats struct {
	GradNorm        float64 // ||g||, the gradient at w (before weight decay)
	AscentGradNorm  float64 // ||g_max||, the gradient at w + e_max
	DescentGradNorm float64 // ||g_min||, the gradient at w - e_min (BSAM)
	LossCenter      float64 // L(w)
	LossAscent      float64 // L(w + e_max)
	LossDescent     float64 // L(w - e_min) (BSAM)
	MaxS            float64 // L(w_max) - L(w), the max-sharpness estimate
	MinS            float64 // L(w) - L(w_min), the min-sharpness estimate (BSAM)
	RhoMax          float64 // radius used for the ascent point (SAM, BSAM)
	RhoMin          float64 // radius used for the descent point (BSAM)
	AdaptiveNorm    float64 // ||T·g||, T = |w| + η (adaptive SAM/BSAM; 0 otherwise)

	// How the direction u handed to the base optimizer relates to g (SAM:
	// u = g_max; BSAM: u = g_max + g - (||g_max||/||g_min||)·g_min). 0 for
	// the plain optimizers, whose u is g.
	CosUG     float64 // cos(u, g): below 0 a plain-gradient step along u goes uphill
	CoefG     float64 // u·g/||g||²: the weight of g in u (1 for u = g)
	SignAgree float64 // g·sign(u)/||g||₁ in [-1, 1]: the same for sign-like steps (Adam's first steps)
}

// direction accumulates the dot products behind CosUG, CoefG and
// SignAgree; g may be any positive multiple of the gradient.
type direction struct{ ug, uu, gg, gSign, gAbs float64 }

// addAll adds the dot products of every param's us[i] against gs[i],
// param by param (split across goroutines) and merged in param order.
func (d *direction) addAll(params []*Param, us, gs func(i int) []float32) {
	parts := make([]direction, len(params))
	forEach(params, func(i int) { parts[i].add(us(i), gs(i)) })
	for _, q := range parts {
		d.ug += q.ug
		d.uu += q.uu
		d.gg += q.gg
		d.gSign += q.gSign
		d.gAbs += q.gAbs
	}
}

func (d *direction) add(u, g []float32) {
	var ug, uu, gg, gs, ga float64
	for i, ui := range u {
		a, b := float64(ui), float64(g[i])
		ug += a * b
		uu += a * a
		gg += b * b
		ga += math.Abs(b)
		if a > 0 {
			gs += b
		} else if a < 0 {
			gs -= b
		}
	}
	d.ug += ug
	d.uu += uu
	d.gg += gg
	d.gSign += gs
	d.gAbs += ga
}

// fill sets st's direction fields; gScale is the factor g was multiplied
// by (1 if it is the gradient itself).
func (d *direction) fill(st *StepStats, gScale float64) {
	if d.uu > 0 && d.gg > 0 {
		st.CosUG = d.ug / math.Sqrt(d.uu*d.gg)
		st.CoefG = d.ug / d.gg * gScale
	}
	if d.gAbs > 0 {
		st.SignAgree = d.gSign / d.gAbs
	}
}

// State is the part of an optimizer's state that must be saved to resume
// training bit-exactly. Both maps are keyed by Param.Name, so a State can
// be restored into a fresh set of Params with the same names and lengths.
type State struct {
	// Tensors holds per-parameter buffers under "<Param.Name>.<slot>", the
	// slot being torch's name: "momentum_buffer" (SGD with momentum),
	// "exp_avg" and "exp_avg_sq" (Adam, AdamW). A parameter that has not
	// been stepped yet has no entry.
	Tensors map[string][]float32
	// Steps holds per-parameter step counters (torch's state["step"]),
	// keyed by Param.Name; only Adam and AdamW use it.
	Steps map[string]int64
}

// Stateful is implemented by every optimizer in this package. SAM, BSAM
// and Plain delegate to their base optimizer; their own buffers live only
// inside one Step.
type Stateful interface {
	// State returns a deep copy of the state of params. It returns an
	// error if two params share a Name or a Name is empty.
	State(params []*Param) (State, error)
	// SetState replaces the state of params with a deep copy of st. It
	// returns an error, and changes nothing, if a buffer's length does not
	// match its Param, if st holds a key no Param claims, or if names
	// collide.
	SetState(params []*Param, st State) error
}

// ErrNotStateful is returned by SAM, BSAM and Plain State and SetState when
// their base optimizer does not implement Stateful.
var ErrNotStateful = errors.New("optim: base optimizer does not implement Stateful")

var (
	_ Optimizer = (*SGD)(nil)
	_ Optimizer = (*Adam)(nil)
	_ Optimizer = (*AdamW)(nil)
	_ Stateful  = (*SGD)(nil)
	_ Stateful  = (*Adam)(nil)
	_ Stateful  = (*AdamW)(nil)
	_ Stateful  = (*SAM)(nil)
	_ Stateful  = (*BSAM)(nil)
	_ Stateful  = (*Plain)(nil)
	_ Stepper   = (*SAM)(nil)
	_ Stepper   = (*BSAM)(nil)
	_ Stepper   = (*Plain)(nil)
)

// normEps is the constant the official code adds to ||g|| before dividing
// (bsam.py: rho / (grad_norm + 1e-12)).
const normEps = 1e-12

// checkParam panics if p is nil or its Grad and Value lengths differ.
func checkParam(p *Param) {
	if p == nil {
		panic("optim: nil *Param")
	}
	if len(p.Grad) != len(p.Value) {
		panic(fmt.Sprintf("optim: param %q: len(Grad) = %d, len(Value) = %d", p.Name, len(p.Grad), len(p.Value)))
	}
}

// sumSq returns Σ x_i², accumulated in float64.
func sumSq(x []float32) float64 {
	var s0, s1 float64
	i := 0
	for ; i+1 < len(x); i += 2 {
		a, b := float64(x[i]), float64(x[i+1])
		s0 += a * a
		s1 += b * b
	}
	if i < len(x) {
		a := float64(x[i])
		s0 += a * a
	}
	return s0 + s1
}

// gradNorm returns the global L2 norm of all Grads, accumulated in float64.
// It panics as checkParam does.
func gradNorm(params []*Param) float64 {
	for _, p := range params {
		checkParam(p)
	}
	s := make([]float64, len(params))
	forEach(params, func(i int) { s[i] = sumSq(params[i].Grad) })
	return math.Sqrt(sumInOrder(s))
}

// names indexes params by Name and rejects empty or duplicate names.
func names(params []*Param) (map[string]*Param, error) {
	m := make(map[string]*Param, len(params))
	for _, p := range params {
		checkParam(p)
		if p.Name == "" {
			return nil, errors.New("optim: state: param with empty Name")
		}
		if _, dup := m[p.Name]; dup {
			return nil, fmt.Errorf("optim: state: duplicate param name %q", p.Name)
		}
		m[p.Name] = p
	}
	return m, nil
}

// clone returns a copy of x.
func clone(x []float32) []float32 {
	return append([]float32(nil), x...)
}

// checkLR panics if lr is negative or NaN.
func checkLR(lr float64) {
	if !(lr >= 0) || math.IsInf(lr, 0) {
		panic(fmt.Sprintf("optim: invalid learning rate %v", lr))
	}
}
