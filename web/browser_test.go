package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bsampose/bsampose/coco"
)

// chromiumPath is Debian's chromium (installed by .ci/run); the
// BSAMPOSE_CHROMIUM environment variable overrides it.
func chromiumPath() string {
	if p := os.Getenv("BSAMPOSE_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// TestBrowser serves the demo as `posetrain serve` does (the real wasm
// built from ./cmd/posewasm, weights exported from a checkpoint), drives
// headless Chromium to load the page and run the wasm network on a real
// LSPET image, and checks the keypoints the page reports against the
// native prediction: every joint within 1 px and 1e-3 in score.
//
// The image is served twice: as a lossless PNG of the decoded JPEG (both
// sides then see identical pixels, so only float rounding differs) and as
// the original JPEG (Chromium's libjpeg-turbo and Go's image/jpeg differ
// by a level or two per pixel, so that agreement is only logged).
//
// BSAMPOSE_BENCH=50 sets the benchmark length (default 5),
// BSAMPOSE_SCREENSHOT=file.png saves a screenshot of the page with the
// result drawn, and BSAMPOSE_BROWSER_MODEL=ckpt.safetensors replaces the
// random test network by a trained one.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: builds the wasm and starts Chromium")
	}
	chromium := chromiumPath()
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("browser test needs Chromium at %s (apt-get install chromium, as .ci/run does; or set BSAMPOSE_CHROMIUM): %v", chromium, err)
	}
	mod, err := FindModuleDir(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mod, "web", "static", "posewasm.js")); err != nil {
		t.Skipf("browser test needs the wasm loader web/static/posewasm.js: %v", err)
	}
	jpg := lspetImage(t, "im00001.jpg")
	img, err := DecodeImage(jpg)
	if err != nil {
		t.Fatal(err)
	}
	pngBytes := pngOf(t, img)
	W, H := img.Bounds().Dx(), img.Bounds().Dy()

	wasmDir := t.TempDir()
	var buildLog bytes.Buffer
	if err := BuildWasm(context.Background(), mod, wasmDir, &buildLog); err != nil {
		t.Fatalf("%v\n%s", err, buildLog.String())
	}
	ck := testCheckpoint(t)
	if p := os.Getenv("BSAMPOSE_BROWSER_MODEL"); p != "" {
		ck = p // a trained checkpoint, for measurements and screenshots
	}
	e, err := New(Config{Checkpoint: ck, WasmDir: wasmDir})
	if err != nil {
		t.Fatal(err)
	}
	infoRec := do(e, httptest.NewRequest(http.MethodGet, "/api/info", nil))
	t.Logf("assets (gzip bytes): %s", strings.TrimSpace(infoRec.Body.String()))
	defer e.Server.Shutdown(context.Background())
	mux := http.NewServeMux()
	mux.Handle("/", e)
	serveBytes := func(ctype string, b []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.Write(b)
		}
	}
	mux.HandleFunc("/test/im00001.png", serveBytes("image/png", pngBytes))
	mux.HandleFunc("/test/im00001.jpg", serveBytes("image/jpeg", jpg))
	srv := httptest.NewServer(mux) // 127.0.0.1:0
	defer srv.Close()

	nat, err := LoadNative(ck)
	if err != nil {
		t.Fatal(err)
	}
	defer nat.Close()
	whole := coco.Box{W: float64(W), H: float64(H)}
	box := coco.Box{X: 20, Y: 10, W: float64(W) * 0.6, H: float64(H) * 0.8}
	want, err := nat.Predict(context.Background(), img, whole)
	if err != nil {
		t.Fatal(err)
	}
	wantBox, err := nat.Predict(context.Background(), img, box)
	if err != nil {
		t.Fatal(err)
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("force-color-profile", "srgb"),
		// A synthetic webcam (640x480 test pattern), granted without a prompt.
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()

	// The page's console goes to the test log.
	var wg sync.WaitGroup
	var logMu sync.Mutex
	var console []string
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	lctx, stopLog := context.WithCancel(ctx)
	msgs := chromedp.Console(lctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m, err := range msgs {
			if err != nil {
				return
			}
			logMu.Lock()
			console = append(console, m.String())
			logMu.Unlock()
		}
	}()
	defer func() {
		stopLog()
		wg.Wait()
		logMu.Lock()
		defer logMu.Unlock()
		for _, m := range console {
			t.Logf("console: %s", m)
		}
	}()

	benchN := 5
	if s := os.Getenv("BSAMPOSE_BENCH"); s != "" {
		if benchN, err = strconv.Atoi(s); err != nil || benchN < 1 {
			t.Fatalf("BSAMPOSE_BENCH=%q", s)
		}
	}
	url := fmt.Sprintf("%s/?image=/test/im00001.png&bench=%d", srv.URL, benchN)
	bench := loadPage(t, ctx, url, benchN, "cold cache")

	resultJSON, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('result').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	var got []Joint
	if err := json.Unmarshal([]byte(resultJSON), &got); err != nil {
		t.Fatalf("#result %q: %v", resultJSON, err)
	}
	compareJoints(t, "png, whole image", got, want, 1, 1e-3, 1)
	if os.Getenv("BSAMPOSE_BENCH") != "" {
		// Again with the immutable assets in the browser cache.
		warm := loadPage(t, ctx, url, benchN, "warm cache")
		if warm.DownloadBytes >= bench.DownloadBytes/2 {
			t.Errorf("warm reload downloaded %d bytes, the first load %d: assets not cached", warm.DownloadBytes, bench.DownloadBytes)
		}
	}

	// A drawn box, through the page hook.
	js := fmt.Sprintf(`runOnURL('/test/im00001.png', [%g, %g, %g, %g]).then(r => JSON.stringify(r.keypoints))`, box.X, box.Y, box.W, box.H)
	boxJSON, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(boxJSON), &got); err != nil {
		t.Fatal(err)
	}
	compareJoints(t, "png, box", got, wantBox, 1, 1e-3, 1)

	// The original JPEG, decoded by Chromium.
	jpgJSON, err := chromedp.Run(ctx, chromedp.Evaluate[string](`runOnURL('/test/im00001.jpg', null).then(r => JSON.stringify(r.keypoints))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(jpgJSON), &got); err != nil {
		t.Fatal(err)
	}
	// Chromium's JPEG decoder differs from Go's by a level or two per
	// pixel, which moves joints whose heatmap maxima are close (a random
	// or barely trained network); only the agreement is logged.
	compareJoints(t, "jpeg, whole image (informational)", got, want, 1, 0.1, 0)

	if p := os.Getenv("BSAMPOSE_SCREENSHOT"); p != "" {
		// Threshold 0, so even a barely trained network's skeleton shows.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(() => {
			const m = document.getElementById('minscore');
			m.value = '0';
			m.dispatchEvent(new Event('input'));
			return runOnURL('/test/im00001.png', null).then(() => 1);
		})()`, chromedp.EvalAwaitPromise)); err != nil {
			t.Fatal(err)
		}
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot written to %s", p)
	}

	// The webcam: the box starts as the whole frame and then follows the
	// previous frame's keypoints (or stays whole when too few are confident).
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById('camera').click(), true)`)); err != nil {
		t.Fatal(err)
	}
	type camState struct {
		Video  bool      `json:"video"`
		Frames int       `json:"frames"`
		Width  int       `json:"width"`
		Height int       `json:"height"`
		Box    []float64 `json:"box"`
	}
	cam, err := chromedp.Run(ctx, chromedp.Poll[camState](`(() => {
		const s = pageState();
		if (document.getElementById('status').dataset.state === 'error') throw new Error(document.getElementById('status').textContent);
		return s.video && s.frames >= 3 ? s : false;
	})()`, chromedp.WithPollingTimeout(time.Minute), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		t.Fatalf("webcam: %v", err)
	}
	if cam.Width <= 0 || cam.Height <= 0 || len(cam.Box) != 4 || cam.Box[2] <= 0 || cam.Box[3] <= 0 ||
		cam.Box[0] < 0 || cam.Box[1] < 0 || cam.Box[0]+cam.Box[2] > float64(cam.Width)+1e-6 {
		t.Errorf("webcam state %+v", cam)
	}
	t.Logf("webcam: %d frames of %dx%d, last box %v", cam.Frames, cam.Width, cam.Height, cam.Box)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById('camera').click(), !pageState().video)`)); err != nil {
		t.Fatal(err)
	}

	// Offline: with the server gone, the loaded page still predicts.
	srv.Close()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`runOnURL ? runBench(3).then(r => r.n) : 0`, chromedp.EvalAwaitPromise))
	if err != nil || n != 3 {
		t.Fatalf("offline benchmark: %d runs, %v", n, err)
	}
}

// pageBench is the JSON the page writes into #bench.
type pageBench struct {
	N               int                `json:"n"`
	MedianMs        float64            `json:"median_ms"`
	MedianWallMs    float64            `json:"median_wall_ms"`
	MinMs           float64            `json:"min_ms"`
	LoadToFirstMs   float64            `json:"load_to_first_result_ms"`
	LoadToReadyMs   float64            `json:"load_to_ready_ms"`
	DownloadBytes   int                `json:"download_bytes"`
	EncodedBytes    int                `json:"encoded_bytes"`
	AssetsGzipBytes int                `json:"assets_gzip_bytes"`
	SIMD            bool               `json:"simd"`
	Kernel          string             `json:"kernel"`
	Phases          map[string]float64 `json:"phases_ms"`
	LoadPhases      map[string]float64 `json:"load_ms"` // inside bsampose.load
	Timeline        map[string]any     `json:"timeline_ms"`
	UserAgent       string             `json:"user_agent"`
}

// loadPage navigates to url (which asks for a benchmark of n runs), waits
// for the page's report and checks and logs it.
func loadPage(t *testing.T, ctx context.Context, url string, n int, what string) pageBench {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	var state string
	var err error
	for attempt := 0; ; attempt++ {
		state, err = chromedp.Run(ctx, chromedp.Poll[string](`(() => {
		const s = document.getElementById('status');
		if (s.dataset.state === 'error') return 'error: ' + s.textContent;
		return document.getElementById('bench').textContent ? 'done' : false;
	})()`, chromedp.WithPollingTimeout(3*time.Minute), chromedp.WithPollingInterval(50*time.Millisecond)))
		// A poll that starts while the navigation swaps the document can
		// address the old execution context (chromedp/chromedp#890): an
		// Evaluate picks up the new one, then poll again.
		if err == nil || attempt == 2 || !(strings.Contains(err.Error(), "Cannot find context with specified id") ||
			strings.Contains(err.Error(), "Execution context was destroyed")) {
			break
		}
		chromedp.Run(ctx, chromedp.Evaluate[bool](`true`))
	}
	if err != nil {
		t.Fatalf("waiting for the page: %v", err)
	}
	if state != "done" {
		t.Fatalf("page: %s", state)
	}
	benchJSON, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('bench').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	var b pageBench
	if err := json.Unmarshal([]byte(benchJSON), &b); err != nil {
		t.Fatalf("#bench %q: %v", benchJSON, err)
	}
	if b.N != n || !(b.MedianMs > 0) || !(b.LoadToFirstMs >= b.LoadToReadyMs) || b.DownloadBytes < 0 {
		t.Errorf("bench report %s", benchJSON)
	}
	t.Logf("browser (%s): median %.1f ms/inference (min %.1f, wall median %.1f, n=%d, kernel %s), load to ready %.0f ms, to first result %.0f ms (phases %v, in load %v), downloaded %.2f MB (bodies %.2f MB, assets gzip %.2f MB); %s",
		what, b.MedianMs, b.MinMs, b.MedianWallMs, b.N, b.Kernel, b.LoadToReadyMs, b.LoadToFirstMs, b.Phases, b.LoadPhases,
		float64(b.DownloadBytes)/1e6, float64(b.EncodedBytes)/1e6, float64(b.AssetsGzipBytes)/1e6, b.UserAgent)
	t.Logf("browser (%s): timeline (ms since navigation start) %v", what, b.Timeline)
	return b
}

