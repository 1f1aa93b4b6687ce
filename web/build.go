package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/bsampose/bsampose/pose/infer"
	"github.com/bsampose/bsampose/pose/infer/checkpoint"
)

// ModulePath is the import path of this project's module.
const ModulePath = "github.com/bsampose/bsampose"

// FindModuleDir walks up from start to the directory whose go.mod
// declares ModulePath (the checkout the wasm is built from).
func FindModuleDir(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", fmt.Errorf("web: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePathOf(b) == ModulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("web: no go.mod of %s above %s (run from the checkout, or pass prebuilt wasm files)", ModulePath, start)
		}
		dir = parent
	}
}

func modulePathOf(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// BuildWasm compiles ./cmd/posewasm of the checkout moduleDir for
// GOOS=js GOARCH=wasm into outDir/posewasm.wasm with the go command on
// PATH, and copies the wasm_exec.js of that same toolchain ($(go env
// GOROOT)/lib/wasm) beside it. (The SIMD kernel needs no build: New
// serves simd.Module().) Go's build cache makes a rebuild of
// unchanged sources take about a second. The go command's output goes to
// log.
func BuildWasm(ctx context.Context, moduleDir, outDir string, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("web: build wasm: %w", err)
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("web: build wasm: the go command is needed to build the wasm module: %w", err)
	}
	// -s -w -trimpath: no symbol table, DWARF or local paths in the download.
	cmd := exec.CommandContext(ctx, gobin, "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(outDir, "posewasm.wasm"), "./cmd/posewasm")
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("web: build wasm: GOOS=js GOARCH=wasm go build ./cmd/posewasm in %s: %w", moduleDir, err)
	}
	env := exec.CommandContext(ctx, gobin, "env", "GOROOT")
	env.Dir = moduleDir
	out, err := env.Output()
	if err != nil {
		return fmt.Errorf("web: build wasm: go env GOROOT: %w", err)
	}
	goroot := strings.TrimSpace(string(out))
	var js []byte
	for _, p := range []string{filepath.Join(goroot, "lib", "wasm", "wasm_exec.js"), filepath.Join(goroot, "misc", "wasm", "wasm_exec.js")} {
		if js, err = os.ReadFile(p); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("web: build wasm: wasm_exec.js of %s: %w", goroot, err)
	}
	if err := os.WriteFile(filepath.Join(outDir, "wasm_exec.js"), js, 0o644); err != nil {
		return fmt.Errorf("web: build wasm: %w", err)
	}
	return nil
}

// ExportModel returns the browser weights of a checkpoint: the
// batch-norm-folded infer.Model, encoded with infer.EncodeWith (float32
// by default: the bytes `posetrain export` writes; opt.Int8 for weights
// about 4x smaller).
func ExportModel(path string, opt infer.EncodeOptions) ([]byte, error) {
	m, _, err := checkpoint.Load(path)
	if err != nil {
		return nil, fmt.Errorf("web: export model: %w", err)
	}
	var buf bytes.Buffer
	if err := infer.EncodeWith(&buf, m, opt); err != nil {
		return nil, fmt.Errorf("web: export model %s: %w", path, err)
	}
	return buf.Bytes(), nil
}
