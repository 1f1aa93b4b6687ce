package optim

import (
	"fmt"
	"math"
)

// SGD is stochastic gradient descent with heavy-ball momentum and L2 weight
// decay, with torch.optim.SGD semantics (dampening 0, nesterov false):
//
//	d   = g + wd·w
//	buf = d                 (first step)
//	buf = momentum·buf + d  (later steps)
//	w  -= lr·buf
//
// With momentum 0 no buffer is kept and w -= lr·d. Element arithmetic is
// float32, in torch's order, each operation rounded (the float32(...)
// conversions in the loops stop fused multiply-adds); hyperparameters are
// rounded to float32 once.
type SGD struct {
	lr, momentum, weightDecay float64
	buf                       map[*Param][]float32
	last                      StepStats
}

// NewSGD returns an SGD optimizer. It panics if lr, momentum or weightDecay
// is negative or NaN.
func NewSGD(lr, momentum, weightDecay float64) *SGD {
	checkLR(lr)
	if !(momentum >= 0) || !(weightDecay >= 0) {
		panic(fmt.Sprintf("optim: NewSGD: invalid momentum %v or weight decay %v", momentum, weightDecay))
	}
	return &SGD{lr: lr, momentum: momentum, weightDecay: weightDecay, buf: map[*Param][]float32{}}
}

// LR returns the learning rate.
func (o *SGD) LR() float64 { return o.lr }

// SetLR sets the learning rate used by the next Step. It panics if lr is
// negative or NaN.
func (o *SGD) SetLR(lr float64) { checkLR(lr); o.lr = lr }

// Last returns the diagnostics of the last Step: only GradNorm is set.
func (o *SGD) Last() StepStats { return o.last }

// Step applies one update to every param from its Grad (a slice of
// len(Value) floats, same layout as Value). It never returns an error. It
// panics if a param is nil or len(Grad) != len(Value).
func (o *SGD) Step(params []*Param) error {
	lr := float32(o.lr)
	mom := float32(o.momentum)
	wd := float32(o.weightDecay)
	bufs := make([][]float32, len(params))
	fresh := make([]bool, len(params))
	for j, p := range params {
		checkParam(p)
		if o.momentum == 0 {
			continue
		}
		buf, ok := o.buf[p]
		if !ok {
			buf = make([]float32, len(p.Value))
			o.buf[p] = buf
		}
		bufs[j], fresh[j] = buf, !ok
	}
	ss := make([]float64, len(params))
	forEach(params, func(j int) {
		p := params[j]
		w, g := p.Value, p.Grad
		ss[j] = sumSq(g)
		if o.momentum == 0 {
			for i := range w {
				d := g[i]
				if wd != 0 {
					d = g[i] + float32(wd*w[i])
				}
				w[i] = w[i] + float32(-lr*d)
			}
			return
		}
		buf, ok := bufs[j], !fresh[j]
		for i := range w {
			d := g[i]
			if wd != 0 {
				d = g[i] + float32(wd*w[i])
			}
			if ok {
				buf[i] = float32(buf[i]*mom) + d
			} else {
				buf[i] = d
			}
			w[i] = w[i] + float32(-lr*buf[i])
		}
	})
	o.last = StepStats{GradNorm: math.Sqrt(sumInOrder(ss))}
	return nil
}

// State returns the momentum buffers under "<name>.momentum_buffer".
func (o *SGD) State(params []*Param) (State, error) {
	if _, err := names(params); err != nil {
		return State{}, err
	}
	st := State{Tensors: map[string][]float32{}}
	for _, p := range params {
		if b, ok := o.buf[p]; ok {
			st.Tensors[p.Name+".momentum_buffer"] = clone(b)
		}
	}
	return st, nil
}

// SetState restores momentum buffers saved by State. Params without an
// entry start afresh (their buffer becomes the first d).
func (o *SGD) SetState(params []*Param, st State) error {
	if _, err := names(params); err != nil {
		return err
	}
	if len(st.Steps) != 0 {
		return fmt.Errorf("optim: sgd: state has %d step counters, want none", len(st.Steps))
	}
	next := map[*Param][]float32{}
	for _, p := range params {
		k := p.Name + ".momentum_buffer"
		b, ok := st.Tensors[k]
		if !ok {
			continue
		}
		if len(b) != len(p.Value) {
			return fmt.Errorf("optim: sgd: state %q: length %d, want %d", k, len(b), len(p.Value))
		}
		next[p] = clone(b)
	}
	if len(next) != len(st.Tensors) {
		return fmt.Errorf("optim: sgd: state has %d tensors, %d match a param", len(st.Tensors), len(next))
	}
	o.buf = next
	return nil
}
