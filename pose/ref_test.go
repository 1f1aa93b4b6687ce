package pose

import (
	"fmt"
	"math"
)

// An independent float64 implementation of posenet-s (training mode) with
// naive loops and a hand-written backward pass, used as the reference for
// the float32 graph. It shares nothing with the package but the tensor
// names.

type ref64 struct {
	n, c, h, w int
	v, g       []float64
}

func newRef64(n, c, h, w int) *ref64 {
	return &ref64{n: n, c: c, h: h, w: w, v: make([]float64, n*c*h*w), g: make([]float64, n*c*h*w)}
}

type refNet struct {
	p     map[string][]float64 // parameter values
	gr    map[string][]float64 // parameter gradients
	back  []func()
	joint int
	run   map[string][]float64  // running statistics; non-nil selects eval mode
	model func(x *ref64) *ref64 // forward used by trainStep; posenet-s by default
}

func newRefNet(params []*Tensor, joints int) *refNet {
	r := &refNet{p: map[string][]float64{}, gr: map[string][]float64{}, joint: joints}
	r.model = r.forward
	for _, t := range params {
		v := make([]float64, len(t.Value))
		for i, x := range t.Value {
			v[i] = float64(x)
		}
		r.p[t.Name] = v
	}
	return r
}

func (r *refNet) grad(name string) []float64 {
	g, ok := r.gr[name]
	if !ok {
		g = make([]float64, len(r.p[name]))
		r.gr[name] = g
	}
	return g
}

func (r *refNet) param(name string) []float64 {
	v, ok := r.p[name]
	if !ok {
		panic(fmt.Sprintf("reference: no parameter %s", name))
	}
	return v
}

func (r *refNet) conv(x *ref64, name string, outC, k, s, pad int, bias bool) *ref64 {
	w := r.param(name + ".weight")
	oh, ow := (x.h+2*pad-k)/s+1, (x.w+2*pad-k)/s+1
	y := newRef64(x.n, outC, oh, ow)
	var b []float64
	if bias {
		b = r.param(name + ".bias")
	}
	for n := range x.n {
		for o := range outC {
			yo := y.v[(n*outC+o)*oh*ow : (n*outC+o+1)*oh*ow]
			if bias {
				for i := range yo {
					yo[i] = b[o]
				}
			}
			for c := range x.c {
				xc := x.v[(n*x.c+c)*x.h*x.w : (n*x.c+c+1)*x.h*x.w]
				for ky := range k {
					for kx := range k {
						wv := w[((o*x.c+c)*k+ky)*k+kx]
						for oy := range oh {
							iy := oy*s - pad + ky
							if iy < 0 || iy >= x.h {
								continue
							}
							for ox := range ow {
								ix := ox*s - pad + kx
								if ix < 0 || ix >= x.w {
									continue
								}
								yo[oy*ow+ox] += wv * xc[iy*x.w+ix]
							}
						}
					}
				}
			}
		}
	}
	r.back = append(r.back, func() {
		gw := r.grad(name + ".weight")
		var gb []float64
		if bias {
			gb = r.grad(name + ".bias")
		}
		for n := range x.n {
			for o := range outC {
				dyo := y.g[(n*outC+o)*oh*ow : (n*outC+o+1)*oh*ow]
				if bias {
					for _, d := range dyo {
						gb[o] += d
					}
				}
				for c := range x.c {
					xc := x.v[(n*x.c+c)*x.h*x.w : (n*x.c+c+1)*x.h*x.w]
					dxc := x.g[(n*x.c+c)*x.h*x.w : (n*x.c+c+1)*x.h*x.w]
					for ky := range k {
						for kx := range k {
							wi := ((o*x.c+c)*k+ky)*k + kx
							wv := w[wi]
							var acc float64
							for oy := range oh {
								iy := oy*s - pad + ky
								if iy < 0 || iy >= x.h {
									continue
								}
								for ox := range ow {
									ix := ox*s - pad + kx
									if ix < 0 || ix >= x.w {
										continue
									}
									d := dyo[oy*ow+ox]
									acc += d * xc[iy*x.w+ix]
									dxc[iy*x.w+ix] += wv * d
								}
							}
							gw[wi] += acc
						}
					}
				}
			}
		}
	})
	return y
}

