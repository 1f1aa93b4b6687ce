package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/synth"
	"github.com/bsampose/bsampose/train"
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

// TestStrayArguments: a positional argument is a usage error naming it, in
// every command.
func TestStrayArguments(t *testing.T) {
	// Flags that make a command fail at once if it ignored the argument
	// and went on (training or benchmarking for minutes otherwise); the
	// other commands stop without their required flags.
	guard := map[string][]string{"train": {"--ann", "/nonexistent/a.json"}, "bench": {"--input", "0x0"}}
	cases := [][]string{append(guard["train"], "runs/x/last.safetensors")}
	for name := range commands {
		cases = append(cases, append(append([]string{name}, guard[name]...), "runs/x/last.safetensors"))
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			stdout, stderr, code := runCLI(t, args...)
			if code != 2 || !strings.Contains(stderr, `unexpected argument "runs/x/last.safetensors"`) || stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and a usage error naming the argument", code, stdout, stderr)
			}
		})
	}
	// A path after --resume (a boolean flag) gets a hint.
	_, stderr, code := runCLI(t, "--ann", "/nonexistent/a.json", "--resume", "runs/x/last.safetensors", "--epochs", "2")
	if code != 2 || !strings.Contains(stderr, `"runs/x/last.safetensors" "--epochs" "2"`) || !strings.Contains(stderr, "--resume=runs/x/last.safetensors") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// TestHelpListsCommandsFirst: --help, -h and help print every command with
// its summary, then the training flags, and exit 0.
func TestHelpListsCommandsFirst(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"train", "-h"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			stdout, stderr, code := runCLI(t, args...)
			if code != 0 || stdout != "" {
				t.Fatalf("exit %d, stdout %q", code, stdout)
			}
			flags := strings.Index(stderr, "\n  -epochs")
			if flags < 0 || !strings.Contains(stderr, "\n  -resume") {
				t.Fatalf("no training flags in %q", stderr)
			}
			for name, c := range commands {
				i := strings.Index(stderr, "  "+name+" ")
				if i < 0 || i > flags || !strings.Contains(stderr[i:flags], c.summary) {
					t.Errorf("command %s (%q) not listed before the flags in %q", name, c.summary, stderr)
				}
			}
		})
	}
	// help CMD is CMD -h.
	_, stderr, code := runCLI(t, "help", "eval")
	if code != 0 || !strings.Contains(stderr, "-results") {
		t.Errorf("help eval: exit %d, %q", code, stderr)
	}
}

// TestResumeCLI resumes a finished run: unchanged flags (exit 0, "complete",
// nothing written), --resume=PATH without --out (the same), other settings
// (exit 2, one line per flag), a larger --epochs (extended, the first
// epoch's record kept).
func TestResumeCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny network")
	}
	dir := filepath.Join(os.TempDir(), "bsampose-cli-test-data")
	tr, _, err := synth.EnsureSplits(context.Background(), dir, 16, 6, 3, synth.Options{MinSize: 96, MaxSize: 128})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	flags := []string{"--ann", tr.Ann, "--images", tr.Images, "--input", "64x32", "--batch-size", "4", "--epochs", "1", "--optim", "sgd", "--lr", "0.001", "--out", out}
	_, stderr, code := runCLI(t, flags...)
	if code != 0 {
		t.Fatalf("train exit %d: %s", code, stderr)
	}
	sumPath := filepath.Join(out, "summary.json")
	stored, err := os.ReadFile(sumPath)
	if err != nil {
		t.Fatal(err)
	}
	var first struct {
		FinalLoss float64           `json:"final_loss"`
		EpochLog  []json.RawMessage `json:"epoch_log"`
	}
	if err := json.Unmarshal(stored, &first); err != nil || len(first.EpochLog) != 1 || first.FinalLoss == 0 {
		t.Fatalf("summary %s: %v", stored, err)
	}
	files := func() map[string]string {
		m := map[string]string{}
		ents, err := os.ReadDir(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(out, e.Name()))
			info, _ := e.Info()
			m[e.Name()] = info.ModTime().String() + string(b)
		}
		return m
	}
	before := files()
	for _, args := range [][]string{append(flags, "--resume"), append(flags[:len(flags)-2:len(flags)-2], "--resume="+filepath.Join(out, "last.safetensors"))} {
		stdout, stderr, code := runCLI(t, args...)
		if code != 0 || !strings.Contains(stderr, "complete") {
			t.Fatalf("%q: exit %d, stderr %q; want 0 and a message that the run is complete", args[len(args)-1], code, stderr)
		}
		var got, want any
		if json.Unmarshal([]byte(stdout), &got) != nil || json.Unmarshal(stored, &want) != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("stdout %q, want the stored summary %s", stdout, stored)
		}
		if !reflect.DeepEqual(files(), before) {
			t.Errorf("%q changed the run folder", args[len(args)-1])
		}
	}

	changed := append([]string{}, flags...)
	changed[len(changed)-3] = "0.002"                         // --lr
	changed = append(changed, "--input", "32x16", "--resume") // the last --input wins
	stdout, stderr, code := runCLI(t, changed...)
	for _, want := range []string{"\n  --input: checkpoint 64x32, now 32x16\n", "\n  --lr: checkpoint 0.001, now 0.002\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
	if code != 2 || stdout != "" || strings.Count(stderr, "\n") != 3 || strings.Contains(stderr, "{") {
		t.Errorf("other settings: exit %d, stdout %q, stderr %q; want 2, a header and one line per flag", code, stdout, stderr)
	}
	if !reflect.DeepEqual(files(), before) {
		t.Error("a refused resume changed the run folder")
	}

	longer := append(append([]string{}, flags...), "--resume", "--epochs", "2")
	stdout, stderr, code = runCLI(t, longer...)
	if code != 0 {
		t.Fatalf("--epochs 2 --resume: exit %d: %s", code, stderr)
	}
	var ext struct {
		Epochs   int               `json:"epochs"`
		EpochLog []json.RawMessage `json:"epoch_log"`
	}
	if err := json.Unmarshal([]byte(stdout), &ext); err != nil || ext.Epochs != 2 || len(ext.EpochLog) != 2 || string(ext.EpochLog[0]) != string(first.EpochLog[0]) {
		t.Errorf("extended summary %s (%v): want 2 epochs, the first one's record unchanged (%s)", stdout, err, first.EpochLog[0])
	}
}

// TestEveryRunSettingHasAFlag: every setting stored with a checkpoint (the
// serialized fields of train.Config) is found by configFlags, so that a
// refused resume names it in flag terms; --input covers two fields.
func TestEveryRunSettingHasAFlag(t *testing.T) {
	cfg := train.Defaults()
	fs, _, _ := trainFlagSet(&cfg, io.Discard)
	flags := configFlags(fs, &cfg)
	typ := reflect.TypeOf(cfg)
	for i := range typ.NumField() {
		f := typ.Field(i)
		if strings.HasPrefix(f.Tag.Get("json"), "-") {
			continue
		}
		if flags[f.Name] == nil {
			t.Errorf("Config.%s has no flag", f.Name)
		}
	}
	if flags["InputH"] == nil || flags["InputH"] != flags["InputW"] || flags["InputH"].Name != "input" || flags["LR"].Name != "lr" {
		t.Errorf("InputH, InputW, LR map to %v, %v, %v", flags["InputH"], flags["InputW"], flags["LR"])
	}
}
