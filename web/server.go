package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/pose/infer"
	"github.com/bsampose/bsampose/pose/infer/simd"
)

// embedded is the page. The files are named so that build outputs which
// scripts/build-wasm.sh may leave in static/ (*.wasm, wasm_exec.js) stay
// out of the binary; Dev mode serves whatever the directory holds.
//
//go:embed static/index.html static/app.js static/style.css static/posewasm.js
var embedded embed.FS

// Defaults of Config's limits.
const (
	DefaultMaxUpload       = 16 << 20         // bytes of one POST /api/predict body
	DefaultTimeout         = 30 * time.Second // per /api/predict request, queue wait included
	DefaultHeaderTimeout   = 5 * time.Second  // to read a request's headers
	DefaultBodyIdleTimeout = 5 * time.Second  // of silence while reading a body
	DefaultBodyTimeout     = time.Minute      // to read a whole request
)

// CSP is the Content-Security-Policy of every response: same-origin
// scripts plus WebAssembly compilation, images and video from the page's
// own blobs and the webcam, nothing from other origins, no framing.
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; " +
	"style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; " +
	"connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// Config configures New.
type Config struct {
	// Checkpoint is the model (pose.SaveCheckpoint file). Required: its
	// metadata gives the schema and input geometry of /api/info.
	Checkpoint string
	// Predictor runs /api/predict. Nil loads the checkpoint natively
	// (LoadNative), closed when the echo server shuts down.
	Predictor Predictor
	// ModelBin is the browser weights served as /model.bin. Nil exports
	// them from Checkpoint at start-up (ExportModel).
	ModelBin []byte
	// Int8 exports int8 convolution weights for the browser (about 4x
	// smaller, outputs within about 1% of the float32 network's); the
	// native /api/predict path is unchanged.
	Int8 bool
	// WasmDir holds posewasm.wasm and wasm_exec.js (EnsureWasm,
	// BuildWasm or scripts/build-wasm.sh DIR writes such a directory). Required. The SIMD kernels simd.wasm and
	// simd-relaxed.wasm are assembled in memory (pose/infer/simd) unless
	// WasmDir has them.
	WasmDir string
	// Dev serves the page from StaticDir on disk (live editing) instead of
	// the embedded copy.
	Dev bool
	// StaticDir is the page's directory in Dev mode; "" means web/static
	// under the working directory.
	StaticDir string
	// MaxUpload bounds the request body of /api/predict (413 beyond it);
	// 0 means DefaultMaxUpload.
	MaxUpload int64
	// Timeout bounds one /api/predict request, its wait in the queue
	// included (503 with Retry-After beyond it); 0 means DefaultTimeout.
	Timeout time.Duration
	// QueueLen is how many /api/predict requests may wait beyond the ones
	// in flight; a request that finds the queue full gets 503 with
	// Retry-After at once. Admission comes before the upload is read, so
	// at most in-flight+QueueLen uploads (each up to MaxUpload) are held;
	// uploads are decoded a few at a time (runtime.NumCPU()) and, for a
	// BatchPredictor, cut into network crops and dropped before the
	// request queues (a plain Predictor's requests queue with their
	// image). In flight means MaxBatch crops for a BatchPredictor,
	// MaxConcurrent requests otherwise. 0 means DefaultQueueLen; negative
	// means no queue.
	QueueLen int
	// MaxBatch is the micro-batcher's largest network call for a
	// BatchPredictor (Native): it runs every queued crop up to MaxBatch in
	// one Forward. 0 means DefaultMaxBatch; 1 runs one crop per call.
	MaxBatch int
	// BatchDelay is how long the micro-batcher may wait, after the oldest
	// queued crop arrived, for more crops to fill a batch; 0 takes only
	// what is queued.
	BatchDelay time.Duration
	// MaxConcurrent is the number of goroutines that call a plain
	// Predictor (one that is not a BatchPredictor) at once; 0 means
	// runtime.NumCPU().
	MaxConcurrent int
	// HeaderTimeout bounds reading a request's headers; 0 means
	// DefaultHeaderTimeout.
	HeaderTimeout time.Duration
	// BodyIdleTimeout cuts off an upload that sends nothing for this long
	// (408); 0 means DefaultBodyIdleTimeout.
	BodyIdleTimeout time.Duration
	// BodyTimeout bounds reading a whole request; 0 means
	// DefaultBodyTimeout.
	BodyTimeout time.Duration
	// Log receives start-up warnings; nil discards them.
	Log io.Writer
}

// server is the state behind the handlers.
type server struct {
	cfg    Config
	meta   pose.Meta
	static fs.FS
	cache  *assetCache // nil in Dev mode: static files are re-read
	files  map[string]*asset
	pred   Predictor
	disp   *dispatcher
	info   Info

	pageMu  sync.Mutex
	pageSrc *asset // index.html as read
	pageOut *asset // rendered with the asset URLs
}

