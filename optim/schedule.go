package optim

import "math"

// Schedule gives a hyperparameter (a learning rate, a radius) as a pure
// function of the 0-based iteration t, so that a resumed run recomputes it
// exactly from the iteration counter. Negative t is treated as 0.
type Schedule interface {
	At(t int) float64
}

// warmup returns the linear warm-up value at t < steps: from init at t = 0
// towards target at t = steps (the official SchedulerBase).
func warmup(t, steps int, init, target float64) float64 {
	return init + (target-init)*float64(t)/float64(steps)
}

// MultiStep is a step-decay learning rate with linear warm-up
// (torch MultiStepLR after a linear warm-up):
//
//	t < Warmup:  WarmupInit + (Base - WarmupInit)·t/Warmup
//	otherwise:   Base·Gamma^k, k = number of milestones m with m <= t
//
// The warm-up ignores milestones. Milestones are iterations, need not be
// sorted, and may repeat (torch multiplies by Gamma once per copy).
type MultiStep struct {
	Base       float64
	Milestones []int
	Gamma      float64
	Warmup     int     // warm-up iterations; 0 for none
	WarmupInit float64 // value at t = 0 when Warmup > 0
}

// At returns the learning rate of iteration t.
func (s MultiStep) At(t int) float64 {
	t = max(t, 0)
	if t < s.Warmup {
		return warmup(t, s.Warmup, s.WarmupInit, s.Base)
	}
	v := s.Base
	for _, m := range s.Milestones {
		if m <= t {
			v *= s.Gamma // chained, as torch's recursive form
		}
	}
	return v
}

// Cosine is a cosine-annealed learning rate with linear warm-up, the
// official CosineScheduler (utility/scheduler.py) with T_max = Total:
//
//	t < Warmup:           WarmupInit + (Max - WarmupInit)·t/Warmup
//	Warmup <= t < Total:  Min + (Max - Min)·(1 + cos(π·(t-Warmup)/(Total-Warmup)))/2
//	t >= Total:           Min
//
// The official scheduler keeps evaluating the cosine past Total (it rises
// again); Cosine holds Min there.
type Cosine struct {
	Max, Min   float64
	Total      int     // iterations of the whole run
	Warmup     int     // warm-up iterations; 0 for none
	WarmupInit float64 // value at t = 0 when Warmup > 0
}

// At returns the learning rate of iteration t.
func (s Cosine) At(t int) float64 {
	t = max(t, 0)
	switch {
	case t < s.Warmup:
		return warmup(t, s.Warmup, s.WarmupInit, s.Max)
	case t >= s.Total:
		return s.Min
	}
	phase := float64(t-s.Warmup) / float64(s.Total-s.Warmup) * math.Pi
	return s.Min + (s.Max-s.Min)*(math.Cos(phase)+1)/2
}

// ProportionalRho is the official ProportionScheduler (utility/scheduler.py),
// which moves BSAM's RhoMin in proportion to the learning rate:
//
//	rho = rhoMin + (rhoMax - rhoMin)·(lr - lrMin)/(lrMax - lrMin)   if lrMax > lrMin
//	rho = rhoMax                                                    otherwise
//
// lr is the learning rate of the iteration; lrMin and lrMax are the
// schedule's floor and peak (official: 0 and the base learning rate), and
// rhoMin, rhoMax are the radius at those (official: 0 and 0.05). The value
// is not clamped: an lr outside [lrMin, lrMax] extrapolates.
func ProportionalRho(lr, lrMin, lrMax, rhoMin, rhoMax float64) float64 {
	if lrMax > lrMin {
		return rhoMin + (rhoMax-rhoMin)*(lr-lrMin)/(lrMax-lrMin)
	}
	return rhoMax
}

// Proportional is ProportionalRho driven by a learning-rate Schedule:
// At(t) = ProportionalRho(LR.At(t), LRMin, LRMax, Min, Max).
type Proportional struct {
	LR           Schedule
	LRMin, LRMax float64
	Min, Max     float64
}

// At returns the radius of iteration t.
func (p Proportional) At(t int) float64 {
	return ProportionalRho(p.LR.At(t), p.LRMin, p.LRMax, p.Min, p.Max)
}
