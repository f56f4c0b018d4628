// Package solve holds the generic iterative solvers of tweedie and the
// operators and proximal maps they need for sparsity penalties. It knows
// nothing of MRI or CT: every algorithm takes linear operators
// (linop.Op[T], T = float32 or complex64), data vectors and a config struct
// whose zero fields take documented defaults, in the manner of BART's iter
// layer and SigPy's alg module.
//
// Algorithms and their references:
//
//   - CG: conjugate gradients for A x = b with A Hermitian positive definite
//     (Hestenes & Stiefel 1952), in the Hermitian form: every inner product
//     is ⟨u, v⟩ = Σ conj(u_i)·v_i and the step lengths are real.
//   - PowerIteration: the largest eigenvalue of a Hermitian positive
//     semi-definite operator (e.g. AᴴA, to get the Lipschitz constant).
//   - FISTA: min ½‖Ax − y‖² + λR(x) with a proximal map of R (Beck &
//     Teboulle 2009, SIAM J. Imaging Sci. 2(1):183–202), optional adaptive
//     restart (O'Donoghue & Candès 2015).
//   - ADMM: min ½‖Ax − y‖² + λ‖Dx‖₁ in scaled form (Boyd, Parikh, Chu,
//     Peleato & Eckstein 2011, Found. Trends Mach. Learn. 3(1), §3.1.1 and
//     §6.4.1), x-update by CG on AᴴA + ρDᴴD.
//   - PDHG: the same problem by the primal–dual hybrid gradient method of
//     Chambolle & Pock 2011 (J. Math. Imaging Vis. 40:120–145, Algorithm 1),
//     the solver Sidky, Jørgensen & Pan 2012 (Phys. Med. Biol. 57:3065)
//     prototype for TV-regularised sparse-view CT.
//   - SIRT: x ← x + C Aᴴ R (y − A x), R and C the inverse row and column
//     sums, for operators with non-negative entries (Gilbert 1972; the form
//     of Gregor & Benson 2008, IEEE TMI 27(7)).
//
// Operators: Grad2D (forward differences over rows and columns, the
// discrete gradient of total variation, Rudin, Osher & Fatemi 1992) and
// DiffZ (forward difference along the slices of a volume), with Neumann or
// periodic boundaries and exact adjoints (−div).
//
// Proximal maps (type Prox): SoftThreshold (anisotropic ℓ1; complex values
// keep their phase), GroupSoftThreshold (isotropic ℓ2,1, e.g. TV), NonNeg,
// and TVProx, the proximal map of total variation itself (ROF denoising by
// the fast gradient projection of Beck & Teboulle 2009, IEEE TIP
// 18(11):2419–2434), for FISTA.
//
// Vectors are flat slices; every solver returns a new slice and leaves its
// inputs alone. Lengths are checked and reported as errors.
package solve
