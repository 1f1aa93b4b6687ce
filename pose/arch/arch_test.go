package arch

import (
	"fmt"
	"math"
	"os"
	"strconv"
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

// TestTorchvisionGolden: the backbone tensors of resnet18 and resnet50
// are, name for name, shape for shape and in order, torchvision's
// state_dict (testdata/torchvision_*.txt, written once by
// testdata/torchvision_names.py with Debian's python3-torchvision) without
// fc.* and num_batches_tracked; so the v1.5 layout (the Bottleneck's
// stride on its 3x3 conv) matches and ImageNet weights mean what they
// meant.
func TestTorchvisionGolden(t *testing.T) {
	for _, preset := range []string{ResNet18, ResNet50} {
		t.Run(preset, func(t *testing.T) {
			b, err := os.ReadFile("testdata/torchvision_" + preset + ".txt")
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			modules := map[string]string{}
			for _, line := range strings.Split(string(b), "\n") {
				f := strings.Fields(line)
				if len(f) == 5 && f[0] == "module" {
					modules[f[1]] = strings.Join(f[2:], " ")
					continue
				}
				if len(f) != 3 || strings.HasPrefix(line, "#") || strings.HasPrefix(f[0], "fc.") || strings.HasSuffix(f[0], ".num_batches_tracked") {
					continue
				}
				want = append(want, f[0]+" "+f[1])
			}
			g, err := New(preset, 256, 192, 17)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range g.Nodes {
				if n.Torch == "" || n.Op == BatchNorm {
					continue
				}
				k, st, p := n.K, n.Stride, n.Pad
				if n.Op == MaxPool {
					k, st, p = 3, 2, 1
				}
				if got := fmt.Sprintf("%d %d %d", k, st, p); modules[n.Torch] != got {
					t.Errorf("%s (%s): kernel, stride, padding %s; torchvision %q", n.Name, n.Torch, got, modules[n.Torch])
				}
				delete(modules, n.Torch)
			}
			if len(modules) != 0 {
				t.Errorf("torchvision modules without a node: %v", modules)
			}
			var got []string
			for _, ts := range g.Tensors() {
				if ts.Torch == "" {
					continue
				}
				s := make([]string, len(ts.Shape))
				for i, d := range ts.Shape {
					s[i] = strconv.Itoa(d)
				}
				got = append(got, ts.Torch+" "+strings.Join(s, "x"))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				for i := range max(len(got), len(want)) {
					var g, w string
					if i < len(got) {
						g = got[i]
					}
					if i < len(want) {
						w = want[i]
					}
					if g != w {
						t.Fatalf("backbone tensor %d: ours %q, torchvision %q (%d against %d tensors)", i, g, w, len(got), len(want))
					}
				}
			}
		})
	}
}
