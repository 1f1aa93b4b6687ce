package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/heatmap"
	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/pose/data"
)

// TestExport writes a checkpoint as model.bin and as ONNX (opsets 17 and
// 13) and checks the summaries; a bad --format or --int8 with onnx is a
// usage error.
func TestExport(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(dir, "m.safetensors")
	schema := coco.COCO17()
	net, err := pose.New(pose.Config{Preset: pose.PresetPoseNetS, InputH: 64, InputW: 32, Joints: schema.K()}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	meta := pose.Meta{Preset: pose.PresetPoseNetS, InputH: 64, InputW: 32, Joints: schema.K(), Schema: pose.SchemaOf(schema),
		Codec: heatmap.NewMSRA(32, 64), Mean: data.ImageNetMean, Std: data.ImageNetStd}
	if err := pose.SaveCheckpoint(ck, meta, append(net.Params(), net.Buffers()...)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		format string
		opset  int
	}{
		{[]string{"--out", filepath.Join(dir, "m.bin")}, "bin", 0},
		{[]string{"--format", "onnx", "--out", filepath.Join(dir, "m.onnx")}, "onnx", 17},
		{[]string{"--format", "onnx", "--opset", "13", "--out", filepath.Join(dir, "m13.onnx")}, "onnx", 13},
	} {
		stdout, stderr, code := runCLI(t, append([]string{"export", "--model", ck}, tc.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, stderr)
		}
		var s exportSummary
		if err := json.Unmarshal([]byte(stdout), &s); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(s.Out)
		if err != nil || s.Format != tc.format || s.Opset != tc.opset || int64(s.Bytes) != st.Size() || s.Params == 0 {
			t.Errorf("%v: summary %+v (%v)", tc.args, s, err)
		}
	}
	for _, args := range [][]string{{"--format", "tflite"}, {"--format", "onnx", "--int8"}} {
		if _, stderr, code := runCLI(t, append([]string{"export", "--model", ck}, args...)...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
	if _, stderr, code := runCLI(t, "export", "--model", ck, "--format", "onnx", "--opset", "9", "--out", filepath.Join(dir, "x.onnx")); code != 1 {
		t.Errorf("opset 9: exit %d (%s)", code, stderr)
	}
}
