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
	"reflect"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/bsampose/bsampose/dist"
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

// trainFlagSet returns the flags of a training run bound to *cfg, the
// --cpuprofile path they fill and the opener of the --dist engine. Its
// usage (-h, --help, posetrain help) lists the commands first, then these
// flags.
func trainFlagSet(cfg *train.Config, stderr io.Writer) (fs *flag.FlagSet, cpuprofile *string, openDist func() (dist.Comm, error)) {
	fs = flag.NewFlagSet("posetrain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	trainFlags(fs, cfg)
	openDist = distFlags(fs, cfg) // --dist, --sharpness-sync, --sharpness-group: distflags.go
	fs.StringVar(&cfg.Optim, "optim", cfg.Optim, "sgd | adam | adamw | sam | bsam")
	fs.BoolVar(&cfg.FromCenter, "bsam-from-center", false, "BSAM: apply the update at w instead of the official w_min")
	fs.StringVar(&cfg.Out, "out", cfg.Out, "output folder: checkpoints, metrics.jsonl, epochs.jsonl, summary.json")
	fs.Var(resumeFlag{cfg}, "resume", "continue the run in --out from last.safetensors; --resume=PATH: from that checkpoint or run folder (--out defaults to its folder). Only --epochs may differ from the run's flags")
	fs.BoolVar(&cfg.ValFlip, "val-flip", false, "flip test during validation")
	cpuprofile = fs.String("cpuprofile", "", "write a CPU profile to this file")
	fs.Usage = func() {
		w := fs.Output()
		usage(w)
		fmt.Fprintln(w, "\ntraining flags (posetrain [flags], posetrain train [flags]):")
		fs.PrintDefaults()
	}
	return fs, cpuprofile, openDist
}

// resumeFlag is --resume (a boolean) or --resume=PATH, which also sets
// cfg.ResumeFrom.
type resumeFlag struct{ cfg *train.Config }

func (f resumeFlag) IsBoolFlag() bool { return true }

func (f resumeFlag) String() string {
	switch {
	case f.cfg == nil:
		return "false"
	case f.cfg.ResumeFrom != "":
		return f.cfg.ResumeFrom
	}
	return strconv.FormatBool(f.cfg.Resume)
}

func (f resumeFlag) Set(s string) error {
	if b, err := strconv.ParseBool(s); err == nil {
		f.cfg.Resume, f.cfg.ResumeFrom = b, ""
		return nil
	}
	f.cfg.Resume, f.cfg.ResumeFrom = true, s
	return nil
}

// resumeHint explains a path given after --resume with a space.
func resumeHint(prev, stray string) string {
	if strings.TrimLeft(prev, "-") == "resume" {
		return fmt.Sprintf("--resume takes no separate value; to resume from that checkpoint write --resume=%s", stray)
	}
	return ""
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	cfg := train.Defaults()
	fs, cpuprofile, openDist := trainFlagSet(&cfg, stderr)
	if code, ok := parseFlags(fs, args, resumeHint); !ok {
		return code
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfg.ResumeFrom != "" && !set["out"] {
		cfg.Out = cfg.ResumeFrom
		if st, err := os.Stat(cfg.Out); err != nil || !st.IsDir() {
			cfg.Out = filepath.Dir(cfg.Out)
		}
		set["out"] = true
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
		if err := inRankOrder(comm, func() error { return useSynthDefault(ctx, &cfg, set, stderr) }); err != nil {
			fmt.Fprintf(stderr, "posetrain: %v\n", err)
			return 1
		}
	}
	sum, err := train.Run(ctx, cfg, stderr)
	var mismatch *train.MismatchError
	switch {
	case errors.Is(err, train.ErrInterrupted):
		fmt.Fprintln(stderr, err)
		return 130
	case errors.Is(err, train.ErrComplete):
		fmt.Fprintf(stderr, "posetrain: the run in %s is complete (%d of %d epochs, %d steps); nothing to do, nothing changed (a larger --epochs extends it)\n",
			cfg.Out, sum.Epochs, cfg.Epochs, sum.Steps)
		return printSummary(stdout, stderr, sum)
	case errors.As(err, &mismatch):
		fmt.Fprintf(stderr, "posetrain: --resume: %s was trained with other settings (only --epochs may change):\n", mismatch.Path)
		for _, l := range mismatchLines(fs, &cfg, mismatch) {
			fmt.Fprintf(stderr, "  %s\n", l)
		}
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "posetrain: %v\n", err)
		return 1
	}
	if demo && comm.Rank() == 0 {
		if err := demoOverlays(ctx, sum, cfg, stderr); err != nil {
			fmt.Fprintf(stderr, "posetrain: overlays: %v\n", err)
			return 1
		}
	}
	return printSummary(stdout, stderr, sum)
}

// printSummary writes the run summary as indented JSON on stdout.
func printSummary(stdout, stderr io.Writer, sum *train.Summary) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sum); err != nil {
		fmt.Fprintf(stderr, "posetrain: %v\n", err)
		return 1
	}
	return 0
}

