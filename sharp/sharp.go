package sharp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// Oracle is a differentiable loss over a flat parameter vector.
type Oracle interface {
	// Dim returns the number of parameters.
	Dim() int
	// LossGrad returns L(w) and, when g is non-nil, overwrites g with
	// ∇L(w). w and g have length Dim(); w is not modified.
	LossGrad(w, g []float64) (float64, error)
}

// ErrZeroGradient is returned by Sharpness when ||∇L(w)|| is 0: the
// sharpness points are undefined.
var ErrZeroGradient = errors.New("sharp: gradient is zero")

// Sharp holds the first-order sharpness measures at one point.
type Sharp struct {
	Rho      float64 `json:"rho"`
	Loss     float64 `json:"loss"`      // L(w)
	GradNorm float64 `json:"grad_norm"` // ||∇L(w)||
	LossMax  float64 `json:"loss_max"`  // L(w + ρu)
	LossMin  float64 `json:"loss_min"`  // L(w − ρu)
	MaxS     float64 `json:"max_s"`     // L(w + ρu) − L(w)
	MinS     float64 `json:"min_s"`     // L(w) − L(w − ρu)
	Sum      float64 `json:"sum"`       // MaxS + MinS = L(w+ρu) − L(w−ρu), ≈ 2ρ||g||
	Diff     float64 `json:"diff"`      // MaxS − MinS = L(w+ρu) − 2L(w) + L(w−ρu), ≈ ρ²uᵀHu
}

// Sharpness computes MaxS(ρ), MinS(ρ), their sum and their difference at w, with
// u = ∇L(w)/||∇L(w)||. w: Dim() values. It panics if len(w) != o.Dim().
func Sharpness(o Oracle, w []float64, rho float64) (Sharp, error) {
	checkDim(o, w)
	g := make([]float64, len(w))
	l, err := o.LossGrad(w, g)
	if err != nil {
		return Sharp{}, err
	}
	n := norm(g)
	if n == 0 {
		return Sharp{}, ErrZeroGradient
	}
	wp := make([]float64, len(w))
	axpy(wp, w, rho/n, g)
	lmax, err := o.LossGrad(wp, nil)
	if err != nil {
		return Sharp{}, err
	}
	axpy(wp, w, -rho/n, g)
	lmin, err := o.LossGrad(wp, nil)
	if err != nil {
		return Sharp{}, err
	}
	s := Sharp{Rho: rho, Loss: l, GradNorm: n, LossMax: lmax, LossMin: lmin, MaxS: lmax - l, MinS: l - lmin}
	s.Sum = s.MaxS + s.MinS
	s.Diff = s.MaxS - s.MinS
	return s, nil
}

// HVP computes hv ≈ H(w)·v by central differences of gradients with step
// eps along the unit vector v/||v||, rescaled by ||v||. w, v, hv: Dim()
// values. It panics on a length mismatch.
func HVP(o Oracle, w, v, hv []float64, eps float64) error {
	checkDim(o, w)
	if len(v) != len(w) || len(hv) != len(w) {
		panic("sharp: HVP: v and hv must have len(w) values")
	}
	nv := norm(v)
	if nv == 0 {
		clear(hv)
		return nil
	}
	wp := make([]float64, len(w))
	gm := make([]float64, len(w))
	axpy(wp, w, eps/nv, v)
	if _, err := o.LossGrad(wp, hv); err != nil {
		return err
	}
	axpy(wp, w, -eps/nv, v)
	if _, err := o.LossGrad(wp, gm); err != nil {
		return err
	}
	s := nv / (2 * eps)
	for i := range hv {
		hv[i] = (hv[i] - gm[i]) * s
	}
	return nil
}

// PowerConfig controls TopEigen.
type PowerConfig struct {
	Iters int     // maximum iterations (default 20)
	Tol   float64 // stop when |λ_k − λ_{k−1}| <= Tol*|λ_k| (0: run all Iters)
	Eps   float64 // finite-difference step of the HVPs (default 1e-2)
	Seed  uint64  // start vector
}

func (c PowerConfig) withDefaults() PowerConfig {
	if c.Iters <= 0 {
		c.Iters = 20
	}
	if c.Eps <= 0 {
		c.Eps = 1e-2
	}
	return c
}

// Eigen is the result of power iteration.
type Eigen struct {
	Value     float64   `json:"value"`     // the last Rayleigh quotient
	Estimates []float64 `json:"estimates"` // vᵀHv after each iteration
	Converged bool      `json:"converged"` // Tol was reached
	Vector    []float64 `json:"-"`         // the last unit vector
}

// TopEigen estimates the eigenvalue of H(w) largest in magnitude by power
// iteration from a Gaussian start vector: v ← Hv/||Hv||, recording the
// Rayleigh quotient vᵀHv (||v|| = 1) of every iteration. w: Dim() values.
func TopEigen(o Oracle, w []float64, cfg PowerConfig) (Eigen, error) {
	checkDim(o, w)
	cfg = cfg.withDefaults()
	r := rand.New(rand.NewPCG(cfg.Seed, 0x706f776572))
	v := make([]float64, len(w))
	for i := range v {
		v[i] = r.NormFloat64()
	}
	scale(v, 1/norm(v))
	hv := make([]float64, len(w))
	var e Eigen
	for k := range cfg.Iters {
		if err := HVP(o, w, v, hv, cfg.Eps); err != nil {
			return e, err
		}
		lam := dot(v, hv)
		e.Estimates = append(e.Estimates, lam)
		e.Value = lam
		n := norm(hv)
		if n == 0 {
			e.Converged = true
			break
		}
		for i := range v {
			v[i] = hv[i] / n
		}
		if k > 0 && cfg.Tol > 0 && math.Abs(lam-e.Estimates[k-1]) <= cfg.Tol*math.Abs(lam) {
			e.Converged = true
			break
		}
	}
	e.Vector = v
	return e, nil
}

