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
	optims := fs.String("optims", "adam,sam,bsam", "comma-separated optimizers: sgd, adam, adamw, sam, bsam, bsam-center (bsam with --bsam-from-center)")
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
	for _, o := range strings.Split(*optims, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cc.Optims = append(cc.Optims, o)
		}
	}
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
	fmt.Fprintf(stderr, "compare: wrote %s/results.md, results.json, val_pck.png, train_loss.png, train_loss_steps.png, metrics.png\n", cc.Out)
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
