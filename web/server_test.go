package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/jpeg"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/internal/shareddata"
	"github.com/bsampose/bsampose/pose/data"
	"github.com/bsampose/bsampose/pose/infer"
	"github.com/bsampose/bsampose/pose/infer/simd"
)

func TestRoutes(t *testing.T) {
	e := newTestEcho(t, nil)
	tests := []struct {
		name, path string
		code       int
		ctype      string // prefix; "" skips
		cache      string // exact Cache-Control; "" skips
	}{
		{"page", "/", 200, "text/html", "no-cache"},
		{"page by name", "/index.html", 200, "text/html", "no-cache"},
		{"app script", "/static/app.js", 200, "text/javascript", "no-cache"},
		{"style", "/static/style.css", 200, "text/css", "no-cache"},
		{"wasm loader", "/static/posewasm.js", 200, "text/javascript", "no-cache"},
		{"build outputs not embedded", "/static/posewasm.wasm", 404, "", ""},
		{"wasm", "/posewasm.wasm", 200, "application/wasm", "no-cache"},
		{"simd kernel", "/simd.wasm", 200, "application/wasm", ""},
		{"wasm_exec", "/wasm_exec.js", 200, "text/javascript", ""},
		{"weights", "/model.bin", 200, "application/octet-stream", ""},
		{"info", "/api/info", 200, "application/json", "no-cache"},
		{"missing static", "/static/nope.js", 404, "application/json", ""},
		{"no directory listing", "/static/", 404, "application/json", ""},
		{"no directory listing bare", "/static", 404, "", ""},
		{"traversal", "/static/../server.go", 404, "", ""},
		{"traversal escaped", "/static/%2e%2e/server.go", 404, "", ""},
		{"traversal escaped slash", "/static/..%2fserver.go", 404, "", ""},
		{"traversal deep", "/static/a/../../doc.go", 404, "", ""},
		{"absolute", "/static//etc/passwd", 404, "", ""},
		{"backslash", "/static/..%5cserver.go", 404, "", ""},
		{"hidden file", "/static/.gitignore", 404, "", ""},
		{"go source not served", "/server.go", 404, "", ""},
		{"unknown route", "/nothing", 404, "application/json", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(e, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.code {
				t.Fatalf("GET %s: status %d, want %d (body %.200q)", tc.path, rec.Code, tc.code, rec.Body.String())
			}
			if ct := rec.Header().Get("Content-Type"); tc.ctype != "" && !strings.HasPrefix(ct, tc.ctype) {
				t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.ctype)
			}
			if cc := rec.Header().Get("Cache-Control"); tc.cache != "" && cc != tc.cache {
				t.Errorf("GET %s: Cache-Control %q, want %q", tc.path, cc, tc.cache)
			}
			if tc.code == 404 && strings.Contains(rec.Body.String(), "package web") {
				t.Errorf("GET %s leaked Go source", tc.path)
			}
		})
	}
}

