package ckpt

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/pose/arch"
)

// TestReadWeightsTorch: the PyTorch fixtures (zip and legacy formats,
// made once by testdata/make_torch_fixtures.py with Debian's torch) read
// back as torch flattened them: a transposed view, a slice with a storage
// offset, float16, bfloat16, float64 and an int64 counter, from inside a
// {"state_dict": ...} wrapper.
func TestReadWeightsTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/tiny_expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]struct {
		Shape  []int
		DType  string
		Values []float64
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	dtypes := map[string]string{"float32": "F32", "float16": "F16", "bfloat16": "BF16", "float64": "F64", "int64": "I64"}
	for _, file := range []string{"tiny_zip.pth", "tiny_legacy.pth"} {
		t.Run(file, func(t *testing.T) {
			ws, err := ReadWeights(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			if len(ws) != len(exp) {
				t.Fatalf("%d tensors, want %d", len(ws), len(exp))
			}
			for _, w := range ws {
				e, ok := exp[w.Name]
				if !ok {
					t.Fatalf("unexpected tensor %q", w.Name)
				}
				if !SameShape(w.Shape, e.Shape) && !(len(e.Shape) == 0 && len(w.Shape) == 0) || w.DType != dtypes[e.DType] {
					t.Errorf("%s: shape %v dtype %s, want %v %s", w.Name, w.Shape, w.DType, e.Shape, e.DType)
				}
				if w.DType == "I64" {
					if w.Value != nil {
						t.Errorf("%s: integer tensor with values", w.Name)
					}
					continue
				}
				if len(w.Value) != len(e.Values) {
					t.Fatalf("%s: %d values, want %d", w.Name, len(w.Value), len(e.Values))
				}
				for i, v := range e.Values {
					if float32(v) != w.Value[i] {
						t.Errorf("%s[%d] = %g, want %g", w.Name, i, w.Value[i], v)
						break
					}
				}
			}
		})
	}
}

// TestWeightsSafetensors: F32, F16, BF16 and I64 tensors written by
// WriteWeights read back (F16 and BF16 exactly for representable values).
func TestWeightsSafetensors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.safetensors")
	vals := []float32{0, 1, -2.5, 0.0009765625, 65504, -0.333251953125}
	in := []Weight{
		{Name: "a", Shape: []int{2, 3}, Value: vals},
		{Name: "h", Shape: []int{6}, DType: "F16", Value: vals},
		{Name: "b", Shape: []int{3}, DType: "BF16", Value: []float32{1, -0.5, 3.140625}},
		{Name: "n", Shape: []int{}},
	}
	if err := WriteWeights(path, in); err != nil {
		t.Fatal(err)
	}
	ws, err := ReadWeights(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Weight{}
	for _, w := range ws {
		got[w.Name] = w
	}
	for _, w := range in[:3] {
		g := got[w.Name]
		want := w.DType
		if want == "" {
			want = "F32"
		}
		if g.DType != want || !SameShape(g.Shape, w.Shape) {
			t.Errorf("%s: %s %v", w.Name, g.DType, g.Shape)
		}
		for i := range w.Value {
			if g.Value[i] != w.Value[i] {
				t.Errorf("%s[%d] = %g, want %g", w.Name, i, g.Value[i], w.Value[i])
			}
		}
	}
	if g := got["n"]; g.DType != "I64" || g.Value != nil {
		t.Errorf("counter: %+v", g)
	}
	for _, h := range []uint16{0x0001, 0x3c00, 0xc000, 0x7bff, 0x7c00, 0x8000} {
		if back := floatToHalf(halfToFloat(h)); back != h && h != 0x0001 {
			t.Errorf("half %#04x -> %g -> %#04x", h, halfToFloat(h), back)
		}
	}
	if v := halfToFloat(0x0001); v != float32(math.Ldexp(1, -24)) {
		t.Errorf("smallest subnormal = %g", v)
	}
}

// torchvisionFile writes desc's backbone under torchvision names (with
// prefix), plus fc.* and int64 counters, after edit (which may change or
// drop weights); values are a function of the tensor index.
func torchvisionFile(t *testing.T, desc *arch.Net, prefix string, edit func([]Weight) []Weight) string {
	var ws []Weight
	for i, ts := range desc.Tensors() {
		if ts.Torch == "" {
			continue
		}
		v := make([]float32, Numel(ts.Shape))
		for j := range v {
			v[j] = float32(i) + float32(j%7)/8
		}
		ws = append(ws, Weight{Name: prefix + ts.Torch, Shape: ts.Shape, Value: v})
		if strings.HasSuffix(ts.Torch, "running_var") {
			ws = append(ws, Weight{Name: prefix + strings.TrimSuffix(ts.Torch, "running_var") + "num_batches_tracked", Shape: []int{}})
		}
	}
	ws = append(ws, Weight{Name: prefix + "fc.weight", Shape: []int{10, 512}, Value: make([]float32, 5120)},
		Weight{Name: prefix + "fc.bias", Shape: []int{10}, Value: make([]float32, 10)})
	if edit != nil {
		ws = edit(ws)
	}
	path := filepath.Join(t.TempDir(), "tv.safetensors")
	if err := WriteWeights(path, ws); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPretrained(t *testing.T) {
	desc, err := arch.New(arch.ResNet18, 64, 64, 17)
	if err != nil {
		t.Fatal(err)
	}
	vals, rep, err := Pretrained(desc, torchvisionFile(t, desc, "module.backbone.", nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Loaded) != 100 || len(vals) != 100 || len(rep.Skipped) != 22 || len(rep.RandomInit) != 17 {
		t.Errorf("loaded %d (%d values), skipped %d, random init %d; want 100, 100, 22, 17", len(rep.Loaded), len(vals), len(rep.Skipped), len(rep.RandomInit))
	}
	if rep.Loaded[0] != [2]string{"conv1.weight", "stem.conv.weight"} || vals["layer4.1.bn2.running_var"] == nil {
		t.Errorf("loaded %v", rep.Loaded[:2])
	}
	s := rep.String()
	for _, want := range []string{"100 tensors loaded, 22 skipped, 17 left at random init", "conv1.weight -> stem.conv.weight", "fc.weight, fc.bias, 20 x *.num_batches_tracked", "random init: head.0.conv.weight"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	for _, tc := range []struct {
		name string
		edit func([]Weight) []Weight
		want string
	}{
		{"shape", func(ws []Weight) []Weight {
			ws[3].Shape, ws[3].Value = []int{32}, ws[3].Value[:32]
			return ws
		}, `"bn1.running_mean" has shape [32]`},
		{"missing", func(ws []Weight) []Weight { return append(ws[:10], ws[11:]...) }, `backbone tensor "layer1.0.bn1.running_var" missing`},
		{"int", func(ws []Weight) []Weight { ws[0].Value = nil; return ws }, `"conv1.weight" has dtype I64`},
		{"nothing", func(ws []Weight) []Weight {
			for i := range ws {
				ws[i].Name = "encoder." + ws[i].Name
			}
			return ws
		}, "no tensor matches the resnet18 backbone"},
		{"duplicate", func(ws []Weight) []Weight {
			return append(ws, Weight{Name: "model.conv1.weight", Shape: ws[0].Shape, Value: ws[0].Value})
		}, `both "conv1.weight"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Pretrained(desc, torchvisionFile(t, desc, "", tc.edit))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	ps, _ := arch.New(arch.PoseNetS, 64, 64, 17)
	if _, _, err := Pretrained(ps, "x"); err == nil || !strings.Contains(err.Error(), "no torchvision backbone") {
		t.Errorf("posenet-s: %v", err)
	}
	junk := filepath.Join(t.TempDir(), "junk.pth")
	os.WriteFile(junk, []byte("not a pickle"), 0o644)
	if _, _, err := Pretrained(desc, junk); err == nil || !strings.Contains(err.Error(), "junk.pth") {
		t.Errorf("junk: %v", err)
	}
}

// TestPretrainedTorchvision: a real torchvision resnet18 state_dict
// (random init, saved by torch.save in both formats) loads with every
// backbone tensor equal to torch's; skipped without Debian's
// python3-torchvision.
func TestPretrainedTorchvision(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torchvision").Run(); err != nil {
		t.Skipf("%s cannot import torchvision (Debian: apt-get install python3-torchvision)", py)
	}
	dir := t.TempDir()
	script := `
import json, sys, torch, torchvision
torch.manual_seed(0)
sd = torchvision.models.resnet18(weights=None).state_dict()
torch.save(sd, sys.argv[1] + "/zip.pth")
torch.save({"state_dict": sd}, sys.argv[1] + "/legacy.pth", _use_new_zipfile_serialization=False)
json.dump({k: [v.double().sum().item(), v.flatten()[-1].item()] for k, v in sd.items() if v.is_floating_point()}, open(sys.argv[1] + "/sums.json", "w"))
`
	if out, err := exec.Command(py, "-c", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("torch: %v\n%s", err, out)
	}
	var sums map[string][2]float64
	b, _ := os.ReadFile(filepath.Join(dir, "sums.json"))
	if err := json.Unmarshal(b, &sums); err != nil {
		t.Fatal(err)
	}
	desc, _ := arch.New(arch.ResNet18, 256, 192, 17)
	for _, f := range []string{"zip.pth", "legacy.pth"} {
		vals, rep, err := Pretrained(desc, filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Loaded) != 100 {
			t.Errorf("%s: %d loaded", f, len(rep.Loaded))
		}
		for _, l := range rep.Loaded {
			v := vals[l[1]]
			s := 0.0
			for _, x := range v {
				s += float64(x)
			}
			want := sums[l[0]]
			if math.Abs(s-want[0]) > 1e-3*max(1, math.Abs(want[0])) || float64(v[len(v)-1]) != want[1] {
				t.Errorf("%s: %s sum %g last %g; torch %g %g", f, l[0], s, v[len(v)-1], want[0], want[1])
			}
		}
	}
}
