package checkpoint_test

import (
	"bytes"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/heatmap"
	"github.com/bsampose/bsampose/internal/shareddata"
	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/pose/ckpt"
	"github.com/bsampose/bsampose/pose/data"
	"github.com/bsampose/bsampose/pose/geom"
	"github.com/bsampose/bsampose/pose/infer"
	"github.com/bsampose/bsampose/pose/infer/checkpoint"
)

// lspMeta is the LSP schema (lspet README) for a preset and input size.
func lspMeta(preset string, h, w int) pose.Meta {
	return pose.Meta{
		Preset: preset, InputH: h, InputW: w, Joints: 14,
		Schema: pose.SchemaMeta{
			Names: []string{"right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
				"right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "neck", "head_top"},
			Skeleton:  [][2]int{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}, {6, 7}, {7, 8}, {9, 10}, {10, 11}, {8, 12}, {9, 12}, {12, 13}, {8, 2}, {9, 3}},
			FlipPairs: [][2]int{{0, 5}, {1, 4}, {2, 3}, {6, 11}, {7, 10}, {8, 9}},
		},
		Codec: heatmap.NewMSRA(w, h),
		Mean:  data.ImageNetMean,
		Std:   data.ImageNetStd,
	}
}

// randomise gives the net non-trivial batch-norm statistics and affine
// parameters, and a final layer large enough that outputs are O(1).
func randomise(net *pose.Net, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 7))
	u := func(lo, hi float64) float32 { return float32(lo + (hi-lo)*r.Float64()) }
	bn := map[string]bool{}
	for _, b := range net.Buffers() {
		pre := strings.TrimSuffix(strings.TrimSuffix(b.Name, ".running_mean"), ".running_var")
		bn[pre] = true
		for i := range b.Value {
			if strings.HasSuffix(b.Name, "running_var") {
				b.Value[i] = u(0.3, 2)
			} else {
				b.Value[i] = u(-0.3, 0.3)
			}
		}
	}
	for _, p := range net.Params() {
		pre, field := p.Name[:strings.LastIndex(p.Name, ".")], p.Name[strings.LastIndex(p.Name, ".")+1:]
		switch {
		case bn[pre] && field == "weight":
			for i := range p.Value {
				p.Value[i] = u(0.5, 1.5)
			}
		case bn[pre] && field == "bias":
			for i := range p.Value {
				p.Value[i] = u(-0.2, 0.2)
			}
		case p.Name == "head.final.weight":
			for i := range p.Value {
				p.Value[i] = float32(0.05 * r.NormFloat64())
			}
		case p.Name == "head.final.bias":
			for i := range p.Value {
				p.Value[i] = u(-0.1, 0.1)
			}
		}
	}
}

// The folded network serves wherever the gorgonia one does.
var _ pose.Forwarder = (*infer.Model)(nil)

func tensorMap(net *pose.Net) map[string]*ckpt.Tensor {
	m := map[string]*ckpt.Tensor{}
	for _, t := range append(append([]*pose.Tensor{}, net.Params()...), net.Buffers()...) {
		m[t.Name] = &ckpt.Tensor{Name: t.Name, Shape: t.Shape, Value: t.Value}
	}
	return m
}

// realInputs warps n LSPET images (whole image as the box) into a batch.
func sharedDir(t *testing.T, sub string) string { return shareddata.Dir(t, sub) }

func realInputs(t *testing.T, n, h, w int) ([]float32, []*lspImage) {
	dir := shareddata.Dir(t, "lspet")
	x := make([]float32, n*3*h*w)
	cfg := data.Config{InputW: w, InputH: h, Mean: data.ImageNetMean, Std: data.ImageNetStd}
	var imgs []*lspImage
	for i := range n {
		path := filepath.Join(dir, "images", fmt.Sprintf("im%05d.jpg", []int{1, 21, 5, 8}[i]))
		img, err := data.DecodeImage(path)
		if err != nil {
			t.Fatal(err)
		}
		b := img.Bounds()
		box := coco.Box{W: float64(b.Dx()), H: float64(b.Dy())}
		aff := cfg.Transform(data.Item{Box: box}, data.Params{})
		data.Warp(x[i*3*h*w:(i+1)*3*h*w], img, aff, w, h, cfg.Mean, cfg.Std)
		imgs = append(imgs, &lspImage{img: img, box: box})
	}
	return x, imgs
}

type lspImage struct {
	img image.Image
	box coco.Box
}

func maxAbsDiff(a, b []float32) (d, mag float64) {
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
		mag = max(mag, math.Abs(float64(b[i])))
	}
	return d, mag
}

