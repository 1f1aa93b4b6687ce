package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/train"
)

// TestCompareArms: bracket items are training flags applied over the
// shared settings, per arm; errors name the arm.
func TestCompareArms(t *testing.T) {
	shared := train.Defaults()
	shared.Ann, shared.Images, shared.MaxSteps, shared.LRSteps = "a.json", "img", 7, []int{3}
	arms, err := compareArms("sgd,sam[rho-max=0.05],bsam[base=adam,lr=1e-3,rho-max=5e-4,rho-min=5e-4,lr-steps=2,4],absam[rho-max=0.5,eta=0,baseline=sgd],bsam[bsam-from-center,name=center]", shared)
	if err != nil {
		t.Fatal(err)
	}
	if len(arms) != 5 {
		t.Fatalf("%d arms", len(arms))
	}
	a := arms[2].Train
	if a.Optim != "bsam" || a.Base != "adam" || a.LR != 1e-3 || a.RhoMax != 5e-4 || a.RhoMin != 5e-4 || len(a.LRSteps) != 2 || a.LRSteps[1] != 4 {
		t.Errorf("bsam arm: %+v", a)
	}
	if s := arms[0].Train; s.Optim != "sgd" || s.LR != shared.LR || s.MaxSteps != 7 || len(s.LRSteps) != 1 {
		t.Errorf("sgd arm changed the shared settings: %+v", s)
	}
	if s := arms[1].Train; s.RhoMax != 0.05 || s.Optim != "sam" || s.Adaptive {
		t.Errorf("sam arm: %+v", s)
	}
	if s := arms[3]; !s.Train.Adaptive || s.Train.Eta != 0 || s.Train.RhoMax != 0.5 || s.Baseline != "sgd" || s.Name != "absam_rho-max-0.5_eta-0" {
		t.Errorf("absam arm: %+v", s)
	}
	if s := arms[4]; s.Name != "center" || !s.Train.FromCenter {
		t.Errorf("named arm: %+v", s)
	}
	if shared.LRSteps[0] != 3 || shared.LR != train.Defaults().LR {
		t.Error("the shared settings were modified")
	}
	for list, want := range map[string]string{
		"sam[rho-maxx=1]":               `arm "sam[rho-maxx=1]": flag provided but not defined: -rho-maxx`,
		"sgd,bsam[lr=abc]":              `arm "bsam[lr=abc]": invalid value "abc" for flag -lr`,
		"adam[seed=3]":                  `arm "adam[seed=3]": seed is the comparison's`,
		"sam[input=3x]":                 `arm "sam[input=3x]": invalid value "3x" for flag -input`,
		"lion[lr=1]":                    `arm "lion[lr=1]": compare: unknown optimizer "lion"`,
		"sam[rho-max=1],sam[rho-max=1]": "same name",
	} {
		if _, err := compareArms(list, shared); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", list, err, want)
		}
	}
}

// TestSplitCommand: posetrain split writes the three parts with compare
// --dev's rule.
func TestSplitCommand(t *testing.T) {
	ann := filepath.Join(t.TempDir(), "a.json")
	var b strings.Builder
	b.WriteString(`{"images": [`)
	for i := range 20 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"id": ` + strconv.Itoa(100-i) + `, "file_name": "x.jpg", "width": 10, "height": 10}`)
	}
	b.WriteString(`], "annotations": [`)
	for i := range 20 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"id": ` + strconv.Itoa(i+1) + `, "image_id": ` + strconv.Itoa(100-i) + `, "category_id": 1, "bbox": [0,0,5,5], "keypoints": [1,1,2], "num_keypoints": 1}`)
	}
	b.WriteString(`], "categories": [{"id": 1, "name": "person", "keypoints": ["nose"], "skeleton": []}]}`)
	if err := os.WriteFile(ann, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := runSplit(context.Background(), []string{"--ann", ann, "--dev", "5", "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var counts struct{ Images map[string]int }
	if err := json.Unmarshal(stdout.Bytes(), &counts); err != nil {
		t.Fatal(err)
	}
	// 20 images, k = 4: dev at sorted positions 3, 7, 11, 15, 19; probe at 0, 4, 8, 12, 16.
	if counts.Images["train"] != 15 || counts.Images["dev"] != 5 || counts.Images["probe"] != 5 {
		t.Errorf("counts %+v", counts)
	}
	dev, _ := os.ReadFile(filepath.Join(out, "dev.json"))
	for _, id := range []string{"84", "88", "92", "96", "100"} { // ids 81..100 sorted: position p has id 81+p
		if !strings.Contains(string(dev), `"id": `+id+`,`) {
			t.Errorf("dev.json lacks image %s:\n%s", id, dev)
		}
	}

	// --train-subset 2/5 of the 15 train images (ids 81-83, 85-87, 89-91, ...
	// at positions j = 0..14): j%5 < 2 keeps 81, 82, 87, 89, 94, 95, the
	// probe j%5 == 0 keeps 81, 87, 94.
	stdout.Reset()
	if code := runSplit(context.Background(), []string{"--ann", ann, "--dev", "5", "--train-subset", "2/5", "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &counts); err != nil {
		t.Fatal(err)
	}
	if counts.Images["train"] != 6 || counts.Images["dev"] != 5 || counts.Images["probe"] != 3 {
		t.Errorf("subset counts %+v", counts)
	}
	train, _ := os.ReadFile(filepath.Join(out, "train.json"))
	for id, want := range map[string]bool{"81": true, "82": true, "83": false, "86": false, "87": true, "89": true, "94": true, "95": true, "84": false} {
		if got := strings.Contains(string(train), `"id": `+id+`,`); got != want {
			t.Errorf("train.json has image %s: %v, want %v", id, got, want)
		}
	}
	for _, bad := range []string{"0/5", "5/5", "2", "a/b"} {
		stderr.Reset()
		if code := runSplit(context.Background(), []string{"--ann", ann, "--dev", "5", "--train-subset", bad, "--out", out}, &stdout, &stderr); code == 0 {
			t.Errorf("--train-subset %s accepted", bad)
		}
	}
}
