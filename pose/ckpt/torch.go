package ckpt

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
	"github.com/nlpodyssey/safetensors"
)

// Weight is one tensor of a weights file from elsewhere (a torchvision or
// timm state_dict).
type Weight struct {
	Name  string
	Shape []int
	DType string    // "F32", "F16", "BF16", "F64", "I64", ...
	Value []float32 // row-major, len == product of Shape; nil for integer and bool tensors
}

// ReadWeights reads every tensor of a safetensors file or of a PyTorch
// .pth/.pt file (torch.save's zip format or the legacy one; read by
// github.com/nlpodyssey/gopickle, which runs no code from the file), in
// the file's order. A PyTorch file may hold the state_dict itself or a
// dict with it under "state_dict" or "model" (as training scripts save
// them). Views are honoured (strides and storage offsets) and F16, BF16
// and F64 are converted to float32. Integer tensors (the batch-norm
// counters) come back without values.
func ReadWeights(path string) ([]Weight, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ckpt: read weights: %w", err)
	}
	if isSafetensors(data) {
		return readSafetensors(path, data)
	}
	obj, err := pytorch.Load(path)
	if err != nil {
		return nil, fmt.Errorf("ckpt: %s: neither safetensors nor a PyTorch file gopickle reads: %w", path, err)
	}
	return readTorch(path, obj)
}

// isSafetensors reports whether data starts with a safetensors header: a
// little-endian uint64 length and a JSON object that fits the file.
func isSafetensors(data []byte) bool {
	if len(data) < 10 {
		return false
	}
	n := binary.LittleEndian.Uint64(data)
	return n >= 2 && n <= uint64(len(data)-8) && data[8] == '{'
}

