package pose

import (
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/bsampose/bsampose/pose/ckpt"
	"github.com/bsampose/bsampose/pose/data"
)

// CheckpointFormat identifies the metadata layout written by SaveCheckpoint.
const CheckpointFormat = ckpt.Format

// The checkpoint metadata types live in the leaf package pose/ckpt, which
// the inference side reads checkpoints with too.
type (
	// SchemaMeta is the keypoint schema as stored with a model.
	SchemaMeta = ckpt.SchemaMeta
	// Meta is a checkpoint's metadata (see ckpt.Meta).
	Meta = ckpt.Meta
	// TrainState is what --resume needs beyond the tensors (see ckpt.TrainState).
	TrainState = ckpt.TrainState
)

// SaveCheckpoint writes tensors (weights, batch-norm statistics and any
// extra tensors such as optimizer state) and meta to path as one
// safetensors file, atomically: a temporary file in the same directory is
// written, synced and renamed over path, so a crash never leaves a partial
// checkpoint. A human-readable copy of meta is written beside it as
// path with the extension replaced by ".json" (also atomically).
func SaveCheckpoint(path string, meta Meta, tensors []*Tensor) error {
	ts := make([]ckpt.Tensor, len(tensors))
	for i, t := range tensors {
		ts[i] = ckpt.Tensor{Name: t.Name, Shape: t.Shape, Value: t.Value}
	}
	return ckpt.Save(path, meta, ts)
}

// WriteFileAtomic writes data to path through a synced temporary file in
// the same directory and a rename, so readers see the old or the new
// contents, never a mixture.
func WriteFileAtomic(path string, data []byte) error { return ckpt.WriteFileAtomic(path, data) }

// Checkpoint is a loaded checkpoint file.
type Checkpoint struct {
	Path    string
	Meta    Meta
	Tensors map[string]*Tensor // by name; Grad is nil
}

// ErrNotCheckpoint is returned for files that are not bsampose checkpoints.
var ErrNotCheckpoint = ckpt.ErrNotCheckpoint

// LoadCheckpoint reads a checkpoint written by SaveCheckpoint.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pose: read checkpoint: %w", err)
	}
	f, err := ckpt.Parse(path, data)
	if err != nil {
		return nil, err
	}
	ck := &Checkpoint{Path: path, Meta: f.Meta, Tensors: make(map[string]*Tensor, len(f.Tensors))}
	for name, t := range f.Tensors {
		ck.Tensors[name] = &Tensor{Name: t.Name, Shape: t.Shape, Value: t.Value}
	}
	return ck, nil
}

// CopyInto copies the checkpoint's tensors into dst (matched by name),
// checking that every tensor of dst is present with the same shape. It
// names the first tensor that is missing or has the wrong shape.
func (ck *Checkpoint) CopyInto(dst []*Tensor) error {
	for _, t := range dst {
		src, ok := ck.Tensors[t.Name]
		if !ok {
			return fmt.Errorf("pose: checkpoint %s: missing tensor %q (shape %v)", ck.Path, t.Name, t.Shape)
		}
		if !ckpt.SameShape(src.Shape, t.Shape) {
			return fmt.Errorf("pose: checkpoint %s: tensor %q has shape %v, want %v", ck.Path, t.Name, src.Shape, t.Shape)
		}
		copy(t.Value, src.Value)
	}
	return nil
}

// Names returns the sorted tensor names.
func (ck *Checkpoint) Names() []string {
	return slices.Sorted(maps.Keys(ck.Tensors))
}

// LoadNet builds the network a checkpoint describes, for batches of up to
// batch images, and loads its weights and batch-norm statistics.
func LoadNet(path string, batch int) (*Net, *Checkpoint, error) {
	ck, err := LoadCheckpoint(path)
	if err != nil {
		return nil, nil, err
	}
	m := ck.Meta
	net, err := New(Config{Preset: m.Preset, InputH: m.InputH, InputW: m.InputW, Joints: m.Joints}, batch, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("pose: checkpoint %s: %w", path, err)
	}
	if err := ck.CopyInto(net.Params()); err != nil {
		net.Close()
		return nil, nil, err
	}
	if err := ck.CopyInto(net.Buffers()); err != nil {
		net.Close()
		return nil, nil, err
	}
	return net, ck, nil
}

// Predictor returns a predictor for a network loaded from this checkpoint.
func (ck *Checkpoint) Predictor(net Forwarder, flip bool) *Predictor {
	return &Predictor{Net: net, Codec: ck.Meta.Codec, K: ck.Meta.Joints, FlipPairs: ck.Meta.Schema.FlipPairs, Flip: flip}
}

// DataConfig returns the input geometry and normalisation of the model.
// A checkpoint without a normalisation gets ImageNet's, as in training.
func (ck *Checkpoint) DataConfig() data.Config {
	c := data.Config{InputW: ck.Meta.InputW, InputH: ck.Meta.InputH, Mean: ck.Meta.Mean, Std: ck.Meta.Std}
	if c.Mean == ([3]float32{}) && c.Std == ([3]float32{}) {
		c.Mean, c.Std = data.ImageNetMean, data.ImageNetStd
	}
	return c
}

// LoadPretrained copies the torchvision/timm ResNet weights of the file at
// path (safetensors or PyTorch .pth/.pt; see ckpt.Pretrained for the
// names accepted) into the backbone of a resnet18 or resnet50 Net,
// leaving the head at its initialisation, and returns the report. The
// weights expect ImageNet's normalisation (data.ImageNetMean/Std, the
// training default). Nothing is copied when it returns an error.
func (n *Net) LoadPretrained(path string) (*ckpt.Report, error) {
	desc, err := n.cfg.Arch()
	if err != nil {
		return nil, err
	}
	vals, rep, err := ckpt.Pretrained(desc, path)
	if err != nil {
		return nil, fmt.Errorf("pose: %w", err)
	}
	for name, v := range vals {
		copy(n.byName[name].Value, v)
	}
	return rep, nil
}
