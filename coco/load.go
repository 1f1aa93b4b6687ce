package coco

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	jsoniter "github.com/json-iterator/go"
)

// Sentinel errors matched by errors.Is on the *Error values that Load and
// Parse return.
var (
	ErrSyntax          = errors.New("coco: malformed JSON")
	ErrType            = errors.New("coco: wrong JSON type")
	ErrMissing         = errors.New("coco: required field missing")
	ErrValue           = errors.New("coco: invalid value")
	ErrKeypointsLength = errors.New("coco: keypoint array length is not 3*K")
	ErrNonFinite       = errors.New("coco: NaN or Inf")
	ErrNegativeBox     = errors.New("coco: negative box size")
	ErrUnknownImage    = errors.New("coco: annotation of an unknown image id")
	ErrDuplicateImage  = errors.New("coco: duplicate image id")
	ErrNoKeypoints     = errors.New("coco: no keypoint category")
)

// Error is a refused annotation file. Its message names the file, the
// record (annotation id, or index "#i" when the id is not known, image,
// category or top level) and the field, for example
//
//	coco: person_keypoints.json: annotation 183545: keypoints: length 50, want 51 (3*17)
//
// A wrong element of an array field is named by its index, the message
// then reading on from the field:
//
//	coco: person_keypoints.json: annotation 77: keypoints[4] is a string, want a number at byte 4692 (line 120, column 15)
//
// The record is named by its id wherever the id stands in it, before or
// after the bad field. Malformed JSON and wrong elements give the byte
// offset (0-based), line and column (1-based) in Msg. Unwrap returns one
// of the sentinel errors.
type Error struct {
	File  string // file name as given to Load or Parse
	Where string // "annotation 183545", "annotation #12", "image 5", "category 1", "top level", ...
	Field string // JSON field, "" when the record as a whole is wrong
	Msg   string // starts with "[i]" when element i of Field is wrong
	Err   error  // sentinel
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("coco: ")
	for _, s := range []string{e.File, e.Where, e.Field} {
		if s != "" {
			b.WriteString(s)
			if s != e.Field || !strings.HasPrefix(e.Msg, "[") {
				b.WriteString(": ")
			}
		}
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

// Load reads and parses a COCO keypoints annotation file (see Parse).
func Load(path string) (*Dataset, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("coco: read %s: %w", path, err)
	}
	return Parse(path, data)
}

// parallelMin is the number of bytes from the start of the "annotations"
// array to the end of the file above which its records are parsed by
// several goroutines (a variable so that tests can force either path).
var parallelMin = 4 << 20

// Parse parses a COCO keypoints annotation file held in data; name is used
// in error messages and as Dataset.Path.
//
// It keeps the category named "person" (or else the first category with
// keypoints) and its annotations, repairs the quirks documented in the
// package comment, recording one line per kind in Dataset.Quirks, and
// builds the indexes. Top-level "image" is accepted for "images", ids may
// be JSON integers or integer strings ("03540"). A category field "sigmas"
// (K positive numbers, as written by Write) overrides the name-derived OKS
// sigmas. Unknown fields are skipped without being decoded.
//
// The structure is scanned directly on data; numbers and strings are
// decoded by a jsoniter.Iterator reset onto each value. Large annotation
// arrays are parsed in parallel. data is not modified or retained.
func Parse(name string, data []byte) (*Dataset, error) {
	p := &parser{w: newWorker(name, data)}
	p.parseTop()
	if p.w.err != nil {
		return nil, p.w.err
	}
	return p.assemble()
}

// rawCategory is one record of "categories" before the schema is built.
type rawCategory struct {
	id        int64
	name      string
	names     []string
	skeleton  [][]float64
	hasSkel   bool
	sigmas    []float64
	hasSigmas bool
}

// quirkCounts counts every repaired quirk kind.
type quirkCounts struct {
	imageKey, stringIDs, missingArea, missingCrowd, boolCrowd   int
	missingNumKps, numKpsMismatch, missingBox, fracVis, negVis  int
	missingKps, missingCat, otherCat, dupAnnIDs, missingImgSize int
}

func (q *quirkCounts) add(o quirkCounts) {
	q.imageKey += o.imageKey
	q.stringIDs += o.stringIDs
	q.missingArea += o.missingArea
	q.missingCrowd += o.missingCrowd
	q.boolCrowd += o.boolCrowd
	q.missingNumKps += o.missingNumKps
	q.numKpsMismatch += o.numKpsMismatch
	q.missingBox += o.missingBox
	q.fracVis += o.fracVis
	q.negVis += o.negVis
	q.missingKps += o.missingKps
	q.missingCat += o.missingCat
	q.otherCat += o.otherCat
	q.dupAnnIDs += o.dupAnnIDs
	q.missingImgSize += o.missingImgSize
}

// parser holds the top-level results.
type parser struct {
	w         *worker
	images    []Image
	hasImages bool
	anns      []Annotation
	nvals     []int32 // number of values in each annotation's keypoints array
	hasAnns   bool
	cats      []rawCategory
	q         quirkCounts
}

const missingCat = math.MinInt64

// Byte classes of the structural scanner.
const (
	cBad   = iota // not allowed outside strings (also NaN, Infinity)
	cToken        // digits, sign, '.', exponent, letters of true/false/null
	cSpace
	cComma
	cColon
	cQuote
	cOpen
	cClose
)

var (
	class [256]uint8
	plain [256]bool // cToken, cSpace, cComma, cColon: no structure
)

func init() {
	for _, c := range []byte("0123456789+-.eE" + "truefalsn") {
		class[c] = cToken
	}
	for _, c := range []byte(" \t\r\n") {
		class[c] = cSpace
	}
	class[','], class[':'], class['"'] = cComma, cColon, cQuote
	class['['], class['{'], class[']'], class['}'] = cOpen, cOpen, cClose, cClose
	for c, k := range class {
		plain[c] = k == cToken || k == cSpace || k == cComma || k == cColon
	}
}

// worker scans one byte range of the document and decodes values. Each
// goroutine has its own.
type worker struct {
	name    string
	data    []byte
	it      *jsoniter.Iterator
	err     error
	stack   []byte
	lenient bool // skip NaN and Infinity literals (see nonFinite)

	// location of the value being read, for error messages
	sec   string
	idx   int
	id    int64
	hasID bool
	field []byte // points into data or a field-name constant

	anns  []Annotation
	nvals []int32
	slab  []Keypoint // chunk the keypoints of many annotations are cut from
	vals  []float64  // scratch for one numeric array
	q     quirkCounts
}

func newWorker(name string, data []byte) *worker {
	return &worker{name: name, data: data, it: jsoniter.ParseBytes(jsoniter.ConfigDefault, nil), sec: "top level"}
}

func (w *worker) where() string {
	switch {
	case w.sec == "top level":
		return w.sec
	case w.hasID:
		return fmt.Sprintf("%s %d", w.sec, w.id)
	default:
		return fmt.Sprintf("%s #%d", w.sec, w.idx)
	}
}

// fail records the first error at the current location.
func (w *worker) fail(kind error, format string, args ...any) {
	if w.err == nil {
		w.err = &Error{File: w.name, Where: w.where(), Field: string(w.field), Msg: fmt.Sprintf(format, args...), Err: kind}
	}
}

// pos formats a byte offset with its line and column.
func (w *worker) pos(off int) string {
	off = min(max(off, 0), len(w.data))
	line := 1 + bytes.Count(w.data[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(w.data[:off], '\n')
	return fmt.Sprintf("byte %d (line %d, column %d)", off, line, col)
}

// nameRecord names the record at v by its id in w.err when the error came
// before the id was read, since the id may stand after the bad field. It
// scans the record's members structurally up to "id", with a scratch
// worker whose own errors are dropped: a record broken before its id
// stays named by its index.
func (w *worker) nameRecord(v int) {
	e, ok := w.err.(*Error)
	if !ok || w.hasID || w.sec == "top level" || v >= len(w.data) || w.data[v] != '{' {
		return
	}
	pw := newWorker(w.name, w.data)
	pw.lenient = true
	var id int64
	found := false
	pw.object(v, func(key []byte, v int) int {
		end := pw.skip(v)
		if end < 0 {
			return -1
		}
		if string(key) == "id" {
			id, found = pw.readID(v, end)
			return -1
		}
		return end
	})
	if found && pw.err == nil {
		e.Where = fmt.Sprintf("%s %d", w.sec, id)
	}
}

// synErr records a syntax error at byte off and returns -1. A NaN or
// Infinity literal there is reported as ErrNonFinite.
func (w *worker) synErr(off int, msg string) int {
	off = min(max(off, 0), len(w.data))
	if off > 0 && w.data[off-1] == '-' && bytes.HasPrefix(w.data[off:], []byte("Infinity")) {
		off-- // the scanner stops at the I of -Infinity
	}
	rest := w.data[off:]
	if bytes.HasPrefix(rest, []byte("NaN")) || bytes.HasPrefix(rest, []byte("Infinity")) || bytes.HasPrefix(rest, []byte("-Infinity")) {
		w.fail(ErrNonFinite, "NaN or Infinity at %s", w.pos(off))
		return -1
	}
	if off >= len(w.data) {
		msg = "unexpected end of input"
	}
	w.fail(ErrSyntax, "%s: %s", w.pos(off), msg)
	return -1
}

// nonFinite returns the length of the NaN, Infinity or -Infinity literal
// that b starts with when the worker is lenient (nameRecord's scratch
// worker, which reads past such values to the id), else 0.
func (w *worker) nonFinite(b []byte) int {
	if !w.lenient {
		return 0
	}
	for _, lit := range []string{"NaN", "Infinity", "-Infinity"} {
		if bytes.HasPrefix(b, []byte(lit)) {
			return len(lit)
		}
	}
	return 0
}

func (w *worker) ws(i int) int {
	for i < len(w.data) && class[w.data[i]] == cSpace {
		i++
	}
	return i
}

// skipString returns the index after the string whose opening quote is at i.
func (w *worker) skipString(i int) int {
	d := w.data
	j := i + 1
	for {
		k := bytes.IndexByte(d[j:], '"')
		if k < 0 {
			return w.synErr(len(d), "")
		}
		j += k
		bs := 0
		for b := j - 1; b > i && d[b] == '\\'; b-- {
			bs++
		}
		j++
		if bs%2 == 0 {
			return j
		}
	}
}

// skip returns the index after the JSON value starting at i (no leading
// space), checking bracket balance, string termination and literal
// characters but not number grammar, or -1 after recording an error.
func (w *worker) skip(i int) int {
	d := w.data
	if i >= len(d) {
		return w.synErr(i, "")
	}
	switch class[d[i]] {
	case cQuote:
		return w.skipString(i)
	case cToken:
		j := i
		for j < len(d) && class[d[j]] == cToken {
			j++
		}
		switch c := d[i]; {
		case c == 't' && string(d[i:j]) == "true", c == 'f' && string(d[i:j]) == "false", c == 'n' && string(d[i:j]) == "null":
		case c == '-' || (c >= '0' && c <= '9'):
			if j < len(d) && d[j] == 'I' { // -Infinity
				if n := w.nonFinite(d[i:]); n > 0 {
					return i + n
				}
				return w.synErr(i, "")
			}
		default:
			return w.synErr(i, fmt.Sprintf("invalid literal %q", d[i:j]))
		}
		return j
	case cOpen:
	default:
		if n := w.nonFinite(d[i:]); n > 0 {
			return i + n
		}
		return w.synErr(i, fmt.Sprintf("invalid character %q looking for a value", d[i]))
	}
	st := append(w.stack[:0], d[i])
	j := i + 1
	for j < len(d) {
		// Fast path: runs of digits, separators and spaces.
		for j+4 <= len(d) && plain[d[j]] && plain[d[j+1]] && plain[d[j+2]] && plain[d[j+3]] {
			j += 4
		}
		for j < len(d) && plain[d[j]] {
			j++
		}
		if j >= len(d) {
			break
		}
		c := d[j]
		switch class[c] {
		case cQuote:
			if j = w.skipString(j); j < 0 {
				return -1
			}
		case cOpen:
			st = append(st, c)
			j++
		case cClose:
			open := st[len(st)-1]
			if (open == '[') != (c == ']') {
				return w.synErr(j, fmt.Sprintf("%q closes %q", c, open))
			}
			st = st[:len(st)-1]
			j++
			if len(st) == 0 {
				w.stack = st
				return j
			}
		default:
			if n := w.nonFinite(d[j:]); n > 0 {
				j += n
				continue
			}
			return w.synErr(j, fmt.Sprintf("invalid character %q", c))
		}
	}
	w.stack = st
	return w.synErr(j, "")
}

func typeOf(c byte) string {
	switch {
	case c == '"':
		return "string"
	case c == '[':
		return "array"
	case c == '{':
		return "object"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "number"
	}
	return "invalid value"
}

// want checks the type of the value at v by its first byte.
func (w *worker) want(v int, typ string) bool {
	if got := typeOf(w.data[v]); got != typ {
		w.fail(ErrType, "got %s, want %s", got, typ)
		return false
	}
	return true
}

// object calls fn for each member of the object starting at i; fn parses
// the value starting at v and returns the index after it (or -1). It
// returns the index after the object, or -1 after recording an error.
func (w *worker) object(i int, fn func(key []byte, v int) int) int {
	d := w.data
	i = w.ws(i + 1)
	if i < len(d) && d[i] == '}' {
		return i + 1
	}
	for {
		w.field = nil
		if i >= len(d) || d[i] != '"' {
			return w.synErr(i, "want a string key")
		}
		ke := w.skipString(i)
		if ke < 0 {
			return -1
		}
		key := d[i+1 : ke-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			w.it.ResetBytes(d[i:ke])
			key = []byte(w.it.ReadString())
		}
		i = w.ws(ke)
		if i >= len(d) || d[i] != ':' {
			return w.synErr(i, "want ':' after an object key")
		}
		v := w.ws(i + 1)
		if v >= len(d) {
			return w.synErr(v, "")
		}
		e := fn(key, v)
		if e < 0 || w.err != nil {
			return -1
		}
		i = w.ws(e)
		if i >= len(d) {
			return w.synErr(i, "")
		}
		switch d[i] {
		case ',':
			i = w.ws(i + 1)
		case '}':
			return i + 1
		default:
			return w.synErr(i, fmt.Sprintf("invalid character %q after an object value, want ',' or '}'", d[i]))
		}
	}
}

// array calls fn for each element of the array starting at i, like object.
func (w *worker) array(i int, fn func(idx, v int) int) int {
	d := w.data
	i = w.ws(i + 1)
	if i < len(d) && d[i] == ']' {
		return i + 1
	}
	for idx := 0; ; idx++ {
		if i >= len(d) || class[d[i]] < cQuote && class[d[i]] != cToken || class[d[i]] == cClose {
			return w.synErr(i, "want an array element")
		}
		e := fn(idx, i)
		if e < 0 || w.err != nil {
			return -1
		}
		i = w.ws(e)
		if i >= len(d) {
			return w.synErr(i, "")
		}
		switch d[i] {
		case ',':
			i = w.ws(i + 1)
		case ']':
			return i + 1
		default:
			return w.synErr(i, fmt.Sprintf("invalid character %q after an array element, want ',' or ']'", d[i]))
		}
	}
}

// iterFail converts a jsoniter error on the value at v into w.err, in the
// package's words (jsoniter's message names its internals).
func (w *worker) iterFail(v int) {
	msg := w.it.Error.Error()
	var ne *strconv.NumError
	switch {
	case errors.As(w.it.Error, &ne) && errors.Is(ne.Err, strconv.ErrRange):
		w.fail(ErrNonFinite, "number out of float64 range at %s", w.pos(v))
	case strings.Contains(msg, "overflow"):
		w.fail(ErrValue, "integer out of int64 range at %s", w.pos(v))
	case w.data[v] == '"':
		w.fail(ErrSyntax, "invalid string (bad escape or control character) at %s", w.pos(v))
	default:
		e := v
		for e < len(w.data) && class[w.data[e]] == cToken {
			e++
		}
		w.fail(ErrSyntax, "invalid number %q at %s", w.data[v:e], w.pos(v))
	}
}

// reset points the iterator at the value starting at v, including one
// byte of what follows so that numbers take jsoniter's fast path.
func (w *worker) reset(v, e int) {
	w.it.ResetBytes(w.data[v:min(e+1, len(w.data))])
	w.it.Error = nil
}

// number decodes the finite number at v (ending at e).
func (w *worker) number(v, e int) float64 {
	if !w.want(v, "number") {
		return 0
	}
	w.reset(v, e)
	x := w.it.ReadFloat64()
	if w.it.Error != nil && w.it.Error != io.EOF {
		w.iterFail(v)
		return 0
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		w.fail(ErrNonFinite, "value is %v", x)
	}
	return x
}

// numbers decodes the array of finite numbers at v (ending at e) into w.vals.
func (w *worker) numbers(v, e int) []float64 {
	w.vals = w.vals[:0]
	if !w.want(v, "array") {
		return nil
	}
	w.it.ResetBytes(w.data[v:e])
	w.it.Error = nil
	for w.it.ReadArray() {
		x := w.it.ReadFloat64()
		if w.it.Error != nil {
			break
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			w.fail(ErrNonFinite, "element %d is %v", len(w.vals), x)
			return nil
		}
		w.vals = append(w.vals, x)
	}
	if w.it.Error != nil {
		w.elemFail(v)
		return nil
	}
	return w.vals
}

// elemFail reports the first element of the array at v that is not a
// finite number, by its index ("[4] is a string, want a number at byte
// ..."; Error prints it after the field), or the syntax error that
// stopped jsoniter. It is the slow path of numbers.
func (w *worker) elemFail(v int) {
	w.array(v, func(idx, ev int) int {
		ee := w.skip(ev) // a syntax error, NaN or Infinity
		if ee < 0 {
			return -1
		}
		if t := typeOf(w.data[ev]); t != "number" {
			w.fail(ErrType, "[%d] is %s, want a number at %s", idx, article(t), w.pos(ev))
			return -1
		}
		w.reset(ev, ee)
		w.it.ReadFloat64()
		if w.it.Error != nil && w.it.Error != io.EOF {
			w.iterFail(ev)
			return -1
		}
		return ee
	})
	if w.err == nil {
		w.fail(ErrSyntax, "malformed array at %s", w.pos(v))
	}
}

// article returns a JSON type name with its indefinite article.
func article(t string) string {
	switch t[0] {
	case 'a', 'o', 'i':
		return "an " + t
	}
	return "a " + t
}

// str decodes the string at v (ending at e).
func (w *worker) str(v, e int) string {
	if !w.want(v, "string") {
		return ""
	}
	raw := w.data[v+1 : e-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	w.it.ResetBytes(w.data[v:e])
	w.it.Error = nil
	s := w.it.ReadString()
	if w.it.Error != nil {
		w.iterFail(v)
	}
	return s
}

// id decodes an integer id given as a JSON number or an integer string;
// ok is false for null.
func (w *worker) readID(v, e int) (int64, bool) {
	switch w.data[v] {
	case '"':
		s := w.str(v, e)
		x, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			w.fail(ErrValue, "%q is not an integer id", s)
			return 0, false
		}
		w.q.stringIDs++
		return x, true
	case 'n':
		return 0, false
	}
	if !w.want(v, "number") {
		return 0, false
	}
	if bytes.ContainsAny(w.data[v:e], ".eE") {
		w.fail(ErrValue, "%s is not an integer id", w.data[v:e])
		return 0, false
	}
	w.reset(v, e)
	x := w.it.ReadInt64()
	if w.it.Error != nil && w.it.Error != io.EOF {
		w.iterFail(v)
		return 0, false
	}
	return x, true
}

func (p *parser) parseTop() {
	w := p.w
	d := w.data
	i := w.ws(0)
	if i >= len(d) {
		w.synErr(i, "")
		return
	}
	if d[i] != '{' {
		if e := w.skip(i); e < 0 {
			return
		}
		w.want(i, "object")
		return
	}
	end := w.object(i, func(key []byte, v int) int {
		w.sec, w.field, w.hasID = "top level", key, false
		switch string(key) {
		case "images", "image":
			if key[len(key)-1] == 'e' {
				p.q.imageKey++
			}
			if d[v] == 'n' {
				return w.skip(v)
			}
			if !w.want(v, "array") {
				return -1
			}
			p.hasImages = true
			return p.parseImages(v)
		case "annotations":
			if d[v] == 'n' {
				return w.skip(v)
			}
			if !w.want(v, "array") {
				return -1
			}
			p.hasAnns = true
			return p.parseAnnotations(v)
		case "categories":
			if d[v] == 'n' {
				return w.skip(v)
			}
			if !w.want(v, "array") {
				return -1
			}
			return p.parseCategories(v)
		}
		return w.skip(v)
	})
	w.sec, w.field, w.hasID = "top level", nil, false
	if end < 0 {
		return
	}
	if j := w.ws(end); j < len(d) {
		w.synErr(j, "data after the top-level object")
		return
	}
	if !p.hasImages {
		w.fail(ErrMissing, "no \"images\" array")
	} else if !p.hasAnns {
		w.fail(ErrMissing, "no \"annotations\" array")
	}
}

func (p *parser) parseImages(v int) int {
	w := p.w
	return w.array(v, func(idx, v int) int {
		w.sec, w.idx, w.hasID, w.field = "image", idx, false, nil
		if !w.want(v, "object") {
			return -1
		}
		var im Image
		hasName, hasW, hasH := false, false, false
		end := w.object(v, func(key []byte, v int) int {
			w.field = key
			e := w.skip(v)
			if e < 0 {
				return -1
			}
			switch string(key) {
			case "id":
				im.ID, w.hasID = w.readID(v, e)
				w.id = im.ID
			case "file_name":
				im.FileName, hasName = w.str(v, e), true
			case "width", "height":
				if w.data[v] == 'n' {
					break
				}
				x := w.number(v, e)
				if x < 0 || x > math.MaxInt32 {
					w.fail(ErrValue, "%v is not a valid size", x)
				}
				if key[0] == 'w' {
					im.Width, hasW = int(x), true
				} else {
					im.Height, hasH = int(x), true
				}
			}
			return e
		})
		if end < 0 {
			w.nameRecord(v)
			return -1
		}
		w.field = nil
		if !w.hasID {
			w.field = []byte("id")
			w.fail(ErrMissing, "missing")
			return -1
		}
		if !hasName {
			w.field = []byte("file_name")
			w.fail(ErrMissing, "missing")
			return -1
		}
		if !hasW || !hasH {
			p.q.missingImgSize++
		}
		p.images = append(p.images, im)
		return end
	})
}

func (p *parser) parseCategories(v int) int {
	w := p.w
	return w.array(v, func(idx, v int) int {
		w.sec, w.idx, w.hasID, w.field = "category", idx, false, nil
		if !w.want(v, "object") {
			return -1
		}
		c := rawCategory{}
		end := w.object(v, func(key []byte, v int) int {
			w.field = key
			e := w.skip(v)
			if e < 0 || w.data[v] == 'n' {
				return e
			}
			switch string(key) {
			case "id":
				c.id, w.hasID = w.readID(v, e)
				w.id = c.id
			case "name":
				c.name = w.str(v, e)
			case "keypoints":
				if !w.want(v, "array") {
					return -1
				}
				return w.array(v, func(_, v int) int {
					e := w.skip(v)
					if e < 0 {
						return -1
					}
					c.names = append(c.names, w.str(v, e))
					return e
				})
			case "skeleton":
				if !w.want(v, "array") {
					return -1
				}
				c.hasSkel = true
				return w.array(v, func(i, v int) int {
					e := w.skip(v)
					if e < 0 {
						return -1
					}
					w.field = fmt.Appendf(nil, "skeleton[%d]", i)
					c.skeleton = append(c.skeleton, append([]float64(nil), w.numbers(v, e)...))
					w.field = key
					return e
				})
			case "sigmas":
				c.sigmas, c.hasSigmas = append([]float64(nil), w.numbers(v, e)...), true
			}
			return e
		})
		if end < 0 {
			w.nameRecord(v)
			return -1
		}
		w.field = nil
		p.cats = append(p.cats, c)
		return end
	})
}

// takeKeypoints cuts n keypoints from the slab.
func (w *worker) takeKeypoints(n int) []Keypoint {
	if cap(w.slab)-len(w.slab) < n {
		w.slab = make([]Keypoint, 0, max(n, 1<<15))
	}
	l := len(w.slab)
	w.slab = w.slab[:l+n]
	return w.slab[l : l+n : l+n]
}

// parseAnnotations parses the "annotations" array at v. A large array is
// first split into records, which goroutines parse in contiguous chunks;
// results are concatenated in file order and the error of the earliest
// failing record wins.
func (p *parser) parseAnnotations(v int) int {
	w := p.w
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || len(w.data) > math.MaxInt32 {
		end := w.array(v, func(idx, v int) int { return w.annotation(idx, v) })
		p.anns, p.nvals = w.anns, w.nvals
		return end
	}
	var starts []int32
	end := w.array(v, func(idx, v int) int {
		if len(starts) == 0 && len(w.data)-v < parallelMin {
			return w.annotation(idx, v) // small file: parse in place
		}
		starts = append(starts, int32(v), int32(idx))
		w.sec, w.idx, w.hasID, w.field = "annotation", idx, false, nil
		e := w.skip(v)
		if e < 0 {
			// Parse the broken record in place for the field and the
			// id the serial path would report.
			skipErr := w.err
			w.err = nil
			if w.annotation(idx, v); w.err == nil {
				w.err = skipErr
			}
		}
		return e
	})
	if end < 0 || len(starts) == 0 {
		p.anns, p.nvals = w.anns, w.nvals
		return end
	}
	n := len(starts) / 2
	chunks := min(workers, (n+1023)/1024)
	base := len(w.anns)
	p.anns = append(make([]Annotation, 0, base+n), w.anns...)[:base+n]
	p.nvals = append(make([]int32, 0, base+n), w.nvals...)[:base+n]
	ws := make([]*worker, chunks)
	var wg sync.WaitGroup
	for c := range chunks {
		lo, hi := c*n/chunks, (c+1)*n/chunks
		cw := newWorker(w.name, w.data)
		cw.anns, cw.nvals = p.anns[base+lo:base+lo:base+hi], p.nvals[base+lo:base+lo:base+hi]
		ws[c] = cw
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := lo; r < hi; r++ {
				if cw.annotation(int(starts[2*r+1]), int(starts[2*r])) < 0 || cw.err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, cw := range ws {
		if cw.err != nil {
			w.err = cw.err
			return -1
		}
		w.q.add(cw.q)
	}
	return end
}

// annotation parses one annotation record starting at v and appends it to
// w.anns. It returns the index after the record or -1.
func (w *worker) annotation(idx, v int) int {
	w.sec, w.idx, w.hasID, w.field = "annotation", idx, false, nil
	if !w.want(v, "object") {
		return -1
	}
	a := Annotation{CategoryID: missingCat}
	var (
		hasImage, hasArea, hasCrowd, hasNumKps bool
		nvals, numKps                          int
		pending                                *Error // first value error; reported once the id is known
	)
	setPending := func(kind error, format string, args ...any) {
		if pending == nil {
			pending = &Error{Field: string(w.field), Msg: fmt.Sprintf(format, args...), Err: kind}
		}
	}
	end := w.object(v, func(key []byte, v int) int {
		w.field = key
		e := -1
		if w.data[v] == '[' && (string(key) == "keypoints" || string(key) == "bbox") {
			// Flat arrays: the end is the first ']'; numbers fails on
			// anything nested before it.
			if k := bytes.IndexByte(w.data[v:], ']'); k >= 0 {
				e = v + k + 1
			}
		}
		if e < 0 {
			if e = w.skip(v); e < 0 || w.data[v] == 'n' {
				return e
			}
		}
		switch string(key) {
		case "id":
			a.ID, w.hasID = w.readID(v, e)
			w.id = a.ID
		case "image_id":
			a.ImageID, hasImage = w.readID(v, e)
		case "category_id":
			var ok bool
			if a.CategoryID, ok = w.readID(v, e); !ok {
				a.CategoryID = missingCat
			}
		case "keypoints":
			vals := w.numbers(v, e)
			if w.err != nil {
				return -1
			}
			nvals = len(vals)
			a.Keypoints = w.takeKeypoints(nvals / 3)
			for j := range a.Keypoints {
				x, y, vis := vals[3*j], vals[3*j+1], vals[3*j+2]
				iv := int(math.Round(vis))
				if float64(iv) != vis {
					w.q.fracVis++
				}
				if iv < 0 {
					w.q.negVis++
					iv = 0
				}
				if iv > 2 {
					setPending(ErrValue, "visibility %v at joint %d, want 0, 1 or 2", vis, j)
				}
				a.Keypoints[j] = Keypoint{X: x, Y: y, V: iv}
			}
		case "num_keypoints":
			numKps, hasNumKps = int(w.number(v, e)), true
		case "bbox":
			b := w.numbers(v, e)
			if w.err != nil {
				return -1
			}
			if len(b) != 4 {
				setPending(ErrValue, "length %d, want 4 (x, y, w, h)", len(b))
				break
			}
			a.Box, a.HasBox = Box{X: b[0], Y: b[1], W: b[2], H: b[3]}, true
			if b[2] < 0 || b[3] < 0 {
				setPending(ErrNegativeBox, "negative size w=%v h=%v", b[2], b[3])
			}
		case "area":
			a.Area, hasArea = w.number(v, e), true
			if a.Area < 0 {
				setPending(ErrValue, "negative area %v", a.Area)
			}
		case "iscrowd":
			switch w.data[v] {
			case 't', 'f':
				a.Crowd, hasCrowd = w.data[v] == 't', true
				w.q.boolCrowd++
			default:
				a.Crowd, hasCrowd = w.number(v, e) != 0, true
			}
		}
		return e
	})
	if end < 0 {
		w.nameRecord(v)
		return -1
	}
	w.field = nil
	if pending != nil {
		pending.File, pending.Where = w.name, w.where()
		w.err = pending
		return -1
	}
	if !w.hasID {
		w.field = []byte("id")
		w.fail(ErrMissing, "missing")
		return -1
	}
	if !hasImage {
		w.field = []byte("image_id")
		w.fail(ErrMissing, "missing")
		return -1
	}
	n := 0
	for _, k := range a.Keypoints {
		if k.V > 0 {
			n++
		}
	}
	a.NumKeypoints = n
	switch {
	case !hasNumKps:
		w.q.missingNumKps++
	case numKps != n:
		w.q.numKpsMismatch++
	}
	if !hasCrowd {
		w.q.missingCrowd++
	}
	if !a.HasBox {
		a.Box = keypointExtent(a.Keypoints)
		w.q.missingBox++
	}
	if !hasArea {
		a.Area = a.Box.W * a.Box.H
		w.q.missingArea++
	}
	if !finite(a.Box.W, a.Box.H, a.Area) {
		w.field = []byte("bbox")
		w.fail(ErrNonFinite, "box %v x %v or its area overflows float64", a.Box.W, a.Box.H)
		return -1
	}
	w.anns = append(w.anns, a)
	w.nvals = append(w.nvals, int32(nvals))
	return end
}

func keypointExtent(kps []Keypoint) Box {
	x0, y0 := math.Inf(1), math.Inf(1)
	x1, y1 := math.Inf(-1), math.Inf(-1)
	for _, k := range kps {
		if k.V > 0 {
			x0, y0 = min(x0, k.X), min(y0, k.Y)
			x1, y1 = max(x1, k.X), max(y1, k.Y)
		}
	}
	if x0 > x1 {
		return Box{}
	}
	return Box{X: x0, Y: y0, W: x1 - x0, H: y1 - y0}
}

// assemble picks the category, fixes K, validates the annotations against
// it, builds the schema and the indexes.
func (p *parser) assemble() (*Dataset, error) {
	p.q.add(p.w.q)
	name := p.w.name
	var cat *rawCategory
	for i := range p.cats {
		if strings.EqualFold(strings.TrimSpace(p.cats[i].name), "person") {
			cat = &p.cats[i]
			break
		}
	}
	if cat == nil {
		for i := range p.cats {
			if len(p.cats[i].names) > 0 {
				cat = &p.cats[i]
				break
			}
		}
	}
	var quirks []string
	catID := int64(missingCat)
	if cat != nil {
		catID = cat.id
	} else {
		// No usable category: take the category of the first annotation
		// that carries keypoints.
		for i, a := range p.anns {
			if p.nvals[i] > 0 {
				catID = a.CategoryID
				break
			}
		}
		if catID == missingCat && len(p.cats) == 0 && len(p.anns) == 0 {
			return nil, &Error{File: name, Where: "categories", Msg: "no category with keypoints and no annotations", Err: ErrNoKeypoints}
		}
		if catID == missingCat && len(p.cats) > 0 && len(p.anns) == 0 {
			return nil, &Error{File: name, Where: "categories", Msg: "no category named person or with keypoints", Err: ErrNoKeypoints}
		}
		quirks = append(quirks, "categories: no person category with keypoints; using the category of the annotations")
	}

	// Keep the chosen category's annotations, in place.
	kept := p.anns[:0]
	keptN := p.nvals[:0]
	for i, a := range p.anns {
		switch {
		case a.CategoryID == missingCat:
			p.q.missingCat++
			a.CategoryID = catID
		case a.CategoryID != catID:
			p.q.otherCat++
			continue
		}
		kept = append(kept, a)
		keptN = append(keptN, p.nvals[i])
	}
	anns, nvals := kept, keptN
	if catID == missingCat {
		catID = 1
		for i := range anns {
			anns[i].CategoryID = catID
		}
	}

	// Decide K: the category's name count if any annotation agrees with
	// it, else the length of the first annotation with keypoints.
	var names []string
	if cat != nil {
		names = cat.names
	}
	k := len(names)
	firstK, matches := -1, false
	for i, n := range nvals {
		if n == 0 {
			continue
		}
		if firstK < 0 && k == 0 && n%3 != 0 {
			return nil, &Error{File: name, Where: fmt.Sprintf("annotation %d", anns[i].ID), Field: "keypoints", Msg: fmt.Sprintf("length %d, not a multiple of 3", n), Err: ErrKeypointsLength}
		}
		if firstK < 0 && n%3 == 0 {
			firstK = int(n) / 3
		}
		if k > 0 && int(n) == 3*k {
			matches = true
			break
		}
	}
	if !matches && firstK > 0 && firstK != k {
		quirks = append(quirks, fmt.Sprintf("categories: keypoints lists %d names but annotations carry %d points; joints named kp0..kp%d", k, firstK, firstK-1))
		k = firstK
		names = make([]string, k)
		for i := range names {
			names[i] = "kp" + strconv.Itoa(i)
		}
	}
	if k == 0 {
		return nil, &Error{File: name, Where: "categories", Field: "keypoints", Msg: "no keypoint names and no annotation with keypoints", Err: ErrNoKeypoints}
	}

	// Validate the annotations against K and the images.
	imgIdx := make(map[int64]int, len(p.images))
	for i, im := range p.images {
		if _, dup := imgIdx[im.ID]; dup {
			return nil, &Error{File: name, Where: fmt.Sprintf("image %d", im.ID), Field: "id", Msg: "duplicate image id", Err: ErrDuplicateImage}
		}
		imgIdx[im.ID] = i
	}
	ids := make([]int64, len(anns))
	for i := range anns {
		a := &anns[i]
		where := fmt.Sprintf("annotation %d", a.ID)
		switch n := int(nvals[i]); {
		case n == 0:
			p.q.missingKps++
			a.Keypoints = make([]Keypoint, k)
		case n != 3*k:
			return nil, &Error{File: name, Where: where, Field: "keypoints", Msg: fmt.Sprintf("length %d, want %d (3*%d)", n, 3*k, k), Err: ErrKeypointsLength}
		}
		if _, ok := imgIdx[a.ImageID]; !ok {
			return nil, &Error{File: name, Where: where, Field: "image_id", Msg: fmt.Sprintf("unknown image %d", a.ImageID), Err: ErrUnknownImage}
		}
		ids[i] = a.ID
	}

	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			p.q.dupAnnIDs++
		}
	}

	// Skeleton: detect 0-based, drop out-of-range edges.
	var skel [][2]int
	if cat == nil || !cat.hasSkel {
		quirks = append(quirks, "skeleton: missing; using an empty skeleton")
	} else {
		zeroBased := false
		for _, e := range cat.skeleton {
			for _, v := range e {
				if v == 0 {
					zeroBased = true
				}
			}
		}
		off := 1
		if zeroBased {
			off = 0
			quirks = append(quirks, "skeleton: 0-based indices detected; used as 0-based")
		}
		dropped := 0
		for _, e := range cat.skeleton {
			if len(e) != 2 || e[0] != math.Trunc(e[0]) || e[1] != math.Trunc(e[1]) {
				dropped++
				continue
			}
			a, b := int(e[0])-off, int(e[1])-off
			if a < 0 || a >= k || b < 0 || b >= k {
				dropped++
				continue
			}
			skel = append(skel, [2]int{a, b})
		}
		if dropped > 0 {
			quirks = append(quirks, fmt.Sprintf("skeleton: dropped %d of %d edges out of range for %d joints", dropped, len(cat.skeleton), k))
		}
	}

	schema := NewSchema(names, skel)
	if cat != nil && cat.hasSigmas {
		if s, err := schema.WithSigmas(cat.sigmas); err == nil {
			schema = s
		} else {
			quirks = append(quirks, "categories: sigmas field ignored: "+strings.TrimPrefix(err.Error(), "coco: "))
		}
	} else {
		var unknown []string
		for _, n := range names {
			if _, ok := SigmaOf(n); !ok {
				unknown = append(unknown, n)
			}
		}
		if len(unknown) > 0 {
			quirks = append(quirks, fmt.Sprintf("sigmas: no OKS sigma known for %d joints (%s); using default %.3f", len(unknown), strings.Join(unknown, ", "), DefaultSigma))
		}
	}

	d := &Dataset{
		Path:        name,
		CategoryID:  catID,
		Schema:      schema,
		Images:      p.images,
		Annotations: anns,
	}
	if err := d.reindex(imgIdx); err != nil {
		return nil, err
	}
	d.Quirks = append(p.quirkLines(), quirks...)
	return d, nil
}

func (p *parser) quirkLines() []string {
	q := p.q
	var out []string
	add := func(n int, format string) {
		if n > 0 {
			out = append(out, fmt.Sprintf(format, n))
		}
	}
	add(q.imageKey, "top level: key \"image\" used instead of \"images\" (%d)")
	add(q.stringIDs, "ids: %d ids given as strings; parsed as integers")
	add(q.missingImgSize, "images: width or height missing in %d images; 0 used")
	add(q.missingCat, "annotations: category_id missing in %d annotations; assumed the keypoint category")
	add(q.otherCat, "annotations: %d annotations of other categories skipped")
	add(q.missingArea, "annotations: area missing in %d annotations; filled from bbox w*h")
	add(q.missingCrowd, "annotations: iscrowd missing in %d annotations; assumed 0")
	add(q.boolCrowd, "annotations: iscrowd given as a boolean in %d annotations")
	add(q.missingNumKps, "annotations: num_keypoints missing in %d annotations; recounted from v>0")
	add(q.numKpsMismatch, "annotations: num_keypoints disagreed with the v>0 count in %d annotations; recounted")
	add(q.missingBox, "annotations: bbox missing in %d annotations; derived from the labeled keypoints (HasBox=false)")
	add(q.missingKps, "annotations: keypoints missing or empty in %d annotations; all joints unlabeled")
	add(q.fracVis, "annotations: %d non-integer visibility values rounded")
	add(q.negVis, "annotations: %d negative visibility values treated as unlabeled (v=0)")
	add(q.dupAnnIDs, "annotations: %d duplicate annotation ids")
	return out
}