func TestPageInlinesInfo(t *testing.T) {
	e := newTestEcho(t, nil)
	page := do(e, httptest.NewRequest(http.MethodGet, "/", nil)).Body.String()
	var info Info
	json.Unmarshal(do(e, httptest.NewRequest(http.MethodGet, "/api/info", nil)).Body.Bytes(), &info)
	if strings.Contains(page, PageMarker) {
		t.Fatal("page still has the marker")
	}
	i := strings.Index(page, `<script type="application/json" id="bsampose-info">`)
	j := strings.Index(page[max(i, 0):], "</script>")
	if i < 0 || j < 0 {
		t.Fatalf("no inline info in the page:\n%s", page)
	}
	var inline Info
	if err := json.Unmarshal([]byte(page[i+len(`<script type="application/json" id="bsampose-info">`):i+j]), &inline); err != nil {
		t.Fatal(err)
	}
	if inline.Assets["wasm"] != info.Assets["wasm"] || inline.Assets["model"] != info.Assets["model"] || len(inline.Names) != len(info.Names) {
		t.Errorf("inline info %+v differs from /api/info %+v", inline, info)
	}
	for _, k := range []string{"wasm", "model", "simd", "relaxed"} {
		if !strings.Contains(page, `<link rel="preload" href="`+info.Assets[k]+`" as="fetch" crossorigin>`) {
			t.Errorf("no preload of %s (%s)", k, info.Assets[k])
		}
	}
	// wasm_exec.js is a deferred script that runs before the page's module.
	execTag := `<script src="` + info.Assets["exec"] + `" defer></script>`
	ei, mi := strings.Index(page, execTag), strings.Index(page, `<script type="module"`)
	if ei < 0 || mi < 0 || ei > mi {
		t.Errorf("wasm_exec.js tag at %d, module script at %d: want the deferred exec script first", ei, mi)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newTestEcho(t, nil)
	for _, path := range []string{"/", "/static/app.js", "/posewasm.wasm", "/api/info", "/static/missing"} {
		rec := do(e, httptest.NewRequest(http.MethodGet, path, nil))
		h := rec.Header()
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"'wasm-unsafe-eval'", "frame-ancestors 'none'", "default-src 'self'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", path, csp, want)
			}
		}
		if strings.Contains(csp, "'unsafe-eval'") && !strings.Contains(csp, "'wasm-unsafe-eval'") || strings.Contains(csp, "'unsafe-inline'") {
			t.Errorf("%s: CSP %q allows eval or inline code", path, csp)
		}
		for k, v := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "same-origin",
		} {
			if got := h.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
	}
}

func TestWasmGzipAndCaching(t *testing.T) {
	dir := fakeWasmDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "posewasm.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEcho(t, func(c *Config) { c.WasmDir = dir })

	var info Info
	rec := do(e, httptest.NewRequest(http.MethodGet, "/api/info", nil))
	if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil {
		t.Fatalf("/api/info: %v", err)
	}
	wasmURL := info.Assets["wasm"]
	if !strings.HasPrefix(wasmURL, "/posewasm.wasm?v=") {
		t.Fatalf("wasm asset URL %q", wasmURL)
	}

	tests := []struct {
		name, url, accept string
		wantGzip          bool
		wantCache         string
	}{
		{"gzip", "/posewasm.wasm", "gzip, deflate, br", true, "no-cache"},
		{"gzip q=1", "/posewasm.wasm", "br;q=1.0, gzip;q=0.8", true, "no-cache"},
		{"identity", "/posewasm.wasm", "", false, "no-cache"},
		{"gzip refused", "/posewasm.wasm", "gzip;q=0", false, "no-cache"},
		{"versioned", wasmURL, "gzip", true, "public, max-age=31536000, immutable"},
		{"stale version", "/posewasm.wasm?v=0000", "gzip", true, "no-cache"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.url, nil)
			if tc.accept != "" {
				req.Header.Set("Accept-Encoding", tc.accept)
			}
			rec := do(e, req)
			if rec.Code != 200 {
				t.Fatalf("status %d", rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/wasm" {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != tc.wantCache {
				t.Errorf("Cache-Control %q, want %q", cc, tc.wantCache)
			}
			if !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
				t.Errorf("Vary %q lacks Accept-Encoding", rec.Header().Get("Vary"))
			}
			body := rec.Body.Bytes()
			gz := rec.Header().Get("Content-Encoding") == "gzip"
			if gz != tc.wantGzip {
				t.Fatalf("Content-Encoding %q, want gzip=%v", rec.Header().Get("Content-Encoding"), tc.wantGzip)
			}
			if gz {
				if len(body) >= len(raw) {
					t.Errorf("gzip body %d bytes, raw %d", len(body), len(raw))
				}
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(body, raw) {
				t.Fatalf("served %d bytes that differ from the file's %d", len(body), len(raw))
			}
			if info.GzipBytes["wasm"] <= 0 || info.GzipBytes["wasm"] >= len(raw) {
				t.Errorf("info gzip_bytes[wasm] = %d for a %d-byte compressible file", info.GzipBytes["wasm"], len(raw))
			}

			// Revalidation with the ETag gives 304 and no body.
			etag := rec.Header().Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			req2 := httptest.NewRequest(http.MethodGet, tc.url, nil)
			req2.Header.Set("Accept-Encoding", tc.accept)
			req2.Header.Set("If-None-Match", etag)
			rec2 := do(e, req2)
			if rec2.Code != http.StatusNotModified || rec2.Body.Len() != 0 {
				t.Errorf("If-None-Match %s: status %d with %d bytes, want 304 and none", etag, rec2.Code, rec2.Body.Len())
			}
		})
	}
}

