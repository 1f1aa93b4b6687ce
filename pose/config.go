package pose

import (
	"fmt"

	"github.com/bsampose/bsampose/pose/arch"
)

// Preset names accepted in Config.Preset (package arch describes them).
const (
	PresetPoseNetS = arch.PoseNetS
	PresetResNet18 = arch.ResNet18
	PresetResNet50 = arch.ResNet50
)

// Config selects the network architecture.
type Config struct {
	Preset string // one of Presets()
	InputH int    // input height in pixels, a positive multiple of 32
	InputW int    // input width in pixels, a positive multiple of 32
	Joints int    // number of output heatmaps K (14 for LSP, 17 for COCO)
}

// Presets returns the supported architecture names.
func Presets() []string { return arch.Presets() }

// DefaultInput returns the input size (height, width) each preset is
// designed for: 128x96 for posenet-s and 256x192 for the ResNets. It
// returns (0, 0) for an unknown preset.
func DefaultInput(preset string) (h, w int) { return arch.DefaultInput(preset) }

// Arch returns the description of the network cfg selects.
func (cfg Config) Arch() (*arch.Net, error) {
	g, err := arch.New(cfg.Preset, cfg.InputH, cfg.InputW, cfg.Joints)
	if err != nil {
		return nil, fmt.Errorf("pose: %w", err)
	}
	return g, nil
}

// validate checks cfg and the batch size.
func (cfg Config) validate(batch int) error {
	if !arch.Known(cfg.Preset) {
		return fmt.Errorf("pose: unknown preset %q (want one of %v)", cfg.Preset, Presets())
	}
	if cfg.InputH <= 0 || cfg.InputW <= 0 || cfg.InputH%32 != 0 || cfg.InputW%32 != 0 {
		return fmt.Errorf("pose: input %dx%d: height and width must be positive multiples of 32", cfg.InputH, cfg.InputW)
	}
	if cfg.Joints <= 0 {
		return fmt.Errorf("pose: joints %d: must be positive", cfg.Joints)
	}
	if batch <= 0 {
		return fmt.Errorf("pose: batch %d: must be positive", batch)
	}
	return nil
}
