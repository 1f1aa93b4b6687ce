package pose

import (
	"fmt"
	"slices"

	"gorgonia.org/gorgonia"
)

// The memory plan of a graph. The ops are built with unbound output
// buffers (shape only); once the graph is complete, planBuffers walks it
// in the order the tape machine runs it and binds every unbound buffer to
// a slab, reusing a slab as soon as the last reader of its previous
// value has run. A training graph then holds the forward activations
// that its backward pass reads plus a few slabs for the activation
// gradients in flight, instead of one buffer per gradient; an eval graph
// holds a few slabs instead of one buffer per activation.
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
// all nodes get buffers of their own; the others share slabs by
// liveness in the tape machine's execution order. It returns the number
// of float32 values allocated.
func planBuffers(g *gorgonia.ExprGraph, keep gorgonia.Nodes, private bool) (int, error) {
	sorted, err := gorgonia.Sort(g)
	if err != nil {
		return 0, fmt.Errorf("sort: %w", err)
	}
	slices.Reverse(sorted)           // the tape machine's order (gorgonia.Compile)
	last := map[*gorgonia.Node]int{} // index of the last reader
	for i, nd := range sorted {
		last[nd] = max(last[nd], i)
		for _, k := range children(g, nd) {
			last[k] = max(last[k], i)
		}
	}
	type slab struct {
		size int
		free int // index from which the slab may be reused
		bufs []*buffer
	}
	var slabs []*slab
	total := 0
	for i, nd := range sorted {
		op, ok := nd.Op().(outOp)
		if !ok || op.outBuf().data != nil {
			continue
		}
		b := op.outBuf()
		size := b.shape.TotalSize()
		if private || slices.Contains(keep, nd) {
			*b = allocBuffer(b.shape...)
			total += size
			continue
		}
		// Best fit among the free slabs: the smallest that holds size,
		// else the largest (grown); else a new slab.
		var best *slab
		for _, s := range slabs {
			if s.free > i {
				continue
			}
			switch {
			case best == nil,
				s.size >= size && (best.size < size || s.size < best.size),
				best.size < size && s.size > best.size:
				best = s
			}
		}
		if best == nil {
			best = &slab{}
			slabs = append(slabs, best)
		}
		best.size = max(best.size, size)
		best.free = last[nd] + 1
		best.bufs = append(best.bufs, b)
	}
	for _, s := range slabs {
		data := make([]float32, s.size)
		for _, b := range s.bufs {
			*b = newBuffer(data[:b.shape.TotalSize()], b.shape...)
		}
		total += s.size
	}
	return total, nil
}
