package sharp

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bsampose/bsampose/pose"
)

func tinyOracle(t *testing.T) (*pose.Net, *NetOracle) {
	t.Helper()
	cfg := pose.Config{Preset: pose.PresetPoseNetS, InputH: 64, InputW: 32, Joints: 3}
	net, err := pose.New(cfg, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Close() })
	r := rand.New(rand.NewPCG(1, 2))
	k, h, w := net.OutputShape()
	var batches []Batch
	for range 2 {
		b := Batch{X: make([]float32, 2*3*64*32), Target: make([]float32, 2*k*h*w), Weight: make([]float32, 2*k)}
		for i := range b.X {
			b.X[i] = float32(r.NormFloat64())
		}
		for i := range b.Target {
			b.Target[i] = float32(r.Float64() * 0.1)
		}
		for i := range b.Weight {
			b.Weight[i] = 1
		}
		batches = append(batches, b)
	}
	// A few training steps move the running statistics off (0, 1).
	for range 2 {
		if _, err := net.TrainStep(batches[0].X, batches[0].Target, batches[0].Weight, true); err != nil {
			t.Fatal(err)
		}
	}
	o, err := NewNetOracle(net, batches)
	if err != nil {
		t.Fatal(err)
	}
	return net, o
}

func TestNetOracle(t *testing.T) {
	net, o := tinyOracle(t)
	if o.Dim() != net.NumParams() {
		t.Fatalf("Dim %d, NumParams %d", o.Dim(), net.NumParams())
	}
	w := o.Weights()
	g := make([]float64, len(w))
	l1, err := o.LossGrad(w, g)
	if err != nil {
		t.Fatal(err)
	}
	l0, err := o.LossGrad(w, nil)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(l1-l0) > 1e-12*l0 {
		t.Errorf("loss with gradient %.12g, without %.12g", l1, l0)
	}
	// Small-radius sharpness is dominated by the slope: MaxS ≈ MinS ≈ ρ||g||.
	rho := 1e-3
	s, err := Sharpness(o, w, rho)
	if err != nil {
		t.Fatal(err)
	}
	if slope := rho * s.GradNorm; math.Abs(s.MaxS-slope) > 0.05*slope || math.Abs(s.MinS-slope) > 0.05*slope {
		t.Errorf("MaxS %.6g, MinS %.6g, rho*||g|| %.6g", s.MaxS, s.MinS, slope)
	}
	// Restore undoes the moves.
	o.Restore()
	for i, v := range o.Weights() {
		if v != w[i] {
			t.Fatalf("weight %d not restored", i)
		}
	}
	rep, err := Analyze(o, w, Config{PowerIters: 3, Hutchinson: 2, ProfilePts: 5, Blocks: o.Blocks()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Eigen.Estimates) == 0 || !(rep.Eigen.Value > 0) || len(rep.Losses) != 5 {
		t.Errorf("net report: eigen %v, %d profile points", rep.Eigen.Estimates, len(rep.Losses))
	}
	// The profile passes through L(w) at alpha 0.
	if math.Abs(rep.Losses[2]-l0) > 1e-9*l0 {
		t.Errorf("profile at 0: %.9g, L(w) %.9g", rep.Losses[2], l0)
	}
}