func TestWasmDirOverrides(t *testing.T) {
	// scripts/build-wasm.sh names the kernels posewasm-simd*.wasm.
	dir := fakeWasmDir(t)
	fake := []byte("\x00asm\x01\x00\x00\x00 override")
	if err := os.WriteFile(filepath.Join(dir, "posewasm-simd.wasm"), fake, 0o644); err != nil {
		t.Fatal(err)
	}
	e := newTestEcho(t, func(c *Config) { c.WasmDir = dir })
	if got := do(e, httptest.NewRequest(http.MethodGet, "/simd.wasm", nil)).Body.Bytes(); !bytes.Equal(got, fake) {
		t.Errorf("/simd.wasm = %q, want the file of the wasm directory", got)
	}
	if got := do(e, httptest.NewRequest(http.MethodGet, "/simd-relaxed.wasm", nil)).Body.Bytes(); !bytes.Equal(got, simd.ModuleRelaxed()) {
		t.Errorf("/simd-relaxed.wasm is not the built-in module")
	}
}

func TestHead(t *testing.T) {
	e := newTestEcho(t, nil)
	get := do(e, httptest.NewRequest(http.MethodGet, "/posewasm.wasm", nil))
	head := do(e, httptest.NewRequest(http.MethodHead, "/posewasm.wasm", nil))
	if head.Code != 200 || head.Body.Len() != 0 || head.Header().Get("Content-Length") != strconv.Itoa(get.Body.Len()) ||
		head.Header().Get("Content-Type") != "application/wasm" || head.Header().Get("ETag") != get.Header().Get("ETag") {
		t.Fatalf("HEAD: %d, %d body bytes, headers %v; GET has %d bytes", head.Code, head.Body.Len(), head.Header(), get.Body.Len())
	}
	if rec := do(e, httptest.NewRequest(http.MethodHead, "/", nil)); rec.Code != 200 {
		t.Errorf("HEAD /: %d", rec.Code)
	}
	if rec := do(e, httptest.NewRequest(http.MethodPost, "/posewasm.wasm", nil)); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /posewasm.wasm: %d, want 405", rec.Code)
	}
}

func TestSIMDModuleServed(t *testing.T) {
	e := newTestEcho(t, nil)
	rec := do(e, httptest.NewRequest(http.MethodGet, "/simd.wasm", nil))
	if !bytes.Equal(rec.Body.Bytes(), simd.Module()) {
		t.Fatalf("/simd.wasm: %d bytes, not simd.Module()", rec.Body.Len())
	}
	rec = do(e, httptest.NewRequest(http.MethodGet, "/simd-relaxed.wasm", nil))
	if !bytes.Equal(rec.Body.Bytes(), simd.ModuleRelaxed()) || rec.Header().Get("Content-Type") != "application/wasm" {
		t.Fatalf("/simd-relaxed.wasm: %d bytes, not simd.ModuleRelaxed()", rec.Body.Len())
	}
}

