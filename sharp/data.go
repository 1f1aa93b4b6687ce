package sharp

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/pose"
	"github.com/bsampose/bsampose/pose/data"
)

// Setup says which fixed batches a checkpoint is measured on.
type Setup struct {
	Model     string // checkpoint path
	Ann       string // COCO keypoints JSON (normally the training set)
	Images    string // folder the file_names are relative to
	Batches   int    // number of batches (default 4)
	BatchSize int    // persons per batch (default 32)
	Seed      int64  // which persons: a seeded shuffle of the dataset
	Workers   int
}

// Load builds the checkpoint's network and the oracle of its eval-mode
// loss on Batches fixed batches of persons drawn from Ann by Seed, prepared
// as the checkpoint says (input size, normalisation, codec) without
// augmentation. The caller closes the Net.
func Load(ctx context.Context, s Setup) (*pose.Net, *NetOracle, error) {
	if s.Batches <= 0 {
		s.Batches = 4
	}
	if s.BatchSize <= 0 {
		s.BatchSize = 32
	}
	ds, err := coco.Load(s.Ann)
	if err != nil {
		return nil, nil, fmt.Errorf("sharp: %w", err)
	}
	items := data.Items(ds, s.Images)
	if len(items) == 0 {
		return nil, nil, fmt.Errorf("sharp: %s has no usable persons", s.Ann)
	}
	rand.New(rand.NewPCG(uint64(s.Seed), 0x7368)).Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	bs := min(s.BatchSize, len(items))
	nb := min(s.Batches, len(items)/bs)
	items = items[:nb*bs]
	net, ck, err := pose.LoadNet(s.Model, bs)
	if err != nil {
		return nil, nil, fmt.Errorf("sharp: %w", err)
	}
	if ck.Meta.Joints != ds.Schema.K() {
		net.Close()
		return nil, nil, fmt.Errorf("sharp: %s has %d joints but %s has %d", s.Model, ck.Meta.Joints, s.Ann, ds.Schema.K())
	}
	dcfg := ck.DataConfig()
	codec := ck.Meta.Codec
	loader, err := data.NewLoader(items, dcfg, nil, &codec, ck.Meta.Schema.FlipPairs, bs, s.Workers, s.Seed)
	if err != nil {
		net.Close()
		return nil, nil, fmt.Errorf("sharp: %w", err)
	}
	var batches []Batch
	for b, err := range loader.Epoch(ctx, 0) {
		if err != nil {
			net.Close()
			return nil, nil, fmt.Errorf("sharp: %w", err)
		}
		batches = append(batches, Batch{
			X:      append([]float32(nil), b.X...),
			Target: append([]float32(nil), b.Target...),
			Weight: append([]float32(nil), b.Weight...),
		})
	}
	o, err := NewNetOracle(net, batches)
	if err != nil {
		net.Close()
		return nil, nil, err
	}
	return net, o, nil
}
