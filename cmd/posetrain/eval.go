package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/pose"
)

func init() {
	commands["eval"] = command{
		summary: "COCO OKS AP/AR of a keypoint results file (pycocotools semantics)",
		run:     runEval,
	}
}

// evalConfig holds the flags of `posetrain eval`.
type evalConfig struct {
	Ann     string // ground-truth COCO keypoints file
	Results string // COCO keypoint results file
	Sigmas  string // comma-separated OKS sigmas overriding the schema's
	JSON    bool   // print one JSON object instead of the ten lines
	Model   string // checkpoint to run on every person box
	Images  string // images folder (with --model)
	Boxes   string // detection results with bbox and score (with --model); empty: ground-truth boxes
	MinBox  float64
	Flip    bool
	Out     string // write the model's results file here (with --model)
	PCKNorm string
	PCKThr  float64
	Batch   int
	Workers int
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg evalConfig
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Ann, "ann", "", "ground-truth COCO keypoints `file` (required)")
	fs.StringVar(&cfg.Results, "results", "", "COCO keypoint results `file`: a list of {image_id, category_id, keypoints, score}")
	fs.StringVar(&cfg.Sigmas, "sigmas", "", "comma-separated OKS `sigmas`, one per joint (default: from the joint names; unknown names get coco.DefaultSigma)")
	fs.BoolVar(&cfg.JSON, "json", false, "print one JSON object with keys AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl")
	fs.StringVar(&cfg.Model, "model", "", "checkpoint `file` to run on every person box (instead of --results)")
	fs.StringVar(&cfg.Images, "images", "", "images `folder` of --ann (with --model)")
	fs.StringVar(&cfg.Boxes, "boxes", "", "person detections `file` in COCO results format with bbox and score (with --model; default: ground-truth boxes)")
	fs.Float64Var(&cfg.MinBox, "box-thr", 0, "minimum detection score of --boxes")
	fs.BoolVar(&cfg.Flip, "flip", false, "flip test (with --model)")
	fs.StringVar(&cfg.Out, "out", "", "write the model's keypoint results `file` (with --model)")
	fs.StringVar(&cfg.PCKNorm, "pck-norm", "bbox", "PCK normaliser: bbox (longer side of the box) | torso | head (PCKh: head_top to neck, or upper_neck)")
	fs.Float64Var(&cfg.PCKThr, "pck-thr", 0.2, "PCK threshold (default 0.5 with --pck-norm head)")
	fs.IntVar(&cfg.Batch, "batch-size", 32, "inference batch size (with --model)")
	fs.IntVar(&cfg.Workers, "workers", 2, "image loading workers (with --model)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: posetrain eval --ann GT.json --results DT.json [--sigmas a,b,...] [--json]")
		fmt.Fprintln(stderr, "       posetrain eval --model CKPT --ann GT.json --images DIR [--flip] [--boxes DET.json] [--out DT.json] [--pck-norm bbox|torso|head] [--pck-thr 0.2]")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, nil); !ok {
		return code
	}
	if cfg.Model != "" {
		if cfg.Ann == "" || cfg.Images == "" || cfg.Results != "" {
			fmt.Fprintln(stderr, "posetrain eval: --model needs --ann and --images, and no --results")
			return 2
		}
		switch cfg.PCKNorm {
		case "bbox", "torso":
		case "head":
			thrSet := false
			fs.Visit(func(f *flag.Flag) { thrSet = thrSet || f.Name == "pck-thr" })
			if !thrSet {
				cfg.PCKThr = 0.5 // PCKh@0.5
			}
		default:
			fmt.Fprintf(stderr, "posetrain eval: --pck-norm %q: want bbox, torso or head\n", cfg.PCKNorm)
			return 2
		}
		if err := evalModel(ctx, cfg, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "posetrain eval: %v\n", err)
			return 1
		}
		return 0
	}
	if cfg.Ann == "" || cfg.Results == "" {
		fmt.Fprintln(stderr, "posetrain eval: --ann and --results are required")
		fs.Usage()
		return 2
	}
	if err := evalResults(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "posetrain eval: %v\n", err)
		return 1
	}
	return 0
}

