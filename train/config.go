package train

import (
	"fmt"
	"math"
	"strings"

	"github.com/bsampose/bsampose/dist"
	"github.com/bsampose/bsampose/optim"
	"github.com/bsampose/bsampose/pose"
)

// Config is everything a training run is made from. It is stored in every
// checkpoint so that --resume can refuse a run whose settings changed.
type Config struct {
	Ann       string `json:"ann"`
	Images    string `json:"images"`
	ValAnn    string `json:"val_ann,omitempty"`
	ValImages string `json:"val_images,omitempty"`

	Preset string  `json:"preset"`
	InputH int     `json:"input_h"`
	InputW int     `json:"input_w"`
	Sigma  float64 `json:"sigma"` // heatmap Gaussian sigma in heatmap px; 0 = heatmap.DefaultSigma
	// Pretrained is a torchvision/timm ResNet weights file (safetensors or
	// .pth/.pt) loaded into the resnet18/resnet50 backbone before training.
	Pretrained string `json:"pretrained,omitempty"`

	Epochs      int     `json:"epochs"`
	BatchSize   int     `json:"batch_size"`
	LR          float64 `json:"lr"`
	LRSchedule  string  `json:"lr_schedule"`        // "cosine" | "step"
	LRSteps     []int   `json:"lr_steps,omitempty"` // epochs at which "step" multiplies the LR by LRGamma
	LRGamma     float64 `json:"lr_gamma"`
	WarmupIters int     `json:"warmup_iters"`
	WarmupRatio float64 `json:"warmup_ratio"` // LR at iteration 0 = WarmupRatio*LR

	Optim       string  `json:"optim"` // sgd | adam | adamw | sam | bsam
	Base        string  `json:"base"`  // base optimizer of sam/bsam: sgd | adam | adamw
	Momentum    float64 `json:"momentum"`
	WeightDecay float64 `json:"weight_decay"`
	RhoMax      float64 `json:"rho_max"`
	RhoMin      float64 `json:"rho_min"`
	FromCenter  bool    `json:"bsam_from_center"`
	Adaptive    bool    `json:"adaptive,omitempty"` // adaptive SAM/BSAM (ASAM's T = |w| + Eta)
	Eta         float64 `json:"eta,omitempty"`      // ASAM's η; Validate sets it to 0 unless Adaptive

	// Augmentation (training only).
	ScaleFactor float64 `json:"scale_factor"` // scale drawn in [1-s, 1+s]
	RotFactor   float64 `json:"rot_factor"`   // degrees
	RotProb     float64 `json:"rot_prob"`
	FlipProb    float64 `json:"flip_prob"`

	Workers  int    `json:"-"`
	CacheMB  int64  `json:"-"` // decoded-image cache in MiB
	Resume   bool   `json:"-"` // continue the run in Out (see Run)
	Seed     int64  `json:"seed"`
	Out      string `json:"-"`
	ValFlip  bool   `json:"val_flip"`
	MaxSteps int    `json:"-"` // stop after this many optimizer steps in total (0: no limit); for tests
	LogEvery int    `json:"-"` // metrics-log period in steps (default 1)

	// ResumeFrom is the checkpoint Resume continues from, a file or a run
	// folder inside Out ("": Out/last.safetensors).
	ResumeFrom string `json:"-"`

	// Data parallelism (train/dist.go). BatchSize is the global batch.
	Comm           dist.Comm `json:"-"`                         // the ranks of the job; nil: one process
	SharpnessSync  string    `json:"sharpness_sync,omitempty"`  // "" or "global": exact; "local": m-sharpness (SAM/BSAM)
	SharpnessGroup int       `json:"sharpness_group,omitempty"` // m-sharpness: images per perturbation group (default: batch/ranks)
}

