package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/bsampose/bsampose/coco"
)

// blockingBatch is a BatchPredictor whose PredictCrops waits for release
// (one receive per call) and records every call's size.
type blockingBatch struct {
	fakePredictor
	release chan struct{}
	calls   chan int // sizes, as the calls start
}

func newBlockingBatch() *blockingBatch {
	return &blockingBatch{release: make(chan struct{}), calls: make(chan int, 1000)}
}

func (b *blockingBatch) Crop(img image.Image, box coco.Box) (Crop, error) {
	return Crop{X: []float32{float32(box.X), float32(box.Y), float32(box.W), float32(box.H)}}, nil
}

func (b *blockingBatch) PredictCrops(crops []Crop) ([][]Joint, error) {
	b.calls <- len(crops)
	<-b.release
	out := make([][]Joint, len(crops))
	for i, c := range crops {
		out[i] = []Joint{{Name: "centre", X: float64(c.X[0] + c.X[2]/2), Y: float64(c.X[1] + c.X[3]/2), Score: 1}}
	}
	return out, nil
}

// listen runs e.Server (with its timeouts) on a loopback port and returns
// the base URL; the test's cleanup shuts it down.
func listen(t *testing.T, e *echo.Echo) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.Server.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Server.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}

// postImage sends one prediction request; box "" predicts the whole image.
func postImage(t *testing.T, client *http.Client, url string, img []byte, box string) (int, http.Header, Prediction, error) {
	var buf bytes.Buffer
	body, ct := multipartBody(t, img, box)
	buf.Write(body.Bytes())
	resp, err := client.Post(url+"/api/predict", ct, &buf)
	if err != nil {
		return 0, nil, Prediction{}, err
	}
	defer resp.Body.Close()
	var p Prediction
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, resp.Header, p, err
	}
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(b, &p); err != nil {
			return resp.StatusCode, resp.Header, p, fmt.Errorf("answer %q: %v", b, err)
		}
	}
	return resp.StatusCode, resp.Header, p, nil
}

