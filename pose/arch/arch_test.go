package arch

import (
	"math"
	"strings"
	"testing"
)

// TestPoseNetSShapes: the posenet-s description has the shapes of
// specs/posenet-s.md and its 2,309,105 parameters (17 joints).
func TestPoseNetSShapes(t *testing.T) {
	g, err := New(PoseNetS, 128, 96, 17)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][3]int{
		"stem.relu": {32, 64, 48}, "layer1.0.relu": {64, 32, 24}, "layer2.1.relu": {128, 16, 12},
		"layer3.1.relu": {256, 8, 6}, "head.0.relu": {128, 16, 12}, "head.1.relu": {64, 32, 24}, "head.final": {17, 32, 24},
	}
	for _, n := range g.Nodes {
		if w, ok := want[n.Name]; ok {
			if [3]int{n.C, n.H, n.W} != w {
				t.Errorf("%s: %dx%dx%d, want %v", n.Name, n.C, n.H, n.W, w)
			}
			delete(want, n.Name)
		}
	}
	if len(want) != 0 {
		t.Errorf("nodes not found: %v\n%s", want, g)
	}
	params := 0
	for _, ts := range g.Tensors() {
		if ts.Trainable {
			params += numel(ts.Shape)
		}
	}
	if params != 2309105 {
		t.Errorf("%d parameters, want 2309105", params)
	}
}

// TestTorchNames: the ResNets' backbone tensors carry torchvision names
// (conv1, bn1, layerL.B.*), the head none.
func TestTorchNames(t *testing.T) {
	g, err := New(ResNet50, 256, 192, 17)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ts := range g.Tensors() {
		head := strings.HasPrefix(ts.Name, "head.")
		if head != (ts.Torch == "") {
			t.Errorf("%s: torch name %q", ts.Name, ts.Torch)
		}
		if ts.Name == "stem.conv.weight" && ts.Torch != "conv1.weight" || ts.Name == "layer2.0.downsample.1.running_var" && ts.Torch != ts.Name {
			t.Errorf("%s: torch name %q", ts.Name, ts.Torch)
		}
		if !head {
			n++
		}
	}
	if n != 265 { // resnet50 state_dict without fc.* and num_batches_tracked
		t.Errorf("%d backbone tensors, want 265", n)
	}
	if Pretrainable(PoseNetS) || !Pretrainable(ResNet18) {
		t.Error("Pretrainable")
	}
}

func TestNewErrors(t *testing.T) {
	for _, c := range []struct {
		preset string
		h, w   int
		k      int
	}{{"vgg", 64, 64, 1}, {PoseNetS, 60, 64, 1}, {PoseNetS, 64, 0, 1}, {PoseNetS, 64, 64, 0}, {PoseNetS, 8192, 64, 1}} {
		if _, err := New(c.preset, c.h, c.w, c.k); err == nil {
			t.Errorf("New(%v) = nil error", c)
		}
	}
}

// TestFold: a folded conv computes BN(conv(x) + b) for one input.
func TestFold(t *testing.T) {
	w := []float32{1, -2, 0.5, 3} // 2 outputs x 2 inputs
	b := []float32{0.1, -0.2}
	gamma, beta, mean, variance := []float32{1.5, 0.5}, []float32{0.2, -0.1}, []float32{0.3, -0.4}, []float32{2, 0.25}
	fw, fb := Fold(w, b, gamma, beta, mean, variance)
	x := []float64{0.7, -1.1}
	for o := range 2 {
		y := float64(b[o]) + float64(w[2*o])*x[0] + float64(w[2*o+1])*x[1]
		want := (y-float64(mean[o]))/math.Sqrt(float64(variance[o])+BNEps)*float64(gamma[o]) + float64(beta[o])
		got := float64(fb[o]) + float64(fw[2*o])*x[0] + float64(fw[2*o+1])*x[1]
		if math.Abs(got-want) > 1e-6 {
			t.Errorf("output %d: %g, want %g", o, got, want)
		}
	}
}

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}
