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
