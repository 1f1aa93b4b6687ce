package ckpt

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	meta := Meta{Preset: "posenet-s", InputH: 64, InputW: 32, Joints: 2, Schema: SchemaMeta{Names: []string{"a", "b"}}}
	ts := []Tensor{{Name: "w", Shape: []int{2, 3}, Value: []float32{1, 2, 3, 4, 5, -6}}, {Name: "b", Shape: []int{1}, Value: []float32{0.5}}}
	if err := Save(path, meta, ts); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Meta.Format != Format || f.Meta.Schema.Names[1] != "b" || f.Tensors["w"].Value[5] != -6 || !SameShape(f.Tensors["w"].Shape, []int{2, 3}) {
		t.Errorf("round trip: %+v %+v", f.Meta, f.Tensors["w"])
	}
	if got := strings.Join(f.Names(), ","); got != "b,w" {
		t.Errorf("Names() = %s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "m.json")); err != nil {
		t.Error(err)
	}
	if err := Save(path, meta, []Tensor{{Name: "x", Shape: []int{2}, Value: []float32{1}}}); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("bad shape: %v", err)
	}
	if _, err := Parse("junk", []byte("junk")); err == nil || !strings.Contains(err.Error(), "junk") {
		t.Errorf("junk: %v", err)
	}
}

func TestNotCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	meta := Meta{}
	if err := Save(path, meta, nil); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	data = []byte(strings.Replace(string(data), Format, "bsampose-checkpoint/0", 1))
	if _, err := Parse(path, data); !errors.Is(err, ErrNotCheckpoint) {
		t.Errorf("format /0: %v, want ErrNotCheckpoint", err)
	}
}
