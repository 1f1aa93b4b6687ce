// Package shareddata finds the read-only real datasets that live beside the
// checkout (../shared/data) for tests and benchmarks.
//
// The folder is taken from the BSAMPOSE_DATA environment variable, or else
// found by walking up from the working directory to a directory holding
// shared/data. Tests call Dir, which skips the test with a clear message
// when the folder is absent; nothing is ever copied into the project.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvVar names the environment variable that overrides the data folder.
const EnvVar = "BSAMPOSE_DATA"

// Root returns the shared data folder and whether it exists.
func Root() (string, bool) {
	if d := os.Getenv(EnvVar); d != "" {
		st, err := os.Stat(d)
		return d, err == nil && st.IsDir()
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "shared", "data")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand, true
		}
		if parent := filepath.Dir(dir); parent == dir {
			break
		}
	}
	return filepath.Join("..", "shared", "data"), false
}

// Dir returns the path of sub (for example "lspet" or
// "mmpose_testdata/crowdpose") inside the shared data folder, skipping the
// test or benchmark when it is absent.
func Dir(tb testing.TB, sub string) string {
	tb.Helper()
	root, ok := Root()
	if !ok {
		tb.Skipf("shared data folder not found (set %s or place shared/data beside the checkout); skipping test that needs real data", EnvVar)
	}
	p := filepath.Join(root, sub)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared data %s not found: %v", p, err)
	}
	return p
}
