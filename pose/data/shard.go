package data

import "fmt"

// Shard makes the loader yield rank's share of every epoch, with the
// semantics of PyTorch's DistributedSampler (drop_last=True): the epoch's
// permutation (Order of one process) is cut to a multiple of size, and
// rank takes every size-th index starting at rank. With the per-rank batch
// size B/size, batch s of rank r holds the one-process batch s's positions
// r, r+size, r+2·size, ...: the union of the ranks' batches at a step is
// the one-process batch of B, with the same augmentation (drawn per sample
// from (seed, epoch, item index)). Shard(0, 1) undoes it.
//
// Call it before the first Epoch. It returns an error if size < 1 or rank
// is outside [0, size), or if a rank would get no item.
func (l *Loader) Shard(rank, size int) error {
	if size < 1 || rank < 0 || rank >= size {
		return fmt.Errorf("data: shard: rank %d of %d", rank, size)
	}
	if len(l.items)/size == 0 {
		return fmt.Errorf("data: shard: %d items for %d ranks", len(l.items), size)
	}
	l.rank, l.size = rank, size
	return nil
}

// shardLen is the number of items of this loader's shard.
func (l *Loader) shardLen() int {
	if l.size <= 1 {
		return len(l.items)
	}
	return len(l.items) / l.size
}

// shard returns this rank's part of a one-process epoch order.
func (l *Loader) shard(order []int) []int {
	if l.size <= 1 {
		return order
	}
	out := make([]int, l.shardLen())
	for j := range out {
		out[j] = order[l.rank+j*l.size]
	}
	return out
}