// bn is training-mode batch norm (biased batch variance, eps 1e-5),
// optionally followed by ReLU.
func (r *refNet) bn(x *ref64, name string, relu bool) *ref64 {
	gamma, beta := r.param(name+".weight"), r.param(name+".bias")
	y := newRef64(x.n, x.c, x.h, x.w)
	hw := x.h * x.w
	if r.run != nil {
		rm, rv := r.run[name+".running_mean"], r.run[name+".running_var"]
		for i := range y.v {
			c := i / hw % x.c
			v := gamma[c]*(x.v[i]-rm[c])/math.Sqrt(rv[c]+1e-5) + beta[c]
			if relu && v < 0 {
				v = 0
			}
			y.v[i] = v
		}
		return y
	}
	m := float64(x.n * hw)
	mean := make([]float64, x.c)
	inv := make([]float64, x.c)
	for c := range x.c {
		var s float64
		for n := range x.n {
			for _, v := range x.v[(n*x.c+c)*hw : (n*x.c+c+1)*hw] {
				s += v
			}
		}
		mu := s / m
		var ss float64
		for n := range x.n {
			for _, v := range x.v[(n*x.c+c)*hw : (n*x.c+c+1)*hw] {
				ss += (v - mu) * (v - mu)
			}
		}
		mean[c], inv[c] = mu, 1/math.Sqrt(ss/m+1e-5)
		for n := range x.n {
			for i := (n*x.c + c) * hw; i < (n*x.c+c+1)*hw; i++ {
				v := gamma[c]*(x.v[i]-mu)*inv[c] + beta[c]
				if relu && v < 0 {
					v = 0
				}
				y.v[i] = v
			}
		}
	}
	r.back = append(r.back, func() {
		gg, gb := r.grad(name+".weight"), r.grad(name+".bias")
		for c := range x.c {
			var sdy, sdyx float64
			for n := range x.n {
				for i := (n*x.c + c) * hw; i < (n*x.c+c+1)*hw; i++ {
					d := y.g[i]
					if relu && y.v[i] <= 0 {
						d = 0
					}
					sdy += d
					sdyx += d * (x.v[i] - mean[c]) * inv[c]
				}
			}
			gg[c] += sdyx
			gb[c] += sdy
			for n := range x.n {
				for i := (n*x.c + c) * hw; i < (n*x.c+c+1)*hw; i++ {
					d := y.g[i]
					if relu && y.v[i] <= 0 {
						d = 0
					}
					xh := (x.v[i] - mean[c]) * inv[c]
					x.g[i] += gamma[c] * inv[c] * (d - sdy/m - xh*sdyx/m)
				}
			}
		}
	})
	return y
}

func (r *refNet) addReLU(a, b *ref64) *ref64 {
	y := newRef64(a.n, a.c, a.h, a.w)
	for i := range y.v {
		y.v[i] = max(a.v[i]+b.v[i], 0)
	}
	r.back = append(r.back, func() {
		for i, d := range y.g {
			if y.v[i] > 0 {
				a.g[i] += d
				b.g[i] += d
			}
		}
	})
	return y
}

func (r *refNet) up(x *ref64) *ref64 {
	y := newRef64(x.n, x.c, 2*x.h, 2*x.w)
	for p := range x.n * x.c {
		for oy := range y.h {
			for ox := range y.w {
				y.v[(p*y.h+oy)*y.w+ox] = x.v[(p*x.h+oy/2)*x.w+ox/2]
			}
		}
	}
	r.back = append(r.back, func() {
		for p := range x.n * x.c {
			for oy := range y.h {
				for ox := range y.w {
					x.g[(p*x.h+oy/2)*x.w+ox/2] += y.g[(p*y.h+oy)*y.w+ox]
				}
			}
		}
	})
	return y
}

func (r *refNet) cbr(x *ref64, name string, outC, k, s, p int) *ref64 {
	return r.bn(r.conv(x, name+".conv", outC, k, s, p, false), name+".bn", true)
}

