package optim

import (
	"math"
	"testing"
)

func TestMultiStep(t *testing.T) {
	s := MultiStep{Base: 0.1, Milestones: []int{6, 3}, Gamma: 0.1, Warmup: 2, WarmupInit: 0.01}
	tests := []struct {
		t    int
		want float64
	}{
		{-1, 0.01}, {0, 0.01}, {1, 0.055}, {2, 0.1}, {3, 0.01}, {5, 0.01}, {6, 0.001}, {100, 0.001},
	}
	for _, tt := range tests {
		if got := s.At(tt.t); !closeTo(got, tt.want, 1e-12) {
			t.Errorf("At(%d) = %v, want %v", tt.t, got, tt.want)
		}
	}
	dup := MultiStep{Base: 1, Milestones: []int{2, 2}, Gamma: 0.5}
	if got := dup.At(2); got != 0.25 {
		t.Errorf("repeated milestone: At(2) = %v, want 0.25", got)
	}
}

func TestCosine(t *testing.T) {
	s := Cosine{Max: 1, Min: 0.1, Total: 10, Warmup: 2}
	tests := []struct {
		t    int
		want float64
	}{
		{0, 0}, {1, 0.5}, {2, 1},
		{6, 0.55}, // half-way through the 8 cosine iterations
		{9, 0.1 + 0.9*(math.Cos(7*math.Pi/8)+1)/2},
		{10, 0.1}, {50, 0.1},
	}
	for _, tt := range tests {
		if got := s.At(tt.t); !closeTo(got, tt.want, 1e-12) {
			t.Errorf("At(%d) = %v, want %v", tt.t, got, tt.want)
		}
	}
	// Monotone non-increasing after the warm-up.
	for i := 2; i < 12; i++ {
		if s.At(i+1) > s.At(i) {
			t.Errorf("At(%d) = %v > At(%d) = %v", i+1, s.At(i+1), i, s.At(i))
		}
	}
}

func TestProportionalRho(t *testing.T) {
	tests := []struct {
		name                         string
		lr, lrMin, lrMax, rmin, rmax float64
		want                         float64
	}{
		{"at peak", 0.05, 0, 0.05, 0, 0.05, 0.05},
		{"at floor", 0, 0, 0.05, 0.01, 0.05, 0.01},
		{"midway", 0.025, 0, 0.05, 0.01, 0.05, 0.03},
		{"constant lr", 0.1, 0.1, 0.1, 0.02, 0.07, 0.07},
		{"extrapolated", 0.1, 0, 0.05, 0, 0.05, 0.1},
	}
	for _, tt := range tests {
		if got := ProportionalRho(tt.lr, tt.lrMin, tt.lrMax, tt.rmin, tt.rmax); !closeTo(got, tt.want, 1e-12) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	p := Proportional{LR: Cosine{Max: 0.05, Total: 8}, LRMax: 0.05, Min: 0, Max: 0.05}
	if got := p.At(4); !closeTo(got, 0.025, 1e-12) {
		t.Errorf("Proportional.At(4) = %v, want 0.025", got)
	}
}

// officialCosine and officialProportion are the stateful schedulers of
// utility/scheduler.py, ported line by line.
type officialCosine struct {
	t, warmup, total       int
	min, max, init, lastLR float64
	lr                     *float64 // the base optimizer's param_groups lr
}

func (c *officialCosine) step() float64 {
	var v float64
	switch {
	case c.t < c.warmup:
		v = c.init + (c.max-c.init)*float64(c.t)/float64(c.warmup)
	case c.t == c.warmup:
		v = c.max
	default:
		phase := float64(c.t-c.warmup) / float64(c.total-c.warmup) * math.Pi
		v = c.min + (c.max-c.min)*(math.Cos(phase)+1)/2
	}
	c.t++
	*c.lr = v
	c.lastLR = v
	return v
}

type officialProportion struct {
	c                      *officialCosine
	maxLR, minLR, max, min float64
}

func (p *officialProportion) step() float64 {
	lr := p.c.lastLR
	if p.maxLR > p.minLR {
		return p.min + (p.max-p.min)*(lr-p.minLR)/(p.maxLR-p.minLR)
	}
	return p.max
}

// TestOfficialScheduleTiming replays train_bsam.py's scheduler calls and
// checks the per-iteration lr and RhoMin that the package doc promises.
func TestOfficialScheduleTiming(t *testing.T) {
	const T, lrMax, rhoMax, rhoMinMin = 20, 0.05, 0.05, 0.01
	lr := lrMax // torch.optim.SGD(lr=args.learning_rate)
	c := &officialCosine{total: T, max: lrMax, lr: &lr}
	p := &officialProportion{c: c, maxLR: lrMax, max: rhoMax, min: rhoMinMin}
	p.step()        // ProportionScheduler.__init__
	rho := p.step() // BSAM.__init__: update_rho_t
	ours := Cosine{Max: lrMax, Total: T}
	for k := range T {
		wantLR := ours.At(max(k-1, 0))
		wantRho := ProportionalRho(wantLR, 0, lrMax, rhoMinMin, rhoMax)
		if k == 0 {
			wantRho = rhoMinMin
		}
		if !closeTo(lr, wantLR, 1e-15) || !closeTo(rho, wantRho, 1e-15) {
			t.Errorf("iteration %d: official lr %v rho %v, documented %v %v", k, lr, rho, wantLR, wantRho)
		}
		// ... the three passes and the base step use lr and rho here ...
		c.step()
		rho = p.step()
	}
}