func TestInfo(t *testing.T) {
	e := newTestEcho(t, nil)
	rec := do(e, httptest.NewRequest(http.MethodGet, "/api/info", nil))
	var info Info
	if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil {
		t.Fatal(err)
	}
	if len(info.Names) != 17 || info.Names[0] != "nose" || info.InputW != 96 || info.InputH != 128 || len(info.Skeleton) != 19 {
		t.Errorf("info = %+v", info)
	}
	for _, k := range []string{"exec", "wasm", "simd", "model"} {
		u := info.Assets[k]
		if u == "" {
			t.Errorf("no %s asset in %v", k, info.Assets)
			continue
		}
		if r := do(e, httptest.NewRequest(http.MethodGet, u, nil)); r.Code != 200 || r.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: %d, Cache-Control %q", u, r.Code, r.Header().Get("Cache-Control"))
		}
	}
}

func TestModelBinExported(t *testing.T) {
	// Without Config.ModelBin the server exports the checkpoint itself.
	e := newTestEcho(t, func(c *Config) { c.ModelBin = nil })
	want, err := ExportModel(testCheckpoint(t), infer.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := do(e, httptest.NewRequest(http.MethodGet, "/model.bin", nil))
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), want) {
		t.Fatalf("/model.bin: status %d, %d bytes, want the %d bytes of ExportModel", rec.Code, rec.Body.Len(), len(want))
	}
	if _, err := infer.Decode(rec.Body.Bytes()); err != nil {
		t.Fatalf("/model.bin does not decode: %v", err)
	}
	e8 := newTestEcho(t, func(c *Config) { c.ModelBin, c.Int8 = nil, true })
	rec8 := do(e8, httptest.NewRequest(http.MethodGet, "/model.bin", nil))
	if _, err := infer.Decode(rec8.Body.Bytes()); err != nil || rec8.Body.Len() > len(want)/3 {
		t.Fatalf("int8 /model.bin: %d bytes (float32: %d), decode error %v", rec8.Body.Len(), len(want), err)
	}
}

