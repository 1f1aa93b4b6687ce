package pose

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// tinyCfg is posenet-s at the smallest input whose heatmaps are exactly
// input/4 (the backbone has stride 32, so both sides must be multiples of
// 32; 32x24 from the brief is not).
var tinyCfg = Config{Preset: PresetPoseNetS, InputH: 64, InputW: 32, Joints: 5}

// batchData returns a deterministic random batch for n: images N(0,1),
// target heatmaps with one Gaussian blob per joint, weights in {0, 0.5, 1}.
func batchData(net *Net, seed uint64) (x, target, weight []float32) {
	r := rand.New(rand.NewPCG(seed, 7))
	cfg := net.Config()
	nb := net.Batch()
	k, h, w := net.OutputShape()
	x = make([]float32, nb*3*cfg.InputH*cfg.InputW)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	target = make([]float32, nb*k*h*w)
	weight = make([]float32, nb*k)
	for p := range nb * k {
		cx, cy := r.Float64()*float64(w), r.Float64()*float64(h)
		for y := range h {
			for xx := range w {
				d2 := (float64(xx)-cx)*(float64(xx)-cx) + (float64(y)-cy)*(float64(y)-cy)
				target[(p*h+y)*w+xx] = float32(math.Exp(-d2 / 2))
			}
		}
		weight[p] = []float32{0, 0.5, 1, 1}[r.IntN(4)]
	}
	return x, target, weight
}

func mustNew(t testing.TB, cfg Config, batch int, seed int64) *Net {
	t.Helper()
	n, err := New(cfg, batch, seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		batch int
		want  string
	}{
		{"unknown preset", Config{Preset: "vgg", InputH: 128, InputW: 96, Joints: 17}, 1, "unknown preset"},
		{"height not multiple of 32", Config{Preset: PresetPoseNetS, InputH: 100, InputW: 96, Joints: 17}, 1, "multiples of 32"},
		{"zero width", Config{Preset: PresetResNet18, InputH: 256, InputW: 0, Joints: 17}, 1, "multiples of 32"},
		{"no joints", Config{Preset: PresetPoseNetS, InputH: 128, InputW: 96}, 1, "joints"},
		{"zero batch", Config{Preset: PresetPoseNetS, InputH: 128, InputW: 96, Joints: 17}, 0, "batch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := New(tc.cfg, tc.batch, 1)
			if err == nil {
				n.Close()
				t.Fatal("New succeeded")
			}
			if !strings.HasPrefix(err.Error(), "pose: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want prefix %q and %q", err, "pose: ", tc.want)
			}
		})
	}
}

func TestDefaultInput(t *testing.T) {
	tests := []struct {
		preset string
		h, w   int
	}{
		{PresetPoseNetS, 128, 96},
		{PresetResNet18, 256, 192},
		{PresetResNet50, 256, 192},
		{"nope", 0, 0},
	}
	for _, tc := range tests {
		if h, w := DefaultInput(tc.preset); h != tc.h || w != tc.w {
			t.Errorf("DefaultInput(%q) = %d, %d, want %d, %d", tc.preset, h, w, tc.h, tc.w)
		}
	}
	if got := Presets(); !slices.Equal(got, []string{"posenet-s", "resnet18", "resnet50"}) {
		t.Errorf("Presets() = %v", got)
	}
}

// Parameter counts computed by hand. posenet-s: conv k*k*in*out, BN 2*c.
func poseNetSParams(k int) int {
	conv := func(in, out, ks int) int { return in * out * ks * ks }
	bn := func(c int) int { return 2 * c }
	n := conv(3, 32, 3) + bn(32)
	for _, c := range [][2]int{{32, 64}, {64, 128}, {128, 256}} {
		n += conv(c[0], c[1], 3) + bn(c[1])       // stride-2 conv
		n += 2 * (conv(c[1], c[1], 3) + bn(c[1])) // BasicBlock
	}
	n += conv(256, 128, 3) + bn(128) + conv(128, 64, 3) + bn(64)
	return n + 64*k + k // final 1x1 conv with bias
}

