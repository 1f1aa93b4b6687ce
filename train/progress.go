package train

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
)

// progress draws a one-line bar with loss, images/s and ETA on a terminal,
// and writes a plain line every few seconds otherwise.
type progress struct {
	w        io.Writer
	tty      bool
	total    int
	done     int
	start    time.Time
	startN   int
	last     time.Time
	period   time.Duration
	smoothIS float64
	drawn    bool
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total, start: time.Now(), period: 10 * time.Second}
	if f, ok := w.(*os.File); ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) {
		p.tty = true
		p.period = 200 * time.Millisecond
	}
	return p
}

func (p *progress) update(done, epoch, epochs int, loss, imgPerSec float64) {
	if p.startN == 0 && p.done > 0 {
		p.startN = p.done
	}
	p.done = done
	if p.smoothIS == 0 {
		p.smoothIS = imgPerSec
	} else {
		p.smoothIS = 0.9*p.smoothIS + 0.1*imgPerSec
	}
	now := time.Now()
	if now.Sub(p.last) < p.period && done != p.total {
		return
	}
	p.last = now
	eta := "?"
	if n := done - p.startN; n > 0 {
		per := now.Sub(p.start) / time.Duration(n)
		eta = (per * time.Duration(p.total-done)).Round(time.Second).String()
	}
	frac := float64(done) / float64(max(p.total, 1))
	if p.tty {
		const width = 24
		fill := int(frac * width)
		bar := strings.Repeat("█", fill) + strings.Repeat("░", width-fill)
		fmt.Fprintf(p.w, "\r\033[K%s %3.0f%% epoch %d/%d step %d/%d loss %.6f %.1f img/s ETA %s",
			bar, 100*frac, epoch, epochs, done, p.total, loss, p.smoothIS, eta)
		p.drawn = true
		return
	}
	fmt.Fprintf(p.w, "step %d/%d (%.0f%%) epoch %d/%d loss %.6f %.1f img/s ETA %s\n",
		done, p.total, 100*frac, epoch, epochs, loss, p.smoothIS, eta)
}

// finishLine ends a drawn bar so the next line starts clean.
func (p *progress) finishLine() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
