package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/bsampose/bsampose"
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
			return "", fmt.Errorf("%w: no go.mod of it above %s", ErrNoCheckout, start)
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
// GOOS=js GOARCH=wasm into outDir/posewasm.wasm with the go command
// (GoCommand), and copies the wasm_exec.js of that same toolchain ($(go
// env GOROOT)/lib/wasm) beside it. (The SIMD kernel needs no build: New
// serves simd.Module().) Go's build cache makes a rebuild of
// unchanged sources take about a second. The go command's output goes to
// log.
func BuildWasm(ctx context.Context, moduleDir, outDir string, log io.Writer) error {
	return buildWasm(ctx, moduleDir, outDir, nil, log)
}

// buildWasm is BuildWasm with extra environment variables for the go
// command.
func buildWasm(ctx context.Context, moduleDir, outDir string, env []string, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("web: build wasm: %w", err)
	}
	gobin, err := GoCommand()
	if err != nil {
		return fmt.Errorf("web: build wasm: %w", err)
	}
	env = append(append(os.Environ(), env...), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	// -s -w -trimpath: no symbol table, DWARF or local paths in the download.
	cmd := exec.CommandContext(ctx, gobin, "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(outDir, "posewasm.wasm"), bsampose.WasmPackage)
	cmd.Dir = moduleDir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("web: build wasm: GOOS=js GOARCH=wasm %s build %s in %s: %w", gobin, bsampose.WasmPackage, moduleDir, err)
	}
	goroot, err := goEnv(ctx, gobin, moduleDir, env, "GOROOT")
	if err != nil {
		return fmt.Errorf("web: build wasm: %w", err)
	}
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

// GoCommand finds the go command that builds the wasm: the one on PATH,
// else the one of the toolchain that built this binary (GOROOT/bin/go, when
// that is known and still there).
func GoCommand() (string, error) {
	p, err := exec.LookPath("go")
	if err == nil {
		return p, nil
	}
	if root := runtime.GOROOT(); root != "" { //nolint:staticcheck // a fallback only
		q := filepath.Join(root, "bin", "go")
		if st, serr := os.Stat(q); serr == nil && !st.IsDir() {
			return q, nil
		}
	}
	return "", fmt.Errorf("the go command is needed to build the wasm module (install Go, or pass prebuilt files with --wasm-dir): %w", err)
}

func goEnv(ctx context.Context, gobin, dir string, env []string, key string) (string, error) {
	cmd := exec.CommandContext(ctx, gobin, "env", key)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", key, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// sourceEnv is the go command's environment for a build of the embedded
// source: no workspace of a parent folder, and go.mod taken as written.
var sourceEnv = []string{"GOWORK=off", "GOFLAGS=-mod=readonly"}

// SourceHash is the hex SHA-256 of the embedded wasm source
// (bsampose.WasmSource): names and contents, in name order.
func SourceHash() (string, error) {
	h := sha256.New()
	var names []string
	err := fs.WalkDir(bsampose.WasmSource(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("web: wasm source: %w", err)
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := fs.ReadFile(bsampose.WasmSource(), n)
		if err != nil {
			return "", fmt.Errorf("web: wasm source: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// WriteWasmSource writes the embedded wasm source into dir (created) as a
// module the go command builds with no download: go.mod keeps only the
// module path and the language version (the wasm packages import only the
// standard library; a patch-level go line could make an older local
// toolchain fetch a newer one).
func WriteWasmSource(dir string) error {
	src := bsampose.WasmSource()
	return fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("web: wasm source: %w", err)
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return fmt.Errorf("web: wasm source: %w", err)
			}
			return nil
		}
		b, err := fs.ReadFile(src, p)
		if err != nil {
			return fmt.Errorf("web: wasm source: %w", err)
		}
		if p == "go.mod" {
			b = minimalGoMod(b)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return fmt.Errorf("web: wasm source: %w", err)
		}
		return nil
	})
}

// minimalGoMod keeps the module line and the language version (go 1.26
// of go 1.26.8) of a go.mod.
func minimalGoMod(gomod []byte) []byte {
	out := "module " + ModulePath + "\n"
	for _, line := range strings.Split(string(gomod), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "go" {
			v := strings.SplitN(f[1], ".", 3)
			if len(v) >= 2 {
				out += "\ngo " + v[0] + "." + v[1] + "\n"
			}
			break
		}
	}
	return []byte(out)
}

// EnsureWasm returns a directory of cacheDir holding posewasm.wasm and
// wasm_exec.js built from the source embedded in this binary (so it works
// from any folder, with no checkout), building them on the first call for
// this source and toolchain: the directory is named by SourceHash and the
// go command's version, and later calls (other processes too) reuse it.
// The source is written to a temporary folder of cacheDir and removed
// after the build; concurrent builds of the same key are safe (the first
// to finish wins). Build output goes to log.
func EnsureWasm(ctx context.Context, cacheDir string, log io.Writer) (string, error) {
	return ensureWasm(ctx, cacheDir, nil, log)
}

func ensureWasm(ctx context.Context, cacheDir string, env []string, log io.Writer) (string, error) {
	if log == nil {
		log = io.Discard
	}
	sum, err := SourceHash()
	if err != nil {
		return "", err
	}
	gobin, err := GoCommand()
	if err != nil {
		return "", fmt.Errorf("web: build wasm: %w", err)
	}
	env = append(append([]string{}, sourceEnv...), env...)
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("web: build wasm: %w", err)
	}
	ver, err := goEnv(ctx, gobin, cacheDir, append(os.Environ(), env...), "GOVERSION")
	if err != nil {
		return "", fmt.Errorf("web: build wasm: %w", err)
	}
	out := filepath.Join(cacheDir, "wasm-"+sum[:16]+"-"+sanitize(ver))
	if wasmComplete(out) {
		return out, nil
	}
	tmp, err := os.MkdirTemp(cacheDir, "build-")
	if err != nil {
		return "", fmt.Errorf("web: build wasm: %w", err)
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	if err := WriteWasmSource(src); err != nil {
		return "", err
	}
	if err := buildWasm(ctx, src, filepath.Join(tmp, "out"), env, log); err != nil {
		return "", err
	}
	if err := os.Rename(filepath.Join(tmp, "out"), out); err != nil && !wasmComplete(out) {
		return "", fmt.Errorf("web: build wasm: %w", err)
	}
	return out, nil
}

func wasmComplete(dir string) bool {
	for _, f := range []string{"posewasm.wasm", "wasm_exec.js"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			return false
		}
	}
	return true
}

// sanitize keeps a go version string usable as part of a file name.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// ErrNoCheckout is returned by FindModuleDir outside a checkout.
var ErrNoCheckout = errors.New("web: not inside a checkout of " + ModulePath)

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