// Defaults returns the recipe of the training issue: posenet-s at 128x96,
// Adam lr 1e-3 with cosine decay to 0, batch 32, no weight decay, scale
// 0.75-1.25, rotation ±30° with probability 0.6, flip 0.5.
func Defaults() Config {
	return Config{
		Preset:      "posenet-s",
		Epochs:      16,
		BatchSize:   32,
		LR:          1e-3,
		LRSchedule:  "cosine",
		LRGamma:     0.1,
		WarmupRatio: 0.001,
		Optim:       "adam",
		Base:        "adam",
		Momentum:    0.9,
		RhoMax:      DefaultRho,
		RhoMin:      DefaultRho,
		Eta:         optim.DefaultEta,
		ScaleFactor: 0.25,
		RotFactor:   30,
		RotProb:     0.6,
		FlipProb:    0.5,
		Workers:     2,
		CacheMB:     512,
		Seed:        1,
		Out:         "runs/default",
		LogEvery:    1,
	}
}

// Validate fills derived defaults and reports the first invalid setting.
func (c *Config) Validate() error {
	if c.Ann == "" || c.Images == "" {
		return fmt.Errorf("train: --ann and --images are required")
	}
	if (c.ValAnn == "") != (c.ValImages == "") {
		return fmt.Errorf("train: --val-ann and --val-images go together")
	}
	known := false
	for _, p := range pose.Presets() {
		known = known || p == c.Preset
	}
	if !known {
		return fmt.Errorf("train: unknown preset %q (have %s)", c.Preset, strings.Join(pose.Presets(), ", "))
	}
	if c.InputH == 0 || c.InputW == 0 {
		c.InputH, c.InputW = pose.DefaultInput(c.Preset)
	}
	if c.InputH%4 != 0 || c.InputW%4 != 0 || c.InputH <= 0 || c.InputW <= 0 {
		return fmt.Errorf("train: --input %dx%d: both sides must be positive multiples of 4", c.InputH, c.InputW)
	}
	if c.Epochs <= 0 || c.BatchSize <= 0 {
		return fmt.Errorf("train: --epochs and --batch-size must be positive")
	}
	if !(c.LR > 0) {
		return fmt.Errorf("train: --lr must be positive")
	}
	switch c.LRSchedule {
	case "cosine", "step":
	default:
		return fmt.Errorf("train: --lr-schedule %q: want cosine or step", c.LRSchedule)
	}
	switch c.Optim {
	case "sgd", "adam", "adamw", "sam", "bsam":
	default:
		return fmt.Errorf("train: --optim %q: want sgd, adam, adamw, sam or bsam", c.Optim)
	}
	switch c.Base {
	case "sgd", "adam", "adamw":
	default:
		return fmt.Errorf("train: --base %q: want sgd, adam or adamw", c.Base)
	}
	if c.RhoMax < 0 || c.RhoMin < 0 {
		return fmt.Errorf("train: --rho-max and --rho-min must not be negative")
	}
	if c.Adaptive && (c.Optim == "sam" || c.Optim == "bsam") {
		if !(c.Eta >= 0) || math.IsInf(c.Eta, 0) {
			return fmt.Errorf("train: --eta %v: want a finite value >= 0", c.Eta)
		}
	} else if c.Adaptive {
		return fmt.Errorf("train: --adaptive needs --optim sam or bsam, not %s", c.Optim)
	} else {
		c.Eta = 0 // unused: kept out of the saved settings
	}
	if c.Workers <= 0 {
		c.Workers = 1
	}
	if c.LogEvery <= 0 {
		c.LogEvery = 1
	}
	return nil
}

// DefaultRho is the default SAM/BSAM radius (both RhoMax and RhoMin). The
// official code uses 0.05; this default comes from the lspet radius sweep
// (docs/README.md): with the heatmap loss, SAM and BSAM at 0.05 collapse to
// the untrained network's loss with Adam as the base, and BSAM at 0.05 with
// an SGD base raises the loss; BSAM at 0.005 still collapses, because its
// direction g_max + g - (||g_max||/||g_min||)·g_min weights g by about 2 - r
// (r the norm ratio) in every coordinate the perturbation barely moves, and r
// exceeds 2 there. At 5e-4, r stays near 1.1 and BSAM trains like its base.
const DefaultRho = 5e-4
