package onnx

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/heatmap"
	"github.com/bsampose/bsampose/pose/arch"
	"github.com/bsampose/bsampose/pose/infer"
)

// testMeta is a 14-joint model of preset at h x w.
func testMeta(preset string, h, w int) infer.Meta {
	return infer.Meta{Preset: preset, InputH: h, InputW: w, Joints: 14,
		Names:     []string{"r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist", "neck", "head_top"},
		Skeleton:  [][2]int{{0, 1}, {1, 2}, {12, 13}},
		FlipPairs: [][2]int{{0, 5}, {1, 4}, {2, 3}, {6, 11}, {7, 10}, {8, 9}},
		Codec:     heatmap.NewMSRA(w, h),
		Mean:      [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}}
}

// randomTensors gives every tensor of the description non-trivial values:
// He-scaled convolutions, batch-norm gamma in [0.4, 1] (so that
// deep random nets keep outputs of O(1-10)), beta in
// [-0.2, 0.2], running mean in [-0.3, 0.3] and variance in [0.3, 2], and a
// final layer large enough that the heatmaps are O(1).
func randomTensors(t *testing.T, meta infer.Meta, seed uint64) (map[string][]float32, map[string][]int) {
	desc, err := meta.Arch()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 3))
	u := func(lo, hi float64) float32 { return float32(lo + (hi-lo)*r.Float64()) }
	vals, shapes := map[string][]float32{}, map[string][]int{}
	for _, ts := range desc.Tensors() {
		n := 1
		for _, d := range ts.Shape {
			n *= d
		}
		v := make([]float32, n)
		node := desc.Nodes[ts.Node]
		field := ts.Name[strings.LastIndex(ts.Name, ".")+1:]
		for i := range v {
			switch {
			case node.Op == arch.Conv && field == "weight":
				std := math.Sqrt(2 / float64(n/ts.Shape[0]))
				if node.Bias {
					std = 0.05
				}
				v[i] = float32(r.NormFloat64() * std)
			case node.Op == arch.Conv:
				v[i] = u(-0.1, 0.1)
			case field == "weight":
				v[i] = u(0.4, 1)
			case field == "bias":
				v[i] = u(-0.2, 0.2)
			case field == "running_mean":
				v[i] = u(-0.3, 0.3)
			default:
				v[i] = u(0.3, 2)
			}
		}
		vals[ts.Name], shapes[ts.Name] = v, ts.Shape
	}
	return vals, shapes
}