// waitFor polls cond every few milliseconds for at most 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// TestQueueRoomAndFull: with one crop in the network and room for 32
// more in the queue, 32 concurrent loopback clients all wait (no 503) and
// are answered once the network is free; while all 33 slots are taken, one
// more request gets 503 with Retry-After at once (the network is still
// blocked when it is answered).
func TestQueueRoomAndFull(t *testing.T) {
	pred := newBlockingBatch()
	e, s, err := newServer(Config{Checkpoint: testCheckpoint(t), WasmDir: fakeWasmDir(t), ModelBin: []byte{1},
		Predictor: pred, QueueLen: 32, MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	url := listen(t, e)
	client := &http.Client{Timeout: time.Minute}
	png1 := pngOf(t, image.NewNRGBA(image.Rect(0, 0, 4, 4)))

	codes := make(chan int, 33)
	var wg sync.WaitGroup
	post := func() {
		defer wg.Done()
		code, _, _, err := postImage(t, client, url, png1, "")
		if err != nil {
			t.Error(err)
		}
		codes <- code
	}
	wg.Add(1)
	go post()
	if n := <-pred.calls; n != 1 {
		t.Fatalf("first call of %d crops", n)
	}
	for range 32 {
		wg.Add(1)
		go post()
	}
	waitFor(t, "32 queued requests", func() bool { return len(s.disp.jobs) == 32 && s.disp.queued() == 33 })

	code, h, _, err := postImage(t, client, url, png1, "")
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Errorf("request beyond the queue: status %d, Retry-After %q; want 503 with Retry-After", code, h.Get("Retry-After"))
	}
	select {
	case c := <-codes:
		t.Fatalf("a queued request was answered (%d) while the network was blocked", c)
	default:
	}
	go func() {
		for range 33 {
			pred.release <- struct{}{}
		}
	}()
	wg.Wait()
	close(codes)
	n := 0
	for c := range codes {
		n++
		if c != 200 {
			t.Errorf("queued request answered %d, want 200", c)
		}
	}
	if n != 33 {
		t.Errorf("%d answers, want 33", n)
	}
}

// TestQueueDeadline: a request that waits in the queue longer than
// Config.Timeout gets 503 with Retry-After, and the batcher skips it.
func TestQueueDeadline(t *testing.T) {
	pred := newBlockingBatch()
	e := newTestEcho(t, func(c *Config) { c.Predictor = pred; c.MaxBatch = 1; c.Timeout = 200 * time.Millisecond })
	png1 := pngOf(t, image.NewNRGBA(image.Rect(0, 0, 4, 4)))
	post := func() *httptest.ResponseRecorder {
		b, ct := multipartBody(t, png1, "")
		req := httptest.NewRequest(http.MethodPost, "/api/predict", b)
		req.Header.Set("Content-Type", ct)
		return do(e, req)
	}
	first := make(chan *httptest.ResponseRecorder, 1)
	go func() { first <- post() }()
	<-pred.calls // the network is busy with the first request
	rec := post()
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("queued past its deadline: status %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if msg := errorBody(t, rec); !strings.Contains(msg, "timed out") {
		t.Errorf("error %q", msg)
	}
	// The first call returns after its request's deadline: the answer and
	// the deadline are both ready, and either may win.
	pred.release <- struct{}{}
	if r := <-first; r.Code != http.StatusServiceUnavailable && r.Code != 200 {
		t.Errorf("first request: %d, want 503 or 200", r.Code)
	}
	// The expired second request is dropped, not run: the next call is
	// the third request's.
	third := make(chan *httptest.ResponseRecorder, 1)
	go func() { third <- post() }()
	if n := <-pred.calls; n != 1 {
		t.Errorf("next call has %d crops, want the third request's 1", n)
	}
	pred.release <- struct{}{}
	if r := <-third; r.Code != 200 {
		t.Errorf("third request: %d %s", r.Code, r.Body.String())
	}
}

// TestBatcherGathers: crops that queue while the network is busy run
// together in the next call, up to MaxBatch.
func TestBatcherGathers(t *testing.T) {
	for _, tc := range []struct {
		name            string
		maxBatch, extra int
		want            []int // sizes of the calls after the first
	}{
		{"five queued, batch 8", 8, 5, []int{5}},
		{"eleven queued, batch 4", 4, 11, []int{4, 4, 3}},
		{"batching off", 1, 3, []int{1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pred := newBlockingBatch()
			e, s, err := newServer(Config{Checkpoint: testCheckpoint(t), WasmDir: fakeWasmDir(t), ModelBin: []byte{1},
				Predictor: pred, QueueLen: 16, MaxBatch: tc.maxBatch})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Server.Shutdown(context.Background())
			png1 := pngOf(t, image.NewNRGBA(image.Rect(0, 0, 4, 4)))
			var wg sync.WaitGroup
			batches := make(chan int, tc.extra+1)
			post := func(box string) {
				defer wg.Done()
				b, ct := multipartBody(t, png1, box)
				req := httptest.NewRequest(http.MethodPost, "/api/predict", b)
				req.Header.Set("Content-Type", ct)
				rec := do(e, req)
				var p Prediction
				if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &p) != nil {
					t.Errorf("status %d: %s", rec.Code, rec.Body.String())
					return
				}
				want := coco.Box{W: 4, H: 4}
				if box != "" {
					want, _ = ParseBox(box)
				}
				if j := p.Keypoints[0]; j.X != want.X+want.W/2 || j.Y != want.Y+want.H/2 {
					t.Errorf("box %q answered with %+v: another request's answer", box, j)
				}
				batches <- p.Batch
			}
			wg.Add(1)
			go post("")
			<-pred.calls
			for i := range tc.extra {
				wg.Add(1)
				go post(fmt.Sprintf("%d,%d,2,2", i, 2*i))
			}
			waitFor(t, "the queued requests", func() bool { return len(s.disp.jobs) == tc.extra })
			pred.release <- struct{}{}
			for _, want := range tc.want {
				if got := <-pred.calls; got != want {
					t.Errorf("call of %d crops, want %d", got, want)
				}
				pred.release <- struct{}{}
			}
			wg.Wait()
			close(batches)
			sum := 0
			for b := range batches {
				sum += b
			}
			wantSum := 1
			for _, w := range tc.want {
				wantSum += w * w
			}
			if sum != wantSum {
				t.Errorf("sum of the answers' batch sizes %d, want %d", sum, wantSum)
			}
		})
	}
}

// TestBatcherDelay: with a delay, a lone crop waits for a second one to
// share its call.
func TestBatcherDelay(t *testing.T) {
	pred := newBlockingBatch()
	e := newTestEcho(t, func(c *Config) { c.Predictor = pred; c.MaxBatch = 2; c.BatchDelay = time.Minute })
	png1 := pngOf(t, image.NewNRGBA(image.Rect(0, 0, 4, 4)))
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, ct := multipartBody(t, png1, "")
			req := httptest.NewRequest(http.MethodPost, "/api/predict", b)
			req.Header.Set("Content-Type", ct)
			if rec := do(e, req); rec.Code != 200 {
				t.Errorf("status %d", rec.Code)
			}
		}()
	}
	if n := <-pred.calls; n != 2 {
		t.Errorf("first call of %d crops, want both", n)
	}
	pred.release <- struct{}{}
	wg.Wait()
}

