//go:build !amd64 || purego

package kern

func affine(x, y []float32, m, sc, sh float32, relu bool) { affineGo(x, y, m, sc, sh, relu) }

func affineAddReLU(x, r, y []float32, m, sc, sh float32) { affineAddReLUGo(x, r, y, m, sc, sh) }

func shiftedSums(s []float32, shift float64) (float64, float64) { return shiftedSumsGo(s, shift) }

func gradSums(x, y, dy []float32, mu float64) (float64, float64) { return gradSumsGo(x, y, dy, mu) }

func bnDx(x, y, dy, dx []float32, a, b, c0, mu float32) { bnDxGo(x, y, dy, dx, a, b, c0, mu) }

func reluVec(x, y []float32) { reluGo(x, y) }

func reluBackwardVec(y, dy, dx []float32) { reluBackwardGo(y, dy, dx) }

func addVec(a, b, y []float32, relu bool) { addGo(a, b, y, relu) }
