package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/bsampose/bsampose/train"
)

// trainFlags registers on fs the flags that set a training run (data,
// network, schedule, optimizer hyperparameters, augmentation, loading,
// seed), with cfg's current values as defaults. Every flag sets fields of
// *cfg and nothing else, so configFlags can find a field's flag by address.
// train and compare share it.
func trainFlags(fs *flag.FlagSet, cfg *train.Config) {
	fs.StringVar(&cfg.Ann, "ann", cfg.Ann, "training annotations (COCO keypoints JSON)")
	fs.StringVar(&cfg.Images, "images", cfg.Images, "folder the training file_names are relative to")
	fs.StringVar(&cfg.ValAnn, "val-ann", cfg.ValAnn, "validation annotations")
	fs.StringVar(&cfg.ValImages, "val-images", cfg.ValImages, "validation images folder")
	fs.StringVar(&cfg.Preset, "preset", cfg.Preset, "network: posenet-s | resnet18 | resnet50")
	fs.StringVar(&cfg.Pretrained, "pretrained", cfg.Pretrained, "torchvision/timm ImageNet weights (.safetensors, .pth, .pt) for the resnet18/resnet50 backbone")
	fs.Var(hwFlag{&cfg.InputH, &cfg.InputW}, "input", "network input `HxW`, e.g. 128x96 (default: the preset's)")
	fs.Float64Var(&cfg.Sigma, "sigma", cfg.Sigma, "heatmap Gaussian sigma in heatmap pixels (0: 2*H/64)")
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "epochs")
	fs.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "batch size")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "peak learning rate")
	fs.StringVar(&cfg.LRSchedule, "lr-schedule", cfg.LRSchedule, "cosine (to 0) | step")
	fs.Var((*epochList)(&cfg.LRSteps), "lr-steps", "`epochs` at which the step schedule multiplies the LR by --lr-gamma, e.g. 90,120")
	fs.Float64Var(&cfg.LRGamma, "lr-gamma", cfg.LRGamma, "step schedule factor")
	fs.IntVar(&cfg.WarmupIters, "warmup", cfg.WarmupIters, "linear warm-up iterations")
	fs.Float64Var(&cfg.WarmupRatio, "warmup-ratio", cfg.WarmupRatio, "LR at iteration 0 as a fraction of --lr")
	fs.StringVar(&cfg.Base, "base", cfg.Base, "base optimizer of sam/bsam: sgd | adam | adamw")
	fs.Float64Var(&cfg.Momentum, "momentum", cfg.Momentum, "SGD momentum")
	fs.Float64Var(&cfg.WeightDecay, "weight-decay", cfg.WeightDecay, "weight decay")
	fs.Float64Var(&cfg.RhoMax, "rho-max", cfg.RhoMax, "SAM/BSAM ascent radius (the official code uses 0.05; see README for this default)")
	fs.Float64Var(&cfg.RhoMin, "rho-min", cfg.RhoMin, "BSAM descent radius at the peak LR, moved in proportion to the LR (official: 0.05)")
	fs.BoolVar(&cfg.Adaptive, "adaptive", cfg.Adaptive, "adaptive SAM/BSAM (ASAM): perturbations rho*T^2*g/||T*g||, T = |w| + eta")
	fs.Float64Var(&cfg.Eta, "eta", cfg.Eta, "adaptive SAM/BSAM: eta of T = |w| + eta (ASAM's 0.01)")
	fs.Float64Var(&cfg.ScaleFactor, "scale-factor", cfg.ScaleFactor, "augmentation: scale in [1-s, 1+s]")
	fs.Float64Var(&cfg.RotFactor, "rot-factor", cfg.RotFactor, "augmentation: rotation range in degrees")
	fs.Float64Var(&cfg.RotProb, "rot-prob", cfg.RotProb, "augmentation: rotation probability")
	fs.Float64Var(&cfg.FlipProb, "flip-prob", cfg.FlipProb, "augmentation: horizontal flip probability")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "data loading workers")
	fs.Int64Var(&cfg.CacheMB, "cache-mb", cfg.CacheMB, "decoded-image cache size in MiB")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (data order, augmentation, init); compare: the first seed")
	fs.IntVar(&cfg.MaxSteps, "max-steps", 0, "stop after this many optimizer steps (0: no limit)")
}

// hwFlag is a flag "HxW" (e.g. 128x96) that sets two ints.
type hwFlag struct{ h, w *int }

func (f hwFlag) String() string {
	if f.h == nil || *f.h == 0 && *f.w == 0 {
		return ""
	}
	return fmt.Sprintf("%dx%d", *f.h, *f.w)
}

func (f hwFlag) Set(s string) error {
	h, w, err := parseHW(s)
	if err == nil {
		*f.h, *f.w = h, w
	}
	return err
}

// targets returns the fields the flag sets (see configFlags).
func (f hwFlag) targets() []any { return []any{f.h, f.w} }

// epochList is a flag of comma-separated epochs, e.g. "90,120".
type epochList []int

func (l *epochList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, e := range *l {
		s[i] = strconv.Itoa(e)
	}
	return strings.Join(s, ",")
}

func (l *epochList) Set(s string) error {
	e, err := parseEpochs(s)
	if err == nil {
		*l = e
	}
	return err
}
