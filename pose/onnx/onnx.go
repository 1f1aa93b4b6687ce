package onnx

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/bsampose/bsampose/pose/arch"
	"github.com/bsampose/bsampose/pose/infer"
)

// Opset versions Encode writes. Opset 17 (ONNX 1.12) goes with IR version
// 8, opset 13 (ONNX 1.8) with IR version 7.
const (
	DefaultOpset = 17
	MinOpset     = 13
	MaxOpset     = 17
)

// Options sets how Encode writes a model.
type Options struct {
	Opset    int    // MinOpset..MaxOpset; 0 means DefaultOpset
	Producer string // producer_version; "" for none
}

// irVersion returns the IR version of the ONNX release that introduced opset.
func irVersion(opset int) int64 {
	if opset >= 17 {
		return 8
	}
	return 7
}

// Metadata returns the metadata_props written with a model of meta, by
// key: preset, input_size ("HxW"), input_layout, mean and std (JSON
// arrays, RGB, on pixels scaled to 0..1), keypoint_names, flip_pairs and
// skeleton (JSON, 0-based), joints, sigmas (if known) and codec
// (heatmap.MSRA as JSON).
func Metadata(meta infer.Meta) map[string]string {
	js := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	names := meta.Names
	if names == nil {
		names = []string{}
	}
	pairs := func(p [][2]int) [][2]int {
		if p == nil {
			return [][2]int{}
		}
		return p
	}
	m := map[string]string{
		"preset":         meta.Preset,
		"input_size":     fmt.Sprintf("%dx%d", meta.InputH, meta.InputW),
		"input_layout":   "NCHW float32 RGB, (pixel/255 - mean) / std",
		"output_layout":  "NCHW float32 heatmaps, K x input_h/4 x input_w/4",
		"mean":           js(meta.Mean),
		"std":            js(meta.Std),
		"joints":         fmt.Sprint(meta.Joints),
		"keypoint_names": js(names),
		"flip_pairs":     js(pairs(meta.FlipPairs)),
		"skeleton":       js(pairs(meta.Skeleton)),
		"codec":          js(meta.Codec),
	}
	if len(meta.Sigmas) > 0 {
		m["sigmas"] = js(meta.Sigmas)
	}
	return m
}

// Encode writes the network meta describes (pose/arch) as an ONNX model
// to w, with its weights from tensors (PyTorch state_dict names as in a
// checkpoint; each convolution's batch norm is folded in, eps
// arch.BNEps) and Metadata(meta) as metadata_props. tensors[name] has
// len == product of the description's shape; other names are ignored.
func Encode(w io.Writer, meta infer.Meta, tensors map[string][]float32, opt Options) error {
	if opt.Opset == 0 {
		opt.Opset = DefaultOpset
	}
	if opt.Opset < MinOpset || opt.Opset > MaxOpset {
		return fmt.Errorf("onnx: opset %d: want %d to %d", opt.Opset, MinOpset, MaxOpset)
	}
	desc, err := meta.Arch()
	if err != nil {
		return fmt.Errorf("onnx: %w", err)
	}
	graph, err := buildGraph(desc, tensors)
	if err != nil {
		return err
	}
	var m []byte
	m = protowire.AppendTag(m, 1, protowire.VarintType) // ir_version
	m = protowire.AppendVarint(m, uint64(irVersion(opt.Opset)))
	m = appendString(m, 2, "bsampose") // producer_name
	if opt.Producer != "" {
		m = appendString(m, 3, opt.Producer)
	}
	m = appendString(m, 6, "bsampose "+desc.Preset+" pose network: heatmaps, decode with the codec metadata")
	m = appendMessage(m, 7, graph)
	var op []byte // opset_import: the default domain
	op = appendString(op, 1, "")
	op = appendInt(op, 2, int64(opt.Opset))
	m = appendMessage(m, 8, op)
	md := Metadata(meta)
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var e []byte
		e = appendString(e, 1, k)
		e = appendString(e, 2, md[k])
		m = appendMessage(m, 14, e)
	}
	if _, err := w.Write(m); err != nil {
		return fmt.Errorf("onnx: write: %w", err)
	}
	return nil
}

// graphBuilder accumulates a GraphProto's nodes and initializers.
type graphBuilder struct {
	nodes, inits []byte
	tensors      map[string][]float32
	desc         *arch.Net
}

