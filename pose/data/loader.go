package data

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"sync"

	"github.com/bsampose/bsampose/heatmap"
)

// Batch is N samples stacked for the network. A batch yielded by
// Loader.Epoch is reused for a later batch once the loop body returns:
// copy what must outlive the iteration.
type Batch struct {
	N, H, W, K, HH, HW int
	X                  []float32 // N*3*H*W, NCHW, normalised RGB
	Target             []float32 // N*K*HH*HW, (n,k,y,x) heatmap targets
	Weight             []float32 // N*K, per-joint loss weights
	Items              []Item    // len N, the persons in this batch
	Affines            []Affine  // len N, image pixels -> input pixels
	Params             []Params  // len N, the augmentation of each sample
	Index              int       // position of the batch in its epoch
}

// encoderInto is implemented by codecs that can encode without allocating
// (heatmap.MSRA).
type encoderInto interface {
	EncodeInto(dst, weights []float32, kps []heatmap.Point, vis []bool)
}

// Loader makes batches of top-down samples with parallel workers.
type Loader struct {
	items     []Item
	cfg       Config
	aug       *Aug
	codec     heatmap.Codec
	flipPairs [][2]int
	batchSize int
	workers   int
	seed      int64
	k         int
	cache     *ImageCache

	mu    sync.Mutex
	spare []*Batch // batches kept between epochs

	rank, size int // Shard; size 0 or 1: the whole epoch
}

// NewLoader returns a loader over items. A nil aug means evaluation: no
// augmentation and no shuffling. codec makes the targets and fixes the
// heatmap size; its input size must equal cfg's. flipPairs are the
// schema's 0-based (left, right) joint pairs. workers <= 0 means 1.
// Order and random draws depend only on (seed, epoch, item index), never
// on the number of workers.
func NewLoader(items []Item, cfg Config, aug *Aug, codec heatmap.Codec, flipPairs [][2]int, batchSize, workers int, seed int64) (*Loader, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, errors.New("data: no items")
	}
	if batchSize <= 0 {
		return nil, fmt.Errorf("data: batch size %d must be positive", batchSize)
	}
	if codec == nil {
		return nil, errors.New("data: nil codec")
	}
	if v, ok := codec.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
	}
	if w, h := codec.InputSize(); w != cfg.InputW || h != cfg.InputH {
		return nil, fmt.Errorf("data: codec input %dx%d differs from config input %dx%d (w x h)", w, h, cfg.InputW, cfg.InputH)
	}
	k := len(items[0].Keypoints)
	for i, it := range items {
		if len(it.Keypoints) != k {
			return nil, fmt.Errorf("data: item %d (annotation %d, %s) has %d keypoints, want %d", i, it.AnnID, it.ImagePath, len(it.Keypoints), k)
		}
	}
	for _, p := range flipPairs {
		if p[0] < 0 || p[0] >= k || p[1] < 0 || p[1] >= k {
			return nil, fmt.Errorf("data: flip pair %v outside [0, %d)", p, k)
		}
	}
	if workers <= 0 {
		workers = 1
	}
	l := &Loader{
		items: items, cfg: cfg, aug: aug, codec: codec, flipPairs: flipPairs,
		batchSize: batchSize, workers: workers, seed: seed, k: k,
	}
	if cfg.CacheBytes > 0 {
		l.cache = NewImageCache(cfg.CacheBytes)
	}
	return l, nil
}

// Len returns the number of batches per epoch.
func (l *Loader) Len() int {
	n := l.shardLen()
	if l.cfg.DropLast {
		return n / l.batchSize
	}
	return (n + l.batchSize - 1) / l.batchSize
}

// Cache returns the decoded-image cache, or nil when there is none.
func (l *Loader) Cache() *ImageCache { return l.cache }

// mix is the splitmix64 finaliser, used to derive independent seeds.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Order returns the item indices of an epoch: a permutation drawn from
// (seed, epoch) in training, the identity in evaluation; after Shard, this
// rank's part of it.
func (l *Loader) Order(epoch int) []int {
	if l.aug == nil {
		o := make([]int, len(l.items))
		for i := range o {
			o[i] = i
		}
		return l.shard(o)
	}
	r := rand.New(rand.NewPCG(mix(uint64(l.seed)), mix(uint64(epoch)^0x5eed)))
	return l.shard(r.Perm(len(l.items)))
}

// SampleRand returns the random source of item index i in an epoch.
func (l *Loader) SampleRand(epoch, i int) *rand.Rand {
	return rand.New(rand.NewPCG(mix(uint64(l.seed)^mix(uint64(epoch))), mix(uint64(i))))
}

// Params returns the augmentation of item index i in an epoch (zero in
// evaluation).
func (l *Loader) Params(epoch, i int) Params {
	if l.aug == nil {
		return Params{}
	}
	return l.aug.Draw(l.SampleRand(epoch, i))
}

