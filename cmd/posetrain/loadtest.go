package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bsampose/bsampose/web"
)

func init() {
	commands["loadtest"] = command{"requests/s and latency of POST /api/predict at several client counts (in-process server on 127.0.0.1)", runLoadtest}
}

// loadLevel is the result of one client count.
type loadLevel struct {
	Clients   int            `json:"clients"`
	Requests  int            `json:"requests"`
	OK        int            `json:"ok"`
	Errors    map[string]int `json:"errors"` // by HTTP status, or "transport"
	Seconds   float64        `json:"seconds"`
	ReqPerS   float64        `json:"req_per_s"` // answered 200 per second of wall time
	P50Ms     float64        `json:"p50_ms"`
	P90Ms     float64        `json:"p90_ms"`
	P99Ms     float64        `json:"p99_ms"`
	MeanBatch float64        `json:"mean_batch"` // crops per network call, as the answers report
	// CPUMsPerReq is the process's CPU time (server and clients, all
	// cores) per request answered 200: less sensitive than req/s to other
	// programs on a shared machine. -1 where unknown.
	CPUMsPerReq float64 `json:"cpu_ms_per_req"`
}

// loadResult is the JSON line printed by `posetrain loadtest`.
type loadResult struct {
	Model      string      `json:"model"`
	Image      string      `json:"image"`
	ImageBytes int         `json:"image_bytes"`
	MaxBatch   int         `json:"max_batch"`
	BatchDelay float64     `json:"batch_delay_ms"`
	Queue      int         `json:"queue"`
	CPUs       int         `json:"cpus"`
	Levels     []loadLevel `json:"levels"`
	PeakRSSMB  float64     `json:"peak_rss_mb"` // of the whole run
}

func runLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c serveConfig
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	serveFlags(fs, &c)
	clientsS := fs.String("clients", "1,2,8,64", "comma-separated client counts, one level each")
	requests := fs.Int("requests", 0, "requests per level (0: 10 per client, at least 100)")
	maxTime := fs.Duration("max-time", time.Minute, "longest time of one level: no request starts after it")
	imagePath := fs.String("image", "", "JPEG or PNG to send (default: a 640x480 JPEG drawn here)")
	box := fs.String("box", "", "x,y,w,h box to send with each request (default: the whole image)")
	warmup := fs.Int("warmup", 3, "rounds of 2*max-batch concurrent requests before the levels, not counted")
	if code, ok := parseFlags(fs, args, nil); !ok {
		return code
	}
	if c.Model == "" {
		fmt.Fprintln(stderr, "posetrain loadtest: --model is required")
		return 2
	}
	var levels []int
	for _, f := range strings.Split(*clientsS, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1024 {
			fmt.Fprintf(stderr, "posetrain loadtest: --clients: %q is not a count in 1..1024\n", f)
			return 2
		}
		levels = append(levels, n)
	}
	if *box != "" {
		if _, err := web.ParseBox(*box); err != nil {
			fmt.Fprintf(stderr, "posetrain loadtest: --box: %v\n", err)
			return 2
		}
	}
	res, err := loadtest(ctx, c, levels, *requests, *maxTime, *imagePath, *box, *warmup, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "posetrain loadtest: %v\n", err)
		return 1
	}
	b, _ := json.Marshal(res)
	fmt.Fprintln(stdout, string(b))
	return 0
}

