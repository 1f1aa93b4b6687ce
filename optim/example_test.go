package optim_test

import (
	"fmt"

	"github.com/bsampose/bsampose/optim"
)

// ExampleNewBSAM minimises L(w) = ½(w0² + 10·w1²) with BSAM around SGD with
// momentum, the learning rate on a cosine schedule and RhoMin moved with it
// (as the official training script does: with a constant RhoMin the
// official variant keeps shifting w by RhoMin each step and stalls short of
// the minimum). The GradFunc stands in for a network's forward and backward
// pass; each Step calls it at w, w_max and w_min.
func ExampleNewBSAM() {
	w := &optim.Param{Name: "w", Value: []float32{2, 1}, Grad: make([]float32, 2)}
	params := []*optim.Param{w}
	grad := func(pass optim.Pass) (float64, error) {
		x, y := float64(w.Value[0]), float64(w.Value[1])
		w.Grad[0], w.Grad[1] = float32(x), float32(10*y)
		return (x*x + 10*y*y) / 2, nil
	}
	lr := optim.Cosine{Max: 0.02, Min: 0, Total: 100}
	rhoMin := optim.Proportional{LR: lr, LRMin: 0, LRMax: 0.02, Min: 0, Max: 0.05}
	opt := optim.NewBSAM(optim.NewSGD(lr.At(0), 0.9, 0), optim.BSAMConfig{RhoMax: 0.05, RhoMin: rhoMin.At(0)})
	for it := range 100 {
		opt.SetLR(lr.At(it))
		opt.SetRhoMin(rhoMin.At(it))
		loss, err := opt.Step(params, grad)
		if err != nil {
			fmt.Println(err)
			return
		}
		if it%25 == 0 {
			s := opt.Last()
			fmt.Printf("it %2d  loss %.4f  ||g|| %.3f  MaxS %.4f  MinS %.4f\n", it, loss, s.GradNorm, s.MaxS, s.MinS)
		}
	}
	loss, _ := grad(optim.PassCenter)
	fmt.Printf("final loss %.4f\n", loss)
	// Output:
	// it  0  loss 7.0000  ||g|| 10.198  MaxS 0.5220  MinS 0.4978
	// it 25  loss 0.0250  ||g|| 0.278  MaxS 0.0196  MinS 0.0077
	// it 50  loss 0.0070  ||g|| 0.160  MaxS 0.0149  MinS 0.0023
	// it 75  loss 0.0008  ||g|| 0.045  MaxS 0.0057  MinS 0.0003
	// final loss 0.0000
}

// ExampleCosine schedules the learning rate with a linear warm-up and
// moves BSAM's RhoMin with it, as the official training script does.
func ExampleCosine() {
	lr := optim.Cosine{Max: 0.05, Min: 0, Total: 100, Warmup: 10}
	rho := optim.Proportional{LR: lr, LRMin: 0, LRMax: 0.05, Min: 0, Max: 0.05}
	for _, t := range []int{0, 5, 10, 55, 100} {
		fmt.Printf("t %3d  lr %.4f  rho_min %.4f\n", t, lr.At(t), rho.At(t))
	}
	// Output:
	// t   0  lr 0.0000  rho_min 0.0000
	// t   5  lr 0.0250  rho_min 0.0250
	// t  10  lr 0.0500  rho_min 0.0500
	// t  55  lr 0.0250  rho_min 0.0250
	// t 100  lr 0.0000  rho_min 0.0000
}

// ExampleNewASAM shows the adaptive perturbation on L(w) = w0 + w1, whose
// gradient is (1, 1) everywhere, at w = (2, 0): T = |w| + η = (2.01, 0.01),
// so the ascent point moves along T²·g, almost only in the large weight
// (plain SAM would move both by ρ/√2), and the zero weight still moves
// because of η.
func ExampleNewASAM() {
	w := &optim.Param{Name: "w", Value: []float32{2, 0}, Grad: make([]float32, 2)}
	var ascent []float32
	grad := func(pass optim.Pass) (float64, error) {
		if pass == optim.PassAscent {
			ascent = append([]float32(nil), w.Value...)
		}
		w.Grad[0], w.Grad[1] = 1, 1
		return float64(w.Value[0] + w.Value[1]), nil
	}
	opt := optim.NewASAM(optim.NewSGD(0.1, 0, 0), 0.1, optim.DefaultEta)
	if _, err := opt.Step([]*optim.Param{w}, grad); err != nil {
		panic(err)
	}
	fmt.Printf("ascent point (%.6f, %.7f), ||T·g|| = %.6f\n", ascent[0], ascent[1], opt.Last().AdaptiveNorm)
	fmt.Printf("after the step w = (%.2f, %.2f)\n", w.Value[0], w.Value[1])
	// Output:
	// ascent point (2.200998, 0.0000050), ||T·g|| = 2.010025
	// after the step w = (1.90, -0.10)
}
