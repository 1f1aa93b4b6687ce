package pose

import (
	"fmt"
	"slices"

	"gorgonia.org/gorgonia"
)

// The memory plan of a graph. The ops are built with unbound output
// buffers (shape only); once the graph is complete, planBuffers walks it
// in the order the tape machine runs it and places every unbound buffer
// in one arena, where values that are never live at the same time share
// memory. A training graph then holds the forward activations that its
// backward pass reads plus room for the activation gradients in flight,
// instead of one buffer per gradient; an eval graph holds about two
// activations' worth instead of one buffer per activation. For the
// ResNet and posenet-s graphs the arena comes out exactly as large as the
// peak of the live values, the least any plan can use
// (TestPlanArenaIsPeak); for ResNet-50 training at 256x192, batch 8,
// that is 816 MB.
//
// This is sound because every value that flows between our ops is read
// through the graph's edges (ops.go), the training graph contains only
// our ops (backprop sums gradients with gradSumOp rather than gorgonia's
// in-place Add, which could write into a dead register's buffer that the
// plan has given to another value), and the tape machine runs the nodes
// in the order of gorgonia.Sort reversed, as planBuffers walks them.

// backprop adds the backward pass of the scalar loss to its graph, as
// gorgonia.Grad does (each op's SymDiff, visited in reverse topological
// order), and returns d loss / d wrt[i] for each i. Where a node feeds
// several differentiable inputs, gradSumOp sums the contributions in the
// order they were made (for two, a+b == b+a bit for bit).
func backprop(loss *gorgonia.Node, wrt gorgonia.Nodes) (gorgonia.Nodes, error) {
	g := loss.Graph()
	sorted, err := gorgonia.Sort(g) // consumers before producers
	if err != nil {
		return nil, fmt.Errorf("sort: %w", err)
	}
	one := g.AddNode(gorgonia.NewConstant(float32(1)))
	terms := map[*gorgonia.Node]gorgonia.Nodes{loss: {one}}
	sum := map[*gorgonia.Node]*gorgonia.Node{}
	for _, nd := range sorted {
		ts := terms[nd]
		if len(ts) == 0 {
			continue
		}
		grad := ts[0]
		for _, t := range ts[1:] {
			op := &gradSumOp{opBase: newBase(nd.Name() + ".dsum"), out: unbound(t.Shape()...)}
			if grad, err = gorgonia.ApplyOp(op, grad, t); err != nil {
				return nil, fmt.Errorf("gradient sum of %s: %w", nd.Name(), err)
			}
		}
		sum[nd] = grad
		if nd.Op() == nil {
			continue // input or parameter
		}
		op, ok := nd.Op().(gorgonia.SDOp)
		if !ok {
			return nil, fmt.Errorf("%v: not differentiable", nd.Op())
		}
		kids := children(g, nd)
		diff := op.DiffWRT(len(kids))
		res, err := op.SymDiff(kids, nd, grad)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", nd.Op(), err)
		}
		for i, k := range kids {
			if diff[i] && res[i] != nil {
				terms[k] = append(terms[k], res[i])
			}
		}
	}
	out := make(gorgonia.Nodes, len(wrt))
	for i, w := range wrt {
		if out[i] = sum[w]; out[i] == nil {
			return nil, fmt.Errorf("%s: no gradient reaches it", w.Name())
		}
	}
	return out, nil
}

// children returns the inputs of nd in argument order.
func children(g *gorgonia.ExprGraph, nd *gorgonia.Node) gorgonia.Nodes {
	var kids gorgonia.Nodes
	for it := g.From(nd.ID()); it.Next(); {
		kids = append(kids, it.Node().(*gorgonia.Node))
	}
	return kids
}

