package infer

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/bsampose/bsampose/heatmap"
)

func headerCases() map[string]fileHeader {
	meta := Meta{Preset: PresetPoseNetS, InputH: 128, InputW: 96, Joints: 3,
		Names:    []string{"nose", `quo"te\back/slash`, "tab\t nl\n é ✓ 😀 \u0001"},
		Skeleton: [][2]int{{0, 1}, {1, 2}}, FlipPairs: [][2]int{{1, 2}},
		Sigmas: []float64{0.026, 0.025, 1e-300}, Codec: heatmap.NewMSRA(96, 128),
		Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}}
	dark := meta
	dark.Codec.DARK, dark.Codec.BlurKernel, dark.Sigmas, dark.FlipPairs = true, 5, nil, nil
	return map[string]fileHeader{
		"f32": {Meta: meta, Tensors: []tensorEntry{
			{Name: "stem.conv.weight", Shape: []int{32, 3, 3, 3}, DType: "f32"},
			{Name: "stem.conv.bias", Shape: []int{32}, DType: "f32", Offset: 3456}}},
		"i8_dark": {Meta: dark, Tensors: []tensorEntry{
			{Name: "head.final.weight", Shape: []int{3, 64, 1, 1}, DType: "i8", Offset: 1 << 40, ScaleOffset: 192}}},
		"empty": {},
	}
}

// TestParseHeader: the header reader gives what encoding/json gives on
// headers that encoding/json wrote (Encode's writer), indented or not.
func TestParseHeader(t *testing.T) {
	for name, h := range headerCases() {
		t.Run(name, func(t *testing.T) {
			compact, err := json.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			indented, _ := json.MarshalIndent(h, " ", "\t")
			for _, b := range [][]byte{compact, indented} {
				var want fileHeader
				if err := json.Unmarshal(b, &want); err != nil {
					t.Fatal(err)
				}
				got, err := parseHeader(b)
				if err != nil {
					t.Fatalf("parseHeader(%s): %v", b, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("parseHeader(%s)\n = %+v\nwant %+v", b, got, want)
				}
			}
		})
	}
	// Escapes encoding/json does not write, unknown keys and null.
	got, err := parseHeader([]byte(`{"x":[1,{"y":null}],"meta":{"names":["\u00e9\ud83d\ude00\/", "\ud800", "a` + "\xff" + `b"],"preset":null,"joints":-0,"mean":[1E+2,-0.5e-1,0]},"tensors":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"é😀/", "\uFFFD", "a\uFFFDb"}; !reflect.DeepEqual(got.Meta.Names, want) || got.Meta.Mean != [3]float32{100, -0.05, 0} || got.Tensors != nil {
		t.Errorf("got names %q, mean %v, tensors %v", got.Meta.Names, got.Meta.Mean, got.Tensors)
	}
}

func TestParseHeaderErrors(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"empty", ``, "unexpected end"},
		{"not_object", `[1]`, "field header: want an object"},
		{"trailing", `{} {}`, "data after"},
		{"unterminated", `{"meta":{"preset":"a`, "unterminated string"},
		{"bad_escape", `{"a":"\x"}`, "bad escape"},
		{"bad_unicode", `{"a":"\u12g4"}`, `bad \u escape`},
		{"control", "{\"a\":\"\x01\"}", "control character"},
		{"leading_zero", `{"a":01}`, "bad number"},
		{"bare_minus", `{"a":-}`, "bad number"},
		{"no_fraction", `{"a":1.}`, "bad number"},
		{"no_exponent", `{"a":1e}`, "bad number"},
		{"missing_colon", `{"a" 1}`, "want ':'"},
		{"key_not_string", `{1:2}`, "want a key"},
		{"missing_comma", `[1 2]`, "want ',' or ']'"},
		{"bad_literal", `{"a":tru}`, "unexpected 't'"},
		{"deep", strings.Repeat("[", 40) + strings.Repeat("]", 40), "nested too deeply"},
		{"int_fraction", `{"meta":{"joints":1.5}}`, "field joints: want an integer, have number 1.5"},
		{"int_overflow", `{"meta":{"input_h":99999999999999999999}}`, "field input_h"},
		{"string_for_int", `{"tensors":[{"offset":"3"}]}`, "field tensors.offset: want an integer, have a string"},
		{"pair_length", `{"meta":{"skeleton":[[1,2,3]]}}`, "field skeleton: want [a, b] pairs"},
		{"mean_length", `{"meta":{"mean":[1,2]}}`, "field mean: want three numbers"},
		{"float32_range", `{"meta":{"std":[1e39,1,1]}}`, "field std: want a number in range"},
		{"bool", `{"meta":{"codec":{"dark":1}}}`, "field codec.dark: want a boolean"},
		{"names", `{"meta":{"names":"nose"}}`, "field names: want an array, have a string"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseHeader([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseHeader(%q) = %v, want an error containing %q", tt.in, err, tt.want)
			}
			if json.Valid([]byte(tt.in)) {
				var h fileHeader
				// The reader is stricter than encoding/json only about the
				// length of fixed-size arrays.
				if json.Unmarshal([]byte(tt.in), &h) == nil && tt.name != "pair_length" && tt.name != "mean_length" {
					t.Errorf("encoding/json accepts %q; the reader should too", tt.in)
				}
			}
		})
	}
}

// FuzzParseHeader: the reader never panics, and a header it accepts
// survives encoding/json's round trip unchanged (so nothing it reads is
// lost or invented), and encoding/json reads the same bytes alike when
// they are its own output.
func FuzzParseHeader(f *testing.F) {
	for _, h := range headerCases() {
		b, _ := json.Marshal(h)
		f.Add(b)
	}
	f.Add([]byte(`{"meta":{"names":["\ud83d\ude00"]},"tensors":[{"shape":[1,-2,3]}]}`))
	f.Add([]byte(`[{"a":[[[]]]}, 1e5, -0.0, "x", true, false, null]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeader(b)
		if err != nil {
			return
		}
		again, err := json.Marshal(h)
		if err != nil {
			return // NaN-free by construction; Marshal cannot fail here
		}
		h2, err := parseHeader(again)
		if err != nil {
			t.Fatalf("reader refuses its own re-encoded header %s: %v", again, err)
		}
		var h3 fileHeader
		if err := json.Unmarshal(again, &h3); err != nil {
			t.Fatalf("encoding/json refuses %s: %v", again, err)
		}
		if !reflect.DeepEqual(h, h2) || !reflect.DeepEqual(h2, h3) {
			t.Fatalf("round trip changed the header:\n%+v\n%+v\n%+v", h, h2, h3)
		}
	})
}
