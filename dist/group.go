package dist

import (
	"fmt"
	"sync"
	"time"
)

// GroupTimeout is how long a Group rank waits for the others at a
// collective before it returns an error (a rank that stopped calling
// collectives would otherwise hang the test that runs the group).
var GroupTimeout = 2 * time.Minute

// Group returns n in-process ranks, to be driven from n goroutines (one
// per rank). Collectives meet through shared memory; sums are taken in
// rank order, so every rank gets bit-identical results. A rank whose call
// differs from the others' (another collective, another length or root)
// gets an error, as does a rank that waits longer than GroupTimeout.
// It panics if n < 1.
func Group(n int) []Comm {
	if n < 1 {
		panic(fmt.Sprintf("dist: Group(%d)", n))
	}
	g := &group{n: n, gen: make(chan struct{}), slots: make([]call, n)}
	out := make([]Comm, n)
	for r := range out {
		out[r] = &groupRank{g: g, rank: r}
	}
	return out
}

type call struct {
	op   string
	n    int
	root int
	f32  []float32
	f64  []float64
	b    []byte
}

type group struct {
	n       int
	mu      sync.Mutex
	arrived int
	gen     chan struct{}
	slots   []call
	broken  error
}

// wait is a cyclic barrier.
func (g *group) wait() error {
	g.mu.Lock()
	if g.broken != nil {
		g.mu.Unlock()
		return g.broken
	}
	ch := g.gen
	g.arrived++
	if g.arrived == g.n {
		g.arrived = 0
		g.gen = make(chan struct{})
		close(ch)
		g.mu.Unlock()
		return nil
	}
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-time.After(GroupTimeout):
		g.mu.Lock()
		g.broken = fmt.Errorf("dist: group: a rank waited %v at a collective that not every rank reached", GroupTimeout)
		g.mu.Unlock()
		return g.broken
	}
}

type groupRank struct {
	g     *group
	rank  int
	tmp32 []float32
	tmp64 []float64
}

func (r *groupRank) Rank() int { return r.rank }
func (r *groupRank) Size() int { return r.g.n }

// enter publishes c and waits for every rank; it checks that all calls
// match.
func (r *groupRank) enter(c call) error {
	r.g.slots[r.rank] = c
	if err := r.g.wait(); err != nil {
		return err
	}
	for q, o := range r.g.slots {
		if o.op != c.op || o.n != c.n || o.root != c.root {
			err := fmt.Errorf("dist: group: rank %d called %s(len %d, root %d) while rank %d called %s(len %d, root %d)",
				r.rank, c.op, c.n, c.root, q, o.op, o.n, o.root)
			r.g.wait() // let the others read the slots too
			return err
		}
	}
	return nil
}

func (r *groupRank) AllreduceSum32(x []float32) error {
	if err := r.enter(call{op: "allreduce32", n: len(x), f32: x}); err != nil {
		return err
	}
	if cap(r.tmp32) < len(x) {
		r.tmp32 = make([]float32, len(x))
	}
	s := r.tmp32[:len(x)]
	copy(s, r.g.slots[0].f32)
	for q := 1; q < r.g.n; q++ {
		for i, v := range r.g.slots[q].f32 {
			s[i] += v
		}
	}
	if err := r.g.wait(); err != nil { // everyone has read every input
		return err
	}
	copy(x, s)
	return nil
}

func (r *groupRank) AllreduceSum64(x []float64) error {
	if err := r.enter(call{op: "allreduce64", n: len(x), f64: x}); err != nil {
		return err
	}
	if cap(r.tmp64) < len(x) {
		r.tmp64 = make([]float64, len(x))
	}
	s := r.tmp64[:len(x)]
	copy(s, r.g.slots[0].f64)
	for q := 1; q < r.g.n; q++ {
		for i, v := range r.g.slots[q].f64 {
			s[i] += v
		}
	}
	if err := r.g.wait(); err != nil {
		return err
	}
	copy(x, s)
	return nil
}

func (r *groupRank) Bcast32(x []float32, root int) error {
	checkRoot(root, r.g.n)
	if err := r.enter(call{op: "bcast32", n: len(x), root: root, f32: x}); err != nil {
		return err
	}
	if r.rank != root {
		copy(x, r.g.slots[root].f32)
	}
	return r.g.wait()
}

func (r *groupRank) BcastBytes(x []byte, root int) error {
	checkRoot(root, r.g.n)
	if err := r.enter(call{op: "bcastbytes", n: len(x), root: root, b: x}); err != nil {
		return err
	}
	if r.rank != root {
		copy(x, r.g.slots[root].b)
	}
	return r.g.wait()
}

func (r *groupRank) Barrier() error {
	if err := r.enter(call{op: "barrier"}); err != nil {
		return err
	}
	return r.g.wait()
}

func (r *groupRank) Close() error { return nil }
func (r *groupRank) Abort(int)    {}
