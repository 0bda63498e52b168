package main

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressDelay: work shorter than this shows no bar at all (no flicker
// on small cores).
const progressDelay = time.Second

// progress shows long work as a bar on stderr. It shows nothing when
// stderr is not a terminal or the answer is JSON; a nil *progress does
// nothing. Update may be called from any goroutine.
type progress struct {
	what  string
	count bool // show the count (else a spinner alone)
	w     io.Writer
	start time.Time

	mu   sync.Mutex
	bar  *progressbar.ProgressBar
	done bool
}

// newProgress returns a progress for what, counting objects, or nil when
// none is to be shown; newSpinner one that only shows that work goes on.
func (g *globalFlags) newProgress(what string) *progress { return g.progressOf(what, true) }

func (g *globalFlags) newSpinner(what string) *progress { return g.progressOf(what, false) }

func (g *globalFlags) progressOf(what string, count bool) *progress {
	if g.json || !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil
	}
	return &progress{what: what, count: count, w: os.Stderr, start: time.Now()}
}

// Update says that done of total units are done (total <= 0: unknown).
func (p *progress) Update(done, total int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	if p.bar == nil {
		if time.Since(p.start) < progressDelay {
			return
		}
		if total <= 0 {
			total = -1
		}
		opts := []progressbar.Option{
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.what),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100 * time.Millisecond),
			progressbar.OptionSetPredictTime(p.count),
			progressbar.OptionClearOnFinish(),
		}
		if p.count {
			opts = append(opts, progressbar.OptionShowCount())
		}
		p.bar = progressbar.NewOptions64(total, opts...)
	} else if total > 0 && total != p.bar.GetMax64() {
		p.bar.ChangeMax64(total)
	}
	p.bar.Set64(done)
}

// Finish removes the bar.
func (p *progress) Finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = true
	if p.bar != nil {
		p.bar.Finish()
		p.bar.Clear()
	}
}
