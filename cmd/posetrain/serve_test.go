package main

import (
	"bytes"
	"context"
	"io"
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

// TestServeShutdown starts `posetrain serve` on a free port with prebuilt
// (stand-in) wasm files, fetches the page, then cancels the context and
// expects a clean exit.
func TestServeShutdown(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(dir, "m.safetensors")
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
	wasm := filepath.Join(dir, "wasm")
	os.Mkdir(wasm, 0o755)
	os.WriteFile(filepath.Join(wasm, "posewasm.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644)
	os.WriteFile(filepath.Join(wasm, "wasm_exec.js"), []byte("// go\n"), 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--model", ck, "--addr", "127.0.0.1:0", "--wasm-dir", wasm}, &stdout, &stderr)
	}()
	re := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`)
	var url string
	for deadline := time.Now().Add(time.Minute); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
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
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after cancel: %s", code, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop after the context was cancelled")
	}
	if stdout.String() != "" {
		t.Errorf("serve wrote to stdout: %q", stdout.String())
	}
}
