package infer

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"unsafe"
)

// Magic opens every model file; FormatVersion is the version Encode writes.
const (
	Magic         = "BSAMPOSE"
	FormatVersion = 1
)

// Errors wrapped by Decode.
var (
	ErrBadMagic  = errors.New("infer: not a bsampose model file (bad magic)")
	ErrTruncated = errors.New("infer: model file truncated")
	ErrVersion   = errors.New("infer: unsupported model file version")
)

// fileHeader is the JSON header of a model file.
type fileHeader struct {
	Meta    Meta          `json:"meta"`
	Tensors []tensorEntry `json:"tensors"`
}

// tensorEntry locates one tensor in the data section.
type tensorEntry struct {
	Name   string `json:"name"`
	Shape  []int  `json:"shape"`
	DType  string `json:"dtype"`  // "f32" or "i8"
	Offset int    `json:"offset"` // byte offset in the data section
	// Scales (i8 only): per output channel (first dimension) float32
	// scales at byte offset ScaleOffset: value = int8 * scale.
	ScaleOffset int `json:"scale_offset,omitempty"`
}

// EncodeOptions selects the weight encoding.
type EncodeOptions struct {
	// Int8 stores convolution weights as int8 with one float32 scale per
	// output channel (symmetric, max-abs); biases stay float32. About 4x
	// smaller; outputs change by roughly 1% of their range.
	Int8 bool
}

// Encode writes m as a model file with float32 weights; see
// EncodeWith.
func Encode(w io.Writer, m *Model) error { return EncodeWith(w, m, EncodeOptions{}) }

// EncodeWith writes m as a model file:
//
//	"BSAMPOSE" | uint32 version | uint32 n | n bytes of JSON header | data
//
// (integers little-endian). The header holds Meta and, per tensor, its
// name (convolution prefix + ".weight" or ".bias"), shape, dtype and
// byte offset in the data section; the data are the folded tensors,
// float32 little-endian (or int8 plus float32 scales), each 4-byte
// aligned.
func EncodeWith(w io.Writer, m *Model, opt EncodeOptions) error {
	var data bytes.Buffer
	hdr := fileHeader{Meta: m.Meta}
	put := func(v []float32) int {
		off := data.Len()
		binary.Write(&data, binary.LittleEndian, v)
		return off
	}
	for _, l := range m.layers {
		c := l.conv
		if c == nil {
			continue
		}
		shape := []int{c.cv.OutC, c.cv.InC, c.cv.KH, c.cv.KW}
		e := tensorEntry{Name: c.name + ".weight", Shape: shape, DType: "f32"}
		if opt.Int8 {
			q, sc := quantize(c.w, c.cv.OutC)
			e.DType = "i8"
			e.ScaleOffset = put(sc)
			e.Offset = data.Len()
			data.Write(q)
			for data.Len()%4 != 0 {
				data.WriteByte(0)
			}
		} else {
			e.Offset = put(c.w)
		}
		hdr.Tensors = append(hdr.Tensors, e,
			tensorEntry{Name: c.name + ".bias", Shape: shape[:1], DType: "f32", Offset: put(c.bias[:c.cv.OutC])})
	}
	hj, err := json.Marshal(hdr)
	if err != nil {
		return fmt.Errorf("infer: encode header: %w", err)
	}
	for (len(Magic)+8+len(hj))%4 != 0 {
		hj = append(hj, ' ')
	}
	var head bytes.Buffer
	head.WriteString(Magic)
	binary.Write(&head, binary.LittleEndian, [2]uint32{FormatVersion, uint32(len(hj))})
	head.Write(hj)
	if _, err := w.Write(head.Bytes()); err != nil {
		return fmt.Errorf("infer: encode: %w", err)
	}
	if _, err := w.Write(data.Bytes()); err != nil {
		return fmt.Errorf("infer: encode: %w", err)
	}
	return nil
}

// quantize returns w (rows rows) as int8 with per-row scales max|w|/127.
func quantize(w []float32, rows int) ([]byte, []float32) {
	n := len(w) / rows
	q := make([]byte, len(w))
	sc := make([]float32, rows)
	for r := range rows {
		var mx float64
		for _, v := range w[r*n : (r+1)*n] {
			mx = max(mx, math.Abs(float64(v)))
		}
		if mx == 0 {
			continue
		}
		s := mx / 127
		sc[r] = float32(s)
		for j, v := range w[r*n : (r+1)*n] {
			q[r*n+j] = byte(int8(math.Round(float64(v) / s)))
		}
	}
	return q, sc
}

// Decode parses a model file written by Encode and builds the Model. It
// returns an error wrapping ErrBadMagic, ErrTruncated or ErrVersion for
// such files, and a descriptive error for any inconsistency; it never
// panics on malformed input. Weight values are taken as they are (a
// non-finite weight gives non-finite heatmaps, not an error): checking
// them would double the load time in the browser.
func Decode(data []byte) (*Model, error) { return decode(data, false) }

