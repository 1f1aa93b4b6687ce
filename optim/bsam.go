package optim

import (
	"fmt"
	"math"
)

// BSAMConfig configures BSAM.
type BSAMConfig struct {
	RhoMax     float64 // radius of the ascent (max-sharpness) point
	RhoMin     float64 // radius of the descent (min-sharpness) point
	FromCenter bool    // false: the official implementation; true: see below

	// Adaptive makes both perturbations scale-invariant (ASAM, Kwon et al.
	// 2021): e_max = RhoMax·T²·g/(||T·g|| + 1e-12) and e_min = RhoMin·T²·g/
	// (||T·g|| + 1e-12), T = |w| + Eta elementwise, w the centre. The ratio
	// in u stays ||g_max||/||g_min|| (plain norms); see the package
	// documentation for how this relates to bsam.py's adaptive branch.
	Adaptive bool
	Eta      float64 // ASAM's η (DefaultEta); used only when Adaptive
}

// BSAM is bilateral sharpness-aware minimisation as the official code
// (github.com/ajiaaa/BSAM, bsam.py) computes it:
//
//	g     = ∇L(w)                               (PassCenter)
//	n     = ||g||
//	w_max = w + RhoMax·g/(n + 1e-12),  g_max = ∇L(w_max)   (PassAscent)
//	w_min = w - RhoMin·g/(n + 1e-12),  g_min = ∇L(w_min)   (PassDescent)
//	u     = g_max + (g - (||g_max||/||g_min||)·g_min)
//
// and the base optimizer steps with u as the gradient. With FromCenter
// false (the default) the step is applied at w_min, weight decay included,
// as in the official code, whose restored copy of w shares memory with the
// live weights when it moves them to w_min; with FromCenter true the
// params are first restored to w, so the step is applied at w.
//
// With Adaptive, the two perturbations are RhoMax·T²·g/(||T·g|| + 1e-12) and
// RhoMin·T²·g/(||T·g|| + 1e-12) with T = |w| + Eta, everything else as above.
//
// Guards: a zero ||g|| gives e = 0 through the 1e-12 (no NaN); a zero
// ||g_min|| means g_min = 0, and the ratio is then taken as 0, so u = g_max
// + g, the limit of any finite ratio (the official code has no guard there
// and gives NaN). A ratio too large for float32 (||g_min|| subnormal) would
// overflow to Inf; the term is then computed in float64 as
// ||g_max||·g_min/||g_min||, which stays finite.
type BSAM struct {
	base Optimizer
	cfg  BSAMConfig
	buf  map[*Param]*bsamBuf
	last StepStats
}

type bsamBuf struct {
	old, g, gMax []float32
}

// NewBSAM returns BSAM around base. It panics if base is nil, RhoMax is
// negative, a radius is infinite or NaN, or (Adaptive) Eta is negative,
// infinite or NaN.
func NewBSAM(base Optimizer, cfg BSAMConfig) *BSAM {
	if base == nil {
		panic("optim: NewBSAM: nil base optimizer")
	}
	if !(cfg.RhoMax >= 0) || math.IsInf(cfg.RhoMax, 0) {
		panic(fmt.Sprintf("optim: NewBSAM: invalid RhoMax %v", cfg.RhoMax))
	}
	checkRhoMin(cfg.RhoMin)
	if cfg.Adaptive {
		checkEta(cfg.Eta)
	}
	return &BSAM{base: base, cfg: cfg, buf: map[*Param]*bsamBuf{}}
}

func checkRhoMin(rho float64) {
	if math.IsNaN(rho) || math.IsInf(rho, 0) {
		panic(fmt.Sprintf("optim: BSAM: invalid RhoMin %v", rho))
	}
}

// SetRhoMin sets the descent radius used by the next Step (the official
// code schedules it with the learning rate, see ProportionalRho). It
// panics if rho is infinite or NaN.
func (b *BSAM) SetRhoMin(rho float64) { checkRhoMin(rho); b.cfg.RhoMin = rho }

// Config returns the current configuration.
func (b *BSAM) Config() BSAMConfig { return b.cfg }

// Base returns the base optimizer.
func (b *BSAM) Base() Optimizer { return b.base }

// LR returns the base optimizer's learning rate.
func (b *BSAM) LR() float64 { return b.base.LR() }

// SetLR sets the base optimizer's learning rate.
func (b *BSAM) SetLR(lr float64) { b.base.SetLR(lr) }

// Last returns the diagnostics of the last successful Step.
func (b *BSAM) Last() StepStats { return b.last }

