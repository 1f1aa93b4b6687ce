package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // decoders for uploads
	_ "image/jpeg"
	_ "image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/disintegration/imaging"
	"github.com/labstack/echo/v4"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/pose/data"
)

// Joint is one predicted keypoint, in image pixels.
type Joint struct {
	Name  string  `json:"name"`
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
	Score float64 `json:"score"`
}

// Prediction is the JSON answer of POST /api/predict.
type Prediction struct {
	Keypoints []Joint    `json:"keypoints"`
	Ms        float64    `json:"ms"`       // wall time of the network call
	QueueMs   float64    `json:"queue_ms"` // from admission to the answer, minus Ms
	Batch     int        `json:"batch"`    // crops in that network call
	Width     int        `json:"width"`
	Height    int        `json:"height"`
	Box       [4]float64 `json:"box"` // x, y, w, h used
}

// Predictor predicts the joints of the one person inside box (image
// pixels) of img. Implementations must be safe for concurrent use.
type Predictor interface {
	Predict(ctx context.Context, img image.Image, box coco.Box) ([]Joint, error)
}

// Crop is one network input cut from an image: what a queued request
// keeps instead of its decoded image.
type Crop struct {
	X      []float32   // 3*H*W, NCHW, normalised (the model's input size)
	Affine data.Affine // image pixels to input pixels
}

// BatchPredictor is a Predictor that can run many crops in one network
// call; the server's micro-batcher uses it. Crop must be safe for
// concurrent use; PredictCrops is called from one goroutine at a time.
type BatchPredictor interface {
	Predictor
	// Crop cuts box (image pixels) out of img into a network input.
	Crop(img image.Image, box coco.Box) (Crop, error)
	// PredictCrops returns the joints of every crop, in order.
	PredictCrops(crops []Crop) ([][]Joint, error)
}

// Native is the native (gorgonia) prediction path of `posetrain
// predict`: pose.LoadNet plus the checkpoint's Predictor, serialised by a
// mutex (one network). PredictCrops runs up to MaxNativeBatch crops per
// network call.
type Native struct {
	mu     sync.Mutex
	closed bool
	net    *pose.Net
	ck     *pose.Checkpoint
	pred   *pose.Predictor
	dcfg   data.Config
	x      []float32
	aff    []data.Affine
}

var (
	_ Predictor      = (*Native)(nil)
	_ BatchPredictor = (*Native)(nil)
)

// MaxNativeBatch is the largest network call of Native.PredictCrops:
// longer lists run as several calls. The calls use batch sizes 1, 2, 4
// and 8 only (a list of 7 runs as 4+2+1), the four eval graphs pose.Net
// keeps, so no graph is rebuilt under load.
const MaxNativeBatch = 8

// LoadNative loads a checkpoint for native prediction.
func LoadNative(checkpoint string) (*Native, error) {
	net, ck, err := pose.LoadNet(checkpoint, 1)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	n := &Native{net: net, ck: ck, pred: ck.Predictor(net, false), dcfg: ck.DataConfig()}
	n.dcfg.InputW, n.dcfg.InputH = n.pred.Codec.InputW, n.pred.Codec.InputH
	return n, nil
}

// Crop implements BatchPredictor: the affine and warp of
// pose.Predictor.PredictImage for one box.
func (n *Native) Crop(img image.Image, box coco.Box) (Crop, error) {
	if !(box.W > 0 && box.H > 0) {
		return Crop{}, fmt.Errorf("web: box %v has no area", box)
	}
	W, H := n.dcfg.InputW, n.dcfg.InputH
	c := Crop{X: make([]float32, 3*H*W), Affine: n.dcfg.Transform(data.Item{Box: box}, data.Params{})}
	data.Warp(c.X, img, c.Affine, W, H, n.dcfg.Mean, n.dcfg.Std)
	return c, nil
}

