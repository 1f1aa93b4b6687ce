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
	Ms        float64    `json:"ms"` // wall time of the network call
	Width     int        `json:"width"`
	Height    int        `json:"height"`
	Box       [4]float64 `json:"box"` // x, y, w, h used
}

// Predictor predicts the joints of the one person inside box (image
// pixels) of img. Implementations must be safe for concurrent use.
type Predictor interface {
	Predict(ctx context.Context, img image.Image, box coco.Box) ([]Joint, error)
}

// Native is the native (gorgonia) prediction path of `posetrain
// predict`: pose.LoadNet plus the checkpoint's Predictor, serialised by a
// mutex (one network, batch 1).
type Native struct {
	mu     sync.Mutex
	closed bool
	net    *pose.Net
	ck     *pose.Checkpoint
	pred   *pose.Predictor
}

var _ Predictor = (*Native)(nil)

// LoadNative loads a checkpoint for native prediction.
func LoadNative(checkpoint string) (*Native, error) {
	net, ck, err := pose.LoadNet(checkpoint, 1)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	return &Native{net: net, ck: ck, pred: ck.Predictor(net, false)}, nil
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
	p := people[0]
	out := make([]Joint, len(p.Keypoints))
	names := n.ck.Meta.Schema.Names
	for k, kp := range p.Keypoints {
		name := strconv.Itoa(k)
		if k < len(names) {
			name = names[k]
		}
		out[k] = Joint{Name: name, X: kp.X, Y: kp.Y, Score: p.Scores[k]}
	}
	return out, nil
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

// predict handles POST /api/predict.
func (s *server) predict(c echo.Context) error {
	select {
	case s.sem <- struct{}{}:
	default:
		c.Response().Header().Set("Retry-After", "1")
		return echo.NewHTTPError(http.StatusServiceUnavailable, "server busy: too many predictions in flight")
	}
	released := false
	release := func() {
		if !released {
			released = true
			<-s.sem
		}
	}
	defer func() { release() }()

	imgBytes, boxS, err := readUpload(c.Request(), s.cfg.MaxUpload)
	if err != nil {
		return err
	}
	img, err := DecodeImage(imgBytes)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	b := img.Bounds()
	box := coco.Box{X: 0, Y: 0, W: float64(b.Dx()), H: float64(b.Dy())}
	if boxS != "" {
		if box, err = ParseBox(boxS); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, err.Error())
		}
	}

	ctx := c.Request().Context()
	type result struct {
		joints []Joint
		ms     float64
		err    error
	}
	done := make(chan result, 1)
	released = true // the goroutine owns the slot until the network returns
	go func() {
		defer func() { <-s.sem }()
		t0 := time.Now()
		j, err := s.pred.Predict(ctx, img, box)
		done <- result{j, float64(time.Since(t0).Microseconds()) / 1000, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			if errors.Is(r.err, context.DeadlineExceeded) {
				return errTimeout
			}
			return r.err
		}
		return c.JSON(http.StatusOK, Prediction{Keypoints: r.joints, Ms: r.ms, Width: b.Dx(), Height: b.Dy(),
			Box: [4]float64{box.X, box.Y, box.W, box.H}})
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return errTimeout
		}
		return ctx.Err()
	}
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

// uploadErr keeps the body limit's 413 and turns anything else into 400.
func uploadErr(err error) error {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he
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
