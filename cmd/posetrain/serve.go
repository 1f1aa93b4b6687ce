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
	CacheDir      string
	MaxUploadMB   int
	Timeout       time.Duration
	Queue         int
	MaxBatch      int
	BatchDelay    time.Duration
	HeaderTimeout time.Duration
	ReadIdle      time.Duration
	ReadTimeout   time.Duration
	Int8          bool
}

// serveFlags registers the flags of `posetrain serve` (loadtest shares
// the server ones).
func serveFlags(fs *flag.FlagSet, c *serveConfig) {
	fs.StringVar(&c.Model, "model", "", "checkpoint (.safetensors) to serve")
	fs.IntVar(&c.MaxUploadMB, "max-upload-mb", web.DefaultMaxUpload>>20, "largest POST /api/predict body in MiB")
	fs.DurationVar(&c.Timeout, "timeout", web.DefaultTimeout, "deadline of one /api/predict request, its wait in the queue included (503 beyond it)")
	fs.IntVar(&c.Queue, "queue", web.DefaultQueueLen, "/api/predict requests that may wait beyond the ones in the network; a full queue answers 503 with Retry-After (0: none)")
	fs.IntVar(&c.MaxBatch, "max-batch", web.DefaultMaxBatch, "largest micro-batch: queued crops run together in one network call (1: one at a time)")
	fs.DurationVar(&c.BatchDelay, "batch-delay", 0, "longest wait for more crops to fill a micro-batch (0: take what is queued)")
	fs.DurationVar(&c.HeaderTimeout, "header-timeout", web.DefaultHeaderTimeout, "time to read a request's headers")
	fs.DurationVar(&c.ReadIdle, "read-idle-timeout", web.DefaultBodyIdleTimeout, "an upload that sends nothing for this long is cut off (408)")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", web.DefaultBodyTimeout, "time to read a whole request")
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	serveFlags(fs, &c)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "listen address")
	fs.BoolVar(&c.Dev, "dev", false, "serve the page from --static-dir on disk (live editing)")
	fs.StringVar(&c.StaticDir, "static-dir", "", "page directory for --dev (default web/static of the checkout)")
	fs.StringVar(&c.WasmDir, "wasm-dir", "", "prebuilt posewasm.wasm + wasm_exec.js (default: build them from the source inside this binary, once, into --cache-dir)")
	fs.StringVar(&c.CacheDir, "cache-dir", "", "where the wasm is built and kept (default: bsampose/wasm in the user cache)")
	fs.BoolVar(&c.Int8, "int8", false, "send the browser int8 weights (about 4x smaller download)")
	if code, ok := parseFlags(fs, args, nil); !ok {
		return code
	}
	if c.Model == "" {
		fmt.Fprintln(stderr, "posetrain serve: --model is required")
		return 2
	}
	if err := serve(ctx, c, stderr); err != nil {
		fmt.Fprintf(stderr, "posetrain serve: %v\n", err)
		return 1
	}
	return 0
}

// webConfig is the web.Config of the server flags.
func (c serveConfig) webConfig(wasmDir string, log io.Writer) web.Config {
	queue := c.Queue
	if queue == 0 {
		queue = -1 // web.Config: 0 is the default, negative none
	}
	return web.Config{
		Checkpoint:      c.Model,
		WasmDir:         wasmDir,
		Dev:             c.Dev,
		StaticDir:       c.StaticDir,
		MaxUpload:       int64(c.MaxUploadMB) << 20,
		Timeout:         c.Timeout,
		QueueLen:        queue,
		MaxBatch:        c.MaxBatch,
		BatchDelay:      c.BatchDelay,
		HeaderTimeout:   c.HeaderTimeout,
		BodyIdleTimeout: c.ReadIdle,
		BodyTimeout:     c.ReadTimeout,
		Int8:            c.Int8,
		Log:             log,
	}
}

func serve(ctx context.Context, c serveConfig, stderr io.Writer) error {
	if c.Dev && c.StaticDir == "" {
		mod, err := web.FindModuleDir(".")
		if err != nil {
			return fmt.Errorf("%w (--dev edits the page of a checkout: run it there, or pass --static-dir)", err)
		}
		c.StaticDir = filepath.Join(mod, "web", "static")
	}
	wasmDir := c.WasmDir
	if wasmDir == "" {
		cache := c.CacheDir
		if cache == "" {
			dir, err := os.UserCacheDir()
			if err != nil {
				dir = os.TempDir()
			}
			cache = filepath.Join(dir, "bsampose", "wasm")
		}
		t0 := time.Now()
		dir, err := web.EnsureWasm(ctx, cache, stderr)
		if err != nil {
			return err
		}
		wasmDir = dir
		fmt.Fprintf(stderr, "wasm module in %s (%.1fs)\n", wasmDir, time.Since(t0).Seconds())
	}
	e, err := web.New(c.webConfig(wasmDir, stderr))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		e.Server.Shutdown(context.Background()) // releases the network
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
	fmt.Fprintln(stderr, "shutting down: finishing the requests in progress")
	// Every admitted request ends within its deadline.
	sctx, cancel := context.WithTimeout(context.Background(), c.Timeout+10*time.Second)
	defer cancel()
	if err := e.Server.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
