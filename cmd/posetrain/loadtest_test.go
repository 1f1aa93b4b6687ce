package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestLoadtestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"loadtest"},
		{"loadtest", "--model", "m", "extra"},
		{"loadtest", "--model", "m", "--clients", "0"},
		{"loadtest", "--model", "m", "--clients", "1,x"},
		{"loadtest", "--model", "m", "--box", "1,2"},
	} {
		if _, stderr, code := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, stderr)
		}
	}
}

// TestLoadtest runs two small levels on a tiny network: one JSON line on
// stdout whose counts add up, with every request answered 200, and the
// table on stderr.
func TestLoadtest(t *testing.T) {
	ck := tinyCheckpoint(t)
	stdout, stderr, code := runCLI(t, "loadtest", "--model", ck, "--clients", "1,4", "--requests", "12", "--warmup", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n := strings.Count(stdout, "\n"); n != 1 {
		t.Fatalf("stdout has %d lines, want one JSON line: %q", n, stdout)
	}
	var res loadResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Levels) != 2 || res.Levels[0].Clients != 1 || res.Levels[1].Clients != 4 {
		t.Fatalf("levels %+v", res.Levels)
	}
	for _, lv := range res.Levels {
		if lv.Requests != 12 || lv.OK != 12 || len(lv.Errors) != 0 {
			t.Errorf("%d clients: %d requests, %d ok, errors %v; want 12 answered 200", lv.Clients, lv.Requests, lv.OK, lv.Errors)
		}
		if !(lv.ReqPerS > 0) || !(lv.P50Ms > 0) || lv.P50Ms > lv.P90Ms || lv.P90Ms > lv.P99Ms || !(lv.MeanBatch >= 1) {
			t.Errorf("%d clients: inconsistent summary %+v", lv.Clients, lv)
		}
	}
	for _, want := range []string{"clients", "req/s", "p99 ms"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr table lacks %q: %s", want, stderr)
		}
	}
}

func TestPercentile(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		q    float64
		want float64
	}{{0.5, 5}, {0.9, 9}, {0.99, 10}, {1, 10}, {0.01, 1}} {
		if got := percentile(v, tc.q); got != tc.want {
			t.Errorf("percentile(1..10, %v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile(nil) = %v", got)
	}
}