// forward runs posenet-s on x (n,3,h,w) and returns the heatmaps.
func (r *refNet) forward(x *ref64) *ref64 {
	r.back = nil
	y := r.cbr(x, "stem", 32, 3, 2, 1)
	for i, c := range []int{64, 128, 256} {
		l := fmt.Sprintf("layer%d", i+1)
		y = r.cbr(y, l+".0", c, 3, 2, 1)
		b := l + ".1"
		z := r.bn(r.conv(y, b+".conv1", c, 3, 1, 1, false), b+".bn1", true)
		z = r.bn(r.conv(z, b+".conv2", c, 3, 1, 1, false), b+".bn2", false)
		y = r.addReLU(z, y)
	}
	y = r.cbr(r.up(y), "head.0", 128, 3, 1, 1)
	y = r.cbr(r.up(y), "head.1", 64, 3, 1, 1)
	return r.conv(y, "head.final", r.joint, 1, 1, 0, true)
}

// loss returns mean over N*K*HW of (w[n,k]*(p-t))^2 and sets p.g.
func refLoss(p *ref64, t, w []float64) float64 {
	hw := p.h * p.w
	tot := float64(len(p.v))
	var l float64
	for i := range p.v {
		wt := w[i/hw]
		d := wt * (p.v[i] - t[i])
		l += d * d
		p.g[i] = 2 * wt * d / tot
	}
	return l / tot
}

// trainStep runs forward and backward and returns the loss; gradients are
// in r.gr.
func (r *refNet) trainStep(x *ref64, t, w []float64) float64 {
	r.gr = map[string][]float64{}
	y := r.model(x)
	l := refLoss(y, t, w)
	for i := len(r.back) - 1; i >= 0; i-- {
		r.back[i]()
	}
	return l
}

// pool is 3x3 max pooling, stride 2, padding 1 (first maximum wins).
func (r *refNet) pool(x *ref64) *ref64 {
	oh, ow := (x.h-1)/2+1, (x.w-1)/2+1
	y := newRef64(x.n, x.c, oh, ow)
	arg := make([]int, len(y.v))
	for p := range x.n * x.c {
		for oy := range oh {
			for ox := range ow {
				best, bi := math.Inf(-1), -1
				for iy := oy*2 - 1; iy <= oy*2+1; iy++ {
					for ix := ox*2 - 1; ix <= ox*2+1; ix++ {
						if iy < 0 || ix < 0 || iy >= x.h || ix >= x.w {
							continue
						}
						if v := x.v[(p*x.h+iy)*x.w+ix]; v > best {
							best, bi = v, (p*x.h+iy)*x.w+ix
						}
					}
				}
				y.v[(p*oh+oy)*ow+ox], arg[(p*oh+oy)*ow+ox] = best, bi
			}
		}
	}
	r.back = append(r.back, func() {
		for i, a := range arg {
			x.g[a] += y.g[i]
		}
	})
	return y
}

// resNetForward runs the torchvision ResNet + three-stage head on x.
func (r *refNet) resNetForward(x *ref64, blocks []int, bottleneck bool) *ref64 {
	r.back = nil
	y := r.pool(r.cbr(x, "stem", 64, 7, 2, 3))
	for i, nb := range blocks {
		planes := 64 << i
		for j := range nb {
			stride := 1
			if j == 0 && i > 0 {
				stride = 2
			}
			b := fmt.Sprintf("layer%d.%d", i+1, j)
			var z *ref64
			outC := planes
			if bottleneck {
				outC = 4 * planes
				z = r.bn(r.conv(y, b+".conv1", planes, 1, 1, 0, false), b+".bn1", true)
				z = r.bn(r.conv(z, b+".conv2", planes, 3, stride, 1, false), b+".bn2", true)
				z = r.bn(r.conv(z, b+".conv3", outC, 1, 1, 0, false), b+".bn3", false)
			} else {
				z = r.bn(r.conv(y, b+".conv1", planes, 3, stride, 1, false), b+".bn1", true)
				z = r.bn(r.conv(z, b+".conv2", planes, 3, 1, 1, false), b+".bn2", false)
			}
			id := y
			if stride != 1 || y.c != outC {
				id = r.bn(r.conv(y, b+".downsample.0", outC, 1, stride, 0, false), b+".downsample.1", false)
			}
			y = r.addReLU(z, id)
		}
	}
	for i := range 3 {
		y = r.cbr(r.up(y), fmt.Sprintf("head.%d", i), 256, 3, 1, 1)
	}
	return r.conv(y, "head.final", r.joint, 1, 1, 0, true)
}
