package checkpoint_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/pose/data"
	"github.com/bsampose/bsampose/pose/infer"
	"github.com/bsampose/bsampose/pose/infer/checkpoint"
	"github.com/bsampose/bsampose/pose/infer/simd"
)

// TestBrowserPathNode builds cmd/posewasm, loads it under node through
// web/static/posewasm.js (with and without the SIMD module), and checks
// that bsampose.predict on real RGBA pixels gives the keypoints of the
// native pose.Predictor (posetrain predict) within 1 px — in practice to
// about 1e-3 px.
func TestBrowserPathNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wasm binary")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	lspet := filepath.Join(lspetDir(t), "images", "im00021.jpg")
	img, err := data.DecodeImage(lspet)
	if err != nil {
		t.Fatal(err)
	}
	const h, w = 128, 96
	meta := lspMeta(pose.PresetPoseNetS, h, w)
	net, err := pose.New(pose.Config{Preset: meta.Preset, InputH: h, InputW: w, Joints: 14}, 1, 21)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	randomise(net, 22)
	b := img.Bounds()
	box := coco.Box{X: 0.05 * float64(b.Dx()), Y: 0.1 * float64(b.Dy()), W: 0.8 * float64(b.Dx()), H: 0.85 * float64(b.Dy())}
	ck := &pose.Checkpoint{Meta: meta}
	want, err := ck.Predictor(net, false).PredictImage(img, []coco.Box{box}, ck.DataConfig())
	if err != nil {
		t.Fatal(err)
	}
	md, err := checkpoint.FromTensors(checkpoint.Meta(meta), tensorMap(net))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	var mb bytes.Buffer
	if err := infer.Encode(&mb, md); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"model.bin": mb.Bytes(), "pixels.rgba": img.Pix, "simd.wasm": simd.Module(), "relaxed.wasm": simd.ModuleRelaxed()}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join("..", "..", "..")
	wasm := filepath.Join(dir, "posewasm.wasm")
	build := exec.Command("go", "build", "-o", wasm, "./cmd/posewasm")
	build.Dir = root
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build posewasm: %v\n%s", err, out)
	}
	execJS := filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js")
	loader, _ := filepath.Abs(filepath.Join(root, "web", "static", "posewasm.js"))
	for _, tc := range []struct {
		name          string
		simd, relaxed bool
		flags         []string
		level         int
		kernel        string
	}{
		{"relaxed", true, true, []string{"--experimental-wasm-relaxed-simd"}, 2, "wasm-simd128-relaxed"},
		{"relaxed_unsupported", true, true, nil, 1, "wasm-simd128"},
		{"simd128", true, false, nil, 1, "wasm-simd128"},
		{"portable", false, false, nil, 0, "go"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := json.Marshal(map[string]any{
				"exec": execJS, "loader": loader, "wasm": wasm,
				"simd": filepath.Join(dir, "simd.wasm"), "relaxed": filepath.Join(dir, "relaxed.wasm"),
				"useSIMD": tc.simd, "useRelaxed": tc.relaxed, "model": filepath.Join(dir, "model.bin"),
				"pixels": filepath.Join(dir, "pixels.rgba"), "width": b.Dx(), "height": b.Dy(),
				"box": []float64{box.X, box.Y, box.W, box.H},
			})
			cfgPath := filepath.Join(dir, tc.name+".json")
			if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(node, append(tc.flags, filepath.Join("testdata", "e2e.mjs"), cfgPath)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("node: %v\n%s", err, stderr.Bytes())
			}
			var res struct {
				Info struct {
					Names     []string
					InputW    int `json:"input_w"`
					InputH    int `json:"input_h"`
					SIMD      bool
					Kernel    string
					FlipPairs [][2]int `json:"flip_pairs"`
					Skeleton  [][2]int
				}
				Result struct {
					Keypoints []infer.Keypoint
					MS        float64
				}
				Bench struct {
					MedianMS float64 `json:"median_ms"`
					Kernel   string
				}
				SIMDLevel int    `json:"simdLevel"`
				BadArgs   string `json:"badArgs"`
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if res.SIMDLevel != tc.level || res.Info.Kernel != tc.kernel || res.Bench.Kernel != tc.kernel {
				t.Errorf("simd level %d kernel %q (bench %q), want %d %q", res.SIMDLevel, res.Info.Kernel, res.Bench.Kernel, tc.level, tc.kernel)
			}
			if res.Info.SIMD != (tc.level > 0) || res.Info.InputW != w || res.Info.InputH != h || len(res.Info.Skeleton) != 14 || len(res.Info.FlipPairs) != 6 {
				t.Errorf("load returned %+v", res.Info)
			}
			if !strings.Contains(res.BadArgs, "box must be [x, y, w, h]") {
				t.Errorf("a 3-number box was answered with %q, want a rejection", res.BadArgs)
			}
			kps := res.Result.Keypoints
			if len(kps) != 14 {
				t.Fatalf("%d keypoints", len(kps))
			}
			var worst float64
			for k, kp := range kps {
				wk := want[0].Keypoints[k]
				d := math.Hypot(kp.X-wk.X, kp.Y-wk.Y)
				worst = max(worst, d)
				if d > 1 || kp.Name != meta.Schema.Names[k] || math.Abs(kp.Score-want[0].Scores[k]) > 1e-3 {
					t.Errorf("joint %d: wasm %+v, native (%.3f, %.3f, %.4f) %s", k, kp, wk.X, wk.Y, want[0].Scores[k], meta.Schema.Names[k])
				}
			}
			t.Logf("kernel %s: worst joint distance to native %.2g px; predict %.1f ms, forward median %.1f ms (node)",
				res.Info.Kernel, worst, res.Result.MS, res.Bench.MedianMS)
		})
	}
}

func lspetDir(t *testing.T) string {
	t.Helper()
	return sharedDir(t, "lspet")
}
