package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Info is the JSON of GET /api/info: what the page needs before it loads
// the wasm module.
type Info struct {
	Preset    string   `json:"preset"`
	Names     []string `json:"names"`
	Skeleton  [][2]int `json:"skeleton"`   // 0-based joint pairs
	FlipPairs [][2]int `json:"flip_pairs"` // 0-based (left, right)
	InputW    int      `json:"input_w"`
	InputH    int      `json:"input_h"`
	// Assets maps "exec", "wasm", "simd", "relaxed" (the relaxed-SIMD
	// kernel) and "model" to content-versioned URLs (?v=<hash>, served
	// immutable).
	Assets map[string]string `json:"assets"`
	// GzipBytes is the download of each asset for a gzip-capable client
	// (a browser fetches either "simd" or "relaxed" in full, and both
	// are small).
	GzipBytes map[string]int `json:"gzip_bytes"`
	MaxUpload int64          `json:"max_upload"`
}

func (s *server) buildInfo() Info {
	m := s.meta
	in := Info{
		Preset: m.Preset, Names: m.Schema.Names, Skeleton: m.Schema.Skeleton, FlipPairs: m.Schema.FlipPairs,
		InputW: m.InputW, InputH: m.InputH, MaxUpload: s.cfg.MaxUpload,
		Assets: map[string]string{}, GzipBytes: map[string]int{},
	}
	for key, name := range map[string]string{"exec": "wasm_exec.js", "wasm": "posewasm.wasm", "simd": "simd.wasm",
		"relaxed": "simd-relaxed.wasm", "model": "model.bin"} {
		if a, ok := s.files[name]; ok {
			in.Assets[key] = "/" + name + "?v=" + a.hash
			in.GzipBytes[key] = a.gzipSize()
		}
	}
	if in.Names == nil {
		in.Names = []string{}
	}
	if in.Skeleton == nil {
		in.Skeleton = [][2]int{}
	}
	return in
}

func (s *server) getInfo(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.JSON(http.StatusOK, s.info)
}
