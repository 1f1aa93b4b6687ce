package infer

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The model header is read by a small JSON reader of its own instead of
// encoding/json: Decode is the only JSON the browser build parses, and
// encoding/json (with the reflection it keeps alive) was about 150 KB of
// the gzipped wasm download. Encode still writes the header with
// encoding/json; the tests check that both agree.

// maxJSONDepth bounds the nesting of the header (it is 4 deep).
const maxJSONDepth = 32

// jsonNumber is a JSON number literal, converted by the field that
// receives it (so an integer field can refuse 1.5 as encoding/json does).
type jsonNumber string

var errJSONSyntax = errors.New("syntax error")

// jsonReader parses one JSON value into nil, bool, jsonNumber, string,
// []any or map[string]any (a repeated key keeps its last value).
type jsonReader struct {
	s     []byte
	i     int
	depth int
}

func (r *jsonReader) fail(what string) error {
	return fmt.Errorf("%w at byte %d: %s", errJSONSyntax, r.i, what)
}

func (r *jsonReader) space() {
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// parseJSON parses b, which must hold exactly one JSON value.
func parseJSON(b []byte) (any, error) {
	r := &jsonReader{s: b}
	v, err := r.value()
	if err != nil {
		return nil, err
	}
	r.space()
	if r.i != len(r.s) {
		return nil, r.fail("data after the value")
	}
	return v, nil
}

func (r *jsonReader) value() (any, error) {
	r.space()
	if r.i >= len(r.s) {
		return nil, r.fail("unexpected end")
	}
	switch c := r.s[r.i]; {
	case c == '{':
		return r.object()
	case c == '[':
		return r.array()
	case c == '"':
		return r.str()
	case c == '-' || c >= '0' && c <= '9':
		return r.number()
	default:
		for _, lit := range [...]struct {
			s string
			v any
		}{{"true", true}, {"false", false}, {"null", nil}} {
			if len(r.s)-r.i >= len(lit.s) && string(r.s[r.i:r.i+len(lit.s)]) == lit.s {
				r.i += len(lit.s)
				return lit.v, nil
			}
		}
		return nil, r.fail(fmt.Sprintf("unexpected %q", c))
	}
}

func (r *jsonReader) enter() error {
	if r.depth++; r.depth > maxJSONDepth {
		return r.fail("nested too deeply")
	}
	r.i++ // the opening bracket
	return nil
}

func (r *jsonReader) object() (any, error) {
	if err := r.enter(); err != nil {
		return nil, err
	}
	m := map[string]any{}
	r.space()
	if r.i < len(r.s) && r.s[r.i] == '}' {
		r.i++
		r.depth--
		return m, nil
	}
	for {
		r.space()
		if r.i >= len(r.s) || r.s[r.i] != '"' {
			return nil, r.fail("want a key")
		}
		k, err := r.str()
		if err != nil {
			return nil, err
		}
		r.space()
		if r.i >= len(r.s) || r.s[r.i] != ':' {
			return nil, r.fail("want ':'")
		}
		r.i++
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		m[k] = v
		done, err := r.next('}')
		if err != nil {
			return nil, err
		}
		if done {
			return m, nil
		}
	}
}

func (r *jsonReader) array() (any, error) {
	if err := r.enter(); err != nil {
		return nil, err
	}
	a := []any{}
	r.space()
	if r.i < len(r.s) && r.s[r.i] == ']' {
		r.i++
		r.depth--
		return a, nil
	}
	for {
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		done, err := r.next(']')
		if err != nil {
			return nil, err
		}
		if done {
			return a, nil
		}
	}
}

// next reads the separator after a member of an object or array: ','
// (more follow) or end, the closing bracket (done).
func (r *jsonReader) next(end byte) (done bool, err error) {
	r.space()
	if r.i >= len(r.s) {
		return false, r.fail("unexpected end")
	}
	switch r.s[r.i] {
	case ',':
		r.i++
		return false, nil
	case end:
		r.i++
		r.depth--
		return true, nil
	}
	return false, r.fail("want ',' or '" + string(end) + "'")
}

func (r *jsonReader) number() (any, error) {
	start := r.i
	digits := func() int {
		n := 0
		for r.i < len(r.s) && r.s[r.i] >= '0' && r.s[r.i] <= '9' {
			r.i++
			n++
		}
		return n
	}
	if r.s[r.i] == '-' {
		r.i++
	}
	intStart := r.i
	if n := digits(); n == 0 || n > 1 && r.s[intStart] == '0' {
		return nil, r.fail("bad number")
	}
	if r.i < len(r.s) && r.s[r.i] == '.' {
		r.i++
		if digits() == 0 {
			return nil, r.fail("bad number")
		}
	}
	if r.i < len(r.s) && (r.s[r.i] == 'e' || r.s[r.i] == 'E') {
		r.i++
		if r.i < len(r.s) && (r.s[r.i] == '+' || r.s[r.i] == '-') {
			r.i++
		}
		if digits() == 0 {
			return nil, r.fail("bad number")
		}
	}
	return jsonNumber(r.s[start:r.i]), nil
}

// str reads a string literal (r.s[r.i] is the opening quote).
func (r *jsonReader) str() (string, error) {
	r.i++
	var out []byte
	for {
		if r.i >= len(r.s) {
			return "", r.fail("unterminated string")
		}
		c := r.s[r.i]
		switch {
		case c == '"':
			r.i++
			return string(out), nil
		case c < 0x20:
			return "", r.fail("control character in string")
		case c >= utf8.RuneSelf:
			// invalid UTF-8 becomes U+FFFD, as in encoding/json
			ch, size := utf8.DecodeRune(r.s[r.i:])
			if ch == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, r.s[r.i:r.i+size]...)
			}
			r.i += size
			continue
		case c != '\\':
			out = append(out, c)
			r.i++
			continue
		}
		if r.i+1 >= len(r.s) {
			return "", r.fail("unterminated string")
		}
		e := r.s[r.i+1]
		r.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			c1, ok := r.hex4()
			if !ok {
				return "", r.fail(`bad \u escape`)
			}
			ch := rune(c1)
			if utf16.IsSurrogate(ch) {
				ch = utf8.RuneError
				if r.i+1 < len(r.s) && r.s[r.i] == '\\' && r.s[r.i+1] == 'u' {
					save := r.i
					r.i += 2
					if c2, ok := r.hex4(); ok && utf16.DecodeRune(rune(c1), rune(c2)) != utf8.RuneError {
						ch = utf16.DecodeRune(rune(c1), rune(c2))
					} else {
						r.i = save // a lone surrogate; the next escape stands alone
					}
				}
			}
			out = utf8.AppendRune(out, ch)
		default:
			return "", r.fail("bad escape")
		}
	}
}