// evalResults loads the ground truth and the results, evaluates and prints
// the stats on stdout; notes go to stderr.
func evalResults(ctx context.Context, cfg evalConfig, stdout, stderr io.Writer) error {
	gt, err := coco.Load(cfg.Ann)
	if err != nil {
		return err
	}
	sigmas, err := evalSigmas(cfg.Sigmas, gt.Schema, stderr)
	if err != nil {
		return err
	}
	dts, err := coco.LoadResults(cfg.Results, gt)
	if err != nil {
		return err
	}
	other := 0
	for _, r := range dts {
		if r.CategoryID != gt.CategoryID {
			other++
		}
	}
	if other > 0 {
		fmt.Fprintf(stderr, "posetrain eval: warning: %d of %d results have a category_id other than %d and are not evaluated\n", other, len(dts), gt.CategoryID)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "posetrain eval: %d images, %d annotations, %d results, K=%d\n", len(gt.Images), len(gt.Annotations), len(dts), gt.Schema.K())
	s := coco.EvaluateOKS(gt, dts, sigmas)
	if cfg.JSON {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	return s.WriteText(stdout)
}

// evalSigmas parses --sigmas, or takes the schema's sigmas and warns about
// joints whose name has no known sigma.
func evalSigmas(flagValue string, s coco.Schema, stderr io.Writer) ([]float64, error) {
	k := s.K()
	if flagValue == "" {
		var unknown []string
		for j, name := range s.Names {
			if _, ok := coco.SigmaOf(name); !ok && s.Sigmas[j] == coco.DefaultSigma {
				unknown = append(unknown, name)
			}
		}
		if len(unknown) > 0 {
			fmt.Fprintf(stderr, "posetrain eval: warning: no known OKS sigma for %s; using %g (pass --sigmas to set them)\n", strings.Join(unknown, ", "), coco.DefaultSigma)
		}
		if len(s.Sigmas) != k {
			return nil, fmt.Errorf("schema has %d sigmas for %d joints; pass --sigmas", len(s.Sigmas), k)
		}
		return s.Sigmas, nil
	}
	parts := strings.Split(flagValue, ",")
	if len(parts) != k {
		return nil, fmt.Errorf("--sigmas has %d values, the ground truth has %d joints (%s)", len(parts), k, strings.Join(s.Names, ","))
	}
	sig := make([]float64, k)
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(v > 0) || v > 10 {
			return nil, fmt.Errorf("--sigmas value %d (%q) is not a positive number", i+1, p)
		}
		sig[i] = v
	}
	return sig, nil
}

// evalModel runs a checkpoint on every person box of the ground truth (or
// of a detection file), writes the results file if asked, and prints OKS
// AP/AR, PCK and a per-joint PCK table.
func evalModel(ctx context.Context, cfg evalConfig, stdout, stderr io.Writer) error {
	gt, err := coco.Load(cfg.Ann)
	if err != nil {
		return err
	}
	sigmas, err := evalSigmas(cfg.Sigmas, gt.Schema, stderr)
	if err != nil {
		return err
	}
	net, ck, err := pose.LoadNet(cfg.Model, cfg.Batch)
	if err != nil {
		return err
	}
	defer net.Close()
	if ck.Meta.Joints != gt.Schema.K() {
		return fmt.Errorf("%s predicts %d joints, %s has %d", cfg.Model, ck.Meta.Joints, cfg.Ann, gt.Schema.K())
	}
	if cfg.PCKNorm == "head" {
		if _, _, err := coco.HeadJoints(gt.Schema); err != nil {
			return fmt.Errorf("--pck-norm head: %s: %w", cfg.Ann, err)
		}
	}
	dcfg := ck.DataConfig()
	ev := pose.NewEvaluator(gt, cfg.Images, net, ck.Meta.Codec, dcfg, cfg.Batch, cfg.Workers, cfg.Flip)
	ev.PCKNorm, ev.PCKThr, ev.Sigmas = cfg.PCKNorm, cfg.PCKThr, sigmas
	if cfg.Boxes != "" {
		dets, err := coco.LoadResults(cfg.Boxes, gt)
		if err != nil {
			return err
		}
		if err := ev.UseDetections(dets, cfg.Images, cfg.MinBox); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "posetrain eval: running %s on %d person boxes\n", cfg.Model, len(ev.Items))
	m, err := ev.Run(ctx)
	if err != nil {
		return err
	}
	if cfg.Out != "" {
		var buf bytes.Buffer
		if err := coco.WriteResults(&buf, ev.Results); err != nil {
			return err
		}
		if err := pose.WriteFileAtomic(cfg.Out, buf.Bytes()); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "posetrain eval: wrote %d results to %s\n", len(ev.Results), cfg.Out)
	}
	if cfg.JSON {
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	if err := m.OKS.WriteText(stdout); err != nil {
		return err
	}
	if m.PCK < 0 {
		fmt.Fprintln(stdout, "PCK: not defined with detection boxes")
		return nil
	}
	fmt.Fprintf(stdout, "\nPCK@%g (%s) = %.4f   PCK@0.1 = %.4f   persons = %d\n", m.PCKThr, m.PCKNorm, m.PCK, m.PCK01, m.Persons)
	fmt.Fprintf(stdout, "%-16s %s\n", "joint", "PCK")
	for k, v := range m.PerJoint {
		if v < 0 {
			fmt.Fprintf(stdout, "%-16s %s\n", gt.Schema.Names[k], "  -")
			continue
		}
		fmt.Fprintf(stdout, "%-16s %.4f\n", gt.Schema.Names[k], v)
	}
	return nil
}
