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

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	cfg := train.Defaults()
	fs := flag.NewFlagSet("posetrain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	finish := trainFlags(fs, &cfg)
	openDist := distFlags(fs, &cfg) // --dist, --sharpness-sync, --sharpness-group: distflags.go
	fs.StringVar(&cfg.Optim, "optim", cfg.Optim, "sgd | adam | adamw | sam | bsam")
	fs.BoolVar(&cfg.FromCenter, "bsam-from-center", false, "BSAM: apply the update at w instead of the official w_min")
	fs.StringVar(&cfg.Out, "out", cfg.Out, "output folder: checkpoints, metrics.jsonl, summary.json")
	fs.BoolVar(&cfg.Resume, "resume", false, "continue the run in --out from last.safetensors")
	fs.BoolVar(&cfg.ValFlip, "val-flip", false, "flip test during validation")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := finish(); err != nil {
		fmt.Fprintf(stderr, "posetrain: %v\n", err)
		return 2
	}
	comm, err := openDist()
	if err != nil {
		fmt.Fprintf(stderr, "posetrain: %v\n", err)
		return 2
	}
	defer func() { code = endDist(comm, code, stderr) }()
	if comm.Rank() != 0 {
		stdout = io.Discard // rank 0 prints the summary
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
		if err := inRankOrder(comm, func() error { return useSynthDefault(ctx, &cfg, fs, stderr) }); err != nil {
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
	if demo && comm.Rank() == 0 {
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
