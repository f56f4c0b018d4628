// Package onnx is tweedie's score-model runtime: it runs the learned priors
// of reconstruct/diffusion through ONNX Runtime (github.com/yalue/
// onnxruntime_go over the shared library libonnxruntime.so.1, which
// scripts/install-onnxruntime.sh installs from the npm package
// onnxruntime-node@1.30.0). It is the only package of tweedie with cgo;
// built without cgo, every call returns ErrNoCgo.
//
// A model is an .onnx file with a model card beside it (same base name,
// .yaml; docs/models.md): its parameterisation (eps, score or x0), noise
// schedule, channels, accepted sizes, intensity normalisation, training
// data and licence. Load checks the graph's inputs and outputs against the
// card and runs one probe evaluation, so that a model that disagrees with
// its card, or returns NaN, fails at load with an error that says so.
// Model implements diffusion.Denoiser: whatever the parameterisation, it
// returns Tweedie's x̂0 = E[x0 | x_t].
//
// The runtime (Open) is process-wide: ONNX Runtime's environment is loaded
// once, and each model's session is created once and reused across jobs.
// The execution provider comes from Config.Device: cpu, cuda[:N], or auto,
// which tries TensorRT and CUDA and falls back to the CPU with a logged
// warning. The npm library is a CPU build: CUDA needs a CUDA-enabled ONNX
// Runtime 1.30 with its provider libraries, and is untested here
// (docs/benchmarks.md).
package onnx