// PredictCrops implements BatchPredictor. One crop gives exactly what
// Predict (and `posetrain predict`) gives; in a call of several, the
// network's kernels may take another path (Winograd for a batch of at
// least the worker count), which changes the heatmaps within 1e-5 (pose's
// Forward(m) tests) and moves keypoints by less than 0.01 px
// (TestConcurrentClientsNative).
func (n *Native) PredictCrops(crops []Crop) ([][]Joint, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, errors.New("web: native predictor closed")
	}
	W, H := n.dcfg.InputW, n.dcfg.InputH
	sz := 3 * H * W
	out := make([][]Joint, 0, len(crops))
	for len(crops) > 0 {
		m := MaxNativeBatch
		for m > len(crops) {
			m /= 2
		}
		n.x = n.x[:0]
		n.aff = n.aff[:0]
		for _, c := range crops[:m] {
			if len(c.X) != sz {
				return nil, fmt.Errorf("web: crop of %d values, want %d (3x%dx%d)", len(c.X), sz, H, W)
			}
			n.x = append(n.x, c.X...)
			n.aff = append(n.aff, c.Affine)
		}
		people, err := n.pred.Predict(n.x, m, n.aff)
		if err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		for _, p := range people {
			out = append(out, n.joints(p))
		}
		crops = crops[m:]
	}
	return out, nil
}

func (n *Native) joints(p pose.Person) []Joint {
	out := make([]Joint, len(p.Keypoints))
	names := n.ck.Meta.Schema.Names
	for k, kp := range p.Keypoints {
		name := strconv.Itoa(k)
		if k < len(names) {
			name = names[k]
		}
		out[k] = Joint{Name: name, X: kp.X, Y: kp.Y, Score: p.Scores[k]}
	}
	return out
}

// Predict implements Predictor; it gives exactly what `posetrain predict
// --model CKPT --image IMG --box x,y,w,h` prints.
func (n *Native) Predict(ctx context.Context, img image.Image, box coco.Box) ([]Joint, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n.closed {
		return nil, errors.New("web: native predictor closed")
	}
	people, err := n.pred.PredictImage(img, []coco.Box{box}, n.ck.DataConfig())
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	return n.joints(people[0]), nil
}

// Close releases the network.
func (n *Native) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	return n.net.Close()
}

var errTimeout = errors.New("web: prediction timed out")

// predict handles POST /api/predict: admission into the bounded queue
// (503 with Retry-After at once when it is full), the upload (read with
// an idle deadline), the decode (a few at a time) and the crop, then a
// wait for the micro-batcher's answer until the request's deadline.
func (s *server) predict(c echo.Context) error {
	t0 := time.Now()
	if err := s.disp.admit(); err != nil {
		c.Response().Header().Set("Retry-After", "1")
		if errors.Is(err, errClosing) {
			c.Response().Header().Set("Connection", "close")
			return echo.NewHTTPError(http.StatusServiceUnavailable, "server shutting down")
		}
		return echo.NewHTTPError(http.StatusServiceUnavailable, fmt.Sprintf("server busy: %d predictions queued or running", cap(s.disp.slots)))
	}
	submitted := false
	defer func() {
		if !submitted {
			s.disp.release()
		}
	}()
	req := c.Request()
	ctx := req.Context()

	body := newIdleReader(req.Body, http.NewResponseController(c.Response()), s.cfg.BodyIdleTimeout, t0.Add(s.cfg.BodyTimeout))
	req.Body = body
	imgBytes, boxS, err := readUpload(req, s.cfg.MaxUpload)
	body.done(err)
	if err != nil {
		return err
	}
	done, err := s.disp.decode(ctx)
	if err != nil {
		return s.ctxErr(c, err)
	}
	img, err := DecodeImage(imgBytes)
	imgBytes = nil
	if err != nil {
		done()
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	b := img.Bounds()
	box := coco.Box{X: 0, Y: 0, W: float64(b.Dx()), H: float64(b.Dy())}
	if boxS != "" {
		if box, err = ParseBox(boxS); err != nil {
			done()
			return echo.NewHTTPError(http.StatusBadRequest, err.Error())
		}
	}
	j := &job{ctx: ctx, box: box, done: make(chan result, 1)}
	if s.disp.bp != nil {
		j.crop, err = s.disp.bp.Crop(img, box)
		if err != nil {
			done()
			return echo.NewHTTPError(http.StatusBadRequest, err.Error())
		}
	} else {
		j.img = img
	}
	img = nil
	done()

	j.enq = time.Now()
	submitted = true
	s.disp.submit(j)
	select {
	case r := <-j.done:
		if r.err != nil {
			if errors.Is(r.err, context.DeadlineExceeded) {
				return s.ctxErr(c, r.err)
			}
			return r.err
		}
		return c.JSON(http.StatusOK, Prediction{Keypoints: r.joints, Ms: r.ms, QueueMs: max(0, msSince(t0)-r.ms), Batch: r.batch,
			Width: b.Dx(), Height: b.Dy(), Box: [4]float64{box.X, box.Y, box.W, box.H}})
	case <-ctx.Done():
		return s.ctxErr(c, ctx.Err())
	}
}

// ctxErr is the answer to a request whose context ended: its deadline
// gives 503 with Retry-After (through errTimeout), a client that went
// away gets the context's error.
func (s *server) ctxErr(c echo.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		c.Response().Header().Set("Retry-After", "1")
		return errTimeout
	}
	return err
}

// readUpload streams a multipart body and returns the "image" file's
// bytes and the "box" field. Oversized bodies give 413, malformed ones 400.
func readUpload(r *http.Request, limit int64) ([]byte, string, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, "", echo.NewHTTPError(http.StatusBadRequest, "want a multipart/form-data body with an \"image\" file: "+err.Error())
	}
	var img []byte
	var box string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", uploadErr(err)
		}
		switch part.FormName() {
		case "image":
			if img, err = readPart(part, limit); err != nil {
				return nil, "", uploadErr(err)
			}
		case "box":
			b, err := readPart(part, 256)
			if err != nil {
				return nil, "", uploadErr(err)
			}
			box = strings.TrimSpace(string(b))
		}
		part.Close()
	}
	if img == nil {
		return nil, "", echo.NewHTTPError(http.StatusBadRequest, "missing multipart file field \"image\"")
	}
	return img, box, nil
}

func readPart(p *multipart.Part, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(p, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, echo.ErrStatusRequestEntityTooLarge
	}
	return b, nil
}

// uploadErr keeps the body limit's 413, gives 408 to a client that
// stopped sending, and turns anything else into 400.
func uploadErr(err error) error {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return echo.NewHTTPError(http.StatusRequestTimeout, "upload stalled: "+err.Error())
	}
	return echo.NewHTTPError(http.StatusBadRequest, "malformed multipart body: "+err.Error())
}

// DecodeImage decodes an uploaded JPEG, PNG or GIF with its EXIF
// orientation applied, as `posetrain predict` decodes files. It refuses
// images above data.MaxImagePixels before decoding their pixels.
func DecodeImage(b []byte) (*image.NRGBA, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("web: not an image (JPEG, PNG or GIF): %v", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > data.MaxImagePixels {
		return nil, fmt.Errorf("web: %s image of %dx%d pixels outside 1..%d pixels", format, cfg.Width, cfg.Height, data.MaxImagePixels)
	}
	img, err := imaging.Decode(bytes.NewReader(b), imaging.AutoOrientation(true))
	if err != nil {
		return nil, fmt.Errorf("web: corrupt %s image: %v", format, err)
	}
	if img.Bounds().Empty() {
		return nil, fmt.Errorf("web: empty %s image", format)
	}
	if n, ok := img.(*image.NRGBA); ok && n.Rect.Min == (image.Point{}) {
		return n, nil
	}
	return imaging.Clone(img), nil // NRGBA at (0, 0), the colours of data.DecodeImage
}

// ParseBox parses "x,y,w,h" (image pixels) with positive finite w and h.
func ParseBox(s string) (coco.Box, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return coco.Box{}, fmt.Errorf("web: box %q: want x,y,w,h", s)
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f != f || f > 1e9 || f < -1e9 {
			return coco.Box{}, fmt.Errorf("web: box %q: %q is not a finite number", s, strings.TrimSpace(p))
		}
		v[i] = f
	}
	if !(v[2] > 0 && v[3] > 0) {
		return coco.Box{}, fmt.Errorf("web: box %q: width and height must be positive", s)
	}
	return coco.Box{X: v[0], Y: v[1], W: v[2], H: v[3]}, nil
}
