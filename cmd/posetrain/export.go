package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/pose/infer"
	"github.com/bsampose/bsampose/pose/infer/checkpoint"
	"github.com/bsampose/bsampose/pose/onnx"
)

func init() {
	commands["export"] = command{"write a checkpoint as a compact model file for the browser (model.bin) or as ONNX (--format onnx)", runExport}
}

// exportSummary is export's JSON output.
type exportSummary struct {
	Out    string `json:"out"`
	Bytes  int    `json:"bytes"`
	Params int    `json:"params"`
	Preset string `json:"preset"`
	InputW int    `json:"input_w"`
	InputH int    `json:"input_h"`
	Joints int    `json:"joints"`
	DType  string `json:"dtype"`
	Format string `json:"format"`
	Opset  int    `json:"opset,omitempty"`
}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "checkpoint (.safetensors)")
	out := fs.String("out", "", "model file to write (default model.bin, or model.onnx with --format onnx)")
	format := fs.String("format", "bin", "bin (the browser's model file) | onnx")
	opset := fs.Int("opset", onnx.DefaultOpset, fmt.Sprintf("ONNX opset, %d to %d (--format onnx)", onnx.MinOpset, onnx.MaxOpset))
	q8 := fs.Bool("int8", false, "store convolution weights as int8 with per-channel scales (about 4x smaller, ~1% output change; --format bin)")
	if code, ok := parseFlags(fs, args, nil); !ok {
		return code
	}
	const usage = "usage: posetrain export --model CKPT [--format bin|onnx] [--out FILE] [--int8] [--opset 17]"
	if *model == "" {
		fmt.Fprintln(stderr, "posetrain export: --model is required ("+usage+")")
		return 2
	}
	if *format != "bin" && *format != "onnx" || *format == "onnx" && *q8 {
		fmt.Fprintf(stderr, "posetrain export: --format %s --int8=%v: want bin, or onnx without --int8 (%s)\n", *format, *q8, usage)
		return 2
	}
	if *out == "" {
		*out = "model." + *format
	}
	md, f, err := checkpoint.Load(*model)
	if err != nil {
		fmt.Fprintf(stderr, "posetrain export: %v\n", err)
		return 1
	}
	var buf bytes.Buffer
	if *format == "onnx" {
		vals := make(map[string][]float32, len(f.Tensors))
		for name, t := range f.Tensors {
			vals[name] = t.Value
		}
		err = onnx.Encode(&buf, md.Meta, vals, onnx.Options{Opset: *opset})
	} else {
		err = infer.EncodeWith(&buf, md, infer.EncodeOptions{Int8: *q8})
		*opset = 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "posetrain export: %v\n", err)
		return 1
	}
	if err := pose.WriteFileAtomic(*out, buf.Bytes()); err != nil {
		fmt.Fprintf(stderr, "posetrain export: %v\n", err)
		return 1
	}
	dt := "f32"
	if *q8 {
		dt = "i8"
	}
	m := md.Meta
	json.NewEncoder(stdout).Encode(exportSummary{Out: *out, Bytes: buf.Len(), Params: md.NumParams(),
		Preset: m.Preset, InputW: m.InputW, InputH: m.InputH, Joints: m.Joints, DType: dt, Format: *format, Opset: *opset})
	return 0
}
