// Package diffusion holds tweedie's diffusion-model samplers for inverse
// problems: a learned (or exact) denoiser is the prior, and linear operators
// (linop.Op[T], T = complex64 for MRI, float32 for CT) join it to the
// measurements by data consistency. The package is pure Go: the network runs
// behind the Denoiser interface (reconstruct/onnx implements it over ONNX
// Runtime; Gaussian implements it exactly for a stationary Gaussian prior,
// for tests), so that one sampler serves MRI and CT.
//
// # Tweedie's formula
//
// Every sampler works with the denoised estimate x̂0 = E[x0 | x_t] of a
// Gaussian diffusion x_t = α_t·x0 + σ_t·z (Robbins 1956; Efron B, "Tweedie's
// formula and selection bias", J Am Stat Assoc 106:1602–1614, 2011):
//
//	x̂0 = (x_t + σ_t²·∇log p_t(x_t)) / α_t.
//
// Networks predict the noise ε (DDPM), the score s or x0 itself; Tweedie
// converts each into x̂0 (see Parameterisation), and back: ε̂ = (x_t − α_t
// x̂0)/σ_t, s = −ε̂/σ_t. The Jacobian of x̂0 with respect to x_t is
// (α_t/σ_t²)·Cov[x0 | x_t] (second-order Tweedie), a symmetric matrix: DPS
// uses that to get a vector–Jacobian product from one extra forward
// evaluation (see VJP).
//
// # Schedules
//
// VP (variance preserving; Ho J, Jain A, Abbeel P, "Denoising diffusion
// probabilistic models", NeurIPS 2020): linear β from β_min to β_max over T
// steps, ᾱ_t = Π(1−β_i), α = √ᾱ, σ = √(1−ᾱ); the network's time input is
// the step t ∈ [0, T−1] as a float. VE (variance exploding; Song Y,
// Sohl-Dickstein J, Kingma DP, Kumar A, Ermon S, Poole B, "Score-based
// generative modeling through stochastic differential equations", ICLR
// 2021): α = 1, σ geometric from σ_min to σ_max; the network's input is σ.
// Samplers run on a normalised time u ∈ [0, 1] (Schedule.At); u = 0 is the
// clean image.
//
// # Samplers (Config.Method)
//
//   - DDS — Chung H, Lee S, Ye JC, "Decomposed diffusion sampler for
//     accelerating large-scale inverse problems", ICLR 2024. DDIM (Song J,
//     Meng C, Ermon S, "Denoising diffusion implicit models", ICLR 2021)
//     over N steps; at each, x̂0 is replaced by a few conjugate-gradient
//     steps on (I + γAᴴA)x = x̂0 + γAᴴy started at x̂0, then
//     x ← α′·x̃0 + σ′·(η·z + √(1−η²)·ε̂). The CG is the Hermitian one of
//     num/solve: the published complex CG (rᵀr on complex data, and
//     a right-hand side built as x̂0 + γ(1+j)Aᴴy) is wrong and is not
//     repeated (see docs/methods.md).
//   - ScoreMRI — Chung H, Ye JC, "Score-based diffusion models for
//     accelerated MRI", Med Image Anal 80:102479, 2022: the VE
//     predictor–corrector sampler of Song et al. (reverse-diffusion
//     predictor, Langevin corrector with signal-to-noise ratio 0.16) with
//     data consistency after each update. Any model runs it: a VP model is
//     queried at the VE-equivalent level σ_VE = σ/α on x·α. Data consistency
//     is the proximal step of the likelihood exp(−γ/2‖Ax − y‖²) scaled by
//     the update's step ε: (I + εγAᴴA)x = x′ + εγAᴴy; γ = +Inf (the default)
//     is Score-MRI's projection onto {Ax = y}. With γ the true precision of
//     the data (2/σn² for circular complex noise of E|n|² = σn², 1/σn² for
//     real noise) the corrector is a split Langevin chain whose target
//     p_σ(x)·p(y|x) tends to the posterior as σ → 0, so the sampler is
//     exact in the limit of many steps.
//   - DPS — Chung H, Kim J, McCann MT, Klasky ML, Ye JC, "Diffusion
//     posterior sampling for general noisy inverse problems", ICLR 2023:
//     ancestral DDPM steps x′ followed by x ← x′ − ζ_t·∇_{x_t}‖y − A x̂0‖
//     (the norm, not its square). ONNX Runtime computes no gradients, so the
//     vector–Jacobian product Jᵀv of the denoiser is a finite-difference
//     directional derivative Jv ≈ (x̂0(x + δv) − x̂0(x))/δ, exact for
//     Jᵀv because J is symmetric when the score is conservative (one extra
//     evaluation per step); VJPJacobianFree takes J ≈ I instead, the
//     approximation of manifold-preserving guidance (He Y, Murata N, Lai CH,
//     Takida Y, Uesaka T, Kim D, Liao WH, Mitsufuji Y, Ermon S, "Manifold
//     preserving guided diffusion", ICLR 2024), at no extra evaluation.
//     MCG (Chung H, Sim B, Ryu D, Ye JC, "Improving diffusion models for
//     inverse problems using manifold constraints", NeurIPS 2022) is the
//     same gradient followed by a projection; it is not offered separately.
//   - CCDF — Chung H, Sim B, Ye JC, "Come-closer-diffuse-faster:
//     accelerating conditional diffusion models for inverse problems through
//     stochastic contraction", CVPR 2022: every sampler can start at
//     u0 = Config.T0 < 1 from an initial estimate diffused forward once,
//     α(u0)·x_init + σ(u0)·z, and run only the last ⌈u0·N⌉ steps.
//   - MBIR — Chung H, Ryu D, McCann MT, Klasky ML, Ye JC, "Solving 3D
//     inverse problems using pre-trained 2D diffusion models", CVPR 2023
//     (DiffusionMBIR): the 2D prior acts slice by slice, and the data step
//     of DDS or Score-MRI becomes one ADMM iteration for
//     ½‖x − x̂0‖² + (γ/2)‖Ax − y‖² + λ‖D_z x‖₁ over the volume, with
//     duals kept across steps (Config.TVZ).
//   - Uncertainty: K posterior samples (Config.Samples) give the mean and a
//     per-pixel standard deviation.
//
// Mean error of the samplers on a Gaussian prior whose posterior is known
// in closed form is measured in posterior_test.go and documented in
// docs/models.md.
package diffusion