// compareJoints fails unless got and want name the same joints and at
// least the fraction minFrac of them are at most tolPx apart (each
// coordinate) with scores at most tolScore apart.
func compareJoints(t *testing.T, what string, got, want []Joint, tolPx, tolScore, minFrac float64) {
	t.Helper()
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("%s: page reported %d joints, native %d", what, len(got), len(want))
	}
	var maxD, maxS float64
	var bad []string
	for k := range want {
		g, w := got[k], want[k]
		if g.Name != w.Name {
			t.Fatalf("%s: joint %d is %q on the page, %q natively", what, k, g.Name, w.Name)
		}
		d := math.Max(math.Abs(g.X-w.X), math.Abs(g.Y-w.Y))
		s := math.Abs(g.Score - w.Score)
		maxD, maxS = math.Max(maxD, d), math.Max(maxS, s)
		if !(d <= tolPx) || !(s <= tolScore) {
			bad = append(bad, fmt.Sprintf("joint %d: page %+v, native %+v", k, g, w))
		}
	}
	t.Logf("%s: %d/%d joints within %g px and %g score; max |dx|,|dy| %.2g px, max |dscore| %.2g",
		what, len(want)-len(bad), len(want), tolPx, tolScore, maxD, maxS)
	if float64(len(want)-len(bad)) < minFrac*float64(len(want)) {
		t.Errorf("%s: %d of %d joints differ:\n%s", what, len(bad), len(want), strings.Join(bad, "\n"))
	}
}
