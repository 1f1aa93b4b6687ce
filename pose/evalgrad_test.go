package pose

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/bsampose/bsampose/pose/kern"
)

// trainedTiny returns a tiny net whose running statistics are not the
// initial (0, 1), so that eval-mode batch norm is a non-trivial affine map.
func trainedTiny(t *testing.T, cfg Config) *Net {
	t.Helper()
	n := mustNew(t, cfg, 2, 3)
	for s := range 3 {
		x, tg, wt := batchData(n, uint64(20+s))
		if _, err := n.TrainStep(x, tg, wt, true); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func TestEvalLossGradMatchesForward(t *testing.T) {
	n := trainedTiny(t, tinyCfg)
	x, tg, wt := batchData(n, 8)
	bufs := snapshot(n.Buffers())
	loss, err := n.EvalLossGrad(x, tg, wt)
	if err != nil {
		t.Fatal(err)
	}
	out, err := n.Forward(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	k, h, w := n.OutputShape()
	want := kern.WeightedMSE(2, k, h*w, out, tg, wt, nil)
	if loss != want {
		t.Errorf("EvalLossGrad loss %.9g, weighted MSE of Forward %.9g", loss, want)
	}
	if !slices.EqualFunc(bufs, snapshot(n.Buffers()), slices.Equal) {
		t.Error("EvalLossGrad changed the running statistics")
	}
	// The eval-mode gradient is not the training-mode one.
	g1 := snapshot(gradsOf(n))
	if _, err := n.TrainStep(x, tg, wt, false); err != nil {
		t.Fatal(err)
	}
	if slices.EqualFunc(g1, snapshot(gradsOf(n)), slices.Equal) {
		t.Error("eval-mode and train-mode gradients are identical")
	}
	// Deterministic: a second call gives bit-identical gradients (the
	// accumulation buffers are reset between calls).
	if _, err := n.EvalLossGrad(x, tg, wt); err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(g1, snapshot(gradsOf(n)), slices.Equal) {
		t.Error("second EvalLossGrad call gives other gradients")
	}
}

func gradsOf(n *Net) []*Tensor {
	out := make([]*Tensor, len(n.Params()))
	for i, p := range n.Params() {
		out[i] = &Tensor{Value: p.Grad}
	}
	return out
}

// TestEvalLossGradFiniteDifference checks the gradient against central
// finite differences of the float64 reference network in eval mode, per
// tensor along a random direction and for single coordinates.
func TestEvalLossGradFiniteDifference(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		perTensor bool // one direction per tensor, else one over all
		tol       float64
	}{
		{"posenet-s", tinyCfg, true, 1e-4},
		{"resnet18", Config{Preset: PresetResNet18, InputH: 64, InputW: 64, Joints: 3}, false, 1e-4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.cfg.Preset != PresetPoseNetS {
				t.Skip("float64 reference ResNet")
			}
			n := trainedTiny(t, tc.cfg)
			x, tg, wt := batchData(n, 9)
			loss, err := n.EvalLossGrad(x, tg, wt)
			if err != nil {
				t.Fatal(err)
			}
			ref := newRefNet(n.Params(), tc.cfg.Joints)
			ref.run = map[string][]float64{}
			for _, b := range n.Buffers() {
				ref.run[b.Name] = to64(b.Value)
			}
			if tc.cfg.Preset == PresetResNet18 {
				ref.model = func(x *ref64) *ref64 { return ref.resNetForward(x, []int{2, 2, 2, 2}, false) }
			}
			rx := toRef(x, 2, 3, tc.cfg.InputH, tc.cfg.InputW)
			t64, w64 := to64(tg), to64(wt)
			refL := func() float64 { return refLoss(ref.model(rx), t64, w64) }
			if l := refL(); math.Abs(loss-l) > 1e-5*l {
				t.Fatalf("loss %.9g, float64 reference %.9g", loss, l)
			}
			r := rand.New(rand.NewPCG(3, 4))
			groups := [][]*Tensor{n.Params()}
			if tc.perTensor && !testing.Short() {
				groups = groups[:0]
				for _, p := range n.Params() {
					groups = append(groups, []*Tensor{p})
				}
			}
			var num, den float64
			for _, grp := range groups {
				var an float64
				dirs := make([][]float64, len(grp))
				olds := make([][]float64, len(grp))
				for j, p := range grp {
					v := ref.p[p.Name]
					dirs[j] = make([]float64, len(v))
					olds[j] = slices.Clone(v)
					// The direction is the gradient plus as much noise:
					// a random direction alone projects the gradient with
					// so much cancellation that float32 rounding shows.
					var gg float64
					for _, x := range p.Grad {
						gg += float64(x) * float64(x)
					}
					sc := math.Sqrt(gg / float64(len(v)))
					for i := range v {
						dirs[j][i] = float64(p.Grad[i]) + r.NormFloat64()*sc
						an += dirs[j][i] * float64(p.Grad[i])
					}
				}
				move := func(h float64) {
					for j, p := range grp {
						v := ref.p[p.Name]
						for i := range v {
							v[i] = olds[j][i] + h*dirs[j][i]
						}
					}
				}
				hstep := 1e-4 / (math.Sqrt(an) + 1e-12) // moves the loss by about 1e-4*|g|
				move(hstep)
				lp := refL()
				move(-hstep)
				lm := refL()
				move(0)
				fd := (lp - lm) / (2 * hstep)
				num += (fd - an) * (fd - an)
				den += fd * fd
				if math.Abs(fd-an) > tc.tol*math.Abs(fd)+1e-9 {
					t.Errorf("%s: directional derivative %.9g, finite difference %.9g", grp[0].Name, an, fd)
				}
			}
			t.Logf("relative error of the directional derivatives (%d directions) %.3g", len(groups), math.Sqrt(num/den))
		})
	}
}

func TestEvalLossGradOtherBatchAndErrors(t *testing.T) {
	n := trainedTiny(t, tinyCfg)
	x, tg, wt := batchData(n, 8)
	if _, err := n.EvalLossGrad(x, tg, wt); err != nil {
		t.Fatal(err)
	}
	g2 := snapshot(gradsOf(n))
	// One image: the loss is a mean over images, so the two single-image
	// gradients average to the two-image one.
	half := func(s []float32, i int) []float32 { return s[i*len(s)/2 : (i+1)*len(s)/2] }
	var sum [][]float32
	for i := range 2 {
		if _, err := n.EvalLossGrad(half(x, i), half(tg, i), half(wt, i)); err != nil {
			t.Fatal(err)
		}
		g := snapshot(gradsOf(n))
		if sum == nil {
			sum = g
			continue
		}
		for j := range g {
			for q := range g[j] {
				sum[j][q] = (sum[j][q] + g[j][q]) / 2
			}
		}
	}
	for j := range g2 {
		if e := relL2(sum[j], to64(g2[j])); e > 1e-4 {
			t.Errorf("%s: mean of single-image gradients differs by %.3g", n.Params()[j].Name, e)
		}
	}
	for _, tc := range []struct {
		name      string
		x, tg, wt []float32
	}{
		{"no weights", x, tg, nil},
		{"short target", x, tg[1:], wt},
		{"short x", x[1:], tg, wt},
	} {
		if _, err := n.EvalLossGrad(tc.x, tc.tg, tc.wt); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// BenchmarkEvalLossGrad compares the eval-mode loss and gradient with a
// training step on the same batch.
func BenchmarkEvalLossGrad(b *testing.B) {
	cfg := Config{Preset: PresetPoseNetS, InputH: 128, InputW: 96, Joints: 14}
	n := mustNew(b, cfg, 4, 1)
	x, tg, wt := batchData(n, 1)
	b.Run("eval/posenet-s_B4", func(b *testing.B) {
		for b.Loop() {
			if _, err := n.EvalLossGrad(x, tg, wt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("train/posenet-s_B4", func(b *testing.B) {
		for b.Loop() {
			if _, err := n.TrainStep(x, tg, wt, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}
