package pose

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/nlpodyssey/safetensors"

	"github.com/bsampose/bsampose/heatmap"
	"github.com/bsampose/bsampose/pose/data"
)

// CheckpointFormat identifies the metadata layout written by SaveCheckpoint.
const CheckpointFormat = "bsampose-checkpoint/1"

// metaKey is the key of the JSON metadata inside the safetensors header's
// __metadata__ map.
const metaKey = "bsampose"

// SchemaMeta is the keypoint schema as stored with a model.
type SchemaMeta struct {
	Names     []string  `json:"names"`
	Skeleton  [][2]int  `json:"skeleton"`   // 0-based joint pairs
	FlipPairs [][2]int  `json:"flip_pairs"` // 0-based (left, right)
	Sigmas    []float64 `json:"sigmas"`
}

// Meta is everything besides the tensors that a checkpoint needs to be
// used on its own: the network configuration, the schema, the codec, the
// input normalisation and, for resumable checkpoints, the training state.
type Meta struct {
	Format string       `json:"format"`
	Preset string       `json:"preset"`
	InputH int          `json:"input_h"`
	InputW int          `json:"input_w"`
	Joints int          `json:"joints"`
	Schema SchemaMeta   `json:"schema"`
	Codec  heatmap.MSRA `json:"codec"`
	Mean   [3]float32   `json:"mean"` // RGB, applied to pixels scaled to 0..1
	Std    [3]float32   `json:"std"`
	Train  *TrainState  `json:"train,omitempty"`
}

// TrainState is what --resume needs beyond weights and optimizer tensors.
// All randomness of training is derived from (Seed, epoch, sample index),
// so no random-generator state needs saving.
type TrainState struct {
	Epoch     int             `json:"epoch"`      // epochs fully completed
	Step      int             `json:"step"`       // optimizer steps taken in total
	EpochStep int             `json:"epoch_step"` // steps taken inside the current, unfinished epoch
	Seed      int64           `json:"seed"`
	Optim     string          `json:"optim"`
	Config    json.RawMessage `json:"config,omitempty"` // the trainer's flags, to refuse a mismatching resume
	BestScore float64         `json:"best_score"`
	BestEpoch int             `json:"best_epoch"`
	Counters  map[string]int  `json:"counters,omitempty"` // optimizer step counters (e.g. Adam's t)
}

// SaveCheckpoint writes tensors (weights, batch-norm statistics and any
// extra tensors such as optimizer state) and meta to path as one
// safetensors file, atomically: a temporary file in the same directory is
// written, synced and renamed over path, so a crash never leaves a partial
// checkpoint. A human-readable copy of meta is written beside it as
// path with the extension replaced by ".json" (also atomically).
func SaveCheckpoint(path string, meta Meta, tensors []*Tensor) error {
	meta.Format = CheckpointFormat
	mj, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("pose: checkpoint %s: encode metadata: %w", path, err)
	}
	views := make(map[string]safetensors.TensorView, len(tensors))
	for _, t := range tensors {
		if _, dup := views[t.Name]; dup {
			return fmt.Errorf("pose: checkpoint %s: duplicate tensor %q", path, t.Name)
		}
		if n := ckNumel(t.Shape); n != len(t.Value) {
			return fmt.Errorf("pose: checkpoint %s: tensor %q has %d values for shape %v", path, t.Name, len(t.Value), t.Shape)
		}
		buf := make([]byte, 4*len(t.Value))
		for i, v := range t.Value {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		shape := make([]uint64, len(t.Shape))
		for i, d := range t.Shape {
			shape[i] = uint64(d)
		}
		v, err := safetensors.NewTensorView(safetensors.F32, shape, buf)
		if err != nil {
			return fmt.Errorf("pose: checkpoint %s: tensor %q: %w", path, t.Name, err)
		}
		views[t.Name] = v
	}
	data, err := safetensors.Serialize(views, map[string]string{metaKey: string(mj)})
	if err != nil {
		return fmt.Errorf("pose: checkpoint %s: %w", path, err)
	}
	if err := WriteFileAtomic(path, data); err != nil {
		return err
	}
	pretty, _ := json.MarshalIndent(meta, "", "  ")
	return WriteFileAtomic(jsonPath(path), append(pretty, '\n'))
}

func jsonPath(path string) string {
	return path[:len(path)-len(filepath.Ext(path))] + ".json"
}

// WriteFileAtomic writes data to path through a synced temporary file in
// the same directory and a rename, so readers see the old or the new
// contents, never a mixture.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("pose: write %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("pose: write %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil { // CreateTemp makes 0600 files
		return fmt.Errorf("pose: chmod %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("pose: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("pose: close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("pose: rename %s: %w", path, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Checkpoint is a loaded checkpoint file.
type Checkpoint struct {
	Path    string
	Meta    Meta
	Tensors map[string]*Tensor // by name; Grad is nil
}

// ErrNotCheckpoint is returned for files that are not bsampose checkpoints.
var ErrNotCheckpoint = errors.New("pose: not a bsampose checkpoint")

// LoadCheckpoint reads a checkpoint written by SaveCheckpoint.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pose: read checkpoint: %w", err)
	}
	st, err := safetensors.Deserialize(data)
	if err != nil {
		return nil, fmt.Errorf("pose: checkpoint %s: %w", path, err)
	}
	_, md, err := safetensors.ReadMetadata(data)
	if err != nil {
		return nil, fmt.Errorf("pose: checkpoint %s: %w", path, err)
	}
	raw, ok := md.Metadata()[metaKey]
	if !ok {
		return nil, fmt.Errorf("%w: %s has no %q metadata", ErrNotCheckpoint, path, metaKey)
	}
	ck := &Checkpoint{Path: path, Tensors: map[string]*Tensor{}}
	if err := json.Unmarshal([]byte(raw), &ck.Meta); err != nil {
		return nil, fmt.Errorf("pose: checkpoint %s: metadata: %w", path, err)
	}
	if ck.Meta.Format != CheckpointFormat {
		return nil, fmt.Errorf("%w: %s has format %q, want %q", ErrNotCheckpoint, path, ck.Meta.Format, CheckpointFormat)
	}
	for _, nt := range st.Tensors() {
		tv := nt.TensorView
		if tv.DType() != safetensors.F32 {
			return nil, fmt.Errorf("pose: checkpoint %s: tensor %q has dtype %s, want F32", path, nt.Name, tv.DType())
		}
		shape := make([]int, len(tv.Shape()))
		for i, d := range tv.Shape() {
			shape[i] = int(d)
		}
		b := tv.Data()
		vals := make([]float32, len(b)/4)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		ck.Tensors[nt.Name] = &Tensor{Name: nt.Name, Shape: shape, Value: vals}
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
		if !ckSameShape(src.Shape, t.Shape) {
			return fmt.Errorf("pose: checkpoint %s: tensor %q has shape %v, want %v", ck.Path, t.Name, src.Shape, t.Shape)
		}
		copy(t.Value, src.Value)
	}
	return nil
}

// Names returns the sorted tensor names.
func (ck *Checkpoint) Names() []string {
	names := make([]string, 0, len(ck.Tensors))
	for n := range ck.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func ckSameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func ckNumel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
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