func TestShapesAndParamCount(t *testing.T) {
	// torchvision's resnet18/resnet50 have 11,689,512 / 25,557,032
	// parameters including the 1000-way fc layer (in*1000+1000), which
	// SimpleBaseline drops; the head adds three conv3x3(->256)+BN stages
	// and the 1x1 output conv.
	head := func(in, k int) int {
		return in*256*9 + 512 + 2*(256*256*9+512) + 256*k + k
	}
	tests := []struct {
		cfg        Config
		wantParams int
		wantBN     int // batch-norm layers
		names      []string
	}{
		{Config{PresetPoseNetS, 128, 96, 17}, 2309105, 12,
			[]string{"stem.conv.weight", "stem.bn.weight", "stem.bn.bias", "layer1.0.conv.weight", "layer1.1.conv1.weight", "layer3.1.bn2.bias", "head.1.bn.weight", "head.final.weight", "head.final.bias"}},
		{Config{PresetPoseNetS, 64, 32, 14}, poseNetSParams(14), 12, nil},
		{Config{PresetResNet18, 64, 64, 17}, 11689512 - (512*1000 + 1000) + head(512, 17), 20 + 3,
			[]string{"stem.conv.weight", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight", "layer2.0.downsample.1.bias", "layer4.1.bn2.weight", "head.2.conv.weight", "head.final.bias"}},
		{Config{PresetResNet50, 64, 64, 17}, 25557032 - (2048*1000 + 1000) + head(2048, 17), 53 + 3,
			[]string{"layer1.0.downsample.0.weight", "layer1.0.conv3.weight", "layer4.2.bn3.bias", "head.final.weight"}},
	}
	if poseNetSParams(17) != 2309105 {
		t.Fatalf("hand count %d != 2309105", poseNetSParams(17))
	}
	for _, tc := range tests {
		t.Run(tc.cfg.Preset, func(t *testing.T) {
			n := mustNew(t, tc.cfg, 1, 1)
			if got := n.NumParams(); got != tc.wantParams {
				t.Errorf("NumParams = %d, want %d", got, tc.wantParams)
			}
			if got := len(n.Buffers()); got != 2*tc.wantBN {
				t.Errorf("%d buffers, want %d", got, 2*tc.wantBN)
			}
			k, h, w := n.OutputShape()
			if k != tc.cfg.Joints || h != tc.cfg.InputH/4 || w != tc.cfg.InputW/4 {
				t.Errorf("OutputShape = %d,%d,%d", k, h, w)
			}
			seen := map[string]bool{}
			for _, p := range append(slices.Clone(n.Params()), n.Buffers()...) {
				if seen[p.Name] {
					t.Errorf("duplicate name %s", p.Name)
				}
				seen[p.Name] = true
				size := 1
				for _, d := range p.Shape {
					size *= d
				}
				if len(p.Value) != size {
					t.Errorf("%s: %d values for shape %v", p.Name, len(p.Value), p.Shape)
				}
				isBuf := strings.HasSuffix(p.Name, ".running_mean") || strings.HasSuffix(p.Name, ".running_var")
				if isBuf != (p.Grad == nil) || (!isBuf && len(p.Grad) != size) {
					t.Errorf("%s: Grad length %d", p.Name, len(p.Grad))
				}
			}
			for _, name := range tc.names {
				if !seen[name] {
					t.Errorf("no tensor %s", name)
				}
			}
			ps := n.Params()
			if ps[0].Name != "stem.conv.weight" || ps[len(ps)-1].Name != "head.final.bias" {
				t.Errorf("params run from %s to %s", ps[0].Name, ps[len(ps)-1].Name)
			}
			x := make([]float32, 3*tc.cfg.InputH*tc.cfg.InputW)
			y, err := n.Forward(x, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(y) != k*h*w {
				t.Errorf("Forward returned %d values, want %d", len(y), k*h*w)
			}
		})
	}
}

func TestInit(t *testing.T) {
	n := mustNew(t, Config{PresetPoseNetS, 128, 96, 17}, 1, 3)
	for _, p := range append(slices.Clone(n.Params()), n.Buffers()...) {
		mean, std := meanStd(p.Value)
		bn := len(p.Shape) == 1 && p.Name != "head.final.bias" // batch-norm tensors are the only other 1-d ones
		switch {
		case bn && (strings.HasSuffix(p.Name, ".weight") || strings.HasSuffix(p.Name, ".running_var")):
			if mean != 1 || std != 0 {
				t.Errorf("%s: mean %g std %g, want all ones", p.Name, mean, std)
			}
		case bn || p.Name == "head.final.bias":
			if mean != 0 || std != 0 {
				t.Errorf("%s: mean %g std %g, want all zeros", p.Name, mean, std)
			}
		case p.Name == "head.final.weight":
			if math.Abs(std-0.001) > 0.0001 {
				t.Errorf("%s: std %g, want 0.001", p.Name, std)
			}
		default: // Kaiming normal, fan_out
			want := math.Sqrt(2 / float64(p.Shape[0]*p.Shape[2]*p.Shape[3]))
			if math.Abs(std-want) > 0.1*want || math.Abs(mean) > 0.1*want {
				t.Errorf("%s: mean %g std %g, want 0 and %g", p.Name, mean, std, want)
			}
		}
	}
}

func meanStd(v []float32) (mean, std float64) {
	for _, x := range v {
		mean += float64(x)
	}
	mean /= float64(len(v))
	for _, x := range v {
		std += (float64(x) - mean) * (float64(x) - mean)
	}
	return mean, math.Sqrt(std / float64(len(v)))
}

func relL2(got []float32, want []float64) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func toRef(x []float32, n, c, h, w int) *ref64 {
	r := newRef64(n, c, h, w)
	for i, v := range x {
		r.v[i] = float64(v)
	}
	return r
}

func to64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// TestGradientsMatchFloat64Reference checks the whole float32 graph
// (forward, loss, backward through our ops and gorgonia's autodiff)
// against the independent float64 implementation in ref_test.go: every
// parameter gradient within 0.05 % relative L2 error (issue 7).
func TestGradientsMatchFloat64Reference(t *testing.T) {
	n := mustNew(t, tinyCfg, 2, 11)
	x, tg, wt := batchData(n, 5)
	loss, err := n.TrainStep(x, tg, wt, false)
	if err != nil {
		t.Fatal(err)
	}
	ref := newRefNet(n.Params(), tinyCfg.Joints)
	rx := toRef(x, 2, 3, tinyCfg.InputH, tinyCfg.InputW)
	rl := ref.trainStep(rx, to64(tg), to64(wt))
	if math.Abs(loss-rl) > 1e-5*rl {
		t.Errorf("loss %.9g, reference %.9g", loss, rl)
	}
	var num, den float64
	worst, worstName := 0.0, ""
	for _, p := range n.Params() {
		g := ref.gr[p.Name]
		if g == nil {
			t.Fatalf("reference has no gradient for %s", p.Name)
		}
		e := relL2(p.Grad, g)
		if e > worst {
			worst, worstName = e, p.Name
		}
		if e > 5e-4 {
			t.Errorf("%s: relative L2 error %.3g > 5e-4", p.Name, e)
		}
		for i := range g {
			d := float64(p.Grad[i]) - g[i]
			num += d * d
			den += g[i] * g[i]
		}
	}
	t.Logf("whole-gradient relative L2 error %.3g; worst tensor %s %.3g", math.Sqrt(num/den), worstName, worst)

	if testing.Short() {
		return
	}
	// The reference itself against central finite differences (float64).
	r := rand.New(rand.NewPCG(1, 2))
	for _, name := range []string{"stem.conv.weight", "layer2.1.bn1.weight", "head.final.weight"} {
		v := ref.p[name]
		i := r.IntN(len(v))
		an := ref.gr[name][i]
		const h = 1e-5
		old := v[i]
		v[i] = old + h
		lp := refLoss(ref.forward(rx), to64(tg), to64(wt))
		v[i] = old - h
		lm := refLoss(ref.forward(rx), to64(tg), to64(wt))
		v[i] = old
		fd := (lp - lm) / (2 * h)
		if math.Abs(fd-an) > 1e-4*math.Abs(an)+1e-12 {
			t.Errorf("reference %s[%d]: analytic %.9g, finite difference %.9g", name, i, an, fd)
		}
	}
}

func snapshot(ts []*Tensor) [][]float32 {
	out := make([][]float32, len(ts))
	for i, t := range ts {
		out[i] = slices.Clone(t.Value)
	}
	return out
}

func TestUpdateStats(t *testing.T) {
	n := mustNew(t, tinyCfg, 2, 1)
	x, tg, wt := batchData(n, 1)
	before := snapshot(n.Buffers())
	if _, err := n.TrainStep(x, tg, wt, false); err != nil {
		t.Fatal(err)
	}
	for i, b := range n.Buffers() {
		if !slices.Equal(b.Value, before[i]) {
			t.Fatalf("%s changed with updateStats=false", b.Name)
		}
	}
	if _, err := n.TrainStep(x, tg, wt, true); err != nil {
		t.Fatal(err)
	}
	after := snapshot(n.Buffers())
	for i, b := range n.Buffers() {
		if slices.Equal(b.Value, before[i]) {
			t.Errorf("%s unchanged with updateStats=true", b.Name)
		}
	}
	// running_mean = 0.9*0 + 0.1*batch mean of the stem conv output, which
	// the reference computes from the same weights.
	ref := newRefNet(n.Params(), tinyCfg.Joints)
	c := ref.conv(toRef(x, 2, 3, 64, 32), "stem.conv", 32, 3, 2, 1, false)
	rm := n.Buffers()[0]
	if rm.Name != "stem.bn.running_mean" {
		t.Fatalf("first buffer %s", rm.Name)
	}
	hw := c.h * c.w
	for ch := range c.c {
		var s float64
		for i := range c.n {
			for _, v := range c.v[(i*c.c+ch)*hw : (i*c.c+ch+1)*hw] {
				s += v
			}
		}
		want := 0.1 * s / float64(c.n*hw)
		if math.Abs(float64(rm.Value[ch])-want) > 1e-5*math.Abs(want)+1e-7 {
			t.Errorf("running_mean[%d] = %g, want %g", ch, rm.Value[ch], want)
		}
	}
	// A perturbed pass after the update leaves the updated statistics alone.
	if _, err := n.TrainStep(x, tg, wt, false); err != nil {
		t.Fatal(err)
	}
	for i, b := range n.Buffers() {
		if !slices.Equal(b.Value, after[i]) {
			t.Fatalf("%s changed with updateStats=false after an update", b.Name)
		}
	}
}

func TestForwardMatchesManualEval(t *testing.T) {
	n := mustNew(t, tinyCfg, 2, 4)
	for s := range 3 {
		x, tg, wt := batchData(n, uint64(10+s))
		if _, err := n.TrainStep(x, tg, wt, true); err != nil {
			t.Fatal(err)
		}
	}
	x, _, _ := batchData(n, 99)
	ref := newRefNet(n.Params(), tinyCfg.Joints)
	ref.run = map[string][]float64{}
	for _, b := range n.Buffers() {
		ref.run[b.Name] = to64(b.Value)
	}
	want := ref.forward(toRef(x, 2, 3, tinyCfg.InputH, tinyCfg.InputW))
	got, err := n.Forward(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	if e := relL2(got, want.v); e > 1e-4 {
		t.Errorf("eval forward relative L2 error %.3g", e)
	}
	// Eval mode treats images independently: m=1 gives the first image
	// (up to rounding: with one image the 3x3 convolutions run directly,
	// with two on the Winograd path).
	first := slices.Clone(got[:len(got)/2])
	one, err := n.Forward(x[:len(x)/2], 1)
	if err != nil {
		t.Fatal(err)
	}
	if e := relL2(one, to64(first)); e > 1e-5 {
		t.Errorf("Forward(m=1) differs from image 0 of Forward(m=2): %.3g", e)
	}
	// m larger than the training batch works too.
	big, err := n.Forward(slices.Concat(x, x), 4)
	if err != nil {
		t.Fatal(err)
	}
	if e := relL2(big[len(big)/2:], to64(got)); e > 1e-6 {
		t.Errorf("Forward(m=4) second half differs: %.3g", e)
	}
	// On the same path, image 0 does not depend on the image beside it.
	other := slices.Clone(x)
	for i := len(x) / 2; i < len(x); i++ {
		other[i] = -other[i]
	}
	pair, err := n.Forward(other, 2)
	if err != nil {
		t.Fatal(err)
	}
	if e := relL2(pair[:len(pair)/2], to64(first)); e > 1e-6 {
		t.Errorf("image 0 of Forward(m=2) depends on image 1: %.3g", e)
	}
}

func TestOverfitSGD(t *testing.T) {
	n := mustNew(t, tinyCfg, 2, 5)
	x, tg, wt := batchData(n, 3)
	const lr = 0.3
	var first, last float64
	for step := range 30 {
		l, err := n.TrainStep(x, tg, wt, true)
		if err != nil {
			t.Fatal(err)
		}
		if math.IsNaN(l) {
			t.Fatalf("step %d: NaN loss", step)
		}
		if step == 0 {
			first = l
		}
		last = l
		for _, p := range n.Params() {
			for i, g := range p.Grad {
				p.Value[i] -= lr * g
			}
		}
	}
	t.Logf("loss %.4g -> %.4g", first, last)
	if !(last < 0.2*first) {
		t.Errorf("loss %.4g -> %.4g: did not fall below a fifth", first, last)
	}
}

func TestSameSeedSameNet(t *testing.T) {
	a := mustNew(t, tinyCfg, 2, 42)
	b := mustNew(t, tinyCfg, 2, 42)
	c := mustNew(t, tinyCfg, 2, 43)
	differ := false
	for i, p := range a.Params() {
		if !slices.Equal(p.Value, b.Params()[i].Value) {
			t.Errorf("%s differs between equal seeds", p.Name)
		}
		if !slices.Equal(p.Value, c.Params()[i].Value) {
			differ = true
		}
	}
	if !differ {
		t.Error("seeds 42 and 43 give identical parameters")
	}
	x, tg, wt := batchData(a, 8)
	la, err := a.TrainStep(x, tg, wt, true)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := b.TrainStep(x, tg, wt, true)
	if err != nil {
		t.Fatal(err)
	}
	if la != lb {
		t.Errorf("losses %v and %v", la, lb)
	}
	for i, p := range a.Params() {
		if !slices.Equal(p.Grad, b.Params()[i].Grad) {
			t.Errorf("%s: gradients differ between equal seeds", p.Name)
		}
	}
}

// TestSlicesStayInPlace checks that Value and Grad keep their backing
// arrays across steps, that the graph reads Value in place (an update
// between steps is seen) and that gorgonia's gradient nodes are our Grad
// slices (no copy needed).
func TestSlicesStayInPlace(t *testing.T) {
	n := mustNew(t, tinyCfg, 2, 6)
	x, tg, wt := batchData(n, 2)
	type ptrs struct{ v, g *float32 }
	before := map[string]ptrs{}
	for _, p := range n.Params() {
		before[p.Name] = ptrs{unsafe.SliceData(p.Value), unsafe.SliceData(p.Grad)}
	}
	l1, err := n.TrainStep(x, tg, wt, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range n.Params() {
		if got := unsafe.SliceData(f32s(n.train.grads[i].Value())); got != unsafe.SliceData(p.Grad) {
			t.Errorf("%s: gradient node value is not Grad", p.Name)
		}
	}
	final := n.Params()[len(n.Params())-2] // head.final.weight
	for i := range final.Value {
		final.Value[i] = 0
	}
	l2, err := n.TrainStep(x, tg, wt, false)
	if err != nil {
		t.Fatal(err)
	}
	// With a zero final weight the prediction is the bias (0): the loss is
	// mean((w*t)^2).
	var want float64
	hw := len(tg) / len(wt)
	for i, v := range tg {
		d := float64(wt[i/hw]) * float64(v)
		want += d * d
	}
	want /= float64(len(tg))
	if l1 == l2 || math.Abs(l2-want) > 1e-6*want {
		t.Errorf("loss after zeroing head.final.weight %.9g (before %.9g), want %.9g", l2, l1, want)
	}
	for _, p := range n.Params() {
		if (ptrs{unsafe.SliceData(p.Value), unsafe.SliceData(p.Grad)}) != before[p.Name] {
			t.Errorf("%s: backing array changed", p.Name)
		}
	}
}

func TestInputErrors(t *testing.T) {
	n, err := New(tinyCfg, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	x, tg, wt := batchData(n, 1)
	tests := []struct {
		name      string
		x, tg, wt []float32
	}{
		{"short x", x[1:], tg, wt},
		{"short target", x, tg[:10], wt},
		{"long weight", x, tg, append(slices.Clone(wt), 1)},
	}
	for _, tc := range tests {
		if _, err := n.TrainStep(tc.x, tc.tg, tc.wt, true); err == nil || !strings.HasPrefix(err.Error(), "pose: ") {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	if _, err := n.Forward(x, 3); err == nil {
		t.Error("Forward with 2 images of data and m=3 succeeded")
	}
	if _, err := n.Forward(x, 0); err == nil {
		t.Error("Forward with m=0 succeeded")
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.TrainStep(x, tg, wt, true); !errors.Is(err, ErrClosed) {
		t.Errorf("TrainStep after Close: %v", err)
	}
	if _, err := n.Forward(x, 2); !errors.Is(err, ErrClosed) {
		t.Errorf("Forward after Close: %v", err)
	}
}

// TestResNetGradientsMatchFloat64Reference covers what the posenet-s
// reference does not: max pool, downsample, Bottleneck and the ResNet
// head, against the float64 reference at 64x64, batch 2.
func TestResNetGradientsMatchFloat64Reference(t *testing.T) {
	if testing.Short() {
		t.Skip("float64 reference ResNets take a while")
	}
	// ResNet-50 at this size (batch 2, 2x2 layer4 maps) is badly
	// conditioned: perturbing the input of the float64 reference by 1e-7
	// relative (float32 rounding) moves its gradients by about 1e-3
	// (ReLU masks flip through 50 layers), so float32 gradients differ by
	// about 2 % from any float64 reference. The tolerance there still
	// catches a wiring error, which gives O(1) differences.
	tests := []struct {
		preset     string
		blocks     []int
		bottleneck bool
		tol        float64
	}{
		{PresetResNet18, []int{2, 2, 2, 2}, false, 5e-4},
		{PresetResNet50, []int{3, 4, 6, 3}, true, 6e-2},
	}
	for _, tc := range tests {
		t.Run(tc.preset, func(t *testing.T) {
			cfg := Config{Preset: tc.preset, InputH: 64, InputW: 64, Joints: 3}
			n := mustNew(t, cfg, 2, 9)
			x, tg, wt := batchData(n, 4)
			loss, err := n.TrainStep(x, tg, wt, false)
			if err != nil {
				t.Fatal(err)
			}
			ref := newRefNet(n.Params(), cfg.Joints)
			ref.model = func(x *ref64) *ref64 { return ref.resNetForward(x, tc.blocks, tc.bottleneck) }
			rl := ref.trainStep(toRef(x, 2, 3, 64, 64), to64(tg), to64(wt))
			if math.Abs(loss-rl) > 1e-5*rl {
				t.Errorf("loss %.9g, reference %.9g", loss, rl)
			}
			worst, worstName := 0.0, ""
			for _, p := range n.Params() {
				e := relL2(p.Grad, ref.gr[p.Name])
				if e > worst {
					worst, worstName = e, p.Name
				}
				if e > tc.tol {
					t.Errorf("%s: relative L2 error %.3g > %g", p.Name, e, tc.tol)
				}
			}
			t.Logf("worst tensor %s %.3g", worstName, worst)
		})
	}
}

func TestForwardEvictsEvalGraphs(t *testing.T) {
	n := mustNew(t, tinyCfg, 2, 1)
	x, _, _ := batchData(n, 1)
	img := len(x) / 2
	var first []float32
	for _, m := range []int{1, 3, 4, 5, 6, 1} {
		xs := make([]float32, 0, m*img)
		for range m {
			xs = append(xs, x[:img]...)
		}
		y, err := n.Forward(xs, m)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = slices.Clone(y)
		}
		if e := relL2(y[len(y)-len(first):], to64(first)); e > 1e-6 {
			t.Errorf("m=%d: last image differs from m=1 result (%.3g)", m, e)
		}
		if len(n.eval) > maxEvalGraphs || n.eval[2] == nil {
			t.Errorf("m=%d: %d eval graphs cached, batch graph present %v", m, len(n.eval), n.eval[2] != nil)
		}
	}
}
