package pose

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/heatmap"
	"github.com/bsampose/bsampose/pose/ckpt"
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

// TestLoadPretrained: a torchvision-named safetensors file written from a
// seeded resnet18 (prefix "module.", fc.*, int64 num_batches_tracked, one
// tensor as BF16) loads into a net of another seed: every backbone
// tensor equals the seeded model's, the head keeps its own init.
func TestLoadPretrained(t *testing.T) {
	cfg := Config{Preset: PresetResNet18, InputH: 64, InputW: 64, Joints: 17}
	src, err := New(cfg, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	desc, _ := cfg.Arch()
	var ws []ckpt.Weight
	for _, ts := range desc.Tensors() {
		if ts.Torch == "" {
			continue
		}
		w := ckpt.Weight{Name: "module." + ts.Torch, Shape: ts.Shape, Value: src.byName[ts.Name].Value}
		if ts.Torch == "layer3.1.bn2.weight" {
			w.DType = "BF16"
		}
		ws = append(ws, w)
		if strings.HasSuffix(ts.Torch, ".running_var") {
			ws = append(ws, ckpt.Weight{Name: "module." + strings.TrimSuffix(ts.Torch, "running_var") + "num_batches_tracked", Shape: []int{}})
		}
	}
	ws = append(ws, ckpt.Weight{Name: "module.fc.weight", Shape: []int{1000, 512}, Value: make([]float32, 512000)},
		ckpt.Weight{Name: "module.fc.bias", Shape: []int{1000}, Value: make([]float32, 1000)})
	path := filepath.Join(t.TempDir(), "resnet18.safetensors")
	if err := ckpt.WriteWeights(path, ws); err != nil {
		t.Fatal(err)
	}
	dst, err := New(cfg, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	head := append([]float32(nil), dst.byName["head.0.conv.weight"].Value...)
	rep, err := dst.LoadPretrained(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(strings.SplitN(rep.String(), "\n", 2)[0])
	for _, ts := range desc.Tensors() {
		got, want := dst.byName[ts.Name].Value, src.byName[ts.Name].Value
		same := true
		for i := range got {
			w := want[i]
			if ts.Torch == "layer3.1.bn2.weight" {
				w = math.Float32frombits(math.Float32bits(w) &^ 0xffff) // BF16 truncation
			}
			same = same && got[i] == w
		}
		if ts.Torch != "" && !same {
			t.Errorf("%s: not loaded from %s", ts.Name, ts.Torch)
		}
		if ts.Torch == "" && strings.HasSuffix(ts.Name, "conv.weight") && same {
			t.Errorf("%s: head weight equals the source's (want dst's own init)", ts.Name)
		}
	}
	if fmt.Sprint(head) != fmt.Sprint(dst.byName["head.0.conv.weight"].Value) {
		t.Error("head.0.conv.weight changed")
	}
	if len(rep.Loaded) != 100 || len(rep.Skipped) != 22 || len(rep.Converted) != 1 {
		t.Errorf("report: %d loaded, %d skipped, %d converted", len(rep.Loaded), len(rep.Skipped), len(rep.Converted))
	}
	ps, _ := New(Config{Preset: PresetPoseNetS, InputH: 64, InputW: 64, Joints: 17}, 1, 1)
	defer ps.Close()
	if _, err := ps.LoadPretrained(path); err == nil || !strings.Contains(err.Error(), "no torchvision backbone") {
		t.Errorf("posenet-s: %v", err)
	}
}
