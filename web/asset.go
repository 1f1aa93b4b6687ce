package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
)

// asset is one file held in memory with its pre-compressed form.
type asset struct {
	name  string
	ctype string
	data  []byte
	gz    []byte // nil when gzip does not shrink it
	hash  string // first 16 hex digits of the SHA-256 of data
}

type assetCache struct {
	mu sync.Mutex
	m  map[string]*asset
}

// contentTypes fixes the types the page depends on, whatever the host's
// mime tables say.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".json": "application/json",
	".wasm": "application/wasm",
	".bin":  "application/octet-stream",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
}

// ContentType returns the Content-Type served for a file name.
func ContentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// minGzipSaving is the fraction of its size gzip must save for an asset
// to be served compressed: below it, the browser's inflating (on every
// load, cache hits included) costs more time than the bytes save.
// Trained float32 weights save about 7% (posenet-s: 8,555,916 of
// 9,232,956 bytes) and headless Chromium on this project's 2-core machine
// takes them in 114-193 ms uncompressed against 202-375 ms gzipped
// (interleaved loads), so they go out as they are; the Go wasm saves
// about 72% and the scripts about 70%.
const minGzipSaving = 0.10

// newAsset hashes data and gzips it at the best compression level, once:
// requests are answered from memory.
func newAsset(name string, data []byte) *asset {
	sum := sha256.Sum256(data)
	a := &asset{name: name, ctype: ContentType(name), data: data, hash: hex.EncodeToString(sum[:8])}
	if len(data) >= 256 {
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		w.Write(data)
		w.Close()
		if float64(buf.Len()) <= (1-minGzipSaving)*float64(len(data)) {
			a.gz = buf.Bytes()
		}
	}
	return a
}

// gzipSize is the number of bytes the asset costs a gzip-capable client.
func (a *asset) gzipSize() int {
	if a.gz != nil {
		return len(a.gz)
	}
	return len(a.data)
}

// serveAsset writes a with its content type, an ETag (per encoding) and
// gzip when the client accepts it. A request whose ?v= equals the asset's
// hash gets an immutable one-year Cache-Control (when versioned is true);
// anything else is revalidated (no-cache) and answered 304 on a matching
// If-None-Match.
func serveAsset(c echo.Context, a *asset, versioned bool) error {
	req, h := c.Request(), c.Response().Header()
	useGz := a.gz != nil && acceptsGzip(req.Header.Get(echo.HeaderAcceptEncoding))
	etag := `"` + a.hash + `"`
	if useGz {
		etag = `"` + a.hash + `-gz"`
	}
	h.Set(echo.HeaderContentType, a.ctype)
	h.Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
	h.Set("ETag", etag)
	if versioned && c.QueryParam("v") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if etagMatch(req.Header.Get("If-None-Match"), a.hash) {
		return c.NoContent(http.StatusNotModified)
	}
	body := a.data
	if useGz {
		h.Set(echo.HeaderContentEncoding, "gzip")
		body = a.gz
	}
	// An explicit length: without it net/http sends any body larger than
	// its write buffer chunked.
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(body)))
	if req.Method == http.MethodHead {
		return c.NoContent(http.StatusOK)
	}
	return c.Blob(http.StatusOK, a.ctype, body)
}

// acceptsGzip reports whether an Accept-Encoding value allows gzip
// (q=0 refuses it).
func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		fields := strings.Split(part, ";")
		if strings.TrimSpace(fields[0]) != "gzip" {
			continue
		}
		for _, p := range fields[1:] {
			p = strings.ReplaceAll(strings.TrimSpace(p), " ", "")
			if p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000" {
				return false
			}
		}
		return true
	}
	return false
}

// etagMatch reports whether If-None-Match names the asset (either
// encoding's tag, weak or strong, or *).
func etagMatch(inm, hash string) bool {
	if inm == "" {
		return false
	}
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == `"`+hash+`"` || t == `"`+hash+`-gz"` {
			return true
		}
	}
	return false
}

func pathUnescape(s string) (string, error) { return url.PathUnescape(s) }