// HutchinsonConfig controls Trace.
type HutchinsonConfig struct {
	Samples int     // Rademacher vectors (default 30; at least 2)
	Eps     float64 // finite-difference step of the HVPs (default 1e-2)
	Seed    uint64
}

// TraceEstimate is Hutchinson's estimate of tr H with a 95 % confidence
// interval (Student t with Samples−1 degrees of freedom).
type TraceEstimate struct {
	Mean    float64   `json:"mean"`
	StdErr  float64   `json:"std_err"`
	Low     float64   `json:"ci95_low"`
	High    float64   `json:"ci95_high"`
	Samples []float64 `json:"samples"` // zᵀHz per vector
}

// Trace estimates tr H(w) with Hutchinson's estimator. w: Dim() values.
func Trace(o Oracle, w []float64, cfg HutchinsonConfig) (TraceEstimate, error) {
	checkDim(o, w)
	if cfg.Samples <= 0 {
		cfg.Samples = 30
	}
	if cfg.Samples < 2 {
		return TraceEstimate{}, fmt.Errorf("sharp: Hutchinson needs at least 2 samples for an interval, have %d", cfg.Samples)
	}
	if cfg.Eps <= 0 {
		cfg.Eps = 1e-3
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0x6875746368))
	z := make([]float64, len(w))
	hz := make([]float64, len(w))
	var t TraceEstimate
	for range cfg.Samples {
		for i := range z {
			z[i] = float64(2*int(r.Uint64()&1) - 1)
		}
		if err := HVP(o, w, z, hz, cfg.Eps); err != nil {
			return t, err
		}
		t.Samples = append(t.Samples, dot(z, hz))
	}
	t.Mean, t.StdErr = meanStdErr(t.Samples)
	q := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(len(t.Samples) - 1)}.Quantile(0.975)
	t.Low, t.High = t.Mean-q*t.StdErr, t.Mean+q*t.StdErr
	return t, nil
}

func meanStdErr(x []float64) (mean, se float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	if len(x) < 2 {
		return mean, 0
	}
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(x)-1) / float64(len(x)))
}

// Profile returns L(w + α·d) for each α. w, d: Dim() values.
func Profile(o Oracle, w, d, alphas []float64) ([]float64, error) {
	checkDim(o, w)
	if len(d) != len(w) {
		panic("sharp: Profile: d must have len(w) values")
	}
	out := make([]float64, len(alphas))
	wp := make([]float64, len(w))
	for i, a := range alphas {
		axpy(wp, w, a, d)
		l, err := o.LossGrad(wp, nil)
		if err != nil {
			return nil, err
		}
		out[i] = l
	}
	return out, nil
}

// Block describes one parameter tensor inside the flat vector.
type Block struct {
	Name   string `json:"name"`
	Offset int    `json:"offset"`
	Shape  []int  `json:"shape"`
}

// Size returns the number of values of the block.
func (b Block) Size() int {
	n := 1
	for _, d := range b.Shape {
		n *= d
	}
	return n
}

// FilterNormalized returns a Gaussian random direction normalised per
// filter as Li et al. (2018): for a block with 2 or more dimensions, each
// slice along the first dimension (an output channel: a filter) is
// rescaled to the norm of the same slice of w; blocks with fewer than 2
// dimensions (batch-norm parameters, biases) get 0. w: the flat vector the
// blocks index. It panics if a block lies outside w.
func FilterNormalized(w []float64, blocks []Block, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 0x6c69))
	d := make([]float64, len(w))
	for _, b := range blocks {
		sz := b.Size()
		if b.Offset < 0 || b.Offset+sz > len(w) {
			panic(fmt.Sprintf("sharp: block %s [%d, %d) outside %d parameters", b.Name, b.Offset, b.Offset+sz, len(w)))
		}
		if len(b.Shape) < 2 || b.Shape[0] == 0 {
			continue
		}
		per := sz / b.Shape[0]
		for f := range b.Shape[0] {
			lo := b.Offset + f*per
			ds, ws := d[lo:lo+per], w[lo:lo+per]
			for i := range ds {
				ds[i] = r.NormFloat64()
			}
			if nd := norm(ds); nd > 0 {
				scale(ds, norm(ws)/nd)
			}
		}
	}
	return d
}

// Linspace returns n evenly spaced values from lo to hi inclusive.
func Linspace(lo, hi float64, n int) []float64 {
	if n == 1 {
		return []float64{lo}
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = lo + (hi-lo)*float64(i)/float64(n-1)
	}
	return out
}

func checkDim(o Oracle, w []float64) {
	if len(w) != o.Dim() {
		panic(fmt.Sprintf("sharp: w has %d values, oracle has %d parameters", len(w), o.Dim()))
	}
}

func norm(x []float64) float64 { return math.Sqrt(dot(x, x)) }

func dot(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func scale(x []float64, a float64) {
	for i := range x {
		x[i] *= a
	}
}

// axpy sets dst = x + a*y.
func axpy(dst, x []float64, a float64, y []float64) {
	for i := range dst {
		dst[i] = x[i] + a*y[i]
	}
}
