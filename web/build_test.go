package web

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMinimalGoMod(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"patch version", "module x\n\ngo 1.26.8\n\nrequire (\n\tgorgonia.org/gorgonia v0.9.18\n)\n", "module " + ModulePath + "\n\ngo 1.26\n"},
		{"minor only", "module x\ngo 1.27\ntoolchain go1.27.1\n", "module " + ModulePath + "\n\ngo 1.27\n"},
		{"no go line", "module x\n", "module " + ModulePath + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(minimalGoMod([]byte(tc.in))); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSourceHash(t *testing.T) {
	a, err := SourceHash()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SourceHash()
	if len(a) != 64 || a != b {
		t.Errorf("SourceHash %q then %q: want one stable 64-digit hex string", a, b)
	}
}

// TestEnsureWasm builds the wasm from the embedded source into an empty
// cache with module downloads off, then finds it there on the second call
// without building (the files keep their modification time), and leaves
// no source folder behind.
func TestEnsureWasm(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wasm module")
	}
	cache := t.TempDir()
	var log bytes.Buffer
	dir, err := ensureWasm(context.Background(), cache, []string{"GOPROXY=off"}, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	wasm, err := os.ReadFile(filepath.Join(dir, "posewasm.wasm"))
	if err != nil || !bytes.HasPrefix(wasm, []byte("\x00asm")) || len(wasm) < 100<<10 {
		t.Fatalf("posewasm.wasm: %d bytes, %v", len(wasm), err)
	}
	st1, err := os.Stat(filepath.Join(dir, "posewasm.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := ensureWasm(context.Background(), cache, []string{"GOPROXY=off"}, &log)
	if err != nil || again != dir {
		t.Fatalf("second call: %q, %v; want %q", again, err, dir)
	}
	st2, _ := os.Stat(filepath.Join(dir, "posewasm.wasm"))
	if !st1.ModTime().Equal(st2.ModTime()) {
		t.Error("the second call rebuilt the wasm")
	}
	entries, _ := os.ReadDir(cache)
	if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), "wasm-") {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("cache holds %v, want the one wasm-* folder", names)
	}
}
