package pose

import "github.com/bsampose/bsampose/pose/kern"

// maxPool is 3x3 max pooling with stride 2 and padding 1 over NCHW
// float32 data: input (n,c,h,w), output (n,c,oh,ow) with
// oh = (h+2-3)/2+1. Padding never wins (it acts as -Inf).
type maxPool struct{ n, c, h, w int }

func (p maxPool) outH() int { return (p.h-1)/2 + 1 }
func (p maxPool) outW() int { return (p.w-1)/2 + 1 }

// forward writes the window maxima to y (n*c*oh*ow) and the flat input
// index (within its n,c plane) of each maximum to arg. The first maximum
// in row-major window order wins ties (kern.MaxPool3s2).
func (p maxPool) forward(x, y []float32, arg []int32) {
	kern.MaxPool3s2(p.n, p.c, p.h, p.w, x, y, arg)
}

// backward overwrites dx (n*c*h*w) with dy (n*c*oh*ow) routed to the
// arg-max positions recorded by forward.
func (p maxPool) backward(dy []float32, arg []int32, dx []float32) {
	kern.MaxPool3s2Backward(p.n, p.c, p.h, p.w, dy, arg, dx)
}
