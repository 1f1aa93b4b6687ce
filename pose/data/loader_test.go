package data

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/heatmap"
	"github.com/bsampose/bsampose/internal/shareddata"
)

func TestLoaderWorkersIdentical(t *testing.T) {
	items, pairs := lspetVal(t)
	items = items[:37]
	codec := heatmap.NewMSRA(96, 128)
	collect := func(workers int, epoch int) []*Batch {
		l, err := NewLoader(items, cfg128, DefaultAug(), codec, pairs, 8, workers, 42)
		if err != nil {
			t.Fatal(err)
		}
		var out []*Batch
		for b, err := range l.Epoch(context.Background(), epoch) {
			if err != nil {
				t.Fatal(err)
			}
			c := *b // batches are recycled: deep-copy
			c.X = append([]float32(nil), b.X...)
			c.Target = append([]float32(nil), b.Target...)
			c.Weight = append([]float32(nil), b.Weight...)
			c.Items = append([]Item(nil), b.Items...)
			c.Affines = append([]Affine(nil), b.Affines...)
			c.Params = append([]Params(nil), b.Params...)
			out = append(out, &c)
		}
		return out
	}
	one, three := collect(1, 0), collect(3, 0)
	if len(one) != 5 || one[4].N != 5 {
		t.Fatalf("got %d batches, last N=%d; want 5 batches, last N=5", len(one), one[len(one)-1].N)
	}
	same := func(a, b []*Batch) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			x, y := a[i], b[i]
			if x.N != y.N || len(x.X) != len(y.X) || len(x.Target) != len(y.Target) {
				return false
			}
			for j := range x.X {
				if math.Float32bits(x.X[j]) != math.Float32bits(y.X[j]) {
					return false
				}
			}
			for j := range x.Target {
				if math.Float32bits(x.Target[j]) != math.Float32bits(y.Target[j]) {
					return false
				}
			}
			for j := range x.Weight {
				if x.Weight[j] != y.Weight[j] {
					return false
				}
			}
			for j := range x.Items {
				if x.Items[j].AnnID != y.Items[j].AnnID || x.Affines[j] != y.Affines[j] || x.Params[j] != y.Params[j] {
					return false
				}
			}
		}
		return true
	}
	if !same(one, three) {
		t.Errorf("1 and 3 workers give different batches")
	}
	seen := map[int64]bool{}
	var flips int
	for _, b := range one {
		for j, it := range b.Items {
			seen[it.AnnID] = true
			if b.Params[j].Flip {
				flips++
			}
		}
	}
	if len(seen) != 37 {
		t.Errorf("epoch covers %d distinct items, want 37", len(seen))
	}
	if flips == 0 || flips == 37 {
		t.Errorf("%d of 37 samples flipped", flips)
	}
	if same(one, collect(2, 1)) {
		t.Errorf("epochs 0 and 1 are identical")
	}
}

func TestLoaderEval(t *testing.T) {
	items, pairs := lspetVal(t)
	items = items[:10]
	cfg := cfg128
	cfg.DropLast = true
	l, err := NewLoader(items, cfg, nil, heatmap.NewMSRA(96, 128), pairs, 4, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (drop last)", l.Len())
	}
	var n int
	for b, err := range l.Epoch(context.Background(), 3) {
		if err != nil {
			t.Fatal(err)
		}
		for j, it := range b.Items {
			if it.AnnID != items[n].AnnID || b.Params[j] != (Params{}) {
				t.Errorf("sample %d: ann %d params %+v, want ann %d unaugmented", n, it.AnnID, b.Params[j], items[n].AnnID)
			}
			// the batch matches a direct Apply
			img, err := decodeForWarp(it.ImagePath)
			if err != nil {
				t.Fatal(err)
			}
			var s Sample
			cfg128.Apply(&s, img, it, Params{}, pairs)
			if s.Affine != b.Affines[j] {
				t.Errorf("sample %d affine %v, want %v", n, b.Affines[j], s.Affine)
			}
			for i, v := range s.Image {
				if b.X[j*len(s.Image)+i] != v {
					t.Fatalf("sample %d pixel %d differs", n, i)
				}
			}
			n++
		}
	}
	if n != 8 {
		t.Errorf("%d samples, want 8", n)
	}
}

