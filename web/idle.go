package web

import (
	"io"
	"net/http"
	"time"
)

// idleReader is a request body whose connection read deadline moves on
// with every read: a client that stops sending for idle is cut off (the
// read fails with a timeout), one that keeps sending has until end.
type idleReader struct {
	r    io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	end  time.Time
	ok   bool // the connection supports read deadlines
}

func newIdleReader(r io.ReadCloser, rc *http.ResponseController, idle time.Duration, end time.Time) *idleReader {
	return &idleReader{r: r, rc: rc, idle: idle, end: end, ok: true}
}

func (b *idleReader) Read(p []byte) (int, error) {
	if b.ok {
		d := time.Now().Add(b.idle)
		if d.After(b.end) {
			d = b.end
		}
		// httptest recorders and HTTP/2 without deadline support answer
		// ErrNotSupported: the server's ReadTimeout still applies there.
		if err := b.rc.SetReadDeadline(d); err != nil {
			b.ok = false
		}
	}
	return b.r.Read(p)
}

func (b *idleReader) Close() error { return b.r.Close() }

// done clears the read deadline once the whole body has been read
// (err == nil), so that the server's background read of a request that
// waits in the queue does not time out (which would cancel the request's
// context). After a failed read the deadline stays: the server may still
// read what is left of the body to reuse the connection.
func (b *idleReader) done(err error) {
	if b.ok && err == nil {
		b.rc.SetReadDeadline(time.Time{})
	}
}
