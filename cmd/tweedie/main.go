// Command tweedie is a DICOM node for a reconstruction server.
//
//	tweedie serve [--config FILE] [--listen HOST:PORT] [--ae TITLE] [--state DIR]
//	tweedie echo  [--calling-ae AE] CALLED@HOST:PORT
//	tweedie send  [--calling-ae AE] CALLED@HOST:PORT PATH...
//	tweedie config check FILE
//	tweedie worker --config FILE
//	tweedie rules test [--config FILE] PATH...
package main

import (
	"fmt"
	"os"
)

const usage = `usage:
  tweedie serve [--config FILE] [--listen HOST:PORT] [--ae TITLE] [--state DIR]
  tweedie echo  [--calling-ae AE] [TLS flags] CALLED@HOST:PORT
  tweedie send  [--calling-ae AE] [TLS flags] CALLED@HOST:PORT PATH...
  tweedie config check FILE
  tweedie worker --config FILE [--state DIR] [--workers N]
  tweedie rules test [--config FILE] PATH...
  tweedie wrap mr --kspace FILE --out OUT.dcm [--mask FILE] [patient/study options]
  tweedie wrap ct --sinogram FILE --angles SPEC --geometry parallel|fan --out OUT.dcm [options]
  tweedie recon --reconstructor NAME [--set key=value ...] [--export OUT.npy] --out DIR INPUT...
  tweedie eval --ref REF.npy --test TEST.npy
  tweedie simulate mr|ct --images IMAGES.npy [options]   (raw data from images, for evaluation)
  tweedie preview --out PREVIEW.png IMAGE.dcm...           (a series as one PNG)
run "tweedie COMMAND -h" for a command's flags`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	cmds := map[string]func([]string) int{
		"serve":    cmdServe,
		"echo":     cmdEcho,
		"send":     cmdSend,
		"config":   cmdConfig,
		"wrap":     cmdWrap,
		"recon":    cmdRecon,
		"eval":     cmdEval,
		"simulate": cmdSimulate,
		"preview":  cmdPreview,
		"worker":   cmdWorker,
		"rules":    cmdRules,
	}
	run, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "tweedie: unknown command %q\n%s\n", os.Args[1], usage)
		os.Exit(2)
	}
	os.Exit(run(os.Args[2:]))
}
