package sharp_test

import (
	"fmt"

	"github.com/bsampose/bsampose/sharp"
)

// diag is L(w) = ½ Σ h_i w_i², a quadratic with Hessian diag(h).
type diag []float64

func (d diag) Dim() int { return len(d) }

func (d diag) LossGrad(w, g []float64) (float64, error) {
	var l float64
	for i, h := range d {
		l += 0.5 * h * w[i] * w[i]
		if g != nil {
			g[i] = h * w[i]
		}
	}
	return l, nil
}

func ExampleSharpness() {
	o := diag{4, 1}
	w := []float64{1, 0} // ∇L = (4, 0): u = (1, 0), uᵀHu = 4
	s, _ := sharp.Sharpness(o, w, 0.1)
	fmt.Printf("MaxS %.4f  MinS %.4f  sum %.4f  diff %.4f\n", s.MaxS, s.MinS, s.Sum, s.Diff)
	e, _ := sharp.TopEigen(o, w, sharp.PowerConfig{Iters: 50, Tol: 1e-9})
	fmt.Printf("top eigenvalue %.4f\n", e.Value)
	tr, _ := sharp.Trace(o, w, sharp.HutchinsonConfig{Samples: 5})
	fmt.Printf("trace %.4f\n", tr.Mean)
	// Output:
	// MaxS 0.4200  MinS 0.3800  sum 0.8000  diff 0.0400
	// top eigenvalue 4.0000
	// trace 5.0000
}