func (l *Loader) newBatch() *Batch {
	hw, hh := l.codec.HeatmapSize()
	n, k := l.batchSize, l.k
	H, W := l.cfg.InputH, l.cfg.InputW
	return &Batch{
		N: n, H: H, W: W, K: k, HH: hh, HW: hw,
		X:       make([]float32, n*3*H*W),
		Target:  make([]float32, n*k*hh*hw),
		Weight:  make([]float32, n*k),
		Items:   make([]Item, n),
		Affines: make([]Affine, n),
		Params:  make([]Params, n),
	}
}

// fill builds batch bi of an epoch into b. Errors name the file.
func (l *Loader) fill(ctx context.Context, b *Batch, epoch, bi int, order []int, s *Sample) error {
	lo := bi * l.batchSize
	hi := min(lo+l.batchSize, len(order))
	n := hi - lo
	hw, hh := l.codec.HeatmapSize()
	H, W, K := l.cfg.InputH, l.cfg.InputW, l.k
	c := l.batchSize // capacity
	b.N, b.Index = n, bi
	b.X, b.Target, b.Weight = b.X[:c*3*H*W][:n*3*H*W], b.Target[:c*K*hh*hw][:n*K*hh*hw], b.Weight[:c*K][:n*K]
	b.Items, b.Affines, b.Params = b.Items[:c][:n], b.Affines[:c][:n], b.Params[:c][:n]
	enc, _ := l.codec.(encoderInto)
	for j := range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		idx := order[lo+j]
		it := l.items[idx]
		img, err := l.cache.Get(it.ImagePath)
		if err != nil {
			return fmt.Errorf("%w (annotation %d)", err, it.AnnID)
		}
		p := l.Params(epoch, idx)
		s.Image = b.X[j*3*H*W : (j+1)*3*H*W]
		l.cfg.Apply(s, img, it, p, l.flipPairs)
		tgt := b.Target[j*K*hh*hw : (j+1)*K*hh*hw]
		wt := b.Weight[j*K : (j+1)*K]
		if enc != nil {
			enc.EncodeInto(tgt, wt, s.Keypoints, s.Visible)
		} else {
			copy(wt, l.codec.Encode(tgt, s.Keypoints, s.Visible))
		}
		b.Items[j], b.Affines[j], b.Params[j] = it, s.Affine, p
	}
	return nil
}

// Epoch returns the batches of one epoch in order. Workers build whole
// batches in parallel, up to Config.Prefetch ahead of the consumer; the
// content of every batch depends only on (seed, epoch), not on the
// number of workers or on timing. The last batch is smaller unless
// Config.DropLast. Iteration stops at the first error (which names the
// image file) or when ctx is cancelled (yielding ctx.Err()). A yielded
// batch is recycled after the loop body returns; breaking out of the loop
// stops the workers before Epoch's iterator returns.
func (l *Loader) Epoch(ctx context.Context, epoch int) iter.Seq2[*Batch, error] {
	return func(yield func(*Batch, error) bool) {
		order := l.Order(epoch)
		nb := l.Len()
		if nb == 0 {
			return
		}
		depth := l.cfg.Prefetch
		if depth == 0 {
			depth = 2 * l.workers
		}
		depth = max(depth, l.workers)
		ctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup

		type job struct {
			i int
			b *Batch
		}
		type result struct {
			b   *Batch
			err error
		}
		free := make(chan *Batch, depth)
		l.mu.Lock()
		for range depth {
			if n := len(l.spare); n > 0 {
				free <- l.spare[n-1]
				l.spare = l.spare[:n-1]
			} else {
				free <- l.newBatch()
			}
		}
		l.mu.Unlock()
		results := make([]chan result, nb)
		for i := range results {
			results[i] = make(chan result, 1)
		}
		defer func() {
			// Stop the workers, then keep every batch of this epoch for the
			// next one.
			cancel()
			wg.Wait()
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, ch := range results {
				select {
				case r := <-ch:
					l.spare = append(l.spare, r.b)
				default:
				}
			}
			for {
				select {
				case b := <-free:
					l.spare = append(l.spare, b)
				default:
					return
				}
			}
		}()
		jobs := make(chan job)
		wg.Add(1)
		go func() { // dispatcher: hands out batches in order as buffers free up
			defer wg.Done()
			defer close(jobs)
			for i := range nb {
				var b *Batch
				select {
				case b = <-free:
				case <-ctx.Done():
					return
				}
				select {
				case jobs <- job{i, b}:
				case <-ctx.Done():
					free <- b
					return
				}
			}
		}()
		for range l.workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var s Sample
				for j := range jobs {
					err := l.fill(ctx, j.b, epoch, j.i, order, &s)
					results[j.i] <- result{j.b, err}
				}
			}()
		}
		for i := range nb {
			var r result
			select {
			case r = <-results[i]:
			case <-ctx.Done():
				yield(nil, ctx.Err())
				return
			}
			if r.err != nil {
				free <- r.b
				if ctx.Err() != nil && errors.Is(r.err, ctx.Err()) {
					yield(nil, ctx.Err())
				} else {
					yield(nil, r.err)
				}
				return
			}
			ok := yield(r.b, nil)
			free <- r.b
			if !ok {
				return
			}
		}
	}
}
