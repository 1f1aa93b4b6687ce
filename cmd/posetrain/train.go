package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/bsampose/bsampose/synth"
	"github.com/bsampose/bsampose/train"
)

func init() {
	commands["train"] = command{"train a network (the default action; without --ann: the embedded synthetic dataset)", runTrain}
}

// Sizes of the embedded default dataset.
const (
	defaultSynthTrain = 2000
	defaultSynthVal   = 200
	defaultSynthSeed  = 1
)

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := train.Defaults()
	fs := flag.NewFlagSet("posetrain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Ann, "ann", "", "training annotations (COCO keypoints JSON); empty: the embedded synthetic dataset")
	fs.StringVar(&cfg.Images, "images", "", "folder the training file_names are relative to")
	fs.StringVar(&cfg.ValAnn, "val-ann", "", "validation annotations")
	fs.StringVar(&cfg.ValImages, "val-images", "", "validation images folder")
	fs.StringVar(&cfg.Preset, "preset", cfg.Preset, "network: posenet-s | resnet18 | resnet50")
	input := fs.String("input", "", "network input HxW, e.g. 128x96 (default: the preset's)")
	fs.Float64Var(&cfg.Sigma, "sigma", 0, "heatmap Gaussian sigma in heatmap pixels (0: 2*H/64)")
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "epochs")
	fs.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "batch size")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "peak learning rate")
	fs.StringVar(&cfg.LRSchedule, "lr-schedule", cfg.LRSchedule, "cosine (to 0) | step")
	steps := fs.String("lr-steps", "", "epochs at which the step schedule multiplies the LR by --lr-gamma, e.g. 90,120")
	fs.Float64Var(&cfg.LRGamma, "lr-gamma", cfg.LRGamma, "step schedule factor")
	fs.IntVar(&cfg.WarmupIters, "warmup", cfg.WarmupIters, "linear warm-up iterations")
	fs.Float64Var(&cfg.WarmupRatio, "warmup-ratio", cfg.WarmupRatio, "LR at iteration 0 as a fraction of --lr")
	fs.StringVar(&cfg.Optim, "optim", cfg.Optim, "sgd | adam | adamw | sam | bsam")
	fs.StringVar(&cfg.Base, "base", cfg.Base, "base optimizer of sam/bsam: sgd | adam | adamw")
	fs.Float64Var(&cfg.Momentum, "momentum", cfg.Momentum, "SGD momentum")
	fs.Float64Var(&cfg.WeightDecay, "weight-decay", cfg.WeightDecay, "weight decay")
	fs.Float64Var(&cfg.RhoMax, "rho-max", cfg.RhoMax, "SAM/BSAM ascent radius")
	fs.Float64Var(&cfg.RhoMin, "rho-min", cfg.RhoMin, "BSAM descent radius at the peak LR (moves in proportion to the LR)")
	fs.BoolVar(&cfg.FromCenter, "bsam-from-center", false, "BSAM: apply the update at w instead of the official w_min")
	fs.Float64Var(&cfg.ScaleFactor, "scale-factor", cfg.ScaleFactor, "augmentation: scale in [1-s, 1+s]")
	fs.Float64Var(&cfg.RotFactor, "rot-factor", cfg.RotFactor, "augmentation: rotation range in degrees")
	fs.Float64Var(&cfg.RotProb, "rot-prob", cfg.RotProb, "augmentation: rotation probability")
	fs.Float64Var(&cfg.FlipProb, "flip-prob", cfg.FlipProb, "augmentation: horizontal flip probability")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "data loading workers")
	fs.Int64Var(&cfg.CacheMB, "cache-mb", cfg.CacheMB, "decoded-image cache size in MiB")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (data order, augmentation, init)")
	fs.StringVar(&cfg.Out, "out", cfg.Out, "output folder: checkpoints, metrics.jsonl, summary.json")
	fs.BoolVar(&cfg.Resume, "resume", false, "continue the run in --out from last.safetensors")
	fs.BoolVar(&cfg.ValFlip, "val-flip", false, "flip test during validation")
	fs.IntVar(&cfg.MaxSteps, "max-steps", 0, "stop after this many optimizer steps (0: no limit)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *input != "" {
		h, w, err := parseHW(*input)
		if err != nil {
			fmt.Fprintf(stderr, "posetrain: --input: %v\n", err)
			return 2
		}
		cfg.InputH, cfg.InputW = h, w
	}
	if *steps != "" {
		var err error
		if cfg.LRSteps, err = parseEpochs(*steps); err != nil {
			fmt.Fprintf(stderr, "posetrain: --lr-steps: %v\n", err)
			return 2
		}
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "posetrain: %v\n", err)
			return 1
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	demo := cfg.Ann == ""
	if demo {
		if err := useSynthDefault(ctx, &cfg, fs, stderr); err != nil {
			fmt.Fprintf(stderr, "posetrain: %v\n", err)
			return 1
		}
	}
	sum, err := train.Run(ctx, cfg, stderr)
	if errors.Is(err, train.ErrInterrupted) {
		fmt.Fprintln(stderr, err)
		return 130
	}
	if err != nil {
		fmt.Fprintf(stderr, "posetrain: %v\n", err)
		return 1
	}
	if demo {
		if err := demoOverlays(ctx, sum, cfg, stderr); err != nil {
			fmt.Fprintf(stderr, "posetrain: overlays: %v\n", err)
			return 1
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.Encode(sum)
	return 0
}

// useSynthDefault points cfg at the embedded synthetic dataset (generated
// once into the user's cache folder) and picks a few-minute schedule unless
// the user set one.
func useSynthDefault(ctx context.Context, cfg *train.Config, fs *flag.FlagSet, stderr io.Writer) error {
	if cfg.Images != "" || cfg.ValAnn != "" {
		return fmt.Errorf("--images/--val-ann given without --ann")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	dir := synth.DefaultDir(defaultSynthTrain, defaultSynthVal, defaultSynthSeed)
	fmt.Fprintf(stderr, "no --ann: using the embedded synthetic dataset in %s (generated on first use)\n", dir)
	opts := synth.Options{Progress: func(done, total int) {
		if done%200 == 0 || done == total {
			fmt.Fprintf(stderr, "synth: %d/%d images\n", done, total)
		}
	}}
	tr, va, err := synth.EnsureSplits(ctx, dir, defaultSynthTrain, defaultSynthVal, defaultSynthSeed, opts)
	if err != nil {
		return err
	}
	cfg.Ann, cfg.Images, cfg.ValAnn, cfg.ValImages = tr.Ann, tr.Images, va.Ann, va.Images
	if !set["epochs"] {
		cfg.Epochs = 6
	}
	if !set["out"] {
		cfg.Out = filepath.Join("runs", "synth-default")
	}
	return nil
}

func parseHW(s string) (h, w int, err error) {
	a, b, ok := strings.Cut(strings.ToLower(s), "x")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want HxW, e.g. 128x96", s)
	}
	if h, err = strconv.Atoi(a); err == nil {
		w, err = strconv.Atoi(b)
	}
	if err != nil || h <= 0 || w <= 0 {
		return 0, 0, fmt.Errorf("%q: want HxW with positive integers, e.g. 128x96", s)
	}
	return h, w, nil
}

// parseEpochs parses a comma-separated list of epochs such as "90,120".
func parseEpochs(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		e, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || e < 0 {
			return nil, fmt.Errorf("%q: want comma-separated epochs, e.g. 90,120", s)
		}
		out = append(out, e)
	}
	return out, nil
}
