package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/synth"
	"github.com/bsampose/bsampose/web"
)

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestUnknownCommand(t *testing.T) {
	_, stderr, code := runCLI(t, "frobnicate")
	if code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}

func TestParseHWAndBox(t *testing.T) {
	if h, w, err := parseHW("128x96"); err != nil || h != 128 || w != 96 {
		t.Fatalf("parseHW: %d %d %v", h, w, err)
	}
	for _, bad := range []string{"128", "x96", "0x96", "ax3"} {
		if _, _, err := parseHW(bad); err == nil {
			t.Errorf("parseHW(%q) accepted", bad)
		}
	}
	if b, err := web.ParseBox("1,2,30,40"); err != nil || b.X != 1 || b.Y != 2 || b.W != 30 || b.H != 40 {
		t.Fatalf("parseBox: %+v %v", b, err)
	}
	for _, bad := range []string{"1,2,3", "1,2,0,4", "a,b,c,d"} {
		if _, err := web.ParseBox(bad); err == nil {
			t.Errorf("web.ParseBox(%q) accepted", bad)
		}
	}
}

// TestTrainPredictEval is the CLI smoke test: a 3-step training run on a
// tiny synthetic set, then predict and eval --model on its checkpoint.
func TestTrainPredictEval(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny network")
	}
	dir := filepath.Join(os.TempDir(), "bsampose-cli-test-data")
	tr, va, err := synth.EnsureSplits(context.Background(), dir, 16, 6, 3, synth.Options{MinSize: 96, MaxSize: 128})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	stdout, stderr, code := runCLI(t, "--ann", tr.Ann, "--images", tr.Images, "--val-ann", va.Ann, "--val-images", va.Images,
		"--input", "64x32", "--batch-size", "4", "--epochs", "1", "--max-steps", "3", "--optim", "bsam", "--out", out)
	if code != 0 {
		t.Fatalf("train exit %d: %s", code, stderr)
	}
	var sum struct {
		Steps int    `json:"steps"`
		Last  string `json:"last_checkpoint"`
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil || sum.Steps != 3 {
		t.Fatalf("summary %q: %v (steps %d)", stdout, err, sum.Steps)
	}
	for _, f := range []string{"last.safetensors", "last.json", "metrics.jsonl", "summary.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	img := filepath.Join(tr.Images, "000000000001.jpg")
	overlay := filepath.Join(out, "overlay.png")
	stdout, stderr, code = runCLI(t, "predict", "--model", sum.Last, "--image", img, "--box", "10,10,60,90", "--out", overlay)
	if code != 0 {
		t.Fatalf("predict exit %d: %s", code, stderr)
	}
	var joints []predictedJoint
	if err := json.Unmarshal([]byte(stdout), &joints); err != nil || len(joints) != 17 || joints[0].Name != "nose" {
		t.Fatalf("predict output %q: %v", stdout, err)
	}
	if st, err := os.Stat(overlay); err != nil || st.Size() == 0 {
		t.Fatalf("overlay: %v", err)
	}
	dt := filepath.Join(out, "dt.json")
	stdout, stderr, code = runCLI(t, "eval", "--model", sum.Last, "--ann", va.Ann, "--images", va.Images, "--out", dt, "--json")
	if code != 0 {
		t.Fatalf("eval --model exit %d: %s", code, stderr)
	}
	var m struct {
		PCK float64 `json:"pck"`
		OKS struct {
			AP float64 `json:"AP"`
		} `json:"oks"`
		Persons int `json:"persons"`
	}
	if err := json.Unmarshal([]byte(stdout), &m); err != nil || m.Persons == 0 || m.PCK < 0 || m.PCK > 1 {
		t.Fatalf("eval output %q: %v", stdout, err)
	}
	// The results file it wrote evaluates to the same AP.
	stdout, stderr, code = runCLI(t, "eval", "--ann", va.Ann, "--results", dt, "--json")
	if code != 0 {
		t.Fatalf("eval --results exit %d: %s", code, stderr)
	}
	var s struct{ AP float64 }
	if err := json.Unmarshal([]byte(stdout), &s); err != nil || s.AP != m.OKS.AP {
		t.Fatalf("AP from results file %v, from the model run %v (%v)", s.AP, m.OKS.AP, err)
	}
}
