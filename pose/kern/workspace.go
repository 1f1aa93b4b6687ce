package kern

// Workspace holds reusable scratch buffers (im2col columns, GEMM packing
// buffers, partial filter gradients), one set per worker. The zero value
// is ready to use; buffers grow as needed and never shrink, so a
// Workspace reused across steps allocates nothing in the steady state. A
// nil *Workspace is accepted and allocates fresh scratch on every call.
//
// A Workspace is not safe for concurrent use by two callers; give each
// concurrent caller (for instance each concurrently running BSAM pass)
// its own.
type Workspace struct {
	w       []*scratch
	wpack   []float32 // packed weights, shared read-only by the workers
	col     []float32 // im2col columns shared by all workers (small batches)
	g       []float32 // phase-split image shared by all workers (small batches)
	off     []int     // im2col row offsets of the shifted-image GEMM
	wflip   []float32 // flipped weights of the adjoint convolution
	wino    []float32 // Winograd-transformed weights
	wg      winoGeom  // the running Winograd layout
	bnScale []float32 // per-channel scale of ForwardBNEval
	job     convJob   // the running shifted-image job
	ep      epilogue  // the running ForwardBNEval's batch norm
}

func growInt(buf *[]int, n int) []int {
	if cap(*buf) < n {
		*buf = make([]int, n)
	}
	return (*buf)[:n]
}

type scratch struct {
	pack packBuf
	dyg  []float32 // output gradients of a group of images, side by side; packSame's channel copies
	col  []float32
	g    []float32
	dw   []float32
	off  []int     // filterCols' A row offsets
	wino []float32 // Winograd output tiles in four phase planes
}

// prepare makes sure scratch for n workers exists, before workers run.
func (ws *Workspace) prepare(n int) *Workspace {
	if ws == nil {
		ws = new(Workspace)
	}
	for len(ws.w) < n {
		ws.w = append(ws.w, new(scratch))
	}
	return ws
}

func grow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
}
