package diffusion

import (
	"testing"
	"time"
)

func TestRegrid(t *testing.T) {
	u := []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5}
	// 4 steps left (k = 4) at 1 s each with 10 s left: unchanged.
	if g, k := regrid(u, 4, time.Second, 10*time.Second); k != 4 || &g[0] != &u[0] {
		t.Errorf("fits: k = %d", k)
	}
	// 4 steps left, 2.5 s left: 2 equal steps from u[4] = 0.4 to 0.
	g, k := regrid(u, 4, time.Second, 2500*time.Millisecond)
	if k != 2 || len(g) != 3 || g[0] != 0 || g[1] != 0.2 || g[2] != 0.4 {
		t.Errorf("late: k = %d, grid %v", k, g)
	}
	// Past the deadline: one step, from u[4] to 0.
	if g, k := regrid(u, 4, time.Second, -time.Second); k != 1 || len(g) != 2 || g[1] != 0.4 || g[0] != 0 {
		t.Errorf("past: k = %d, grid %v", k, g)
	}
}