// TestConcurrentClientsNative: 8 and then 64 concurrent loopback clients
// of the native network all get 200, and every answer (batched or not)
// matches the native prediction of its own box.
func TestConcurrentClientsNative(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the native network a few hundred times")
	}
	jpg := lspetImageOrSynthetic(t)
	e := newTestEcho(t, nil)
	url := listen(t, e)
	nat, err := LoadNative(testCheckpoint(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nat.Close()
	img, err := DecodeImage(jpg)
	if err != nil {
		t.Fatal(err)
	}
	boxes := []string{"", "10,20,60,90", "30,5,40,50", "0,0,33,77"}
	want := map[string][]Joint{}
	for _, b := range boxes {
		box := coco.Box{W: float64(img.Bounds().Dx()), H: float64(img.Bounds().Dy())}
		if b != "" {
			box, _ = ParseBox(b)
		}
		if want[b], err = nat.Predict(context.Background(), img, box); err != nil {
			t.Fatal(err)
		}
	}
	for _, clients := range []int{8, 64} {
		t.Run(fmt.Sprintf("clients_%d", clients), func(t *testing.T) {
			client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
			var mu sync.Mutex
			codes := map[int]int{}
			maxBatch := 0
			var wg sync.WaitGroup
			for i := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for r := range 2 {
						box := boxes[(i+r)%len(boxes)]
						code, _, p, err := postImage(t, client, url, jpg, box)
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						codes[code]++
						maxBatch = max(maxBatch, p.Batch)
						mu.Unlock()
						if code == 200 {
							compareBatched(t, box, p.Keypoints, want[box])
						}
					}
				}()
			}
			wg.Wait()
			if codes[200] != 2*clients {
				t.Errorf("%d clients: answers by status %v, want %d times 200", clients, codes, 2*clients)
			}
			t.Logf("%d clients: largest batch %d", clients, maxBatch)
		})
	}
}

// compareBatched checks a served prediction against the native one: the
// kernels of a batched call may differ from a single one in the last
// float bits (pose's Forward(m) tests allow 1e-5), which moves a sub-pixel
// keypoint by far less than 0.01 px.
func compareBatched(t *testing.T, box string, got, want []Joint) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("box %q: %d joints, want %d", box, len(got), len(want))
		return
	}
	for k := range want {
		g, w := got[k], want[k]
		if g.Name != w.Name || math.Abs(g.X-w.X) > 0.01 || math.Abs(g.Y-w.Y) > 0.01 || math.Abs(g.Score-w.Score) > 1e-4 {
			t.Errorf("box %q joint %d: served %+v, native %+v", box, k, g, w)
		}
	}
}

// TestStalledClients: a client that sends headers announcing a large
// body and then goes silent is cut off about BodyIdleTimeout after its
// last byte; one that never finishes its headers, after HeaderTimeout.
func TestStalledClients(t *testing.T) {
	e := newTestEcho(t, func(c *Config) {
		c.Predictor = &fakePredictor{}
		c.BodyIdleTimeout = 300 * time.Millisecond
		c.HeaderTimeout = 300 * time.Millisecond
	})
	addr := strings.TrimPrefix(listen(t, e), "http://")
	for _, tc := range []struct {
		name, send string
		wantStatus string // "": any answer, or a close without one
	}{
		{"stalled body", "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=zz\r\nContent-Length: 1000000\r\n\r\n--zz\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\n\xff\xd8\xff", "408"},
		{"stalled headers", "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Le", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tc.send); err != nil {
				t.Fatal(err)
			}
			// Far beyond the configured 300 ms, below the 60 s (body) and
			// 10 s (headers) the server used to allow.
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(conn)
			line, err := br.ReadString('\n')
			if err == nil {
				if tc.wantStatus != "" && !strings.Contains(line, " "+tc.wantStatus+" ") {
					t.Errorf("answer %q, want status %q", line, tc.wantStatus)
				}
				_, err = io.Copy(io.Discard, br) // then the server closes
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection still open after 5 s of silence (%q)", line)
			}
		})
	}
}

// TestGracefulShutdown: Shutdown stops accepting at once, lets every
// admitted prediction (running or queued) finish with 200, then returns;
// a request that reaches the handler afterwards is refused.
func TestGracefulShutdown(t *testing.T) {
	pred := newBlockingBatch()
	e, s, err := newServer(Config{Checkpoint: testCheckpoint(t), WasmDir: fakeWasmDir(t), ModelBin: []byte{1},
		Predictor: pred, MaxBatch: 2})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- e.Server.Serve(ln) }()
	client := &http.Client{Timeout: time.Minute}
	png1 := pngOf(t, image.NewNRGBA(image.Rect(0, 0, 4, 4)))

	const n = 6
	codes := make(chan int, n)
	for range n {
		go func() {
			code, _, _, err := postImage(t, client, url, png1, "")
			if err != nil {
				t.Error(err)
			}
			codes <- code
		}()
	}
	<-pred.calls
	waitFor(t, "6 admitted requests", func() bool { return s.disp.queued() == n })
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shut <- e.Server.Shutdown(ctx)
	}()
	waitFor(t, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	waitFor(t, "admission to close", func() bool {
		err := s.disp.admit()
		if err == nil {
			s.disp.release()
		}
		return errors.Is(err, errClosing)
	})
	go func() {
		for {
			select {
			case pred.release <- struct{}{}:
			case <-time.After(5 * time.Second):
				return
			}
		}
	}()
	for range n {
		if c := <-codes; c != 200 {
			t.Errorf("in-flight request answered %d, want 200", c)
		}
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != http.ErrServerClosed {
		t.Errorf("Serve: %v", err)
	}
}
