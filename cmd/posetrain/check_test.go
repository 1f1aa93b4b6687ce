package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/internal/shareddata"
)

// checkFixture writes a two-image dataset into a temporary folder: a.jpg
// exists, b.jpg only when withB.
func checkFixture(t *testing.T, withB bool) (ann, images string) {
	t.Helper()
	dir := t.TempDir()
	images = filepath.Join(dir, "images")
	if err := os.MkdirAll(filepath.Join(images, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	names := []string{"sub/a.jpg"}
	if withB {
		names = append(names, "b.jpg")
	}
	for _, n := range names {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 32, 24)), nil); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(images, filepath.FromSlash(n)), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := coco.COCO17()
	kps := make([]coco.Keypoint, s.K())
	kps[0] = coco.Keypoint{X: 10, Y: 5, V: 2}
	d := &coco.Dataset{CategoryID: 1, Schema: s,
		Images: []coco.Image{{ID: 1, FileName: "sub/a.jpg", Width: 32, Height: 24}, {ID: 2, FileName: "b.jpg", Width: 32, Height: 24}},
		Annotations: []coco.Annotation{
			{ID: 10, ImageID: 1, CategoryID: 1, Keypoints: kps, NumKeypoints: 1, Box: coco.Box{X: 1, Y: 1, W: 20, H: 20}, HasBox: true, Area: 200},
		}}
	ann = filepath.Join(dir, "person_keypoints.json")
	if err := coco.WriteFile(ann, d); err != nil {
		t.Fatal(err)
	}
	return ann, images
}

func TestCheckCommand(t *testing.T) {
	good, goodImages := checkFixture(t, true)
	bad, badImages := checkFixture(t, false)
	broken := filepath.Join(t.TempDir(), "broken.json")
	if err := os.WriteFile(broken, []byte("{\"images\": [\n{\"id\": 1,,}]}"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     []string
		stderr     []string
		notInOuput string
	}{
		{"ok", []string{"--ann", good, "--images", goodImages}, 0,
			[]string{"image files checked", "status", "OK"}, []string{"reading the headers of 2 images"}, "FATAL"},
		{"missing image", []string{"--ann", bad, "--images", badImages}, 1,
			[]string{"missing", "  b.jpg", "FATAL: 1 missing image files"}, nil, "sub/a.jpg"},
		{"annotations only", []string{"--ann", bad}, 0, []string{"not checked", "OK"}, nil, "b.jpg"},
		{"json", []string{"-ann=" + bad, "-images=" + badImages, "-json"}, 1, []string{`"missing_images":1`, `"missing_examples":["b.jpg"]`, `"persons_labeled":1`}, nil, ""},
		{"load error", []string{"--ann", broken}, 1, []string{"load error", "FATAL"},
			[]string{"posetrain check: coco: " + broken + ": image 1: byte 22 (line 2, column 10)"}, ""},
		{"no ann", []string{"--images", goodImages}, 2, nil, []string{"--ann is required", "usage: posetrain check"}, ""},
		{"extra argument", []string{"--ann", good, "x"}, 2, nil, []string{`posetrain check: unexpected argument "x"`}, ""},
		{"help", []string{"-h"}, 0, nil, []string{"usage: posetrain check"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"check"}, tc.args...), &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, &stdout, &stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, &stdout)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, &stderr)
				}
			}
			if tc.notInOuput != "" && strings.Contains(stdout.String(), tc.notInOuput) {
				t.Errorf("stdout contains %q:\n%s", tc.notInOuput, &stdout)
			}
		})
	}
}

func TestCheckCommandSharedData(t *testing.T) {
	cm := shareddata.Dir(t, "coco_mini")
	var stdout, stderr bytes.Buffer
	args := []string{"check", "--json", "--ann", filepath.Join(cm, "annotations", "person_keypoints_val2017.json"), "--images", filepath.Join(cm, "images", "val2017")}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, &stdout, &stderr)
	}
	var r coco.Report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	// README: 42 images, 118 annotations, 68 with >= 1 keypoint, 1 crowd.
	if r.Images != 42 || r.Annotations != 118 || r.LabeledPersons != 68 || r.Crowd != 1 || r.ImagesChecked != 42 || r.Missing != 0 {
		t.Errorf("report = %+v", r)
	}
}
