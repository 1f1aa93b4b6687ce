package optim

import (
	"fmt"
	"math"
)

// Adam is torch.optim.Adam (amsgrad false): L2 weight decay is added to the
// gradient, then
//
//	d  = g + wd·w
//	m  = β1·m + (1-β1)·d          (torch: m.lerp_(d, 1-β1))
//	v  = β2·v + (1-β2)·d²
//	w -= lr/(1-β1^t) · m / (√v/√(1-β2^t) + ε)
//
// with m = v = 0 and t = 0 before the first step and t incremented first.
// ε is added after the square root.
type Adam struct{ adam }

// AdamW is torch.optim.AdamW: the weight decay is decoupled from the
// gradient, w *= 1 - lr·wd, applied before the Adam update with d = g.
type AdamW struct{ adam }

// NewAdam returns an Adam optimizer. It panics if lr, eps or weightDecay is
// negative or NaN, or a beta is outside [0, 1).
func NewAdam(lr, beta1, beta2, eps, weightDecay float64) *Adam {
	return &Adam{newAdam("adam", lr, beta1, beta2, eps, weightDecay, false)}
}

// NewAdamW returns an AdamW optimizer. It panics as NewAdam does.
func NewAdamW(lr, beta1, beta2, eps, weightDecay float64) *AdamW {
	return &AdamW{newAdam("adamw", lr, beta1, beta2, eps, weightDecay, true)}
}

type adamSlot struct {
	m, v []float32
	step int64
}

// adam is the code Adam and AdamW share.
type adam struct {
	name                      string
	lr, beta1, beta2, eps, wd float64
	decoupled                 bool
	state                     map[*Param]*adamSlot
	last                      StepStats
}

func newAdam(name string, lr, beta1, beta2, eps, wd float64, decoupled bool) adam {
	checkLR(lr)
	if !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) {
		panic(fmt.Sprintf("optim: %s: invalid betas (%v, %v)", name, beta1, beta2))
	}
	if !(eps >= 0) || !(wd >= 0) {
		panic(fmt.Sprintf("optim: %s: invalid eps %v or weight decay %v", name, eps, wd))
	}
	return adam{name: name, lr: lr, beta1: beta1, beta2: beta2, eps: eps, wd: wd,
		decoupled: decoupled, state: map[*Param]*adamSlot{}}
}

// LR returns the learning rate.
func (o *adam) LR() float64 { return o.lr }

// SetLR sets the learning rate used by the next Step. It panics if lr is
// negative or NaN.
func (o *adam) SetLR(lr float64) { checkLR(lr); o.lr = lr }

// Last returns the diagnostics of the last Step: only GradNorm is set.
func (o *adam) Last() StepStats { return o.last }

// Step applies one update to every param from its Grad (len(Value) floats,
// same layout as Value). It never returns an error. It panics if a param is
// nil or len(Grad) != len(Value).
func (o *adam) Step(params []*Param) error {
	wd := float32(o.wd)
	w1 := float32(1 - o.beta1)
	b2 := float32(o.beta2)
	c2 := float32(1 - o.beta2)
	eps := float32(o.eps)
	slots := make([]*adamSlot, len(params))
	for j, p := range params {
		checkParam(p)
		s, ok := o.state[p]
		if !ok {
			s = &adamSlot{m: make([]float32, len(p.Value)), v: make([]float32, len(p.Value))}
			o.state[p] = s
		}
		slots[j] = s
	}
	sums := make([]float64, len(params))
	forEach(params, func(j int) {
		p, s := params[j], slots[j]
		w, g := p.Value, p.Grad
		sums[j] = sumSq(g)
		s.step++
		t := float64(s.step)
		bc1 := 1 - math.Pow(o.beta1, t)
		bc2 := 1 - math.Pow(o.beta2, t)
		negStep := float32(-(o.lr / bc1))
		bc2sqrt := float32(math.Sqrt(bc2))
		if o.decoupled && o.wd != 0 {
			f := float32(1 - o.lr*o.wd)
			for i := range w {
				w[i] *= f
			}
		}
		m, v := s.m, s.v
		for i := range w {
			d := g[i]
			if !o.decoupled && wd != 0 {
				d = g[i] + float32(wd*w[i])
			}
			m[i] = lerp(m[i], d, w1)
			v[i] = float32(v[i]*b2) + float32(float32(c2*d)*d)
			den := float32(math.Sqrt(float64(v[i])))/bc2sqrt + eps
			w[i] = w[i] + (negStep*m[i])/den
		}
	})
	o.last = StepStats{GradNorm: math.Sqrt(sumInOrder(sums))}
	return nil
}

// lerp is torch's lerp kernel: a + t·(b-a), computed from the nearer end.
func lerp(a, b, t float32) float32 {
	if t < 0.5 && t > -0.5 {
		return a + float32(t*(b-a))
	}
	return b - float32((b-a)*(1-t))
}

// State returns "<name>.exp_avg", "<name>.exp_avg_sq" and the per-param
// step counters.
func (o *adam) State(params []*Param) (State, error) {
	if _, err := names(params); err != nil {
		return State{}, err
	}
	st := State{Tensors: map[string][]float32{}, Steps: map[string]int64{}}
	for _, p := range params {
		if s, ok := o.state[p]; ok {
			st.Tensors[p.Name+".exp_avg"] = clone(s.m)
			st.Tensors[p.Name+".exp_avg_sq"] = clone(s.v)
			st.Steps[p.Name] = s.step
		}
	}
	return st, nil
}

// SetState restores the state saved by State. A param needs all three of
// exp_avg, exp_avg_sq and its step counter, or none (it then starts at
// step 0).
func (o *adam) SetState(params []*Param, st State) error {
	if _, err := names(params); err != nil {
		return err
	}
	next := map[*Param]*adamSlot{}
	for _, p := range params {
		km, kv := p.Name+".exp_avg", p.Name+".exp_avg_sq"
		m, okm := st.Tensors[km]
		v, okv := st.Tensors[kv]
		step, oks := st.Steps[p.Name]
		if !okm && !okv && !oks {
			continue
		}
		if !okm || !okv || !oks {
			return fmt.Errorf("optim: %s: state for %q is incomplete (exp_avg %v, exp_avg_sq %v, step %v)", o.name, p.Name, okm, okv, oks)
		}
		if len(m) != len(p.Value) || len(v) != len(p.Value) {
			return fmt.Errorf("optim: %s: state for %q: lengths %d, %d, want %d", o.name, p.Name, len(m), len(v), len(p.Value))
		}
		if step < 1 {
			return fmt.Errorf("optim: %s: state for %q: step %d, want >= 1", o.name, p.Name, step)
		}
		next[p] = &adamSlot{m: clone(m), v: clone(v), step: step}
	}
	if 2*len(next) != len(st.Tensors) || len(next) != len(st.Steps) {
		return fmt.Errorf("optim: %s: state has %d tensors and %d counters, %d params match", o.name, len(st.Tensors), len(st.Steps), len(next))
	}
	o.state = next
	return nil
}