// buildGraph returns the GraphProto of desc: one Conv per convolution
// (the BatchNorm after it folded in), and Relu, Add, MaxPool and Resize
// for the other nodes, in the description's order. A node's output value
// is named after the node, the last one "output".
func buildGraph(desc *arch.Net, tensors map[string][]float32) ([]byte, error) {
	b := &graphBuilder{tensors: tensors, desc: desc}
	last := len(desc.Nodes) - 1
	value := make([]string, len(desc.Nodes)) // output value name per node
	value[0] = "input"
	name := func(i int) string {
		if i == last {
			return "output"
		}
		return desc.Nodes[i].Name
	}
	scales := false
	for i := 1; i < len(desc.Nodes); i++ {
		n := desc.Nodes[i]
		if value[i] != "" { // folded into the conv before it
			continue
		}
		in := make([]string, len(n.In))
		for j, k := range n.In {
			in[j] = value[k]
		}
		switch n.Op {
		case arch.Conv:
			bn := desc.Only(i, arch.BatchNorm)
			end := i
			if bn >= 0 {
				end = bn
			}
			wName, bName, err := b.conv(i, bn)
			if err != nil {
				return nil, err
			}
			value[end] = name(end)
			attrs := [][]byte{
				attrInts("kernel_shape", n.K, n.K),
				attrInts("strides", n.Stride, n.Stride),
				attrInts("pads", n.Pad, n.Pad, n.Pad, n.Pad),
			}
			b.node("Conv", n.Name, []string{in[0], wName, bName}, value[end], attrs...)
			continue
		case arch.ReLU:
			b.node("Relu", n.Name, in, name(i))
		case arch.Add:
			b.node("Add", n.Name, in, name(i))
		case arch.MaxPool:
			b.node("MaxPool", n.Name, in, name(i),
				attrInts("kernel_shape", 3, 3), attrInts("strides", 2, 2), attrInts("pads", 1, 1, 1, 1))
		case arch.Upsample:
			if !scales {
				b.inits = appendMessage(b.inits, 5, tensorProto("upsample_scales", []int{4}, []float32{1, 1, 2, 2}))
				scales = true
			}
			// Resize-13: X, roi (unused, empty), scales
			b.node("Resize", n.Name, []string{in[0], "", "upsample_scales"}, name(i),
				attrString("mode", "nearest"), attrString("coordinate_transformation_mode", "asymmetric"),
				attrString("nearest_mode", "floor"))
		default:
			return nil, fmt.Errorf("onnx: node %d (%s %s): no ONNX operator for it here", i, n.Op, n.Name)
		}
		value[i] = name(i)
	}
	var g []byte
	g = append(g, b.nodes...)
	g = appendString(g, 2, desc.Preset)
	g = append(g, b.inits...)
	out := desc.Nodes[last]
	g = appendMessage(g, 11, valueInfo("input", 3, desc.InputH, desc.InputW))
	g = appendMessage(g, 12, valueInfo("output", out.C, out.H, out.W))
	return g, nil
}

// get returns the named tensor, checking its length against shape.
func (b *graphBuilder) get(name string, shape []int) ([]float32, error) {
	v, ok := b.tensors[name]
	if !ok {
		return nil, fmt.Errorf("onnx: missing tensor %q (shape %v)", name, shape)
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	if len(v) != n {
		return nil, fmt.Errorf("onnx: tensor %q has %d values, want shape %v", name, len(v), shape)
	}
	return v, nil
}

// conv adds the initializers of convolution node i with the batch norm
// node bn (-1 for none) folded in and returns their names.
func (b *graphBuilder) conv(i, bn int) (wName, bName string, err error) {
	ts := b.desc.NodeTensors(i)
	w, err := b.get(ts[0].Name, ts[0].Shape)
	if err != nil {
		return "", "", err
	}
	var bias []float32
	if len(ts) > 1 {
		if bias, err = b.get(ts[1].Name, ts[1].Shape); err != nil {
			return "", "", err
		}
	}
	fw, fb := w, bias
	if bn >= 0 {
		var p [4][]float32
		for j, t := range b.desc.NodeTensors(bn) {
			if p[j], err = b.get(t.Name, t.Shape); err != nil {
				return "", "", err
			}
		}
		fw, fb = arch.Fold(w, bias, p[0], p[1], p[2], p[3])
	}
	if fb == nil {
		fb = make([]float32, ts[0].Shape[0])
	}
	n := b.desc.Nodes[i].Name
	wName, bName = n+".weight", n+".bias"
	b.inits = appendMessage(b.inits, 5, tensorProto(wName, ts[0].Shape, fw))
	b.inits = appendMessage(b.inits, 5, tensorProto(bName, []int{len(fb)}, fb))
	return wName, bName, nil
}

// node appends a NodeProto.
func (b *graphBuilder) node(op, name string, in []string, out string, attrs ...[]byte) {
	var n []byte
	for _, s := range in {
		n = appendString(n, 1, s)
	}
	n = appendString(n, 2, out)
	n = appendString(n, 3, name)
	n = appendString(n, 4, op)
	for _, a := range attrs {
		n = appendMessage(n, 5, a)
	}
	b.nodes = appendMessage(b.nodes, 1, n)
}

// ONNX enum values used here.
const (
	elemFloat   = 1 // TensorProto.DataType FLOAT
	attrTypeStr = 3 // AttributeProto.AttributeType STRING
	attrTypeInt = 7 // INTS
)

func attrInts(name string, v ...int) []byte {
	var a []byte
	a = appendString(a, 1, name)
	for _, x := range v {
		a = appendInt(a, 8, int64(x))
	}
	return appendInt(a, 20, attrTypeInt)
}

func attrString(name, v string) []byte {
	var a []byte
	a = appendString(a, 1, name)
	a = appendString(a, 4, v)
	return appendInt(a, 20, attrTypeStr)
}

// tensorProto is a float32 TensorProto with raw_data (little endian).
func tensorProto(name string, shape []int, v []float32) []byte {
	var t []byte
	for _, d := range shape {
		t = appendInt(t, 1, int64(d))
	}
	t = appendInt(t, 2, elemFloat)
	t = appendString(t, 8, name)
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	t = protowire.AppendTag(t, 9, protowire.BytesType)
	return protowire.AppendBytes(t, raw)
}

// valueInfo is a float32 ValueInfoProto [batch, c, h, w] with a symbolic batch.
func valueInfo(name string, c, h, w int) []byte {
	var shape []byte
	var d []byte
	d = appendString(d, 2, "batch") // dim_param
	shape = appendMessage(shape, 1, d)
	for _, v := range []int{c, h, w} {
		shape = appendMessage(shape, 1, appendInt(nil, 1, int64(v)))
	}
	var tt []byte
	tt = appendInt(tt, 1, elemFloat)
	tt = appendMessage(tt, 2, shape)
	typ := appendMessage(nil, 1, tt)
	var vi []byte
	vi = appendString(vi, 1, name)
	return appendMessage(vi, 2, typ)
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessage(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

func appendInt(b []byte, num protowire.Number, v int64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}