// configFlags maps the Go names of cfg's fields to the flags of fs that
// set them. It derives the map from the flags themselves, by address: a
// flag registered with fs.XxxVar(&cfg.F, ...) or fs.Var(v, ...) with v a
// pointer to cfg.F points at cfg.F, and a flag that sets several fields
// (--input) lists them in a targets method.
func configFlags(fs *flag.FlagSet, cfg *train.Config) map[string]*flag.Flag {
	rv := reflect.ValueOf(cfg).Elem()
	field := map[uintptr]string{}
	for i := range rv.NumField() {
		field[rv.Field(i).Addr().Pointer()] = rv.Type().Field(i).Name
	}
	out := map[string]*flag.Flag{}
	fs.VisitAll(func(f *flag.Flag) {
		ptrs := []any{f.Value}
		if t, ok := f.Value.(interface{ targets() []any }); ok {
			ptrs = t.targets()
		}
		for _, p := range ptrs {
			if v := reflect.ValueOf(p); v.Kind() == reflect.Pointer {
				if name, ok := field[v.Pointer()]; ok {
					out[name] = f
				}
			}
		}
	})
	return out
}

// mismatchLines returns one line per flag whose value differs between the
// checkpoint and this run, "--lr: checkpoint 0.001, now 0.002", with the
// values as the flag shows them (fs's flags are bound to *cfg, which is
// restored on return). A differing setting without a flag is named by its
// field.
func mismatchLines(fs *flag.FlagSet, cfg *train.Config, e *train.MismatchError) []string {
	flags := configFlags(fs, cfg)
	keep := *cfg
	defer func() { *cfg = keep }()
	show := func(c train.Config, f *flag.Flag) string {
		*cfg = c
		if s := f.Value.String(); s != "" {
			return s
		}
		return `""`
	}
	var lines []string
	done := map[*flag.Flag]bool{}
	for _, name := range e.Fields {
		f, ok := flags[name]
		if !ok {
			a := reflect.ValueOf(e.Saved).FieldByName(name).Interface()
			b := reflect.ValueOf(e.Now).FieldByName(name).Interface()
			lines = append(lines, fmt.Sprintf("%s: checkpoint %v, now %v", name, a, b))
			continue
		}
		if done[f] {
			continue
		}
		done[f] = true
		lines = append(lines, fmt.Sprintf("--%s: checkpoint %s, now %s", f.Name, show(e.Saved, f), show(e.Now, f)))
	}
	return lines
}

// useSynthDefault points cfg at the embedded synthetic dataset (generated
// once into the user's cache folder) and picks a few-minute schedule unless
// the user set one; set holds the names of the flags given.
func useSynthDefault(ctx context.Context, cfg *train.Config, set map[string]bool, stderr io.Writer) error {
	if cfg.Images != "" || cfg.ValAnn != "" {
		return fmt.Errorf("--images/--val-ann given without --ann")
	}
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