func readSafetensors(path string, data []byte) ([]Weight, error) {
	st, err := safetensors.Deserialize(data)
	if err != nil {
		return nil, fmt.Errorf("ckpt: %s: %w", path, err)
	}
	// Deserialize orders tensors by offset; that is the writer's order.
	var ws []Weight
	for _, nt := range st.Tensors() {
		tv := nt.TensorView
		w := Weight{Name: nt.Name, DType: tv.DType().String()}
		for _, d := range tv.Shape() {
			w.Shape = append(w.Shape, int(d))
		}
		b := tv.Data()
		n := Numel(w.Shape)
		switch tv.DType() {
		case safetensors.F32:
			w.Value = make([]float32, n)
			for i := range w.Value {
				w.Value[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
		case safetensors.F16:
			w.Value = make([]float32, n)
			for i := range w.Value {
				w.Value[i] = halfToFloat(binary.LittleEndian.Uint16(b[2*i:]))
			}
		case safetensors.BF16:
			w.Value = make([]float32, n)
			for i := range w.Value {
				w.Value[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
			}
		case safetensors.F64:
			w.Value = make([]float32, n)
			for i := range w.Value {
				w.Value[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
			}
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// halfToFloat converts an IEEE 754 binary16 value.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: mant * 2^-24
		f := float32(mant) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// floatToHalf rounds f to the nearest binary16 value; magnitudes beyond
// the normal range flush to zero or saturate to infinity.
func floatToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case exp <= 0:
		return sign
	case exp >= 0x1f:
		return sign | 0x7c00
	}
	h := uint32(exp)<<10 | mant>>13
	if r := mant & 0x1fff; r > 0x1000 || r == 0x1000 && h&1 == 1 {
		h++ // may carry into the exponent, as it should
	}
	return sign | uint16(h)
}

// entries returns the key/value pairs of a pickled dict in order, or nil
// if obj is not a dict.
func entries(obj any) []types.DictEntry {
	switch d := obj.(type) {
	case *types.OrderedDict:
		var es []types.DictEntry
		for e := d.List.Front(); e != nil; e = e.Next() {
			oe := e.Value.(*types.OrderedDictEntry)
			es = append(es, types.DictEntry{Key: oe.Key, Value: oe.Value})
		}
		return es
	case *types.Dict:
		return *d
	}
	return nil
}

func readTorch(path string, obj any) ([]Weight, error) {
	es := entries(obj)
	if es == nil {
		return nil, fmt.Errorf("ckpt: %s: the pickle holds a %T, not a state_dict", path, obj)
	}
	for _, e := range es {
		if k, _ := e.Key.(string); (k == "state_dict" || k == "model") && entries(e.Value) != nil {
			es = entries(e.Value)
			break
		}
	}
	var ws []Weight
	for _, e := range es {
		name, ok := e.Key.(string)
		t, isT := e.Value.(*pytorch.Tensor)
		if !ok || !isT {
			continue // not a tensor entry (e.g. an epoch counter)
		}
		w, err := torchWeight(name, t)
		if err != nil {
			return nil, fmt.Errorf("ckpt: %s: %w", path, err)
		}
		ws = append(ws, w)
	}
	if len(ws) == 0 {
		return nil, fmt.Errorf("ckpt: %s: no tensors in the state_dict", path)
	}
	return ws, nil
}

// torchWeight materialises a (possibly strided, offset) tensor view as a
// row-major float32 Weight.
func torchWeight(name string, t *pytorch.Tensor) (Weight, error) {
	w := Weight{Name: name, Shape: append([]int{}, t.Size...)}
	var at func(i int) float32
	n := 0
	switch s := t.Source.(type) {
	case *pytorch.FloatStorage:
		w.DType, n, at = "F32", len(s.Data), func(i int) float32 { return s.Data[i] }
	case *pytorch.HalfStorage:
		w.DType, n, at = "F16", len(s.Data), func(i int) float32 { return s.Data[i] }
	case *pytorch.BFloat16Storage:
		w.DType, n, at = "BF16", len(s.Data), func(i int) float32 { return s.Data[i] }
	case *pytorch.DoubleStorage:
		w.DType, n, at = "F64", len(s.Data), func(i int) float32 { return float32(s.Data[i]) }
	case *pytorch.LongStorage:
		w.DType = "I64"
	case *pytorch.IntStorage:
		w.DType = "I32"
	default:
		w.DType = fmt.Sprintf("%T", t.Source)
	}
	if len(t.Stride) != len(t.Size) {
		return w, fmt.Errorf("tensor %q: %d strides for %d dims", name, len(t.Stride), len(t.Size))
	}
	if at == nil {
		return w, nil
	}
	total := Numel(t.Size)
	last := t.StorageOffset
	for i, d := range t.Size {
		if d < 0 || t.Stride[i] < 0 {
			return w, fmt.Errorf("tensor %q: size %v stride %v", name, t.Size, t.Stride)
		}
		if d > 0 {
			last += (d - 1) * t.Stride[i]
		}
	}
	if total > 0 && (t.StorageOffset < 0 || last >= n) {
		return w, fmt.Errorf("tensor %q: view (offset %d, size %v, stride %v) outside its storage of %d", name, t.StorageOffset, t.Size, t.Stride, n)
	}
	w.Value = make([]float32, total)
	idx := make([]int, len(t.Size))
	for i := range total {
		off := t.StorageOffset
		for k, j := range idx {
			off += j * t.Stride[k]
		}
		w.Value[i] = at(off)
		for k := len(idx) - 1; k >= 0; k-- { // next row-major index
			if idx[k]++; idx[k] < t.Size[k] {
				break
			}
			idx[k] = 0
		}
	}
	return w, nil
}

// WriteWeights writes ws as a safetensors file, in their order: float
// tensors as F32, or as BF16 (truncated) or F16 (round to nearest, in
// range) when their DType says so, and value-less ones as I64 zeros (a
// 0-dim shape is one element, as torch's batch-norm counters). For
// torchvision-named test files and conversions.
func WriteWeights(path string, ws []Weight) error {
	var hdr, body []byte
	hdr = append(hdr, '{')
	for i, w := range ws {
		if n := Numel(w.Shape); w.Value != nil && n != len(w.Value) {
			return fmt.Errorf("ckpt: %s: tensor %q has %d values for shape %v", path, w.Name, len(w.Value), w.Shape)
		}
		start := len(body)
		dt := "F32"
		switch {
		case w.Value == nil:
			dt = "I64"
			body = append(body, make([]byte, 8*Numel(w.Shape))...)
		case w.DType == "BF16":
			dt = "BF16"
			for _, v := range w.Value {
				body = binary.LittleEndian.AppendUint16(body, uint16(math.Float32bits(v)>>16))
			}
		case w.DType == "F16":
			dt = "F16"
			for _, v := range w.Value {
				body = binary.LittleEndian.AppendUint16(body, floatToHalf(v))
			}
		default:
			for _, v := range w.Value {
				body = binary.LittleEndian.AppendUint32(body, math.Float32bits(v))
			}
		}
		name, _ := json.Marshal(w.Name)
		shape, _ := json.Marshal(append([]int{}, w.Shape...))
		if i > 0 {
			hdr = append(hdr, ',')
		}
		hdr = fmt.Appendf(hdr, `%s:{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}`, name, dt, shape, start, len(body))
	}
	hdr = append(hdr, '}')
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}
	data := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	data = append(append(data, hdr...), body...)
	return WriteFileAtomic(path, data)
}
