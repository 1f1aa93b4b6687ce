package pose

import "math"

// maxPool is 3x3 max pooling with stride 2 and padding 1 over NCHW
// float32 data: input (n,c,h,w), output (n,c,oh,ow) with
// oh = (h+2-3)/2+1. Padding never wins (it acts as -Inf).
type maxPool struct{ n, c, h, w int }

func (p maxPool) outH() int { return (p.h-1)/2 + 1 }
func (p maxPool) outW() int { return (p.w-1)/2 + 1 }

// forward writes the window maxima to y (n*c*oh*ow) and the flat input
// index (within its n,c plane) of each maximum to arg. The first maximum
// in row-major window order wins ties.
func (p maxPool) forward(x, y []float32, arg []int32) {
	oh, ow := p.outH(), p.outW()
	for pl := range p.n * p.c {
		xp := x[pl*p.h*p.w : (pl+1)*p.h*p.w]
		yp := y[pl*oh*ow : (pl+1)*oh*ow]
		ap := arg[pl*oh*ow : (pl+1)*oh*ow]
		for oy := range oh {
			for ox := range ow {
				best := float32(math.Inf(-1))
				bi := int32(-1)
				for ky := range 3 {
					iy := oy*2 - 1 + ky
					if iy < 0 || iy >= p.h {
						continue
					}
					for kx := range 3 {
						ix := ox*2 - 1 + kx
						if ix < 0 || ix >= p.w {
							continue
						}
						if v := xp[iy*p.w+ix]; v > best || bi < 0 {
							best, bi = v, int32(iy*p.w+ix)
						}
					}
				}
				yp[oy*ow+ox] = best
				ap[oy*ow+ox] = bi
			}
		}
	}
}

// backward overwrites dx (n*c*h*w) with dy (n*c*oh*ow) routed to the
// arg-max positions recorded by forward.
func (p maxPool) backward(dy []float32, arg []int32, dx []float32) {
	clear(dx)
	oh, ow := p.outH(), p.outW()
	for pl := range p.n * p.c {
		dxp := dx[pl*p.h*p.w : (pl+1)*p.h*p.w]
		for i, a := range arg[pl*oh*ow : (pl+1)*oh*ow] {
			dxp[a] += dy[pl*oh*ow+i]
		}
	}
}