// ortDir returns where onnxruntime-node is installed, or skips (fails
// with BSAMPOSE_REQUIRE_ORT=1) when node or the package is missing.
func ortDir(t *testing.T) (node, dir string) {
	t.Helper()
	skip := func(msg string) {
		if os.Getenv("BSAMPOSE_REQUIRE_ORT") == "1" {
			t.Fatalf("%s (BSAMPOSE_REQUIRE_ORT=1)", msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("node is not on PATH; scripts/ci-onnx.sh installs onnxruntime-node and runs this test")
	}
	dir = os.Getenv("BSAMPOSE_ORT_DIR")
	if dir == "" {
		skip("BSAMPOSE_ORT_DIR is not set (the folder holding node_modules/onnxruntime-node); see scripts/ci-onnx.sh")
	}
	_, e1 := os.Stat(filepath.Join(dir, "node_modules", "onnxruntime-node", "package.json"))
	_, e2 := os.Stat(filepath.Join(dir, "package.json"))
	if e1 != nil && e2 != nil {
		skip(fmt.Sprintf("no onnxruntime-node in BSAMPOSE_ORT_DIR=%s", dir))
	}
	return node, dir
}

func writeF32(t *testing.T, path string, v []float32) {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readF32(t *testing.T, path string) []float32 {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// TestOnnxRuntime: for posenet-s and resnet18 with non-trivial weights
// and batch-norm statistics, onnxruntime-node's output of the exported
// model at batch 1 and 2 (opsets 17 and 13) equals pose/infer's forward
// pass (the same tensors, folded independently) within 1e-4.
func TestOnnxRuntime(t *testing.T) {
	node, dir := ortDir(t)
	for _, tc := range []struct {
		preset string
		h, w   int
		opset  int
	}{{arch.PoseNetS, 128, 96, 17}, {arch.ResNet18, 64, 64, 17}, {arch.ResNet18, 64, 32, 13}} {
		t.Run(fmt.Sprintf("%s_opset%d", tc.preset, tc.opset), func(t *testing.T) {
			meta := testMeta(tc.preset, tc.h, tc.w)
			vals, shapes := randomTensors(t, meta, 5)
			tmp := t.TempDir()
			var buf bytes.Buffer
			if err := Encode(&buf, meta, vals, Options{Opset: tc.opset}); err != nil {
				t.Fatal(err)
			}
			model := filepath.Join(tmp, "model.onnx")
			if err := os.WriteFile(model, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			md, err := infer.FromTensors(meta, vals, shapes)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(9, 9))
			args := []string{filepath.Join("testdata", "ort_run.js"), dir, model}
			var want [][]float32
			for _, m := range []int{1, 2} {
				x := make([]float32, m*3*tc.h*tc.w)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				y, err := md.Forward(x, m)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, append([]float32(nil), y...))
				in, out := filepath.Join(tmp, fmt.Sprintf("x%d.bin", m)), filepath.Join(tmp, fmt.Sprintf("y%d.bin", m))
				writeF32(t, in, x)
				args = append(args, fmt.Sprintf("%s,%d,3,%d,%d:%s", in, m, tc.h, tc.w, out))
			}
			cmd := exec.Command(node, args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.Output()
			if err != nil {
				t.Fatalf("node ort_run.js: %v\n%s", err, stderr.String())
			}
			var res struct {
				Inputs, Outputs []string
				Dims            [][]int
			}
			if err := json.Unmarshal(stdout, &res); err != nil {
				t.Fatalf("ort_run.js output %q: %v", stdout, err)
			}
			if fmt.Sprint(res.Inputs, res.Outputs) != "[input] [output]" {
				t.Errorf("inputs %v, outputs %v", res.Inputs, res.Outputs)
			}
			for i, m := range []int{1, 2} {
				if wd := fmt.Sprint([]int{m, 14, tc.h / 4, tc.w / 4}); fmt.Sprint(res.Dims[i]) != wd {
					t.Errorf("batch %d: output dims %v, want %s", m, res.Dims[i], wd)
				}
				got := readF32(t, filepath.Join(tmp, fmt.Sprintf("y%d.bin", m)))
				if len(got) != len(want[i]) {
					t.Fatalf("batch %d: %d outputs, want %d", m, len(got), len(want[i]))
				}
				var d, mag float64
				for j := range got {
					d = max(d, math.Abs(float64(got[j]-want[i][j])))
					mag = max(mag, math.Abs(float64(want[i][j])))
				}
				t.Logf("batch %d: max |ort - infer| = %.3g (max |infer| = %.3g)", m, d, mag)
				if d > 1e-4 {
					t.Errorf("batch %d: max abs difference %g > 1e-4", m, d)
				}
				if mag < 0.05 {
					t.Errorf("outputs too small (max %g) for a meaningful comparison", mag)
				}
			}
		})
	}
}

// TestCheckerPython: Debian's python3-onnx checker (onnx.checker.check_model,
// full shape inference) accepts the exported files, and the metadata
// reads back; skipped without python3 and its onnx module (a failure with
// BSAMPOSE_REQUIRE_ONNX_CHECKER=1).
func TestCheckerPython(t *testing.T) {
	skip := func(msg string) {
		if os.Getenv("BSAMPOSE_REQUIRE_ONNX_CHECKER") == "1" {
			t.Fatalf("%s (BSAMPOSE_REQUIRE_ONNX_CHECKER=1)", msg)
		}
		t.Skip(msg)
	}
	py := "/usr/bin/python3" // Debian's, where python3-onnx installs
	if _, err := os.Stat(py); err != nil {
		if py, err = exec.LookPath("python3"); err != nil {
			skip("no python3")
		}
	}
	if err := exec.Command(py, "-c", "import onnx").Run(); err != nil {
		skip(py + " has no onnx module (Debian: apt-get install python3-onnx)")
	}
	for _, opset := range []int{13, 17} {
		meta := testMeta(arch.ResNet18, 64, 32)
		vals, _ := randomTensors(t, meta, 1)
		var buf bytes.Buffer
		if err := Encode(&buf, meta, vals, Options{Opset: opset}); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "m.onnx")
		os.WriteFile(path, buf.Bytes(), 0o644)
		out, err := exec.Command(py, filepath.Join("testdata", "check.py"), path).CombinedOutput()
		if err != nil {
			t.Fatalf("opset %d: check.py: %v\n%s", opset, err, out)
		}
		var res struct {
			IR, Opset int64
			Meta      map[string]string
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("check.py output %q: %v", out, err)
		}
		if res.Opset != int64(opset) || res.IR != irVersion(opset) || res.Meta["flip_pairs"] != "[[0,5],[1,4],[2,3],[6,11],[7,10],[8,9]]" || res.Meta["input_size"] != "64x32" {
			t.Errorf("opset %d: read back %+v", opset, res)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	meta := testMeta(arch.PoseNetS, 64, 32)
	vals, _ := randomTensors(t, meta, 1)
	if err := Encode(&bytes.Buffer{}, meta, vals, Options{Opset: 11}); err == nil || !strings.Contains(err.Error(), "opset 11") {
		t.Errorf("opset 11: %v", err)
	}
	delete(vals, "layer2.1.bn2.running_var")
	if err := Encode(&bytes.Buffer{}, meta, vals, Options{}); err == nil || !strings.Contains(err.Error(), "layer2.1.bn2.running_var") {
		t.Errorf("missing tensor: %v", err)
	}
	vals, _ = randomTensors(t, meta, 1)
	vals["head.final.bias"] = vals["head.final.bias"][:3]
	if err := Encode(&bytes.Buffer{}, meta, vals, Options{}); err == nil || !strings.Contains(err.Error(), "head.final.bias") {
		t.Errorf("short tensor: %v", err)
	}
}
