// Package bsampose holds, embedded in every binary that imports it, the
// Go source of the browser inference module (cmd/posewasm and the
// packages it links), so `posetrain serve` can build the wasm from any
// folder: a binary made by `go install` has no checkout beside it.
//
// # Shapes
//
// WasmSource is an fs.FS rooted at the module root: go.mod,
// cmd/posewasm/*.go, pose/*/*.go (pose/infer, pose/geom, pose/kern and
// the other direct sub-packages of pose) and heatmap/*.go (test files
// included; the build ignores them and the packages the wasm does not
// import; no testdata or assembly is embedded). Under GOOS=js GOARCH=wasm
// the packages the wasm links import only the standard library, so the
// copy needs no module download (TestWasmSourceCoversDeps checks the
// patterns against `go list -deps`).
//
// # Coordinates
//
// Paths are slash-separated and relative to the module root, as the
// go command sees them.
//
// # References
//
//   - Issue 12 of this project (install anywhere).
//   - https://pkg.go.dev/embed (patterns: files, not directories, so
//     testdata and _-prefixed directories stay out).
package bsampose
