package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/bsampose/bsampose/web"
)

func init() {
	commands["serve"] = command{"the browser demo (wasm inference) and a JSON predict API", runServe}
}

// serveConfig is the flags of `posetrain serve`.
type serveConfig struct {
	Model         string
	Addr          string
	Dev           bool
	StaticDir     string
	WasmDir       string
	MaxUploadMB   int
	Timeout       time.Duration
	MaxConcurrent int
	Int8          bool
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Model, "model", "", "checkpoint (.safetensors) to serve")
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "listen address")
	fs.BoolVar(&c.Dev, "dev", false, "serve the page from --static-dir on disk (live editing)")
	fs.StringVar(&c.StaticDir, "static-dir", "", "page directory for --dev (default web/static of the checkout)")
	fs.StringVar(&c.WasmDir, "wasm-dir", "", "prebuilt posewasm.wasm + wasm_exec.js (default: build them now from the checkout into the user cache)")
	fs.IntVar(&c.MaxUploadMB, "max-upload-mb", web.DefaultMaxUpload>>20, "largest POST /api/predict body in MiB")
	fs.DurationVar(&c.Timeout, "timeout", web.DefaultTimeout, "time limit of one /api/predict request")
	fs.IntVar(&c.MaxConcurrent, "max-concurrent", 0, "predictions in flight before 503 (0: number of CPUs)")
	fs.BoolVar(&c.Int8, "int8", false, "send the browser int8 weights (about 4x smaller download)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if c.Model == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "posetrain serve: --model is required (and no positional arguments)")
		return 2
	}
	if err := serve(ctx, c, stderr); err != nil {
		fmt.Fprintf(stderr, "posetrain serve: %v\n", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, c serveConfig, stderr io.Writer) error {
	wasmDir := c.WasmDir
	if wasmDir == "" || (c.Dev && c.StaticDir == "") {
		mod, err := web.FindModuleDir(".")
		if err != nil {
			return err
		}
		if c.Dev && c.StaticDir == "" {
			c.StaticDir = filepath.Join(mod, "web", "static")
		}
		if wasmDir == "" {
			cache, err := os.UserCacheDir()
			if err != nil {
				cache = os.TempDir()
			}
			wasmDir = filepath.Join(cache, "bsampose", "wasm")
			fmt.Fprintf(stderr, "building the wasm module into %s\n", wasmDir)
			t0 := time.Now()
			if err := web.BuildWasm(ctx, mod, wasmDir, stderr); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "wasm built in %.1fs\n", time.Since(t0).Seconds())
		}
	}
	e, err := web.New(web.Config{
		Checkpoint:    c.Model,
		WasmDir:       wasmDir,
		Dev:           c.Dev,
		StaticDir:     c.StaticDir,
		MaxUpload:     int64(c.MaxUploadMB) << 20,
		Timeout:       c.Timeout,
		MaxConcurrent: c.MaxConcurrent,
		Int8:          c.Int8,
		Log:           stderr,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stderr, "serving %s on http://%s/ (Ctrl-C stops)\n", c.Model, ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- e.Server.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(stderr, "shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Server.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
