package sinogram

import (
	"runtime"
	"sync"
)

// workerCount returns the number of goroutines to use for n items:
// want (≤ 0: GOMAXPROCS), at most n, at least 1.
func workerCount(want, n int) int {
	if want <= 0 {
		want = runtime.GOMAXPROCS(0)
	}
	if want > n {
		want = n
	}
	if want < 1 {
		want = 1
	}
	return want
}

// parallelChunks splits [0, n) into w contiguous chunks, calls fn(worker,
// lo, hi) for each on its own goroutine (the last on the caller's) and
// waits. The split is deterministic.
func parallelChunks(n, w int, fn func(worker, lo, hi int)) {
	if w <= 1 {
		fn(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < w-1; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			fn(i, i*n/w, (i+1)*n/w)
		}(i)
	}
	fn(w-1, (w-1)*n/w, n)
	wg.Wait()
}