func TestDevServesFromDisk(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<p>dev page v1</p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newTestEcho(t, func(c *Config) { c.Dev, c.StaticDir = true, dir })
	if got := do(e, httptest.NewRequest(http.MethodGet, "/", nil)).Body.String(); got != "<p>dev page v1</p>" {
		t.Fatalf("dev page %q", got)
	}
	// An edit shows up without a restart.
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<p>dev page v2</p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := do(e, httptest.NewRequest(http.MethodGet, "/", nil)).Body.String(); got != "<p>dev page v2</p>" {
		t.Fatalf("edited dev page %q", got)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if rec := do(e, httptest.NewRequest(http.MethodGet, "/static/sub", nil)); rec.Code != 404 {
		t.Errorf("directory: status %d, want 404", rec.Code)
	}
	// Files beside the page directory stay out of reach.
	secret := filepath.Join(filepath.Dir(dir), "secret.txt")
	if err := os.WriteFile(secret, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/..%2fsecret.txt", "/static/sub/../../secret.txt", "/static/" + url.PathEscape(secret)} {
		if rec := do(e, httptest.NewRequest(http.MethodGet, p, nil)); rec.Code != 404 || strings.Contains(rec.Body.String(), "secret") {
			t.Errorf("GET %s: status %d body %q, want 404", p, rec.Code, rec.Body.String())
		}
	}
}

func TestNewErrors(t *testing.T) {
	ck := testCheckpoint(t)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no checkpoint", Config{WasmDir: t.TempDir()}, "web: no checkpoint"},
		{"no wasm dir", Config{Checkpoint: ck}, "web: no wasm directory"},
		{"missing wasm", Config{Checkpoint: ck, WasmDir: t.TempDir(), ModelBin: []byte{1}}, "posewasm.wasm"},
		{"bad checkpoint", Config{Checkpoint: filepath.Join(t.TempDir(), "none.safetensors"), WasmDir: t.TempDir()}, "web: pose: read checkpoint"},
		{"bad dev dir", Config{Checkpoint: ck, WasmDir: fakeWasmDir(t), Dev: true, StaticDir: filepath.Join(t.TempDir(), "none")}, "not a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// errorBody decodes a JSON error answer.
func errorBody(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("error body %q is not JSON: %v", rec.Body.String(), err)
	}
	if m["error"] == "" {
		t.Fatalf("error body %q has no error", rec.Body.String())
	}
	return m["error"]
}

func TestPredictErrors(t *testing.T) {
	pred := &fakePredictor{}
	e := newTestEcho(t, func(c *Config) { c.Predictor = pred; c.MaxUpload = 64 << 10 })
	png1 := pngOf(t, image.NewNRGBA(image.Rect(0, 0, 8, 8)))
	jpg := lspetImageOrSynthetic(t)

	type body func(t *testing.T) (io.Reader, string, int64)
	mp := func(img []byte, box string) body {
		return func(t *testing.T) (io.Reader, string, int64) {
			b, ct := multipartBody(t, img, box)
			return b, ct, int64(b.Len())
		}
	}
	tests := []struct {
		name string
		body body
		code int
		msg  string
	}{
		{"ok", mp(png1, ""), 200, ""},
		{"ok with box", mp(png1, "1,1,4,6"), 200, ""},
		{"not an image", mp([]byte("hello, I am text, not a picture"), ""), 400, "not an image"},
		{"corrupt jpeg", mp(jpg[:len(jpg)/2], ""), 400, "corrupt"},
		{"corrupt png", mp(png1[:len(png1)-20], ""), 400, ""},
		{"bad box", mp(png1, "1,2,3"), 400, "box"},
		{"negative box", mp(png1, "0,0,-4,4"), 400, "positive"},
		{"nan box", mp(png1, "0,0,NaN,4"), 400, "box"},
		{"no image field", mp(nil, "1,2,3,4"), 400, "image"},
		{"not multipart", func(*testing.T) (io.Reader, string, int64) {
			return strings.NewReader(`{"image":1}`), "application/json", 11
		}, 400, "multipart"},
		{"huge declared", mp(make([]byte, 100<<10), ""), 413, ""},
		{"huge chunked", func(t *testing.T) (io.Reader, string, int64) {
			b, ct := multipartBody(t, make([]byte, 100<<10), "")
			return b, ct, -1 // unknown length: the limit applies while reading
		}, 413, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, ct, n := tc.body(t)
			req := httptest.NewRequest(http.MethodPost, "/api/predict", r)
			req.Header.Set("Content-Type", ct)
			req.ContentLength = n
			rec := do(e, req)
			if rec.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.code, rec.Body.String())
			}
			if tc.code != 200 {
				if msg := errorBody(t, rec); !strings.Contains(msg, tc.msg) {
					t.Errorf("error %q lacks %q", msg, tc.msg)
				}
			}
		})
	}
	if got := pred.boxes(); len(got) != 2 || got[0] != (coco.Box{X: 0, Y: 0, W: 8, H: 8}) || got[1] != (coco.Box{X: 1, Y: 1, W: 4, H: 6}) {
		t.Errorf("predictor saw boxes %v, want the whole 8x8 image then 1,1,4,6", got)
	}
}

// lspetImageOrSynthetic is a real JPEG from the shared data, or, when
// that is absent, a JPEG encoded here (the corrupt-upload case needs one).
func lspetImageOrSynthetic(t *testing.T) []byte {
	t.Helper()
	if root, ok := shareddata.Root(); ok {
		if b, err := os.ReadFile(filepath.Join(root, "lspet", "images", "im00002.jpg")); err == nil {
			return b
		}
	}
	var buf bytes.Buffer
	img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fakePredictor records boxes and returns one joint at the box centre;
// when block is set it waits for release or the request's end.
type fakePredictor struct {
	mu      sync.Mutex
	seen    []coco.Box
	block   chan struct{}
	entered chan struct{}
}

func (f *fakePredictor) Predict(ctx context.Context, img image.Image, box coco.Box) ([]Joint, error) {
	f.mu.Lock()
	f.seen = append(f.seen, box)
	f.mu.Unlock()
	if f.block != nil {
		if f.entered != nil {
			f.entered <- struct{}{}
		}
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return []Joint{{Name: "centre", X: box.X + box.W/2, Y: box.Y + box.H/2, Score: 1}}, nil
}

func (f *fakePredictor) boxes() []coco.Box {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]coco.Box(nil), f.seen...)
}