func TestLoaderErrors(t *testing.T) {
	items, pairs := lspetVal(t)
	items = append([]Item(nil), items[:6]...)
	bad := filepath.Join(t.TempDir(), "broken.jpg")
	if err := os.WriteFile(bad, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	items[4].ImagePath = bad
	codec := heatmap.NewMSRA(96, 128)
	for _, workers := range []int{1, 3} {
		l, err := NewLoader(items, cfg128, nil, codec, pairs, 2, workers, 0)
		if err != nil {
			t.Fatal(err)
		}
		var good int
		var gotErr error
		for b, err := range l.Epoch(context.Background(), 0) {
			if err != nil {
				gotErr = err
				break
			}
			good += b.N
		}
		if gotErr == nil || !strings.Contains(gotErr.Error(), bad) {
			t.Errorf("workers=%d: error %v, want one naming %s", workers, gotErr, bad)
		}
		if good != 4 {
			t.Errorf("workers=%d: %d samples before the error, want 4", workers, good)
		}
	}

	// Cancellation and early break stop the epoch; the loader stays usable.
	l, err := NewLoader(items[:4], cfg128, DefaultAug(), codec, pairs, 1, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	for range l.Epoch(context.Background(), 0) {
		break
	}
	// Goroutines that were told to stop may take a moment to exit (under
	// the race detector especially); a leak never goes away.
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); after > before && time.Now().Before(deadline); after = runtime.NumGoroutine() {
		time.Sleep(10 * time.Millisecond)
	}
	if after > before {
		t.Errorf("%d goroutines left after breaking out of an epoch (before: %d)", after, before)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, err := range l.Epoch(ctx, 0) {
		if err != context.Canceled {
			t.Errorf("cancelled epoch yields %v, want context.Canceled", err)
		}
	}
	var n int
	for _, err := range l.Epoch(context.Background(), 1) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 4 {
		t.Errorf("%d batches after a break, want 4", n)
	}

	// Configuration errors.
	cases := []struct {
		name  string
		f     func() error
		match string
	}{
		{"no items", func() error { _, err := NewLoader(nil, cfg128, nil, codec, nil, 1, 1, 0); return err }, "no items"},
		{"codec size", func() error {
			_, err := NewLoader(items, cfg128, nil, heatmap.NewMSRA(192, 256), nil, 1, 1, 0)
			return err
		}, "codec input"},
		{"bad codec", func() error {
			_, err := NewLoader(items, cfg128, nil, heatmap.MSRA{InputW: 96, InputH: 128, W: 24, H: 32}, nil, 1, 1, 0)
			return err
		}, "sigma"},
		{"batch size", func() error { _, err := NewLoader(items, cfg128, nil, codec, nil, 0, 1, 0); return err }, "batch size"},
		{"flip pair", func() error {
			_, err := NewLoader(items, cfg128, nil, codec, [][2]int{{0, 14}}, 1, 1, 0)
			return err
		}, "flip pair"},
	}
	for _, c := range cases {
		if err := c.f(); err == nil || !strings.Contains(err.Error(), c.match) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.match)
		}
	}
}

// TestLoaderCOCOMini runs an evaluation epoch over the real COCO val
// subset (17 joints, several people per image, small boxes): every person
// becomes a finite sample whose non-zero weights are labeled joints.
func TestLoaderCOCOMini(t *testing.T) {
	dir := shareddata.Dir(t, "coco_mini")
	ds, err := coco.Load(filepath.Join(dir, "annotations", "person_keypoints_val2017.json"))
	if err != nil {
		t.Fatal(err)
	}
	items := Items(ds, filepath.Join(dir, "images", "val2017"))
	if len(items) != 68 {
		t.Fatalf("%d items, want 68 (non-crowd persons with a labeled joint)", len(items))
	}
	codec := heatmap.NewMSRA(96, 128)
	l, err := NewLoader(items, cfg128, nil, codec, ds.Schema.FlipPairs, 16, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	var n, weighted, labeled int
	for b, err := range l.Epoch(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		if b.K != 17 || b.HH != 32 || b.HW != 24 {
			t.Fatalf("batch K=%d HH=%d HW=%d", b.K, b.HH, b.HW)
		}
		for _, v := range b.X {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || v < -2.2 || v > 2.7 {
				t.Fatalf("batch %d: input value %v outside the normalised range", b.Index, v)
			}
		}
		for j, it := range b.Items {
			for k, kp := range it.Keypoints {
				w := b.Weight[j*17+k]
				if w != 0 && !kp.Labeled() {
					t.Errorf("ann %d joint %d: weight %v but unlabeled", it.AnnID, k, w)
				}
				if w != 0 {
					weighted++
				}
				if kp.Labeled() {
					labeled++
				}
			}
		}
		n += b.N
	}
	if n != 68 {
		t.Errorf("%d samples, want 68", n)
	}
	// Unaugmented boxes contain their joints, so nearly all labeled joints
	// keep their weight.
	if weighted < labeled*95/100 {
		t.Errorf("%d of %d labeled joints weighted", weighted, labeled)
	}
}
