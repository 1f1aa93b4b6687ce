package main

import (
	"flag"
	"fmt"

	"github.com/bsampose/bsampose/train"
)

// trainFlags registers on fs the flags that set a training run (data,
// network, schedule, optimizer hyperparameters, augmentation, loading,
// seed), with cfg's current values as defaults. The returned function,
// called after fs.Parse, applies the flags that need parsing (--input,
// --lr-steps). train and compare share it.
func trainFlags(fs *flag.FlagSet, cfg *train.Config) (finish func() error) {
	fs.StringVar(&cfg.Ann, "ann", cfg.Ann, "training annotations (COCO keypoints JSON)")
	fs.StringVar(&cfg.Images, "images", cfg.Images, "folder the training file_names are relative to")
	fs.StringVar(&cfg.ValAnn, "val-ann", cfg.ValAnn, "validation annotations")
	fs.StringVar(&cfg.ValImages, "val-images", cfg.ValImages, "validation images folder")
	fs.StringVar(&cfg.Preset, "preset", cfg.Preset, "network: posenet-s | resnet18 | resnet50")
	fs.StringVar(&cfg.Pretrained, "pretrained", cfg.Pretrained, "torchvision/timm ImageNet weights (.safetensors, .pth, .pt) for the resnet18/resnet50 backbone")
	input := fs.String("input", "", "network input HxW, e.g. 128x96 (default: the preset's)")
	fs.Float64Var(&cfg.Sigma, "sigma", cfg.Sigma, "heatmap Gaussian sigma in heatmap pixels (0: 2*H/64)")
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "epochs")
	fs.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "batch size")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "peak learning rate")
	fs.StringVar(&cfg.LRSchedule, "lr-schedule", cfg.LRSchedule, "cosine (to 0) | step")
	steps := fs.String("lr-steps", "", "epochs at which the step schedule multiplies the LR by --lr-gamma, e.g. 90,120")
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
	return func() error {
		if *input != "" {
			h, w, err := parseHW(*input)
			if err != nil {
				return fmt.Errorf("--input: %w", err)
			}
			cfg.InputH, cfg.InputW = h, w
		}
		if *steps != "" {
			var err error
			if cfg.LRSteps, err = parseEpochs(*steps); err != nil {
				return fmt.Errorf("--lr-steps: %w", err)
			}
		}
		return nil
	}
}
