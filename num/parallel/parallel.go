// Package parallel runs the independent tasks of a numerical kernel on a
// few goroutines (FFT blocks, coils, ESPIRiT pixels). It is the numerics
// layer's only scheduler and imports nothing of tweedie.
package parallel

import (
	"sync"
	"sync/atomic"
)

// For runs body on up to workers goroutines (the caller's among them);
// each pulls task indices 0…n−1 from next until it reports false, so a
// worker can keep per-goroutine scratch across its tasks. It returns when
// all are done.
func For(workers, n int, body func(next func() (int, bool))) {
	if n <= 0 {
		return
	}
	workers = min(workers, n)
	var ctr atomic.Int64
	next := func() (int, bool) {
		t := int(ctr.Add(1) - 1)
		return t, t < n
	}
	if workers <= 1 {
		body(next)
		return
	}
	var wg sync.WaitGroup
	wg.Add(workers - 1)
	for w := 1; w < workers; w++ {
		go func() {
			defer wg.Done()
			body(next)
		}()
	}
	body(next)
	wg.Wait()
}
