package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/bsampose/bsampose/synth"
)

func init() {
	commands["synth"] = command{
		summary: "write the synthetic default dataset (COCO keypoints, JPEG)",
		run:     runSynth,
	}
}

// synthSet is one generated set in the summary line.
type synthSet struct {
	Ann      string `json:"ann"`
	ImageDir string `json:"image_dir"`
	synth.Stats
}

// synthSummary is the one JSON line printed on stdout.
type synthSummary struct {
	Out       string    `json:"out"`
	Seed      int64     `json:"seed"`
	Generated bool      `json:"generated"` // false when a complete set was reused
	Seconds   float64   `json:"seconds"`
	Train     synthSet  `json:"train"`
	Val       *synthSet `json:"val,omitempty"`
}

func runSynth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "output folder (default: the user cache folder, bsampose/synth-v<version>-s<seed>-<n>-<val>)")
	n := fs.Int("n", 2000, "number of (training) images")
	val := fs.Int("val", 0, "number of held-back validation images; when > 0 the sets go to OUT/train and OUT/val")
	seed := fs.Int64("seed", 1, "random seed; the same seed gives byte-identical files")
	minSize := fs.Int("min-size", 192, "smallest image width and height in pixels")
	maxSize := fs.Int("max-size", 288, "largest image width and height in pixels")
	maxPeople := fs.Int("max-people", 3, "at most this many people per image (1..3)")
	quality := fs.Int("quality", 90, "JPEG quality (1..100)")
	workers := fs.Int("workers", 0, "parallel renderers (default: GOMAXPROCS)")
	force := fs.Bool("force", false, "regenerate even when OUT already holds a complete set")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: posetrain synth [-out DIR] [-n N] [-val N] [-seed S] [flags]")
		fmt.Fprintln(stderr, "Writes procedurally drawn people as COCO keypoints: DIR/images/*.jpg and DIR/person_keypoints.json.")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, nil); !ok {
		return code
	}
	if *out == "" {
		*out = synth.DefaultDir(*n, *val, *seed)
	}

	start := time.Now()
	last := start
	generated := false
	opts := synth.Options{
		MinSize: *minSize, MaxSize: *maxSize, MaxPeople: *maxPeople,
		Quality: *quality, Workers: *workers,
		Progress: func(done, total int) {
			generated = true
			if now := time.Now(); now.Sub(last) >= time.Second || done == total {
				last = now
				el := now.Sub(start).Seconds()
				fmt.Fprintf(stderr, "synth: %d/%d images, %.1f images/s\n", done, total, float64(done)/max(el, 1e-9))
			}
		},
	}

	sum := synthSummary{Out: *out, Seed: *seed}
	var train, valSplit synth.Split
	var err error
	switch {
	case *val > 0 && *force:
		train, valSplit, err = synth.GenerateSplits(ctx, *out, *n, *val, *seed, opts)
	case *val > 0:
		train, valSplit, err = synth.EnsureSplits(ctx, *out, *n, *val, *seed, opts)
	case *force:
		err = synth.Generate(ctx, *out, *n, *seed, opts)
		train = synth.Split{Ann: filepath.Join(*out, synth.AnnFile), Images: filepath.Join(*out, synth.ImagesDir)}
	default:
		train, err = synth.Ensure(ctx, *out, *n, *seed, opts)
	}
	if err != nil {
		fmt.Fprintf(stderr, "posetrain synth: %v\n", err)
		return 1
	}
	if !generated {
		fmt.Fprintf(stderr, "synth: %s is complete, reusing it (-force regenerates)\n", *out)
	}
	sum.Generated = generated
	sets := []struct {
		sp  synth.Split
		dst *synthSet
	}{{train, &sum.Train}}
	if *val > 0 {
		sum.Val = &synthSet{}
		sets = append(sets, struct {
			sp  synth.Split
			dst *synthSet
		}{valSplit, sum.Val})
	}
	for _, s := range sets {
		st, err := synth.Summarize(s.sp.Ann)
		if err != nil {
			fmt.Fprintf(stderr, "posetrain synth: %v\n", err)
			return 1
		}
		*s.dst = synthSet{Ann: s.sp.Ann, ImageDir: s.sp.Images, Stats: st}
	}
	sum.Seconds = time.Since(start).Seconds()
	b, err := json.Marshal(sum)
	if err != nil {
		fmt.Fprintf(stderr, "posetrain synth: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, string(b))
	return 0
}
