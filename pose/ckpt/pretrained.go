package ckpt

import (
	"fmt"
	"strings"

	"github.com/bsampose/bsampose/pose/arch"
)

// Report says what Pretrained took from a weights file.
type Report struct {
	Path       string
	Loaded     [][2]string // (name in the file after prefix stripping, our tensor name), in the file's order
	Skipped    []string    // file tensors not used: fc.*, *.num_batches_tracked, names outside the backbone
	RandomInit []string    // our tensors the file does not cover (the head), left at their initialisation
	Converted  []string    // loaded file tensors converted to float32 (F16, BF16, F64)
}

// prefixes are the wrappers stripped from file names: DataParallel's
// module., mmpose's backbone., and model. of training scripts.
var prefixes = []string{"module.", "backbone.", "model."}

// Pretrained maps the torchvision/timm ResNet tensors of the weights file
// at path (ReadWeights) onto the backbone of desc: conv1, bn1,
// layerL.B.{convN,bnN}, layerL.0.downsample.{0,1}, with the prefixes
// module., backbone. and model. stripped (repeatedly), fc.* and
// *.num_batches_tracked skipped. It returns the values by our tensor name
// (row-major, desc's shapes) and the report. A shape mismatch, a
// non-float backbone tensor, a backbone tensor the file lacks, two file
// tensors with one name, or a file that matches no backbone tensor is an
// error naming the tensor.
func Pretrained(desc *arch.Net, path string) (map[string][]float32, *Report, error) {
	if !arch.Pretrainable(desc.Preset) {
		return nil, nil, fmt.Errorf("ckpt: pretrained %s: preset %s has no torchvision backbone (want resnet18 or resnet50)", path, desc.Preset)
	}
	ws, err := ReadWeights(path)
	if err != nil {
		return nil, nil, err
	}
	byTorch := map[string]arch.Tensor{}
	rep := &Report{Path: path}
	for _, t := range desc.Tensors() {
		if t.Torch == "" {
			rep.RandomInit = append(rep.RandomInit, t.Name)
			continue
		}
		byTorch[t.Torch] = t
	}
	vals := map[string][]float32{}
	seen := map[string]string{}
	for _, w := range ws {
		name := stripPrefixes(w.Name)
		if prev, dup := seen[name]; dup {
			return nil, nil, fmt.Errorf("ckpt: pretrained %s: tensors %q and %q are both %q once the prefixes are stripped", path, prev, w.Name, name)
		}
		seen[name] = w.Name
		t, ok := byTorch[name]
		if !ok || strings.HasPrefix(name, "fc.") || strings.HasSuffix(name, ".num_batches_tracked") {
			rep.Skipped = append(rep.Skipped, name)
			continue
		}
		if w.Value == nil {
			return nil, nil, fmt.Errorf("ckpt: pretrained %s: tensor %q has dtype %s, want a float type", path, w.Name, w.DType)
		}
		if !SameShape(w.Shape, t.Shape) {
			return nil, nil, fmt.Errorf("ckpt: pretrained %s: tensor %q has shape %v, the %s backbone wants %v (%s)", path, w.Name, w.Shape, desc.Preset, t.Shape, t.Name)
		}
		vals[t.Name] = w.Value
		rep.Loaded = append(rep.Loaded, [2]string{name, t.Name})
		if w.DType != "F32" {
			rep.Converted = append(rep.Converted, name+" ("+w.DType+")")
		}
	}
	if len(vals) == 0 {
		first := rep.Skipped[:min(len(rep.Skipped), 3)]
		return nil, nil, fmt.Errorf("ckpt: pretrained %s: no tensor matches the %s backbone (the file has %d, such as %v; want torchvision names like conv1.weight)", path, desc.Preset, len(ws), first)
	}
	var missing []string
	for _, t := range desc.Tensors() {
		if _, ok := vals[t.Name]; t.Torch != "" && !ok {
			missing = append(missing, t.Torch)
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("ckpt: pretrained %s: backbone tensor %q missing from the file (%d of %d missing)", path, missing[0], len(missing), len(byTorch))
	}
	return vals, rep, nil
}

func stripPrefixes(name string) string {
	for {
		trimmed := name
		for _, p := range prefixes {
			trimmed = strings.TrimPrefix(trimmed, p)
		}
		if trimmed == name {
			return name
		}
		name = trimmed
	}
}

// String is the report printed before training: a summary line, then the
// loaded tensors (file name, and ours after "->" where it differs), the
// skipped ones (the num_batches_tracked counters counted, not listed),
// the converted ones and those left at random init.
func (r *Report) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "pretrained %s: %d tensors loaded, %d skipped, %d left at random init\n", r.Path, len(r.Loaded), len(r.Skipped), len(r.RandomInit))
	loaded := make([]string, len(r.Loaded))
	for i, l := range r.Loaded {
		loaded[i] = l[0]
		if l[0] != l[1] {
			loaded[i] += " -> " + l[1]
		}
	}
	var skipped []string
	counters := 0
	for _, s := range r.Skipped {
		if strings.HasSuffix(s, ".num_batches_tracked") {
			counters++
			continue
		}
		skipped = append(skipped, s)
	}
	if counters > 0 {
		skipped = append(skipped, fmt.Sprintf("%d x *.num_batches_tracked", counters))
	}
	for _, l := range []struct {
		what  string
		names []string
	}{{"loaded", loaded}, {"skipped", skipped}, {"converted to float32", r.Converted}, {"random init", r.RandomInit}} {
		if len(l.names) > 0 {
			fmt.Fprintf(&sb, "  %s: %s\n", l.what, strings.Join(l.names, ", "))
		}
	}
	return sb.String()
}