// planBuffers binds the unbound output buffers of the op nodes of g. The
// outputs of the nodes in keep (read after a run) and, if private, of
// all nodes get buffers of their own; the others share one arena (place),
// so that two values whose lifetimes overlap in the tape machine's
// execution order never share memory. It returns the arena and the
// number of float32 values allocated (the arena included).
func planBuffers(g *gorgonia.ExprGraph, keep gorgonia.Nodes, private bool) (arena []float32, values int, err error) {
	order, last, err := lifetimes(g)
	if err != nil {
		return nil, 0, err
	}
	kept := map[*gorgonia.Node]bool{}
	for _, nd := range keep {
		kept[nd] = true
	}
	var bufs []*buffer
	var spans []span
	total := 0
	for i, nd := range order {
		op, ok := nd.Op().(outOp)
		if !ok || op.outBuf().data != nil {
			continue // not ours, or bound already (a parameter's Grad)
		}
		b := op.outBuf()
		if private || kept[nd] {
			*b = allocBuffer(b.shape...)
			total += len(b.data)
			continue
		}
		bufs = append(bufs, b)
		spans = append(spans, span{first: i, last: last[nd], n: roundUp(b.shape.TotalSize(), arenaAlign)})
	}
	off, size := place(spans)
	arena = make([]float32, size)
	for i, b := range bufs {
		lo, hi := off[i], off[i]+b.shape.TotalSize()
		*b = newBuffer(arena[lo:hi:hi], b.shape...)
	}
	return arena, total + size, nil
}

// lifetimes returns the nodes of g in the order the tape machine runs
// them (gorgonia.Sort reversed, as gorgonia.Compile does) and, for each
// node, the position in that order of the last node that reads it (its
// own position if none does).
func lifetimes(g *gorgonia.ExprGraph) (gorgonia.Nodes, map[*gorgonia.Node]int, error) {
	order, err := gorgonia.Sort(g)
	if err != nil {
		return nil, nil, fmt.Errorf("sort: %w", err)
	}
	slices.Reverse(order)
	last := make(map[*gorgonia.Node]int, len(order))
	for i, nd := range order {
		last[nd] = max(last[nd], i)
		for _, k := range children(g, nd) {
			last[k] = max(last[k], i)
		}
	}
	return order, last, nil
}

// span is one value of the arena: written at position first of the
// execution order, read last at position last, n float32 values.
type span struct{ first, last, n int }

// overlaps reports whether the lifetimes of a and b overlap. A value
// read at position i and one written there overlap: an op's output must
// not alias its inputs (our kernels do not allow it).
func (a span) overlaps(b span) bool { return a.first <= b.last && b.first <= a.last }

// place lays spans out in one arena and returns each one's offset and
// the arena's size. It is the greedy-by-size offline placement of
// TFLite's arena planner: the largest spans first, each put in the
// smallest gap that holds it between the already placed spans whose
// lifetimes overlap its own, or after the last of them. Unlike reusing
// whole slabs, a small value can then live in a gap of a large one's
// slab. Two spans whose lifetimes overlap never overlap in the arena.
func place(spans []span) (off []int, size int) {
	bySize := make([]int, len(spans))
	for i := range bySize {
		bySize[i] = i
	}
	slices.SortStableFunc(bySize, func(a, b int) int { return spans[b].n - spans[a].n })
	off = make([]int, len(spans))
	var placed, clash []int // placed: indices of spans, by offset
	for _, i := range bySize {
		clash = clash[:0]
		for _, j := range placed {
			if spans[j].overlaps(spans[i]) {
				clash = append(clash, j)
			}
		}
		off[i] = bestGap(spans, off, clash, spans[i].n)
		size = max(size, off[i]+spans[i].n)
		at, _ := slices.BinarySearchFunc(placed, off[i], func(j, o int) int { return off[j] - o })
		placed = slices.Insert(placed, at, i)
	}
	return off, size
}

// bestGap returns the start of the smallest gap of at least n values
// between the spans clash (sorted by offset), or the end of the last of
// them if no gap is large enough.
func bestGap(spans []span, off, clash []int, n int) int {
	at, gap, end := -1, 0, 0 // end: the highest end of the spans so far
	for _, j := range clash {
		if g := off[j] - end; g >= n && (at < 0 || g < gap) {
			at, gap = end, g
		}
		end = max(end, off[j]+spans[j].n)
	}
	if at < 0 {
		return end
	}
	return at
}

// arenaAlign is the granularity of the arena's offsets in float32
// values: 64 bytes, one cache line and one AVX-512 vector, so that every
// buffer starts on a cache line when the arena does (Go page-aligns
// large allocations).
const arenaAlign = 16

func roundUp(n, m int) int { return (n + m - 1) / m * m }
