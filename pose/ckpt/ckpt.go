package ckpt

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/nlpodyssey/safetensors"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/heatmap"
)

// Format identifies the metadata layout written by Save.
const Format = "bsampose-checkpoint/1"

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

// Schema converts the stored schema back.
func (s SchemaMeta) Schema() coco.Schema {
	return coco.Schema{Names: s.Names, Skeleton: s.Skeleton, FlipPairs: s.FlipPairs, Sigmas: s.Sigmas}
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

// Tensor is a named float32 tensor. Value: len == product of Shape,
// row-major.
type Tensor struct {
	Name  string
	Shape []int
	Value []float32
}

// File is a loaded checkpoint.
type File struct {
	Path    string
	Meta    Meta
	Tensors map[string]*Tensor // by name
}

// ErrNotCheckpoint is returned for files that are not bsampose checkpoints.
var ErrNotCheckpoint = errors.New("ckpt: not a bsampose checkpoint")

// Save writes tensors and meta (Format set) to path as one safetensors
// file, atomically (WriteFileAtomic), and a human-readable copy of meta
// beside it as path with the extension replaced by ".json".
func Save(path string, meta Meta, tensors []Tensor) error {
	meta.Format = Format
	mj, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("ckpt: checkpoint %s: encode metadata: %w", path, err)
	}
	views := make(map[string]safetensors.TensorView, len(tensors))
	for _, t := range tensors {
		if _, dup := views[t.Name]; dup {
			return fmt.Errorf("ckpt: checkpoint %s: duplicate tensor %q", path, t.Name)
		}
		if n := Numel(t.Shape); n != len(t.Value) {
			return fmt.Errorf("ckpt: checkpoint %s: tensor %q has %d values for shape %v", path, t.Name, len(t.Value), t.Shape)
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
			return fmt.Errorf("ckpt: checkpoint %s: tensor %q: %w", path, t.Name, err)
		}
		views[t.Name] = v
	}
	data, err := safetensors.Serialize(views, map[string]string{metaKey: string(mj)})
	if err != nil {
		return fmt.Errorf("ckpt: checkpoint %s: %w", path, err)
	}
	if err := WriteFileAtomic(path, data); err != nil {
		return err
	}
	pretty, _ := json.MarshalIndent(meta, "", "  ")
	return WriteFileAtomic(path[:len(path)-len(filepath.Ext(path))]+".json", append(pretty, '\n'))
}

// WriteFileAtomic writes data to path through a synced temporary file in
// the same directory and a rename, so readers see the old or the new
// contents, never a mixture.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("ckpt: write %s: %w", path, err)
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
		return fmt.Errorf("ckpt: write %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil { // CreateTemp makes 0600 files
		return fmt.Errorf("ckpt: chmod %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("ckpt: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("ckpt: close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("ckpt: rename %s: %w", path, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Load reads a checkpoint written by Save.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ckpt: read checkpoint: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes the bytes of a checkpoint file read from path (named in
// errors).
func Parse(path string, data []byte) (*File, error) {
	st, err := safetensors.Deserialize(data)
	if err != nil {
		return nil, fmt.Errorf("ckpt: checkpoint %s: %w", path, err)
	}
	_, md, err := safetensors.ReadMetadata(data)
	if err != nil {
		return nil, fmt.Errorf("ckpt: checkpoint %s: %w", path, err)
	}
	raw, ok := md.Metadata()[metaKey]
	if !ok {
		return nil, fmt.Errorf("%w: %s has no %q metadata", ErrNotCheckpoint, path, metaKey)
	}
	f := &File{Path: path, Tensors: map[string]*Tensor{}}
	if err := json.Unmarshal([]byte(raw), &f.Meta); err != nil {
		return nil, fmt.Errorf("ckpt: checkpoint %s: metadata: %w", path, err)
	}
	if f.Meta.Format != Format {
		return nil, fmt.Errorf("%w: %s has format %q, want %q", ErrNotCheckpoint, path, f.Meta.Format, Format)
	}
	for _, nt := range st.Tensors() {
		tv := nt.TensorView
		if tv.DType() != safetensors.F32 {
			return nil, fmt.Errorf("ckpt: checkpoint %s: tensor %q has dtype %s, want F32", path, nt.Name, tv.DType())
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
		f.Tensors[nt.Name] = &Tensor{Name: nt.Name, Shape: shape, Value: vals}
	}
	return f, nil
}

// Names returns the sorted tensor names.
func (f *File) Names() []string {
	return slices.Sorted(maps.Keys(f.Tensors))
}

// Numel returns the product of shape.
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// SameShape reports whether a and b are equal.
func SameShape(a, b []int) bool {
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