// Step makes one BSAM update: grad is called with PassCenter, PassAscent
// and PassDescent, in that order. Afterwards each Grad holds the direction
// u handed to the base optimizer and the params hold the base update of
// w_min (FromCenter false) or of w (FromCenter true). It returns the
// PassCenter loss.
//
// If grad fails, Step restores w, skips the update and returns the error.
// It panics if a param is nil or, after a grad call, len(Grad) !=
// len(Value).
func (b *BSAM) Step(params []*Param, grad GradFunc) (float64, error) {
	lossC, err := grad(PassCenter)
	if err != nil {
		return lossC, fmt.Errorf("optim: bsam: center pass: %w", err)
	}
	// to_max_point
	n := gradNorm(params)
	eta := float32(b.cfg.Eta)
	var nT float64 // ||T·g||: the adaptive perturbations' denominator
	den := n
	if b.cfg.Adaptive {
		nT = adaptiveNorm(params, eta)
		den = nT
	}
	sMax := float32(b.cfg.RhoMax / (den + normEps))
	bufs := make([]*bsamBuf, len(params))
	for j, p := range params {
		bufs[j] = b.bufs(p)
	}
	forEach(params, func(j int) {
		p, bb := params[j], bufs[j]
		w, g := p.Value, p.Grad
		copy(bb.old, w)
		copy(bb.g, g)
		if b.cfg.Adaptive {
			for i := range w {
				t := abs32(w[i]) + eta
				w[i] += g[i] * (t * t) * sMax
			}
			return
		}
		for i := range w {
			w[i] += float32(g[i] * sMax)
		}
	})
	lossA, err := grad(PassAscent)
	if err != nil {
		b.restore(params)
		return lossC, fmt.Errorf("optim: bsam: ascent pass: %w", err)
	}
	// to_min_point
	sMin := float32(b.cfg.RhoMin / (den + normEps))
	for _, p := range params {
		checkParam(p)
	}
	ssMax := make([]float64, len(params))
	forEach(params, func(j int) {
		p, bb := params[j], bufs[j]
		w, gm := p.Value, p.Grad
		ssMax[j] = sumSq(gm)
		copy(bb.gMax, gm)
		if b.cfg.Adaptive {
			for i := range w {
				t := abs32(bb.old[i]) + eta
				w[i] = bb.old[i] - bb.g[i]*(t*t)*sMin
			}
			return
		}
		for i := range w {
			w[i] = bb.old[i] - float32(bb.g[i]*sMin)
		}
	})
	nMax := math.Sqrt(sumInOrder(ssMax))
	lossD, err := grad(PassDescent)
	if err != nil {
		b.restore(params)
		return lossC, fmt.Errorf("optim: bsam: descent pass: %w", err)
	}
	// opt_max_min_step
	nMin := gradNorm(params)
	var ratio float64 // ||g_min|| = 0 means g_min = 0: the term vanishes.
	if nMin > 0 {
		ratio = nMax / nMin
	}
	if ratio <= math.MaxFloat32 {
		r := float32(ratio) // torch: a float32 ratio times g_min
		forEach(params, func(j int) {
			bb, u := bufs[j], params[j].Grad
			for i := range u {
				u[i] = bb.gMax[i] + (bb.g[i] - float32(r*u[i]))
			}
		})
	} else {
		// The ratio overflows float32 (||g_min|| tiny): compute the term as
		// ||g_max||·(g_min/||g_min||), whose size is at most ||g_max||.
		forEach(params, func(j int) {
			bb, u := bufs[j], params[j].Grad
			for i := range u {
				u[i] = bb.gMax[i] + (bb.g[i] - float32(nMax*(float64(u[i])/nMin)))
			}
		})
	}
	var dir direction
	dir.addAll(params, func(j int) []float32 { return params[j].Grad }, func(j int) []float32 { return bufs[j].g })
	if b.cfg.FromCenter {
		b.restore(params)
	}
	if err := b.base.Step(params); err != nil {
		return lossC, fmt.Errorf("optim: bsam: base step: %w", err)
	}
	b.last = StepStats{
		GradNorm: n, AscentGradNorm: nMax, DescentGradNorm: nMin,
		LossCenter: lossC, LossAscent: lossA, LossDescent: lossD,
		MaxS: lossA - lossC, MinS: lossC - lossD,
		RhoMax: b.cfg.RhoMax, RhoMin: b.cfg.RhoMin, AdaptiveNorm: nT,
	}
	dir.fill(&b.last, 1)
	return lossC, nil
}

func (b *BSAM) bufs(p *Param) *bsamBuf {
	checkParam(p)
	bb, ok := b.buf[p]
	if !ok || len(bb.old) != len(p.Value) {
		n := len(p.Value)
		bb = &bsamBuf{old: make([]float32, n), g: make([]float32, n), gMax: make([]float32, n)}
		b.buf[p] = bb
	}
	return bb
}

// restore copies the saved w back into every param.
func (b *BSAM) restore(params []*Param) {
	old := make([][]float32, len(params))
	for j, p := range params {
		old[j] = b.buf[p].old
	}
	forEach(params, func(j int) { copy(params[j].Value, old[j]) })
}

// State returns the base optimizer's state, or ErrNotStateful.
func (b *BSAM) State(params []*Param) (State, error) { return baseState(b.base, params) }

// SetState sets the base optimizer's state, or returns ErrNotStateful.
func (b *BSAM) SetState(params []*Param, st State) error { return setBaseState(b.base, params, st) }
