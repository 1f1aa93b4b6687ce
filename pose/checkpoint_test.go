package pose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/heatmap"
)

func testTensors() []*Tensor {
	return []*Tensor{
		{Name: "stem.conv.weight", Shape: []int{2, 3, 1, 1}, Value: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "stem.bn.running_var", Shape: []int{2}, Value: []float32{0.5, 1.5}},
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	meta := Meta{Preset: "posenet-s", InputH: 128, InputW: 96, Joints: 2,
		Schema: SchemaMeta{Names: []string{"left_a", "right_a"}, FlipPairs: [][2]int{{0, 1}}, Sigmas: []float64{0.1, 0.1}},
		Codec:  heatmap.NewMSRA(96, 128), Train: &TrainState{Epoch: 3, Step: 42, Seed: 7}}
	if err := SaveCheckpoint(path, meta, testTensors()); err != nil {
		t.Fatal(err)
	}
	ck, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Meta.Format != CheckpointFormat || ck.Meta.Train.Step != 42 || ck.Meta.Codec != meta.Codec || ck.Meta.Schema.Names[1] != "right_a" {
		t.Fatalf("metadata did not round-trip: %+v", ck.Meta)
	}
	dst := []*Tensor{{Name: "stem.conv.weight", Shape: []int{2, 3, 1, 1}, Value: make([]float32, 6)}}
	if err := ck.CopyInto(dst); err != nil {
		t.Fatal(err)
	}
	if dst[0].Value[5] != 6 {
		t.Fatalf("values did not round-trip: %v", dst[0].Value)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "ck.json")); err != nil {
		t.Fatalf("readable metadata copy missing: %v", err)
	}
}

func TestCheckpointCopyIntoNamesTheTensor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	if err := SaveCheckpoint(path, Meta{}, testTensors()); err != nil {
		t.Fatal(err)
	}
	ck, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		dst  *Tensor
		want string
	}{
		{&Tensor{Name: "stem.conv.weight", Shape: []int{3, 3, 1, 1}, Value: make([]float32, 9)}, `"stem.conv.weight" has shape [2 3 1 1], want [3 3 1 1]`},
		{&Tensor{Name: "layer1.0.conv.weight", Shape: []int{1}, Value: make([]float32, 1)}, `missing tensor "layer1.0.conv.weight"`},
	}
	for _, tc := range cases {
		err := ck.CopyInto([]*Tensor{tc.dst})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CopyInto(%s) = %v, want %q", tc.dst.Name, err, tc.want)
		}
	}
}

func TestCheckpointFailedSaveKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "last.safetensors")
	if err := SaveCheckpoint(path, Meta{Preset: "old"}, testTensors()); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	bad := append(testTensors(), &Tensor{Name: "x", Shape: []int{4}, Value: []float32{1}})
	if err := SaveCheckpoint(path, Meta{Preset: "new"}, bad); err == nil || !strings.Contains(err.Error(), `tensor "x"`) {
		t.Fatalf("want an error naming tensor x, got %v", err)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Fatal("a failed save changed the previous checkpoint")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Fatalf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestLoadCheckpointRejectsOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.safetensors")
	os.WriteFile(path, []byte("not a checkpoint"), 0o644)
	if _, err := LoadCheckpoint(path); err == nil || !strings.Contains(err.Error(), "junk.safetensors") {
		t.Fatalf("want an error naming the file, got %v", err)
	}
}
