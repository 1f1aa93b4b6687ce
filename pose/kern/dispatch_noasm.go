//go:build !amd64 || purego

package kern

// useAVX512 is always false without the amd64 assembly.
var useAVX512 = false

func supportedPaths() []string { return []string{"generic"} }

func setPath(p string) {
	if p != "generic" {
		panic("kern: unknown path " + p)
	}
}

func fmaLoopFor(isa string) (func(int), float64) { return nil, 0 }

// hasAVX512 is always false without the amd64 assembly.
var hasAVX512 = false
