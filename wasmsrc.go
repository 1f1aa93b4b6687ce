package bsampose

import (
	"embed"
	"io/fs"
)

// wasmSource is the source of cmd/posewasm and its in-module imports.
// pose/*/*.go takes every direct sub-package of pose (the wasm links
// pose/infer, pose/geom, pose/kern and what pose/infer imports), so a new
// one needs no edit here; the others are embedded but not built. Keep the
// patterns in step with `GOOS=js GOARCH=wasm go list -deps ./cmd/posewasm`
// (TestWasmSourceCoversDeps fails otherwise).
//
//go:embed go.mod
//go:embed cmd/posewasm/*.go
//go:embed pose/*/*.go
//go:embed heatmap/*.go
var wasmSource embed.FS

// WasmPackage is the package path, relative to the module root, of the
// browser inference module in WasmSource.
const WasmPackage = "./cmd/posewasm"

// WasmSource returns the embedded source of the browser inference module
// (see the package documentation for what it holds).
func WasmSource() fs.FS { return wasmSource }