// TestPredictBusy: with one prediction running and a queue of one, the
// next request waits and the one after gets 503 with Retry-After at
// once; the waiting one is answered when the first finishes.
func TestPredictBusy(t *testing.T) {
	pred := &fakePredictor{block: make(chan struct{}), entered: make(chan struct{}, 2)}
	e, s, err := newServer(Config{Checkpoint: testCheckpoint(t), WasmDir: fakeWasmDir(t), ModelBin: []byte{1},
		Predictor: pred, MaxConcurrent: 1, QueueLen: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Server.Shutdown(context.Background())
	png1 := pngOf(t, image.NewNRGBA(image.Rect(0, 0, 4, 4)))
	post := func() *httptest.ResponseRecorder {
		b, ct := multipartBody(t, png1, "")
		req := httptest.NewRequest(http.MethodPost, "/api/predict", b)
		req.Header.Set("Content-Type", ct)
		return do(e, req)
	}
	first, second := make(chan *httptest.ResponseRecorder), make(chan *httptest.ResponseRecorder)
	go func() { first <- post() }()
	<-pred.entered // the only worker is taken
	go func() { second <- post() }()
	waitFor(t, "the second request to queue", func() bool { return len(s.disp.jobs) == 1 })
	rec := post()
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("third request: status %d (Retry-After %q), want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if msg := errorBody(t, rec); !strings.Contains(msg, "busy") {
		t.Errorf("error %q", msg)
	}
	close(pred.block)
	for i, ch := range []chan *httptest.ResponseRecorder{first, second} {
		if r := <-ch; r.Code != 200 {
			t.Fatalf("request %d: %d %s", i+1, r.Code, r.Body.String())
		}
	}
	if r := post(); r.Code != 200 {
		t.Fatalf("after the first finished: %d %s", r.Code, r.Body.String())
	}
}

func TestPredictTimeout(t *testing.T) {
	pred := &fakePredictor{block: make(chan struct{})} // never released
	e := newTestEcho(t, func(c *Config) { c.Predictor = pred; c.Timeout = 20 * time.Millisecond })
	b, ct := multipartBody(t, pngOf(t, image.NewNRGBA(image.Rect(0, 0, 4, 4))), "")
	req := httptest.NewRequest(http.MethodPost, "/api/predict", b)
	req.Header.Set("Content-Type", ct)
	rec := do(e, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", rec.Code, rec.Body.String())
	}
	if msg := errorBody(t, rec); !strings.Contains(msg, "timed out") {
		t.Errorf("error %q", msg)
	}
	if rec.Header().Get("Retry-After") == "" {
		t.Error("timeout 503 without Retry-After")
	}
}

// TestPredictReal runs the native network on a real LSPET image through
// the API and checks the answer against Native.Predict on the same image
// decoded as `posetrain predict` decodes files.
func TestPredictReal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the native network")
	}
	jpg := lspetImage(t, "im00001.jpg")
	e := newTestEcho(t, nil)
	nat, err := LoadNative(testCheckpoint(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nat.Close()
	path := filepath.Join(shareddata.Dir(t, "lspet"), "images", "im00001.jpg")
	img, err := data.DecodeImage(path)
	if err != nil {
		t.Fatal(err)
	}
	W, H := img.Bounds().Dx(), img.Bounds().Dy()

	for _, tc := range []struct {
		name string
		box  string
		want coco.Box
	}{
		{"whole image", "", coco.Box{W: float64(W), H: float64(H)}},
		{"box", "10,20,100,150", coco.Box{X: 10, Y: 20, W: 100, H: 150}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, ct := multipartBody(t, jpg, tc.box)
			req := httptest.NewRequest(http.MethodPost, "/api/predict", b)
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Accept-Encoding", "gzip")
			rec := do(e, req)
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
			}
			rd := io.Reader(rec.Body)
			if rec.Header().Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(rec.Body)
				if err != nil {
					t.Fatal(err)
				}
				rd = zr
			}
			var got Prediction
			if err := json.NewDecoder(rd).Decode(&got); err != nil {
				t.Fatal(err)
			}
			want, err := nat.Predict(context.Background(), img, tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Keypoints) != 17 || len(want) != 17 {
				t.Fatalf("%d keypoints from the API, %d native, want 17", len(got.Keypoints), len(want))
			}
			if got.Width != W || got.Height != H || got.Box != [4]float64{tc.want.X, tc.want.Y, tc.want.W, tc.want.H} {
				t.Errorf("answer size %dx%d box %v, want %dx%d box %v", got.Width, got.Height, got.Box, W, H, tc.want)
			}
			if !(got.Ms > 0) {
				t.Errorf("ms = %v", got.Ms)
			}
			for k, g := range got.Keypoints {
				w := want[k]
				if g.Name != w.Name || g.X != w.X || g.Y != w.Y || g.Score != w.Score {
					t.Errorf("joint %d: API %+v, native %+v", k, g, w)
				}
				// Keypoints stay near the box (the codec decodes inside the heatmap).
				if g.X < tc.want.X-tc.want.W || g.X > tc.want.X+2*tc.want.W || math.IsNaN(g.Y) {
					t.Errorf("joint %d at (%v,%v), far outside box %v", k, g.X, g.Y, tc.want)
				}
			}
		})
	}
}

