package bsampose

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// TestWasmSourceCoversDeps: every file the wasm build compiles, in every
// package it links from outside the standard library, is embedded with the
// content on disk, and no package comes from another module (the embedded
// copy is built without downloads).
func TestWasmSourceCoversDeps(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command")
	}
	cmd := exec.Command(gobin, "list", "-deps", "-f",
		`{{if not .Standard}}{{.ImportPath}}|{{with .Module}}{{.Path}}{{end}}|{{.Dir}}|{{join .GoFiles ","}}|{{join .SFiles ","}}|{{join .EmbedFiles ","}}{{end}}`,
		WasmPackage)
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 6 {
			t.Fatalf("go list line %q", line)
		}
		imp, mod, dir := f[0], f[1], f[2]
		if mod != "github.com/bsampose/bsampose" {
			t.Errorf("%s comes from module %q: the embedded copy would need a download", imp, mod)
			continue
		}
		pkgs++
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		if f[4] != "" || f[5] != "" {
			t.Errorf("%s needs assembly %q or embedded files %q that WasmSource lacks", imp, f[4], f[5])
		}
		for _, name := range strings.Split(f[3], ",") {
			p := path.Join(filepath.ToSlash(rel), name)
			got, err := fs.ReadFile(WasmSource(), p)
			if err != nil {
				t.Errorf("%s: %s not embedded (add its directory to wasmsrc.go)", imp, p)
				continue
			}
			want, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("%s: embedded copy differs from disk", p)
			}
		}
	}
	if pkgs < 2 {
		t.Fatalf("go list found %d packages of this module in the wasm build", pkgs)
	}
	if _, err := fs.Stat(WasmSource(), "go.mod"); err != nil {
		t.Error("go.mod not embedded")
	}
}

func ExampleWasmSource() {
	b, _ := fs.ReadFile(WasmSource(), "go.mod")
	fmt.Println(strings.SplitN(string(b), "\n", 2)[0])
	_, err := fs.Stat(WasmSource(), "cmd/posewasm/main.go")
	fmt.Println(err == nil)
	_, err = fs.Stat(WasmSource(), "heatmap/testdata")
	fmt.Println(err != nil)
	// Output:
	// module github.com/bsampose/bsampose
	// true
	// true
}