func (r *jsonReader) hex4() (uint16, bool) {
	if len(r.s)-r.i < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(r.s[r.i:r.i+4]), 16, 16)
	if err != nil {
		return 0, false
	}
	r.i += 4
	return uint16(v), true
}

// fieldError names the header field a value does not fit.
func fieldError(field, want string, v any) error {
	return fmt.Errorf("field %s: want %s, have %s", field, want, jsonKind(v))
}

func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case jsonNumber:
		return "number " + string(v)
	case string:
		return "a string"
	case []any:
		return "an array"
	default:
		return "an object"
	}
}

// The setters below fill one header field from a parsed value; null
// leaves the field as it is (as encoding/json does).

func setInt(dst *int, field string, v any) error {
	if v == nil {
		return nil
	}
	n, ok := v.(jsonNumber)
	if !ok {
		return fieldError(field, "an integer", v)
	}
	i, err := strconv.ParseInt(string(n), 10, strconv.IntSize)
	if err != nil {
		return fieldError(field, "an integer", v)
	}
	*dst = int(i)
	return nil
}

func setFloat(dst *float64, field string, v any, bits int) error {
	if v == nil {
		return nil
	}
	n, ok := v.(jsonNumber)
	if !ok {
		return fieldError(field, "a number", v)
	}
	f, err := strconv.ParseFloat(string(n), bits)
	if err != nil {
		return fieldError(field, "a number in range", v)
	}
	*dst = f
	return nil
}

func setString(dst *string, field string, v any) error {
	if v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return fieldError(field, "a string", v)
	}
	*dst = s
	return nil
}

func setBool(dst *bool, field string, v any) error {
	if v == nil {
		return nil
	}
	b, ok := v.(bool)
	if !ok {
		return fieldError(field, "a boolean", v)
	}
	*dst = b
	return nil
}

// eachIn calls f on every element of the array v (null is empty).
func eachIn(field string, v any, f func(i int, e any) error) error {
	if v == nil {
		return nil
	}
	a, ok := v.([]any)
	if !ok {
		return fieldError(field, "an array", v)
	}
	for i, e := range a {
		if err := f(i, e); err != nil {
			return err
		}
	}
	return nil
}

// length returns the length of the array v (0 for null or a non-array,
// which eachIn then refuses).
func length(v any) int {
	a, _ := v.([]any)
	return len(a)
}

