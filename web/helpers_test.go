package web

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/heatmap"
	"github.com/bsampose/bsampose/internal/shareddata"
	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/pose/data"
)

var (
	ckOnce sync.Once
	ckDir  string
	ckPath string
	ckErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if ckDir != "" {
		os.RemoveAll(ckDir)
	}
	os.Exit(code)
}

// testCheckpoint writes, once per test binary, a posenet-s checkpoint
// (128x96, COCO's 17 joints) with random weights and batch-norm
// statistics (so folding is exercised) and a final layer scaled up so the
// heatmaps have clear maxima.
func testCheckpoint(t testing.TB) string {
	t.Helper()
	ckOnce.Do(func() {
		ckDir, ckErr = os.MkdirTemp("", "bsampose-web-test")
		if ckErr != nil {
			return
		}
		ckPath, ckErr = writeCheckpoint(filepath.Join(ckDir, "model.safetensors"))
	})
	if ckErr != nil {
		t.Fatal(ckErr)
	}
	return ckPath
}

func writeCheckpoint(path string) (string, error) {
	h, w := pose.DefaultInput(pose.PresetPoseNetS)
	schema := coco.COCO17()
	net, err := pose.New(pose.Config{Preset: pose.PresetPoseNetS, InputH: h, InputW: w, Joints: schema.K()}, 1, 7)
	if err != nil {
		return "", err
	}
	defer net.Close()
	r := rand.New(rand.NewPCG(1, 2))
	tensors := append(append([]*pose.Tensor{}, net.Params()...), net.Buffers()...)
	for _, t := range tensors {
		switch {
		case t.Name == "head.final.weight":
			for i := range t.Value {
				t.Value[i] *= 300
			}
		case t.Name == "head.final.bias":
			for i := range t.Value {
				t.Value[i] = float32(r.NormFloat64() * 0.1)
			}
		case strings.HasSuffix(t.Name, ".running_var"):
			for i := range t.Value {
				t.Value[i] = float32(0.5 + r.Float64())
			}
		case strings.HasSuffix(t.Name, ".running_mean"):
			for i := range t.Value {
				t.Value[i] = float32(r.NormFloat64() * 0.1)
			}
		case len(t.Shape) == 1 && strings.HasSuffix(t.Name, ".weight"):
			for i := range t.Value {
				t.Value[i] = float32(0.8 + 0.4*r.Float64())
			}
		case len(t.Shape) == 1 && strings.HasSuffix(t.Name, ".bias"):
			for i := range t.Value {
				t.Value[i] = float32(r.NormFloat64() * 0.1)
			}
		}
	}
	meta := pose.Meta{
		Preset: pose.PresetPoseNetS, InputH: h, InputW: w, Joints: schema.K(),
		Schema: pose.SchemaOf(schema), Codec: heatmap.NewMSRA(w, h),
		Mean: data.ImageNetMean, Std: data.ImageNetStd, // as train.Run writes them
	}
	return path, pose.SaveCheckpoint(path, meta, tensors)
}

// fakeWasmDir holds stand-ins for the build outputs: a wasm-looking file
// (compressible) and a wasm_exec.js.
func fakeWasmDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	wasm := append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte("posewasm "), 2000)...)
	if err := os.WriteFile(filepath.Join(dir, "posewasm.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "wasm_exec.js"), []byte("// stand-in for Go's wasm_exec.js\n"+strings.Repeat("globalThis.x = 1;\n", 40)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newTestEcho builds a server on the test checkpoint with fake wasm files
// and browser weights; edit adjusts the Config first.
func newTestEcho(t testing.TB, edit func(*Config)) *echo.Echo {
	t.Helper()
	cfg := Config{Checkpoint: testCheckpoint(t), WasmDir: fakeWasmDir(t), ModelBin: bytes.Repeat([]byte{1, 2, 3, 4}, 1000)}
	if edit != nil {
		edit(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// e.Server never listens; Shutdown releases the native network.
	t.Cleanup(func() { e.Server.Shutdown(context.Background()) })
	return e
}

// do runs one request through e.ServeHTTP.
func do(e *echo.Echo, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// multipartBody builds a POST /api/predict body.
func multipartBody(t testing.TB, img []byte, box string) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if img != nil {
		fw, err := mw.CreateFormFile("image", "upload.jpg")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(img)
	}
	if box != "" {
		mw.WriteField("box", box)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// lspetImage returns the bytes of a real LSPET image (skipping without
// the shared data).
func lspetImage(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(shareddata.Dir(t, "lspet"), "images", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pngOf re-encodes img losslessly.
func pngOf(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
