package main

import (
	"context"
	"os"
	"syscall"
	"unsafe"

	"github.com/tweedie-recon/tweedie/gateway"
)

// testCrashEnv registers the reconstructor "test-crash" when set to 1 in
// the environment of serve and its worker processes; without it the name
// does not exist, so no configuration can route to it in production.
const testCrashEnv = "TWEEDIE_TEST_CRASH"

// extraRunners are the runners added for tests by the environment.
func extraRunners() map[string]gateway.Runner {
	if os.Getenv(testCrashEnv) != "1" {
		return nil
	}
	return map[string]gateway.Runner{"test-crash": gateway.RunnerFunc(crashRunner)}
}

// crashRunner dies by SIGSEGV the way a segfault in cgo code (ONNX
// Runtime) kills a worker: the Go runtime's handler is put back to the
// default action (rt_sigaction with SIG_DFL; a SIGSEGV sent by kill is
// otherwise ignored by Go) and the signal raised.
func crashRunner(ctx context.Context, job gateway.Job, inputs []string, outDir string) ([]string, error) {
	var act [4]uint64 // struct kernel_sigaction, all zero: SIG_DFL
	syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(syscall.SIGSEGV), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	syscall.Kill(os.Getpid(), syscall.SIGSEGV)
	select {} // the signal ends the process
}
