package optim

import (
	"fmt"
	"math"
)

// DefaultEta is ASAM's default eta (Kwon et al. 2021): T = |w| + eta keeps
// a zero weight perturbable.
const DefaultEta = 0.01

func checkEta(eta float64) {
	if !(eta >= 0) || math.IsInf(eta, 0) {
		panic(fmt.Sprintf("optim: invalid adaptive eta %v", eta))
	}
}

// adaptiveNorm returns ||T·g|| with T = |w| + eta elementwise, over all
// params (float32 products, accumulated in float64). It panics as
// checkParam does.
func adaptiveNorm(params []*Param, eta float32) float64 {
	for _, p := range params {
		checkParam(p)
	}
	s := make([]float64, len(params))
	forEach(params, func(j int) {
		w, g := params[j].Value, params[j].Grad
		var sj float64
		for i := range w {
			tg := float64((abs32(w[i]) + eta) * g[i])
			sj += tg * tg
		}
		s[j] = sj
	})
	return math.Sqrt(sumInOrder(s))
}

// adaptiveE writes e = scale·T²·g into e, T = |w| + eta, elementwise:
// the adaptive perturbation with scale = ρ/(||T·g|| + 1e-12).
// w, g, e: the same length.
func adaptiveE(e, w, g []float32, eta, scale float32) {
	for i := range e {
		t := abs32(w[i]) + eta
		e[i] = g[i] * (t * t) * scale
	}
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }
