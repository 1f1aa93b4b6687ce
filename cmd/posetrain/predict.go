package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/pose/data"
	"github.com/bsampose/bsampose/train"
	"github.com/bsampose/bsampose/web"
)

func init() {
	commands["predict"] = command{"keypoints of one person in an image, as JSON, with a skeleton overlay", runPredict}
}

// predictedJoint is one joint of predict's JSON output, in image pixels.
type predictedJoint struct {
	Name  string  `json:"name"`
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
	Score float64 `json:"score"`
}

func runPredict(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "checkpoint (.safetensors)")
	imgPath := fs.String("image", "", "image file")
	boxS := fs.String("box", "", "person box x,y,w,h in image pixels (default: the whole image)")
	out := fs.String("out", "", "write the skeleton overlay to this PNG")
	flip := fs.Bool("flip", false, "flip test")
	if code, ok := parseFlags(fs, args, nil); !ok {
		return code
	}
	if *model == "" || *imgPath == "" {
		fmt.Fprintln(stderr, "posetrain predict: --model and --image are required")
		return 2
	}
	net, ck, err := pose.LoadNet(*model, 1)
	if err != nil {
		fmt.Fprintf(stderr, "posetrain predict: %v\n", err)
		return 1
	}
	defer net.Close()
	img, err := data.DecodeImage(*imgPath)
	if err != nil {
		fmt.Fprintf(stderr, "posetrain predict: %v\n", err)
		return 1
	}
	b := img.Bounds()
	box := coco.Box{X: 0, Y: 0, W: float64(b.Dx()), H: float64(b.Dy())}
	if *boxS != "" {
		if box, err = web.ParseBox(*boxS); err != nil {
			fmt.Fprintf(stderr, "posetrain predict: --box: %v\n", err)
			return 2
		}
	}
	people, err := ck.Predictor(net, *flip).PredictImage(img, []coco.Box{box}, ck.DataConfig())
	if err != nil {
		fmt.Fprintf(stderr, "posetrain predict: %v\n", err)
		return 1
	}
	joints := make([]predictedJoint, len(people[0].Keypoints))
	for k, kp := range people[0].Keypoints {
		joints[k] = predictedJoint{Name: ck.Meta.Schema.Names[k], X: kp.X, Y: kp.Y, Score: people[0].Scores[k]}
	}
	if *out != "" {
		if err := writeOverlay(*out, img, people, ck.Meta.Schema.Schema()); err != nil {
			fmt.Fprintf(stderr, "posetrain predict: %v\n", err)
			return 1
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.Encode(joints)
	return 0
}

func writeOverlay(path string, img image.Image, people []pose.Person, s coco.Schema) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, pose.DrawOverlay(img, people, s, 0.2)); err != nil {
		return fmt.Errorf("overlay %s: %w", path, err)
	}
	return pose.WriteFileAtomic(path, buf.Bytes())
}

// demoOverlays draws the best model's predictions on the first validation
// images of the embedded default run, into <out>/overlays.
func demoOverlays(ctx context.Context, sum *train.Summary, cfg train.Config, stderr io.Writer) error {
	model := sum.Best
	if model == "" {
		model = sum.Last
	}
	net, ck, err := pose.LoadNet(model, 1)
	if err != nil {
		return err
	}
	defer net.Close()
	ds, err := coco.Load(cfg.ValAnn)
	if err != nil {
		return err
	}
	dir := filepath.Join(cfg.Out, "overlays")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	pred := ck.Predictor(net, false)
	for i, im := range ds.Images {
		if i == 8 || ctx.Err() != nil {
			break
		}
		var boxes []coco.Box
		for _, a := range ds.Annotations {
			if a.ImageID == im.ID && !a.Crowd && a.NumKeypoints > 0 {
				boxes = append(boxes, a.Box)
			}
		}
		if len(boxes) == 0 {
			continue
		}
		img, err := data.DecodeImage(filepath.Join(cfg.ValImages, im.FileName))
		if err != nil {
			return err
		}
		people, err := pred.PredictImage(img, boxes, ck.DataConfig())
		if err != nil {
			return err
		}
		p := filepath.Join(dir, strings.TrimSuffix(filepath.Base(im.FileName), filepath.Ext(im.FileName))+".png")
		if err := writeOverlay(p, img, people, ck.Meta.Schema.Schema()); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "overlays of validation images written to %s\n", dir)
	return nil
}
