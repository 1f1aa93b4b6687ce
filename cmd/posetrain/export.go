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
)

func init() {
	commands["export"] = command{"write a checkpoint as a compact model file for the browser (model.bin)", runExport}
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
}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "checkpoint (.safetensors)")
	out := fs.String("out", "model.bin", "model file to write")
	q8 := fs.Bool("int8", false, "store convolution weights as int8 with per-channel scales (about 4x smaller, ~1% output change)")
	if code, ok := parseFlags(fs, args, nil); !ok {
		return code
	}
	if *model == "" {
		fmt.Fprintln(stderr, "posetrain export: --model is required (usage: posetrain export --model CKPT [--out model.bin] [--int8])")
		return 2
	}
	md, _, err := checkpoint.Load(*model)
	if err != nil {
		fmt.Fprintf(stderr, "posetrain export: %v\n", err)
		return 1
	}
	var buf bytes.Buffer
	if err := infer.EncodeWith(&buf, md, infer.EncodeOptions{Int8: *q8}); err != nil {
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
		Preset: m.Preset, InputW: m.InputW, InputH: m.InputH, Joints: m.Joints, DType: dt})
	return 0
}
