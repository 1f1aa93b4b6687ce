//go:build !amd64 || purego

package kern

func winoIn(x []float32, p00, p01, p10, p11, wp, blocks int, dst []float32, ps int) {
	winoInGo(x, p00, p01, p10, p11, wp, blocks, dst, ps)
}

func winoOut(m []float32, ps, blocks int, dst []float32, ds int) {
	winoOutGo(m, ps, blocks, dst, ds)
}

func winoStore(ph []float32, ps, wp, th, tw int, y []float32, add, mean, scale, shift float32, bn, relu bool) {
	winoStoreGo(ph, ps, wp, th, tw, y, add, mean, scale, shift, bn, relu)
}

func deal2(src []float32, ss int, ev, od []float32, ds, n, rows int) {
	deal2Go(src, ss, ev, od, ds, n, rows)
}

func winoWeights(w []float32, n int, u []float32, ps int) {
	winoWeightsGo(w, n, u, ps)
}