// New builds the demo server. Run it with e.Server.Serve (its read, write
// and idle timeouts are set) and stop it with e.Server.Shutdown, which also
// closes the native network New loaded. It loads the checkpoint's metadata, the
// native predictor (unless cfg.Predictor is set), the wasm files of
// cfg.WasmDir and the browser weights, and pre-compresses the large
// assets. Errors name the file that failed.
func New(cfg Config) (*echo.Echo, error) {
	e, _, err := newServer(cfg)
	return e, err
}

// newServer is New, also returning the state behind the handlers.
func newServer(cfg Config) (*echo.Echo, *server, error) {
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = DefaultMaxUpload
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = runtime.NumCPU()
	}
	if cfg.QueueLen == 0 {
		cfg.QueueLen = DefaultQueueLen
	}
	cfg.QueueLen = max(cfg.QueueLen, 0)
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	cfg.BatchDelay = max(cfg.BatchDelay, 0)
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = DefaultHeaderTimeout
	}
	if cfg.BodyIdleTimeout <= 0 {
		cfg.BodyIdleTimeout = DefaultBodyIdleTimeout
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Checkpoint == "" {
		return nil, nil, errors.New("web: no checkpoint")
	}
	if cfg.WasmDir == "" {
		return nil, nil, errors.New("web: no wasm directory (see EnsureWasm)")
	}
	ck, err := pose.LoadCheckpoint(cfg.Checkpoint)
	if err != nil {
		return nil, nil, fmt.Errorf("web: %w", err)
	}
	s := &server{cfg: cfg, meta: ck.Meta, files: map[string]*asset{}}

	if cfg.Dev {
		dir := cfg.StaticDir
		if dir == "" {
			dir = filepath.Join("web", "static")
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, nil, fmt.Errorf("web: dev static directory %s: not a directory", dir)
		}
		s.static = os.DirFS(dir)
	} else {
		s.static = echo.MustSubFS(embedded, "static")
		s.cache = &assetCache{m: map[string]*asset{}}
	}

	// The SIMD kernels are assembled in Go (pose/infer/simd); files of the
	// same names in WasmDir override them.
	s.files["simd.wasm"] = newAsset("simd.wasm", simd.Module())
	s.files["simd-relaxed.wasm"] = newAsset("simd-relaxed.wasm", simd.ModuleRelaxed())
	for _, f := range []struct {
		name     string
		alias    string // the name scripts/build-wasm.sh writes
		optional bool
	}{
		{"posewasm.wasm", "", false},
		{"wasm_exec.js", "", false},
		{"simd.wasm", "posewasm-simd.wasm", true},
		{"simd-relaxed.wasm", "posewasm-simd-relaxed.wasm", true},
	} {
		b, err := os.ReadFile(filepath.Join(cfg.WasmDir, f.name))
		if errors.Is(err, fs.ErrNotExist) && f.alias != "" {
			b, err = os.ReadFile(filepath.Join(cfg.WasmDir, f.alias))
		}
		if err != nil {
			if f.optional && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, nil, fmt.Errorf("web: wasm asset: %w", err)
		}
		s.files[f.name] = newAsset(f.name, b)
	}

	model := cfg.ModelBin
	if model == nil {
		if model, err = ExportModel(cfg.Checkpoint, infer.EncodeOptions{Int8: cfg.Int8}); err != nil {
			return nil, nil, err
		}
	}
	s.files["model.bin"] = newAsset("model.bin", model)

	s.pred = cfg.Predictor
	var closeNative func()
	if s.pred == nil {
		n, err := LoadNative(cfg.Checkpoint)
		if err != nil {
			return nil, nil, err
		}
		s.pred = n
		closeNative = func() { n.Close() }
	}
	s.info = s.buildInfo()
	s.disp = newDispatcher(s.pred, cfg.QueueLen, cfg.MaxBatch, cfg.MaxConcurrent, runtime.NumCPU(), cfg.BatchDelay)

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = jsonErrorHandler
	// Timeouts of e.Server, the http.Server to run (Serve, Shutdown).
	// POST /api/predict moves its read deadline on with every read of the
	// body (BodyIdleTimeout, idle.go), within BodyTimeout.
	e.Server.ReadHeaderTimeout = cfg.HeaderTimeout
	e.Server.ReadTimeout = cfg.BodyTimeout
	e.Server.WriteTimeout = cfg.Timeout + 2*time.Minute
	e.Server.IdleTimeout = 2 * time.Minute
	e.Server.MaxHeaderBytes = 64 << 10
	// Shutdown stops accepting and waits for the requests in progress;
	// this hook (run beside it) refuses requests that reach the handler
	// from now on, waits until every admitted prediction is answered,
	// then stops the batcher and closes the native network.
	e.Server.RegisterOnShutdown(func() {
		s.disp.drain()
		if closeNative != nil {
			closeNative()
		}
	})
	e.Use(middleware.Recover())
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{
		ContentTypeNosniff:    "nosniff",
		XFrameOptions:         "DENY",
		ContentSecurityPolicy: CSP,
		ReferrerPolicy:        "same-origin",
	}))
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
			c.Response().Header().Set("Cross-Origin-Opener-Policy", "same-origin")
			return next(c)
		}
	})

	getHead := []string{http.MethodGet, http.MethodHead}
	e.Match(getHead, "/", s.page)
	e.Match(getHead, "/index.html", s.page)
	e.Match(getHead, "/static/*", s.staticFile)
	for name := range s.files {
		e.Match(getHead, "/"+name, s.file(name))
	}
	api := e.Group("/api", middleware.GzipWithConfig(middleware.GzipConfig{MinLength: 1024}))
	api.GET("/info", s.getInfo)
	api.POST("/predict", s.predict,
		middleware.BodyLimit(fmt.Sprintf("%dB", cfg.MaxUpload)),
		middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{
			Timeout: cfg.Timeout,
			ErrorHandler: func(err error, c echo.Context) error {
				if errors.Is(err, errTimeout) {
					return echo.NewHTTPError(http.StatusServiceUnavailable, fmt.Sprintf("prediction timed out after %v", cfg.Timeout)).WithInternal(err)
				}
				return err
			},
		}))
	return e, s, nil
}

