package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/bsampose/bsampose/compare"
	"github.com/bsampose/bsampose/train"
)

func init() {
	commands["compare"] = command{"train one run per optimizer and seed, then tabulate and plot accuracy and flatness", runCompare}
}

// protocolOf returns the --preset-protocol value given in args (before
// parsing, so that the protocol supplies the flags' defaults).
func protocolOf(args []string) string {
	for i, a := range args {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "preset-protocol" || !strings.HasPrefix(a, "-") {
			continue
		}
		if hasVal {
			return val
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	return "cpu"
}

// armForbidden are the training flags an arm may not set: the data (the
// comparison's) and the seed (set per run).
var armForbidden = map[string]bool{"ann": true, "images": true, "val-ann": true, "val-images": true, "seed": true}

// compareArms parses an --optims list (compare.ParseArms) into arms whose
// settings are shared with the bracket items applied as training flags.
func compareArms(list string, shared train.Config) ([]compare.Arm, error) {
	specs, err := compare.ParseArms(list)
	if err != nil {
		return nil, err
	}
	var arms []compare.Arm
	for _, sp := range specs {
		cfg, err := compare.OptimConfig(shared, sp.Optim)
		if err != nil {
			return nil, fmt.Errorf("arm %q: %w", sp.Text, err)
		}
		fs := flag.NewFlagSet("arm "+sp.Text, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		maxSteps := cfg.MaxSteps // trainFlags registers --max-steps with default 0
		trainFlags(fs, &cfg)
		cfg.MaxSteps = maxSteps
		fs.BoolVar(&cfg.FromCenter, "bsam-from-center", cfg.FromCenter, "")
		var args []string
		for _, it := range sp.Items {
			key, _, _ := strings.Cut(it, "=")
			if armForbidden[key] {
				return nil, fmt.Errorf("arm %q: %s is the comparison's, not an arm's", sp.Text, key)
			}
			args = append(args, "-"+it)
		}
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("arm %q: %v", sp.Text, err)
		}
		if fs.NArg() > 0 {
			return nil, fmt.Errorf("arm %q: unexpected %q", sp.Text, fs.Args())
		}
		arms = append(arms, compare.Arm{Name: sp.Name, Text: sp.Text, Train: cfg, Baseline: sp.Baseline})
	}
	return arms, nil
}

func runCompare(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cc compare.Config
	proto := protocolOf(args)
	switch proto {
	case "cpu":
		cc.Train = train.Defaults()
	case "paper":
		cc.Train = compare.Paper()
	default:
		fmt.Fprintf(stderr, "posetrain compare: --preset-protocol %q: want cpu or paper\n", proto)
		return 2
	}
	cfg := &cc.Train
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.String("preset-protocol", "cpu", "cpu: the training issue's recipe (posenet-s 128x96, Adam 1e-3 cosine, 16 epochs); paper: SimpleBaseline ResNet-50 256x192, Adam 1e-3, 140 epochs, LR /10 at 90 and 120. Other flags override it")
	trainFlags(fs, cfg)
	optims := fs.String("optims", "adam,sam,bsam", "comma-separated arms: sgd, adam, adamw, sam, bsam, bsam-center (bsam with --bsam-from-center), asam, absam (adaptive), each with optional per-arm training flags in brackets, e.g. 'sgd[lr=0.1],bsam[base=adam,lr=1e-3,rho-max=5e-4],absam[rho-max=0.5,baseline=sgd]'; name=N names an arm, baseline=ARM pairs it")
	fs.IntVar(&cc.Dev, "dev", 0, "split --ann by image into train and N dev images (every k-th image by id, k = images/N); runs validate on dev, and --val-ann becomes the final report set (0: no split)")
	fs.Var(&cc.TrainSubset, "train-subset", "with --dev: train on K/N of the train part (images sorted by id, positions j%N < K; probe j%N == 0), e.g. 2/7 for docs/paper-lspet's regime B")
	fs.StringVar(&cc.FinalCheckpoint, "final-ckpt", "last", "checkpoint evaluated on the final set: last | best (best on the validation set)")
	fs.StringVar(&cc.Baseline, "baseline", "", "arm every other arm is paired against in the report (per arm: baseline=ARM in its brackets)")
	fs.IntVar(&cc.Seeds, "seeds", 3, "runs per optimizer (seeds --seed, --seed+1, ...)")
	fs.StringVar(&cc.Out, "out", "runs/compare", "output folder: runs/, results.md, results.json, plots")
	fs.IntVar(&cc.SharpBatches, "sharp-batches", 4, "fixed training batches for the flatness measures (-1: skip them)")
	sharpFlags(fs, &cc.Sharp)
	if code, ok := parseFlags(fs, args, nil); !ok {
		return code
	}
	if cfg.Ann == "" || cfg.Images == "" || cfg.ValAnn == "" || cfg.ValImages == "" {
		fmt.Fprintln(stderr, "posetrain compare: --ann, --images, --val-ann and --val-images are required")
		return 2
	}
	arms, err := compareArms(*optims, *cfg)
	if err != nil {
		fmt.Fprintf(stderr, "posetrain compare: %v\n", err)
		return 2
	}
	cc.Arms = arms
	cc.Sharp.Seed = uint64(cfg.Seed)
	res, err := compare.Execute(ctx, cc, stderr)
	if errors.Is(err, train.ErrInterrupted) {
		fmt.Fprintln(stderr, "posetrain compare: interrupted; run the same command again to continue")
		return 130
	}
	if err != nil {
		fmt.Fprintf(stderr, "posetrain compare: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "compare: wrote %s/results.md, results.json, val_pck.png, val_pck_passes.png, train_loss.png, train_loss_steps.png, metrics.png\n", cc.Out)
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	type row struct {
		Optim string                  `json:"optim"`
		Stats map[string]compare.Stat `json:"stats"`
	}
	var rows []row
	for _, o := range res.Optims {
		rows = append(rows, row{o.Name, o.Stats})
	}
	if err := enc.Encode(rows); err != nil {
		fmt.Fprintf(stderr, "posetrain compare: %v\n", err)
		return 1
	}
	return 0
}

func init() {
	commands["split"] = command{"split training annotations by image into train, dev and a train probe (compare --dev's rule)", runSplit}
}

// runSplit writes DIR/train.json, DIR/dev.json and DIR/probe.json with
// coco.Split.
func runSplit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("split", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ann := fs.String("ann", "", "training annotations (COCO keypoints JSON)")
	n := fs.Int("dev", 500, "dev images: every k-th image by id, k = images/N")
	var sub compare.Subset
	fs.Var(&sub, "train-subset", "keep K/N of the train part (positions j%N < K by id; probe j%N == 0)")
	out := fs.String("out", "", "output folder for train.json, dev.json, probe.json")
	if code, ok := parseFlags(fs, args, nil); !ok {
		return code
	}
	if *ann == "" || *out == "" {
		fmt.Fprintln(stderr, "usage: posetrain split --ann F --dev N [--train-subset K/N] --out DIR")
		return 2
	}
	counts, err := compare.WriteSplit(*ann, *n, sub, *out)
	if err != nil {
		fmt.Fprintf(stderr, "posetrain split: %v\n", err)
		return 1
	}
	b, _ := json.Marshal(counts)
	fmt.Fprintf(stdout, "%s\n", b)
	return 0
}