// DecodeInPlace is Decode without copying the float32 weights: when they
// are 4-byte aligned in memory (as Encode lays them out, if data itself
// is aligned, as Go's allocations are), the Model's weight slices alias
// data, so data must stay unmodified for as long as the Model or its
// clones are used. The browser glue uses it: the model file arrives in a
// fresh buffer, and allocating and filling another 9 MB of wasm memory
// costs tens of milliseconds of start-up. Int8 weights are still
// expanded into new float32 slices.
func DecodeInPlace(data []byte) (*Model, error) { return decode(data, true) }

func decode(data []byte, inPlace bool) (*Model, error) {
	if len(data) < len(Magic) {
		if bytes.HasPrefix([]byte(Magic), data) {
			return nil, fmt.Errorf("%w: %d bytes", ErrTruncated, len(data))
		}
		return nil, ErrBadMagic
	}
	if string(data[:len(Magic)]) != Magic {
		return nil, ErrBadMagic
	}
	rest := data[len(Magic):]
	if len(rest) < 8 {
		return nil, fmt.Errorf("%w: no header length", ErrTruncated)
	}
	ver, n := binary.LittleEndian.Uint32(rest), binary.LittleEndian.Uint32(rest[4:])
	if ver != FormatVersion {
		return nil, fmt.Errorf("%w %d (want %d)", ErrVersion, ver, FormatVersion)
	}
	rest = rest[8:]
	if uint64(n) > uint64(len(rest)) {
		return nil, fmt.Errorf("%w: header of %d bytes, %d left", ErrTruncated, n, len(rest))
	}
	hdr, err := parseHeader(rest[:n])
	if err != nil {
		return nil, fmt.Errorf("infer: model header: %w", err)
	}
	body := rest[n:]
	ts := tensorSet{vals: map[string][]float32{}, shapes: map[string][]int{}}
	for _, e := range hdr.Tensors {
		num := 1
		for _, d := range e.Shape {
			if d <= 0 || d > len(body) || num > len(body)/d {
				return nil, fmt.Errorf("infer: tensor %q: bad shape %v for %d data bytes", e.Name, e.Shape, len(body))
			}
			num *= d
		}
		if _, dup := ts.vals[e.Name]; dup {
			return nil, fmt.Errorf("infer: duplicate tensor %q", e.Name)
		}
		v, err := readTensor(body, e, num, inPlace)
		if err != nil {
			return nil, err
		}
		ts.vals[e.Name], ts.shapes[e.Name] = v, e.Shape
	}
	return build(hdr.Meta, ts, true)
}

func span(body []byte, name string, off, size int) ([]byte, error) {
	if off < 0 || off > len(body) || size > len(body)-off {
		return nil, fmt.Errorf("%w: tensor %q needs bytes [%d, %d) of %d", ErrTruncated, name, off, off+size, len(body))
	}
	return body[off : off+size], nil
}

// readTensor returns the values of tensor e (num of them) from body; with
// inPlace, float32 values aliasing body when that is possible.
func readTensor(body []byte, e tensorEntry, num int, inPlace bool) ([]float32, error) {
	switch e.DType {
	case "f32", "":
		if num > len(body)/4 {
			return nil, fmt.Errorf("%w: tensor %q has %d values", ErrTruncated, e.Name, num)
		}
		b, err := span(body, e.Name, e.Offset, 4*num)
		if err != nil {
			return nil, err
		}
		p := unsafe.Pointer(unsafe.SliceData(b))
		if inPlace && littleEndian && uintptr(p)%4 == 0 {
			return unsafe.Slice((*float32)(p), num)[:num:num], nil
		}
		out := make([]float32, num)
		if littleEndian {
			// one memmove instead of a loop (a large win on wasm)
			copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(out))), 4*num), b)
		} else {
			for i := range out {
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
		}
		return out, nil
	case "i8":
		out := make([]float32, num)
		rows := e.Shape[0]
		if rows > len(body)/4 {
			return nil, fmt.Errorf("%w: tensor %q has %d scales", ErrTruncated, e.Name, rows)
		}
		q, err := span(body, e.Name, e.Offset, num)
		if err != nil {
			return nil, err
		}
		sb, err := span(body, e.Name, e.ScaleOffset, 4*rows)
		if err != nil {
			return nil, err
		}
		per := num / rows
		for r := range rows {
			s := math.Float32frombits(binary.LittleEndian.Uint32(sb[4*r:]))
			for j := r * per; j < (r+1)*per; j++ {
				out[j] = float32(int8(q[j])) * s
			}
		}
		return out, nil
	default:
		return nil, fmt.Errorf("infer: tensor %q has dtype %q (want f32 or i8)", e.Name, e.DType)
	}
}

// littleEndian reports whether float32s are stored little-endian in
// memory (amd64, arm64, wasm, ...), so the file's bytes can be copied.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()