// jsonErrorHandler writes every error as {"error": "..."} with its status.
func jsonErrorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code := http.StatusInternalServerError
	msg := err.Error()
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code = he.Code
		msg = fmt.Sprint(he.Message)
	}
	if code == http.StatusInternalServerError {
		msg = "internal error: " + err.Error()
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(code)
		return
	}
	c.JSON(code, map[string]string{"error": msg})
}

// page serves index.html, revalidated on every load.
func (s *server) page(c echo.Context) error {
	a, err := s.staticAsset("index.html")
	if err != nil {
		return err
	}
	s.pageMu.Lock()
	defer s.pageMu.Unlock()
	if s.pageSrc != a {
		s.pageSrc, s.pageOut = a, newAsset("index.html", s.renderPage(a.data))
	}
	return serveAsset(c, s.pageOut, false)
}

// PageMarker in index.html is replaced by preload links for the wasm
// modules and the weights, a deferred script tag for wasm_exec.js and the
// /api/info JSON (a data block the page reads instead of waiting for a
// request), so every download starts while the page's scripts load. It
// must come before the page's module script.
const PageMarker = "<!--bsampose:head-->"

func (s *server) renderPage(src []byte) []byte {
	info, _ := json.Marshal(s.info) // escapes <, > and &
	var b bytes.Buffer
	// The page's fetch() calls (same origin, credentials same-origin)
	// match these preloads, so they take the responses already under way.
	for _, k := range []string{"wasm", "model", "relaxed", "simd"} {
		if u := s.info.Assets[k]; u != "" {
			fmt.Fprintf(&b, "<link rel=\"preload\" href=\"%s\" as=\"fetch\" crossorigin>\n", html.EscapeString(u))
		}
	}
	// wasm_exec.js runs as a deferred script, before the page's module
	// (which follows the marker), so posewasm.js need not insert it.
	if u := s.info.Assets["exec"]; u != "" {
		fmt.Fprintf(&b, "<script src=\"%s\" defer></script>\n", html.EscapeString(u))
	}
	fmt.Fprintf(&b, "<script type=\"application/json\" id=\"bsampose-info\">%s</script>", info)
	return bytes.Replace(src, []byte(PageMarker), b.Bytes(), 1)
}

// staticFile serves /static/<name>: regular files only, no listing, no
// path outside the page directory.
func (s *server) staticFile(c echo.Context) error {
	name, err := cleanName(c.Param("*"))
	if err != nil {
		return echo.ErrNotFound
	}
	a, err := s.staticAsset(name)
	if err != nil {
		return err
	}
	return serveAsset(c, a, true)
}

// file serves one of the wasm or model assets.
func (s *server) file(name string) echo.HandlerFunc {
	return func(c echo.Context) error { return serveAsset(c, s.files[name], true) }
}

// staticAsset reads name from the page directory (cached unless Dev).
func (s *server) staticAsset(name string) (*asset, error) {
	if s.cache != nil {
		s.cache.mu.Lock()
		a, ok := s.cache.m[name]
		s.cache.mu.Unlock()
		if ok {
			return a, nil
		}
	}
	st, err := fs.Stat(s.static, name)
	if err != nil || !st.Mode().IsRegular() {
		return nil, echo.ErrNotFound
	}
	b, err := fs.ReadFile(s.static, name)
	if err != nil {
		return nil, echo.ErrNotFound
	}
	a := newAsset(name, b)
	if s.cache != nil {
		s.cache.mu.Lock()
		s.cache.m[name] = a
		s.cache.mu.Unlock()
	}
	return a, nil
}

// cleanName turns the raw wildcard of /static/* into an fs.FS name,
// rejecting escapes, dot segments, hidden files and directories' slashes.
func cleanName(raw string) (string, error) {
	name, err := pathUnescape(raw)
	if err != nil {
		return "", err
	}
	if name == "" || strings.ContainsAny(name, "\\\x00") || !fs.ValidPath(name) {
		return "", errors.New("web: bad path")
	}
	for _, seg := range strings.Split(name, "/") {
		if strings.HasPrefix(seg, ".") {
			return "", errors.New("web: bad path")
		}
	}
	return name, nil
}