// TestForwardMatchesPose: the folded network equals pose.Net.Forward in
// eval mode within 1e-4 on real images, for every preset and for both
// the kern (AVX2) kernel and the scalar panel kernel of the browser.
func TestForwardMatchesPose(t *testing.T) {
	tests := []struct {
		preset string
		h, w   int
		n      int
	}{
		{pose.PresetPoseNetS, 128, 96, 3},
		{pose.PresetResNet18, 64, 64, 2},
		{pose.PresetResNet50, 64, 32, 1},
	}
	for _, tt := range tests {
		t.Run(tt.preset, func(t *testing.T) {
			if testing.Short() && tt.preset == pose.PresetResNet50 {
				t.Skip("short")
			}
			x, _ := realInputs(t, tt.n, tt.h, tt.w)
			meta := lspMeta(tt.preset, tt.h, tt.w)
			net, err := pose.New(pose.Config{Preset: tt.preset, InputH: tt.h, InputW: tt.w, Joints: 14}, tt.n, 3)
			if err != nil {
				t.Fatal(err)
			}
			defer net.Close()
			randomise(net, 11)
			want, err := net.Forward(x, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			want = append([]float32(nil), want...)
			md, err := checkpoint.FromTensors(checkpoint.Meta(meta), tensorMap(net))
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []infer.Kernel{infer.GoKernel{}, infer.PanelKernel{}} {
				md.SetKernel(k)
				got, err := md.Forward(x, tt.n)
				if err != nil {
					t.Fatal(err)
				}
				d, mag := maxAbsDiff(got, want)
				t.Logf("%s kernel: max |infer - pose| = %.3g (max |pose| = %.3g)", k.Name(), d, mag)
				// Deep random nets (resnet50) reach outputs of O(100):
				// there the bound is relative to the output range.
				if tol := 1e-4 * max(1, mag); d > tol {
					t.Errorf("%s kernel: max abs difference %g > %g", k.Name(), d, tol)
				}
				if mag < 0.05 {
					t.Errorf("outputs too small (max %g) for a meaningful comparison", mag)
				}
			}
		})
	}
}

// TestPredictMatchesPose: infer's PredictImage (used by the browser) gives
// the keypoints of pose.Predictor.PredictImage (used by posetrain predict)
// on real images, with and without the flip test.
func TestPredictMatchesPose(t *testing.T) {
	const h, w = 128, 96
	_, imgs := realInputs(t, 3, h, w)
	meta := lspMeta(pose.PresetPoseNetS, h, w)
	net, err := pose.New(pose.Config{Preset: meta.Preset, InputH: h, InputW: w, Joints: 14}, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	randomise(net, 12)
	md, err := checkpoint.FromTensors(checkpoint.Meta(meta), tensorMap(net))
	if err != nil {
		t.Fatal(err)
	}
	ck := &pose.Checkpoint{Meta: meta}
	for _, flip := range []bool{false, true} {
		pred := ck.Predictor(net, flip)
		for i, im := range imgs {
			// a box inside the image, as a user would draw it
			box := coco.Box{X: im.box.W * 0.1, Y: im.box.H * 0.05, W: im.box.W * 0.7, H: im.box.H * 0.9}
			want, err := pred.PredictImage(im.img, []coco.Box{box}, ck.DataConfig())
			if err != nil {
				t.Fatal(err)
			}
			got, err := md.PredictImage(im.img, geom.Box(box), flip)
			if err != nil {
				t.Fatal(err)
			}
			for k, kp := range got {
				wk := want[0].Keypoints[k]
				if d := math.Hypot(kp.X-wk.X, kp.Y-wk.Y); d > 1e-3 || math.Abs(kp.Score-want[0].Scores[k]) > 1e-4 {
					t.Errorf("flip=%v image %d joint %s: infer (%.3f, %.3f, %.4f), pose (%.3f, %.3f, %.4f)",
						flip, i, kp.Name, kp.X, kp.Y, kp.Score, wk.X, wk.Y, want[0].Scores[k])
				}
				if kp.Name != meta.Schema.Names[k] {
					t.Errorf("joint %d named %q", k, kp.Name)
				}
			}
		}
	}
}

// TestModelFileRoundTrip: a checkpoint exported to a model file and
// decoded predicts the same heatmaps (f32 exactly, int8 closely).
func TestModelFileRoundTrip(t *testing.T) {
	const h, w = 128, 96
	x, _ := realInputs(t, 1, h, w)
	meta := lspMeta(pose.PresetPoseNetS, h, w)
	net, err := pose.New(pose.Config{Preset: meta.Preset, InputH: h, InputW: w, Joints: 14}, 1, 9)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	randomise(net, 13)
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := pose.SaveCheckpoint(path, meta, append(net.Params(), net.Buffers()...)); err != nil {
		t.Fatal(err)
	}
	md, ck, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Meta.Preset != meta.Preset {
		t.Fatalf("preset %q", ck.Meta.Preset)
	}
	want, _ := md.Forward(x, 1)
	want = append([]float32(nil), want...)
	for _, tt := range []struct {
		name string
		opt  infer.EncodeOptions
		tol  float64
	}{{"f32", infer.EncodeOptions{}, 0}, {"int8", infer.EncodeOptions{Int8: true}, 0.05}} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := infer.EncodeWith(&buf, md, tt.opt); err != nil {
				t.Fatal(err)
			}
			md2, err := infer.Decode(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			got, err := md2.Forward(x, 1)
			if err != nil {
				t.Fatal(err)
			}
			d, mag := maxAbsDiff(got, want)
			t.Logf("%s: %d bytes, max diff %.3g of max %.3g", tt.name, buf.Len(), d, mag)
			if d > tt.tol*mag {
				t.Errorf("max diff %g > %g", d, tt.tol*mag)
			}
			if md2.Meta.Names[13] != "head_top" || len(md2.Meta.FlipPairs) != 6 {
				t.Errorf("schema lost: %+v", md2.Meta)
			}
		})
	}
}