func loadtest(ctx context.Context, c serveConfig, levels []int, requests int, maxTime time.Duration,
	imagePath, box string, warmup int, stderr io.Writer) (*loadResult, error) {
	var img []byte
	name := imagePath
	if imagePath != "" {
		var err error
		if img, err = os.ReadFile(imagePath); err != nil {
			return nil, err
		}
	} else {
		img, name = loadImage(), "drawn 640x480 JPEG"
	}
	// The server serves only /api/predict here: stand-ins for the wasm
	// files and the browser weights.
	dir, err := os.MkdirTemp("", "bsampose-loadtest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for f, b := range map[string]string{"posewasm.wasm": "\x00asm\x01\x00\x00\x00", "wasm_exec.js": "// unused\n"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(b), 0o644); err != nil {
			return nil, err
		}
	}
	cfg := c.webConfig(dir, stderr)
	cfg.ModelBin = []byte("unused")
	e, err := web.New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.Server.Shutdown(context.Background())
		return nil, fmt.Errorf("listen: %w", err)
	}
	go e.Server.Serve(ln)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), c.Timeout+10*time.Second)
		defer cancel()
		e.Server.Shutdown(sctx)
	}()
	url := "http://" + ln.Addr().String() + "/api/predict"

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("image", filepath.Base(name))
	if err != nil {
		return nil, err
	}
	fw.Write(img)
	if box != "" {
		mw.WriteField("box", box)
	}
	mw.Close()
	raw, ctype := body.Bytes(), mw.FormDataContentType()

	res := &loadResult{Model: c.Model, Image: name, ImageBytes: len(img), MaxBatch: c.MaxBatch,
		BatchDelay: float64(c.BatchDelay.Microseconds()) / 1000, Queue: c.Queue, CPUs: runtime.NumCPU()}
	if warmup > 0 {
		n := 2 * max(c.MaxBatch, 1)
		fmt.Fprintf(stderr, "warm-up: %d rounds of %d concurrent requests\n", warmup, n)
		if lv := loadLevelRun(ctx, url, raw, ctype, n, warmup*n, maxTime); lv.OK == 0 {
			return nil, fmt.Errorf("warm-up: no request succeeded (errors %v)", lv.Errors)
		}
	}
	fmt.Fprintf(stderr, "%7s %8s %6s %-16s %8s %8s %8s %8s %6s %8s\n", "clients", "requests", "ok", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "batch", "cpu ms")
	for _, n := range levels {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		total := requests
		if total <= 0 {
			total = max(100, 10*n)
		}
		lv := loadLevelRun(ctx, url, raw, ctype, n, total, maxTime)
		res.Levels = append(res.Levels, lv)
		errs := "-"
		if len(lv.Errors) > 0 {
			var parts []string
			for k, v := range lv.Errors {
				parts = append(parts, fmt.Sprintf("%s:%d", k, v))
			}
			slices.Sort(parts)
			errs = strings.Join(parts, ",")
		}
		fmt.Fprintf(stderr, "%7d %8d %6d %-16s %8.1f %8.1f %8.1f %8.1f %6.2f %8.1f\n",
			lv.Clients, lv.Requests, lv.OK, errs, lv.ReqPerS, lv.P50Ms, lv.P90Ms, lv.P99Ms, lv.MeanBatch, lv.CPUMsPerReq)
	}
	res.PeakRSSMB = peakRSSMB()
	fmt.Fprintf(stderr, "peak RSS %.0f MiB\n", res.PeakRSSMB)
	return res, nil
}

// loadLevelRun sends total requests from n concurrent keep-alive clients
// (none starts after maxTime) and summarises the answers.
func loadLevelRun(ctx context.Context, url string, body []byte, ctype string, n, total int, maxTime time.Duration) loadLevel {
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxIdleConns: n}}
	defer client.CloseIdleConnections()
	var (
		mu      sync.Mutex
		lat     []float64
		batches float64
		lv      = loadLevel{Clients: n, Errors: map[string]int{}}
		next    int
		wg      sync.WaitGroup
	)
	t0, cpu0 := time.Now(), processCPU()
	stopAt := t0.Add(maxTime)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= total || time.Now().After(stopAt) || ctx.Err() != nil {
					mu.Unlock()
					return
				}
				next++
				mu.Unlock()
				s := time.Now()
				code, batch, err := loadRequest(ctx, client, url, body, ctype)
				ms := float64(time.Since(s).Microseconds()) / 1000
				mu.Lock()
				lv.Requests++
				switch {
				case err != nil:
					lv.Errors["transport"]++
				case code != http.StatusOK:
					lv.Errors[strconv.Itoa(code)]++
				default:
					lv.OK++
					lat = append(lat, ms)
					batches += float64(batch)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	lv.Seconds = time.Since(t0).Seconds()
	lv.CPUMsPerReq = -1
	if cpu1 := processCPU(); cpu0 >= 0 && cpu1 >= 0 && lv.OK > 0 {
		lv.CPUMsPerReq = float64((cpu1 - cpu0).Microseconds()) / 1000 / float64(lv.OK)
	}
	if lv.Seconds > 0 {
		lv.ReqPerS = float64(lv.OK) / lv.Seconds
	}
	slices.Sort(lat)
	lv.P50Ms, lv.P90Ms, lv.P99Ms = percentile(lat, 0.50), percentile(lat, 0.90), percentile(lat, 0.99)
	if lv.OK > 0 {
		lv.MeanBatch = batches / float64(lv.OK)
	}
	return lv
}

// loadRequest posts one prediction and returns the status and the batch
// size the answer reports.
func loadRequest(ctx context.Context, client *http.Client, url string, body []byte, ctype string) (int, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, 0, nil
	}
	var p web.Prediction
	if err := json.Unmarshal(b, &p); err != nil {
		return 0, 0, errors.New("undecodable answer")
	}
	return resp.StatusCode, p.Batch, nil
}

// percentile is the nearest-rank percentile q (0..1] of sorted values; 0
// for none.
func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// loadImage draws a 640x480 JPEG (smooth shapes plus noise, about the
// size of a phone photo scaled down), the same bytes on every run.
func loadImage() []byte {
	r := rand.New(rand.NewPCG(12, 34))
	img := image.NewNRGBA(image.Rect(0, 0, 640, 480))
	for y := range 480 {
		for x := range 640 {
			d := math.Hypot(float64(x-320), float64(y-200))
			v := 128 + 90*math.Sin(d/23)
			img.SetNRGBA(x, y, color.NRGBA{uint8(v), uint8(float64(x) / 640 * 255), uint8(int(v)/2 + r.IntN(60)), 255})
		}
	}
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	return buf.Bytes()
}
