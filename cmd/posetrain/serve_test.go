package main

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/heatmap"
	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/pose/data"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeFlags(t *testing.T) {
	for _, args := range [][]string{{"serve"}, {"serve", "--addr", "127.0.0.1:0"}, {"serve", "--model", "x", "extra"}, {"serve", "--no-such-flag"}} {
		if _, stderr, code := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, stderr)
		}
	}
	if _, stderr, code := runCLI(t, "serve", "--model", filepath.Join(t.TempDir(), "none.safetensors"), "--wasm-dir", t.TempDir()); code != 1 || !strings.Contains(stderr, "posetrain serve:") {
		t.Errorf("missing checkpoint: exit %d, stderr %q", code, stderr)
	}
}

// tinyCheckpoint writes a posenet-s checkpoint at 64x32 (COCO's 17
// joints, random weights) into a temporary folder.
func tinyCheckpoint(t *testing.T) string {
	t.Helper()
	ck := filepath.Join(t.TempDir(), "m.safetensors")
	schema := coco.COCO17()
	net, err := pose.New(pose.Config{Preset: pose.PresetPoseNetS, InputH: 64, InputW: 32, Joints: schema.K()}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	meta := pose.Meta{Preset: pose.PresetPoseNetS, InputH: 64, InputW: 32, Joints: schema.K(), Schema: pose.SchemaOf(schema),
		Codec: heatmap.NewMSRA(32, 64), Mean: data.ImageNetMean, Std: data.ImageNetStd}
	err = pose.SaveCheckpoint(ck, meta, append(append([]*pose.Tensor{}, net.Params()...), net.Buffers()...))
	net.Close()
	if err != nil {
		t.Fatal(err)
	}
	return ck
}

// fakeWasm writes stand-ins for the wasm build outputs.
func fakeWasm(t *testing.T) string {
	t.Helper()
	wasm := filepath.Join(t.TempDir(), "wasm")
	os.Mkdir(wasm, 0o755)
	os.WriteFile(filepath.Join(wasm, "posewasm.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644)
	os.WriteFile(filepath.Join(wasm, "wasm_exec.js"), []byte("// go\n"), 0o644)
	return wasm
}

// startServe runs `posetrain serve args...` until ctx ends and returns the
// URL it announces, the channel of its exit code and its stderr.
func startServe(t *testing.T, ctx context.Context, wait time.Duration, args ...string) (string, chan int, *syncBuffer) {
	t.Helper()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		code := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), &stdout, &stderr)
		if stdout.String() != "" {
			t.Errorf("serve wrote to stdout: %q", stdout.String())
		}
		done <- code
	}()
	re := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`)
	var url string
	for deadline := time.Now().Add(wait); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		url = re.FindString(stderr.String())
		select {
		case code := <-done:
			t.Fatalf("serve exited early with %d: %s", code, stderr.String())
		default:
		}
	}
	if url == "" {
		t.Fatalf("no URL announced: %s", stderr.String())
	}
	return url, done, &stderr
}

// waitExit expects serve to exit 0 within a minute of its context's end.
func waitExit(t *testing.T, done chan int, stderr *syncBuffer) {
	t.Helper()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after cancel: %s", code, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop after the context was cancelled")
	}
}

// postPNG sends one prediction of a small PNG.
func postPNG(client *http.Client, url string) (int, string, error) {
	img := image.NewNRGBA(image.Rect(0, 0, 40, 60))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 13)
	}
	var pb bytes.Buffer
	png.Encode(&pb, img)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("image", "a.png")
	fw.Write(pb.Bytes())
	mw.Close()
	resp, err := client.Post(url+"api/predict", mw.FormDataContentType(), &buf)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestServeShutdown starts `posetrain serve` on a free port with prebuilt
// (stand-in) wasm files, fetches the page, then cancels the context and
// expects a clean exit.
func TestServeShutdown(t *testing.T) {
	ck, wasm := tinyCheckpoint(t), fakeWasm(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, done, stderr := startServe(t, ctx, time.Minute, "--model", ck, "--wasm-dir", wasm)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "bsampose") {
		t.Fatalf("GET %s: %d %.100q", url, resp.StatusCode, body)
	}
	cancel()
	waitExit(t, done, stderr)
}

// TestServeDrainsOnCancel: 32 clients keep predicting while the context
// (SIGINT/SIGTERM in main) ends: every request the server took is answered
// 200 (none fails because the network closed under it), later ones are
// refused (connection refused or closed, or 503 "shutting down"), and the
// process exits 0.
func TestServeDrainsOnCancel(t *testing.T) {
	ck, wasm := tinyCheckpoint(t), fakeWasm(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, done, stderr := startServe(t, ctx, time.Minute, "--model", ck, "--wasm-dir", wasm)
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	var mu sync.Mutex
	codes := map[int]int{}
	first := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 { // bounded: the server stops long before
				code, body, err := postPNG(client, url)
				if err != nil {
					return // refused or closed: the server has stopped
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
				if code == 200 {
					once.Do(func() { close(first) })
					continue
				}
				if code != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
					t.Errorf("status %d: %s", code, body)
				}
				return
			}
		}()
	}
	<-first
	cancel()
	wg.Wait()
	waitExit(t, done, stderr)
	t.Logf("answers by status: %v", codes)
}

// TestServeAnyFolder is `go install` then `posetrain serve` from a folder
// with no checkout: the wasm is built from the source inside the binary
// (with module downloads switched off) into a fresh cache, and the page,
// the wasm and the predict API work.
func TestServeAnyFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wasm module")
	}
	ck := tinyCheckpoint(t)
	cache := t.TempDir()
	t.Chdir(t.TempDir())
	t.Setenv("GOPROXY", "off")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, done, stderr := startServe(t, ctx, 5*time.Minute, "--model", ck, "--cache-dir", cache)
	for _, tc := range []struct{ path, ctype, prefix string }{
		{"", "text/html", "<!doctype html>"},
		{"posewasm.wasm", "application/wasm", "\x00asm"},
		{"wasm_exec.js", "text/javascript", ""},
	} {
		resp, err := http.Get(url + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) ||
			!strings.HasPrefix(strings.ToLower(string(body)), strings.ToLower(tc.prefix)) {
			t.Errorf("GET /%s: %d %s %.40q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if tc.path == "posewasm.wasm" && len(body) < 100<<10 {
			t.Errorf("posewasm.wasm is %d bytes: not the real module", len(body))
		}
	}
	code, body, err := postPNG(http.DefaultClient, url)
	if err != nil || code != 200 || !strings.Contains(body, `"keypoints"`) {
		t.Errorf("POST /api/predict: %d %v %.200s", code, err, body)
	}
	cancel()
	waitExit(t, done, stderr)
	if !strings.Contains(stderr.String(), cache) {
		t.Errorf("stderr does not name the cache %s: %s", cache, stderr.String())
	}
}
