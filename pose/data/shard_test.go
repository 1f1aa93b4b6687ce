package data

import (
	"context"
	"math"
	"testing"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/heatmap"
)

// TestShardUnionIsOneProcessBatch checks DistributedSampler semantics:
// with N ranks at batch B/N, position j of rank r's batch s is position
// r+N·j of the one-process batch s of B, bit for bit (same image, same
// augmentation, same targets), and every rank has the one-process number
// of batches.
func TestShardUnionIsOneProcessBatch(t *testing.T) {
	items, pairs := lspetVal(t)
	items = items[:37]
	codec := heatmap.NewMSRA(96, 128)
	const global = 8
	collect := func(rank, size int) []Batch {
		l, err := NewLoader(items, Config{InputW: 96, InputH: 128, DropLast: true}, DefaultAug(), codec, pairs, global/size, 2, 42)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Shard(rank, size); err != nil {
			t.Fatal(err)
		}
		var out []Batch
		for b, err := range l.Epoch(context.Background(), 1) {
			if err != nil {
				t.Fatal(err)
			}
			c := *b
			c.X = append([]float32(nil), b.X...)
			c.Target = append([]float32(nil), b.Target...)
			c.Weight = append([]float32(nil), b.Weight...)
			c.Items = append([]Item(nil), b.Items...)
			c.Params = append([]Params(nil), b.Params...)
			out = append(out, c)
		}
		if len(out) != l.Len() {
			t.Fatalf("rank %d/%d: %d batches, Len() = %d", rank, size, len(out), l.Len())
		}
		return out
	}
	one := collect(0, 1)
	if len(one) != 37/global {
		t.Fatalf("one process: %d batches", len(one))
	}
	for _, size := range []int{2, 4} {
		per := global / size
		for r := range size {
			rb := collect(r, size)
			if len(rb) != len(one) {
				t.Fatalf("rank %d/%d: %d batches, one process %d", r, size, len(rb), len(one))
			}
			for s, b := range rb {
				o := &one[s]
				for j := range per {
					q := r + size*j
					if b.Items[j].AnnID != o.Items[q].AnnID || b.Params[j] != o.Params[q] {
						t.Fatalf("size %d rank %d batch %d pos %d: annotation %d %+v, one process pos %d: %d %+v",
							size, r, s, j, b.Items[j].AnnID, b.Params[j], q, o.Items[q].AnnID, o.Params[q])
					}
					img := 3 * 128 * 96
					for i := range img {
						if math.Float32bits(b.X[j*img+i]) != math.Float32bits(o.X[q*img+i]) {
							t.Fatalf("size %d rank %d batch %d pos %d: pixel %d differs", size, r, s, j, i)
						}
					}
					hm := len(b.Target) / per
					for i := range hm {
						if b.Target[j*hm+i] != o.Target[q*hm+i] {
							t.Fatalf("size %d rank %d batch %d pos %d: target %d differs", size, r, s, j, i)
						}
					}
				}
			}
		}
	}
}

func TestShardRejects(t *testing.T) {
	items := make([]Item, 3)
	for i := range items {
		items[i] = Item{ImagePath: "x.png", Box: coco.Box{W: 10, H: 10}, Keypoints: make([]coco.Keypoint, 2)}
	}
	l, err := NewLoader(items, Config{InputW: 32, InputH: 32}, DefaultAug(), heatmap.NewMSRA(32, 32), nil, 1, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]int{{0, 0}, {2, 2}, {-1, 2}, {0, 4}} {
		if err := l.Shard(c[0], c[1]); err == nil {
			t.Errorf("Shard(%d, %d): want an error", c[0], c[1])
		}
	}
	if err := l.Shard(1, 3); err != nil || l.Len() != 1 {
		t.Fatalf("Shard(1, 3) = %v, Len %d", err, l.Len())
	}
}