// TestAssetCompression: an asset is served gzipped only where that saves
// at least minGzipSaving (random bytes do not compress; the wasm does),
// and every body carries its exact Content-Length.
func TestAssetCompression(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	weights := make([]byte, 4*20000)
	for i := 0; i < len(weights); i += 8 {
		binary.LittleEndian.PutUint64(weights[i:], r.Uint64())
	}
	e := newTestEcho(t, func(c *Config) { c.ModelBin = weights })
	var info Info
	if err := json.Unmarshal(do(e, httptest.NewRequest(http.MethodGet, "/api/info", nil)).Body.Bytes(), &info); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		wantGzip   bool
	}{
		{"random bytes", "/model.bin", false},
		{"wasm", "/posewasm.wasm", true},
		{"page script", "/static/app.js", true},
		{"page", "/", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			rec := do(e, req)
			if rec.Code != 200 {
				t.Fatalf("status %d", rec.Code)
			}
			if gz := rec.Header().Get("Content-Encoding") == "gzip"; gz != tc.wantGzip {
				t.Errorf("Content-Encoding %q, want gzip=%v", rec.Header().Get("Content-Encoding"), tc.wantGzip)
			}
			if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(rec.Body.Len()) {
				t.Errorf("Content-Length %q for a %d-byte body", cl, rec.Body.Len())
			}
		})
	}
	if got := info.GzipBytes["model"]; got != len(weights) {
		t.Errorf("gzip_bytes[model] = %d, want the raw %d (served uncompressed)", got, len(weights))
	}
	// Trained-like float32 weights (small normal values) gzip by only
	// about 7% (the exponent bytes): not worth the browser's inflating.
	for i := 0; i < len(weights); i += 4 {
		binary.LittleEndian.PutUint32(weights[i:], math.Float32bits(float32(r.NormFloat64()*0.05)))
	}
	e = newTestEcho(t, func(c *Config) { c.ModelBin = weights })
	req := httptest.NewRequest(http.MethodGet, "/model.bin", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	if rec := do(e, req); rec.Header().Get("Content-Encoding") != "" || !bytes.Equal(rec.Body.Bytes(), weights) {
		t.Errorf("float32 weights: Content-Encoding %q, %d of %d bytes", rec.Header().Get("Content-Encoding"), rec.Body.Len(), len(weights))
	}
}