// fields calls set on each key of the object v that set knows (unknown
// keys are ignored, as encoding/json does).
func fields(field string, v any, set map[string]func(any) error) error {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return fieldError(field, "an object", v)
	}
	for k, e := range m {
		if f := set[k]; f != nil {
			if err := f(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func setInts(dst *[]int, field string, v any) error {
	if v != nil {
		*dst = make([]int, length(v))
	}
	return eachIn(field, v, func(i int, e any) error { return setInt(&(*dst)[i], field, e) })
}

// setPairs fills [][2]int; each pair must have exactly two numbers.
func setPairs(dst *[][2]int, field string, v any) error {
	if v != nil {
		*dst = make([][2]int, length(v))
	}
	return eachIn(field, v, func(i int, e any) error {
		if length(e) != 2 {
			return fieldError(field, "[a, b] pairs", e)
		}
		return eachIn(field, e, func(j int, x any) error { return setInt(&(*dst)[i][j], field, x) })
	})
}

// setRGB fills a [3]float32; the array must have exactly three numbers.
func setRGB(dst *[3]float32, field string, v any) error {
	if v != nil && length(v) != 3 {
		return fieldError(field, "three numbers", v)
	}
	return eachIn(field, v, func(i int, e any) error {
		var f float64
		err := setFloat(&f, field, e, 32)
		dst[i] = float32(f)
		return err
	})
}

// parseHeader reads a model file's JSON header.
func parseHeader(b []byte) (fileHeader, error) {
	var h fileHeader
	v, err := parseJSON(b)
	if err != nil {
		return h, err
	}
	m := &h.Meta
	c := &m.Codec
	err = fields("header", v, map[string]func(any) error{
		"meta": func(v any) error {
			return fields("meta", v, map[string]func(any) error{
				"preset":  func(v any) error { return setString(&m.Preset, "preset", v) },
				"input_h": func(v any) error { return setInt(&m.InputH, "input_h", v) },
				"input_w": func(v any) error { return setInt(&m.InputW, "input_w", v) },
				"joints":  func(v any) error { return setInt(&m.Joints, "joints", v) },
				"names": func(v any) error {
					if v != nil {
						m.Names = make([]string, length(v))
					}
					return eachIn("names", v, func(i int, e any) error { return setString(&m.Names[i], "names", e) })
				},
				"skeleton":   func(v any) error { return setPairs(&m.Skeleton, "skeleton", v) },
				"flip_pairs": func(v any) error { return setPairs(&m.FlipPairs, "flip_pairs", v) },
				"sigmas": func(v any) error {
					// An empty list is no list: the field is omitted
					// when empty, so [] must read as nil to survive a
					// round trip (found by FuzzParseHeader).
					if v != nil && length(v) > 0 {
						m.Sigmas = make([]float64, length(v))
					}
					return eachIn("sigmas", v, func(i int, e any) error { return setFloat(&m.Sigmas[i], "sigmas", e, 64) })
				},
				"mean": func(v any) error { return setRGB(&m.Mean, "mean", v) },
				"std":  func(v any) error { return setRGB(&m.Std, "std", v) },
				"codec": func(v any) error {
					return fields("codec", v, map[string]func(any) error{
						"input_w":     func(v any) error { return setInt(&c.InputW, "codec.input_w", v) },
						"input_h":     func(v any) error { return setInt(&c.InputH, "codec.input_h", v) },
						"heatmap_w":   func(v any) error { return setInt(&c.W, "codec.heatmap_w", v) },
						"heatmap_h":   func(v any) error { return setInt(&c.H, "codec.heatmap_h", v) },
						"sigma":       func(v any) error { return setFloat(&c.Sigma, "codec.sigma", v, 64) },
						"dark":        func(v any) error { return setBool(&c.DARK, "codec.dark", v) },
						"blur_kernel": func(v any) error { return setInt(&c.BlurKernel, "codec.blur_kernel", v) },
					})
				},
			})
		},
		"tensors": func(v any) error {
			if v != nil {
				h.Tensors = make([]tensorEntry, length(v))
			}
			return eachIn("tensors", v, func(i int, e any) error {
				t := &h.Tensors[i]
				return fields("tensors", e, map[string]func(any) error{
					"name":         func(v any) error { return setString(&t.Name, "tensors.name", v) },
					"shape":        func(v any) error { return setInts(&t.Shape, "tensors.shape", v) },
					"dtype":        func(v any) error { return setString(&t.DType, "tensors.dtype", v) },
					"offset":       func(v any) error { return setInt(&t.Offset, "tensors.offset", v) },
					"scale_offset": func(v any) error { return setInt(&t.ScaleOffset, "tensors.scale_offset", v) },
				})
			})
		},
	})
	return h, err
}
