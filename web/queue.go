package web

import (
	"context"
	"errors"
	"image"
	"sync"
	"time"

	"github.com/bsampose/bsampose/coco"
)

// Defaults of Config's queue and batcher.
const (
	DefaultQueueLen = 64 // requests waiting beyond the ones in flight
	DefaultMaxBatch = 8  // crops per network call
)

var (
	errBusy    = errors.New("web: queue full")
	errClosing = errors.New("web: shutting down")
)

// job is one admitted prediction. It owns an admission slot from admit
// until the runner has answered it (or dropped it because its request is
// gone), so the queue never holds more than the slots allow.
type job struct {
	ctx  context.Context
	img  image.Image // plain Predictor: the decoded image
	box  coco.Box
	crop Crop // BatchPredictor: the prepared input (img is nil)
	enq  time.Time
	done chan result // buffered: the runner never blocks on it
}

// result is the answer of one job.
type result struct {
	joints []Joint
	ms     float64 // wall time of the network call
	batch  int     // crops in that call
	err    error
}

// dispatcher is the bounded queue in front of the predictor and the
// goroutines that run it: one micro-batcher for a BatchPredictor
// (Triton's dynamic batching: it takes what is queued, up to maxBatch
// crops, waiting at most delay after the oldest arrived), or workers
// goroutines that call a plain Predictor one job at a time.
type dispatcher struct {
	pred     Predictor
	bp       BatchPredictor // nil: plain
	maxBatch int
	delay    time.Duration

	slots chan struct{} // admission tokens: in flight + queue length
	jobs  chan *job     // as long as slots, so a send never blocks
	prep  chan struct{} // decodes at once (bounds the decoded images held)
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once // of drain

	mu      sync.Mutex
	closing bool
	active  int // slots held
	idle    *sync.Cond
}

// newDispatcher starts the runners. inflight is how many jobs the runners
// hold at once (maxBatch, or workers for a plain predictor).
func newDispatcher(pred Predictor, queueLen, maxBatch, workers, decoders int, delay time.Duration) *dispatcher {
	d := &dispatcher{pred: pred, maxBatch: maxBatch, delay: delay, stop: make(chan struct{}), prep: make(chan struct{}, decoders)}
	d.idle = sync.NewCond(&d.mu)
	bp, ok := pred.(BatchPredictor)
	inflight := workers
	if ok && maxBatch > 1 {
		d.bp = bp
		inflight = maxBatch
		workers = 1 // the batches run one after the other on one network
	} else if ok {
		d.bp = bp // batches of one
		d.maxBatch = 1
		inflight, workers = 1, 1
	}
	d.slots = make(chan struct{}, inflight+queueLen)
	d.jobs = make(chan *job, inflight+queueLen)
	for range workers {
		d.wg.Add(1)
		if d.bp != nil {
			go d.runBatches()
		} else {
			go d.runPlain()
		}
	}
	return d
}

// admit takes a slot at once or fails with errBusy (every slot taken) or
// errClosing. The caller gives the slot back with release, unless it
// hands it to a job through submit.
func (d *dispatcher) admit() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return errClosing
	}
	select {
	case d.slots <- struct{}{}:
		d.active++
		return nil
	default:
		return errBusy
	}
}

// release gives back an admitted slot.
func (d *dispatcher) release() {
	d.mu.Lock()
	<-d.slots
	d.active--
	if d.active == 0 {
		d.idle.Broadcast()
	}
	d.mu.Unlock()
}

// submit queues a job; its slot now belongs to the runner.
func (d *dispatcher) submit(j *job) { d.jobs <- j }

// decode waits for a decode turn (or the end of ctx); the caller calls
// the returned func when its decoded image is dropped.
func (d *dispatcher) decode(ctx context.Context) (func(), error) {
	select {
	case d.prep <- struct{}{}:
		return func() { <-d.prep }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// queued is the number of admitted requests (waiting, decoding or in the
// network).
func (d *dispatcher) queued() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.active
}

// drain refuses new requests, waits until every admitted one has been
// answered, then stops the runners. Later calls wait for the first.
func (d *dispatcher) drain() {
	d.once.Do(func() {
		d.mu.Lock()
		d.closing = true
		for d.active > 0 {
			d.idle.Wait()
		}
		d.mu.Unlock()
		close(d.stop)
		d.wg.Wait()
	})
}

// finish answers j and frees its slot.
func (d *dispatcher) finish(j *job, r result) {
	j.done <- r
	d.release()
}

func (d *dispatcher) runPlain() {
	defer d.wg.Done()
	for {
		select {
		case <-d.stop:
			return
		case j := <-d.jobs:
			if j.ctx.Err() != nil { // its request has already answered 503
				d.release()
				continue
			}
			t0 := time.Now()
			joints, err := d.pred.Predict(j.ctx, j.img, j.box)
			d.finish(j, result{joints, msSince(t0), 1, err})
		}
	}
}

func (d *dispatcher) runBatches() {
	defer d.wg.Done()
	batch := make([]*job, 0, d.maxBatch)
	crops := make([]Crop, 0, d.maxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var first *job
		select {
		case <-d.stop:
			return
		case first = <-d.jobs:
		}
		batch = append(batch[:0], first)
		// Take what is queued; then, below maxBatch, wait for more until
		// delay after the oldest job arrived (a job that already waited
		// that long waits no more).
		waiting := false
	gather:
		for len(batch) < d.maxBatch {
			select {
			case j := <-d.jobs:
				batch = append(batch, j)
				continue
			default:
			}
			wait := d.delay - time.Since(first.enq)
			if wait <= 0 {
				break
			}
			if !waiting {
				timer.Reset(wait)
				waiting = true
			}
			select {
			case j := <-d.jobs:
				batch = append(batch, j)
			case <-timer.C:
				waiting = false
				break gather
			}
		}
		if waiting {
			timer.Stop()
		}
		live := batch[:0]
		for _, j := range batch {
			if j.ctx.Err() != nil {
				d.release()
				continue
			}
			live = append(live, j)
		}
		if len(live) == 0 {
			continue
		}
		crops = crops[:0]
		for _, j := range live {
			crops = append(crops, j.crop)
		}
		t0 := time.Now()
		out, err := d.bp.PredictCrops(crops)
		ms := msSince(t0)
		if err == nil && len(out) != len(live) {
			err = errors.New("web: predictor returned the wrong number of answers")
		}
		for i, j := range live {
			r := result{ms: ms, batch: len(live), err: err}
			if err == nil {
				r.joints = out[i]
			}
			j.crop = Crop{} // the input is no longer needed
			d.finish(j, r)
		}
	}
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }
