// Package sharp measures the flatness of a loss minimum: first-order max-
// and min-sharpness, the top Hessian eigenvalue, the Hessian trace and a
// 1-D loss profile along a filter-normalised random direction.
//
// Every measure works on an Oracle, a loss with its gradient over a flat
// float64 parameter vector, so that the algorithms are tested on quadratics
// with known Hessians; NetOracle adapts a pose.Net on a fixed set of
// batches with batch norm in eval mode (pose.Net.EvalLossGrad).
//
// # Measures
//
// With g = ∇L(w) and u = g/||g|| (global L2 norm over all parameters):
//
//   - MaxS(ρ) = L(w + ρu) − L(w) and MinS(ρ) = L(w) − L(w − ρu), the
//     first-order ascent and descent points of the BSAM paper. Their sum
//     L(w+ρu) − L(w−ρu) is about 2ρ||g|| (the slope); their difference
//     L(w+ρu) − 2L(w) + L(w−ρu) is ρ²·uᵀHu for a quadratic (the curvature
//     along g).
//   - Hessian-vector products are central differences of gradients,
//     Hv ≈ (∇L(w+εv) − ∇L(w−εv))/(2ε) for a unit v (exact for quadratics).
//     The default ε = 1e-2 is a global step over all parameters; smaller
//     steps drown in the float32 rounding of the network's gradients and
//     in ReLU kinks (measured on posenet-s: the HVP symmetry aᵀHb = bᵀHa
//     failed by 3x at ε = 1e-3 for random a, b).
//   - The top eigenvalue (largest in magnitude) comes from power iteration
//     on Hv; every iteration's Rayleigh quotient vᵀHv is recorded.
//   - The trace comes from Hutchinson's estimator, the mean of zᵀHz over
//     Rademacher vectors z, with a Student-t 95 % confidence interval. An
//     HVP along z uses the unit vector z/√n and rescales by n.
//   - The loss profile L(w + αd) along a random direction d normalised per
//     filter (Li et al. 2018): each output channel of a convolution weight
//     gets a Gaussian direction rescaled to that filter's norm; 1-D tensors
//     (batch-norm weights and biases, convolution biases) get d = 0, as the
//     reference code's default ignore="biasbn" does.
//
// # Shapes
//
// Parameter vectors are the concatenation of a network's Params() in
// order, each tensor flattened row-major; Block gives each tensor's offset
// and shape (a convolution weight is OutC x InC x KH x KW, so filter o is
// the contiguous range [o*InC*KH*KW, (o+1)*InC*KH*KW) of its block).
//
// # Coordinates
//
// Not applicable: the package sees only parameter space. Profile steps α
// are in units of the direction d, whose filters have the norms of the
// weights' filters, so α = 1 moves every filter by its own norm.
//
// # References
//
//   - BSAM: arXiv 2409.13173 (max- and min-sharpness).
//   - SAM: Foret et al., arXiv 2010.01412.
//   - Li, Xu, Taylor, Studer, Goldstein, "Visualizing the Loss Landscape of
//     Neural Nets", arXiv 1712.09913 (filter normalisation).
//   - Hutchinson, "A stochastic estimator of the trace of the influence
//     matrix", 1989; PyHessian (Yao et al., arXiv 1912.07145) for power
//     iteration and Hutchinson on networks.
package sharp
