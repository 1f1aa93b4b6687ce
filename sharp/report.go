package sharp

import (
	"fmt"
	"io"
	"math"
	"time"
)

// Config selects what Analyze measures.
type Config struct {
	Rho          float64 // sharpness radius (default 0.05)
	PowerIters   int     // power iterations (default 20; < 0 skips the eigenvalue)
	Hutchinson   int     // Rademacher vectors (default 30; < 0 skips the trace)
	Eps          float64 // HVP finite-difference step (default 1e-2)
	ProfileRange float64 // profile α in [-r, r] (default 1; < 0 skips the profile)
	ProfilePts   int     // profile points (default 41)
	Seed         uint64
	Blocks       []Block   // layout for the filter-normalised direction; nil: every value is its own filter
	Progress     io.Writer // one line per phase; nil: silent
}

func (c Config) withDefaults() Config {
	if c.Rho == 0 {
		c.Rho = 0.05
	}
	if c.PowerIters == 0 {
		c.PowerIters = 20
	}
	if c.Hutchinson == 0 {
		c.Hutchinson = 30
	}
	if c.Eps <= 0 {
		c.Eps = 1e-2
	}
	if c.ProfileRange == 0 {
		c.ProfileRange = 1
	}
	if c.ProfilePts <= 1 {
		c.ProfilePts = 41
	}
	return c
}

// Report holds every measure at one point; it is what sharpness.json
// contains.
type Report struct {
	Params  int            `json:"params"`
	Sharp   Sharp          `json:"sharpness"`
	Eigen   *Eigen         `json:"top_eigenvalue,omitempty"`
	Trace   *TraceEstimate `json:"trace,omitempty"`
	Alphas  []float64      `json:"profile_alpha,omitempty"`
	Losses  []float64      `json:"profile_loss,omitempty"`
	Eps     float64        `json:"hvp_eps"`
	Seconds float64        `json:"seconds"`
}

// Analyze computes all measures of cfg at w.
func Analyze(o Oracle, w []float64, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	start := time.Now()
	say := func(format string, a ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "sharpness: "+format+"\n", a...)
		}
	}
	r := &Report{Params: o.Dim(), Eps: cfg.Eps}
	s, err := Sharpness(o, w, cfg.Rho)
	if err != nil {
		return nil, err
	}
	r.Sharp = s
	say("L %.6g  ||g|| %.4g  MaxS %.4g  MinS %.4g (%.0fs)", s.Loss, s.GradNorm, s.MaxS, s.MinS, time.Since(start).Seconds())
	if cfg.PowerIters > 0 {
		e, err := TopEigen(o, w, PowerConfig{Iters: cfg.PowerIters, Eps: cfg.Eps, Seed: cfg.Seed, Tol: 1e-3})
		if err != nil {
			return nil, err
		}
		r.Eigen = &e
		say("top eigenvalue %.6g after %d iterations (%.0fs)", e.Value, len(e.Estimates), time.Since(start).Seconds())
	}
	if cfg.Hutchinson > 0 {
		t, err := Trace(o, w, HutchinsonConfig{Samples: max(cfg.Hutchinson, 2), Eps: cfg.Eps, Seed: cfg.Seed + 1})
		if err != nil {
			return nil, err
		}
		r.Trace = &t
		say("trace %.6g, 95%% CI [%.6g, %.6g] (%.0fs)", t.Mean, t.Low, t.High, time.Since(start).Seconds())
	}
	if cfg.ProfileRange > 0 {
		blocks := cfg.Blocks
		if blocks == nil {
			blocks = []Block{{Name: "all", Shape: []int{len(w), 1}}}
		}
		d := FilterNormalized(w, blocks, cfg.Seed+2)
		r.Alphas = Linspace(-cfg.ProfileRange, cfg.ProfileRange, cfg.ProfilePts)
		if r.Losses, err = Profile(o, w, d, r.Alphas); err != nil {
			return nil, err
		}
		say("loss profile over %d points (%.0fs)", len(r.Alphas), time.Since(start).Seconds())
	}
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}

// WriteTable writes the report as an aligned text table.
func (r *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "%-22s %s\n", "measure", "value")
	row := func(name string, v float64) { fmt.Fprintf(w, "%-22s %.6g\n", name, v) }
	fmt.Fprintf(w, "%-22s %d\n", "params", r.Params)
	row("loss L(w)", r.Sharp.Loss)
	row("grad norm", r.Sharp.GradNorm)
	row(fmt.Sprintf("MaxS(rho=%g)", r.Sharp.Rho), r.Sharp.MaxS)
	row(fmt.Sprintf("MinS(rho=%g)", r.Sharp.Rho), r.Sharp.MinS)
	row("MaxS+MinS", r.Sharp.Sum)
	row("MaxS-MinS", r.Sharp.Diff)
	if r.Eigen != nil {
		row(fmt.Sprintf("top eigenvalue (%d it)", len(r.Eigen.Estimates)), r.Eigen.Value)
	}
	if r.Trace != nil {
		fmt.Fprintf(w, "%-22s %.6g  [%.6g, %.6g] 95%% CI, %d vectors\n", "Hessian trace", r.Trace.Mean, r.Trace.Low, r.Trace.High, len(r.Trace.Samples))
	}
	if len(r.Losses) > 0 {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, l := range r.Losses {
			lo, hi = min(lo, l), max(hi, l)
		}
		fmt.Fprintf(w, "%-22s min %.6g  max %.6g over alpha [%g, %g]\n", "loss profile", lo, hi, r.Alphas[0], r.Alphas[len(r.Alphas)-1])
	}
}
