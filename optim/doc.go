// Package optim implements SGD, Adam, AdamW, SAM and BSAM on flat float32
// parameters, exact to torch.optim and to the official BSAM code, plus
// learning-rate and radius schedules; it imports only the standard library.
//
// A model exposes its trainable tensors as []*Param. Plain optimizers
// (Optimizer) step from the gradients already in Param.Grad; the
// sharpness-aware ones (Stepper: SAM, BSAM, and Plain around any Optimizer)
// call a GradFunc once per pass, told which Pass it is (only PassCenter may
// update batch-norm running statistics).
//
// # Update rules
//
// g is the gradient at the current weights w, wd the weight decay, lr the
// learning rate; element arithmetic is float32 in torch's order, norms are
// global L2 norms over all params accumulated in float64.
//
//	SGD:    d = g + wd·w;  buf = d (first step) or momentum·buf + d;  w -= lr·buf
//	Adam:   d = g + wd·w;  m = β1·m + (1-β1)·d;  v = β2·v + (1-β2)·d²;
//	        w -= lr/(1-β1^t) · m/(√v/√(1-β2^t) + ε)
//	AdamW:  w *= 1 - lr·wd, then Adam with d = g
//	SAM:    e = ρ·g/(||g||+1e-12);  g_s = ∇L(w+e);  w restored;  base step with g_s
//	BSAM:   n = ||g||;  w_max = w + ρmax·g/(n+1e-12), g_max = ∇L(w_max);
//	        w_min = w - ρmin·g/(n+1e-12),  g_min = ∇L(w_min);
//	        u = g_max + (g - (||g_max||/||g_min||)·g_min);  base step with u
//
// BSAM's base step is applied where the official code applies it: at w_min
// (BSAMConfig.FromCenter false, the default). bsam.py restores w with
// p.data = old_p and then subtracts e_min in place, so its saved copy of w
// becomes w_min and opt_max_min_step's second "restore" is a no-op; the
// base optimizer, weight decay included, therefore steps from w_min.
// FromCenter true restores w before the base step.
//
// # Adaptive SAM and BSAM
//
// With SAM's NewASAM or BSAMConfig.Adaptive the perturbations are those of
// ASAM (Kwon et al. 2021), scale-invariant under a rescaling of weights:
//
//	T     = |w| + η                 (elementwise, at the centre w; η = Eta, DefaultEta 0.01)
//	e     = ρ·T²·g/(||T·g|| + 1e-12)
//	SAM:  g_s = ∇L(w + e)
//	BSAM: w_max = w + ρmax·T²·g/(||T·g|| + 1e-12),  w_min = w - ρmin·T²·g/(||T·g|| + 1e-12)
//
// with u, the base step and the guards unchanged (the ratio in u is
// ||g_max||/||g_min|| of the plain gradients). T applies to every param,
// biases and batch-norm parameters included (Kwon et al.'s code applies it
// only to parameters named "weight"; davda54/sam's to all). StepStats keep
// comparing u with the plain g; AdaptiveNorm is ||T·g||.
//
// The official bsam.py has an adaptive branch that is never enabled: its
// constructor takes adaptive=False, stores it in the defaults, and then
// sets self.adaptive = False unconditionally. Were it enabled, it would
// compute, with T = |w| (no η):
//
//	n_T   = || |w|·g ||                                  (to_max_point)
//	e_max = ρmax·w²·g/(n_T + 1e-12),  e_min = ρmin·w²·g/(n_T + 1e-12)
//	ratio = || |w_max|·g_max || / || |w_min|·g_min ||    (weighted norms)
//
// so it squares the weight (torch.pow(p, 2), which is T² for T = |w|) as
// we do, and normalises by ||T·g|| as we do, but (1) has no η, so a zero
// weight is never perturbed; (2) weights the norms of its ratio by |w_max|
// and |w_min|, which we do not, so that the ratio, and hence u, is the
// paper's in both modes; e_min uses w² of the centre in both codes (bsam.py
// has restored p to old_p before it squares).
//
// # Guards
//
// A zero ||g|| makes e = g·ρ/1e-12 = 0: the ascent and descent points are w
// and nothing is NaN. A zero ||g_min|| means g_min = 0; the ratio
// ||g_max||/||g_min|| is then taken as 0, so u = g_max + g, which is what
// any finite ratio gives (the official code divides without a guard and
// would give NaN; with its 1e-12 style the term is likewise 0). When the
// ratio would overflow float32 (||g_min|| subnormal), the term is computed
// in float64 as ||g_max||·g_min/||g_min||, which is finite, instead of the
// Inf or NaN that float32 arithmetic would give.
//
// # Schedules
//
// Schedules are pure functions of the iteration (Schedule.At), so resuming
// recomputes them exactly. MultiStep and Cosine have a linear warm-up;
// Cosine is the official CosineScheduler. ProportionalRho (and
// Proportional) is the official ProportionScheduler that moves ρmin with
// the learning rate. The official train_bsam.py steps its schedulers after
// each update, so its iteration k uses lr = Cosine.At(max(k-1, 0)) and
// ρmin = ProportionalRho of that lr, except iteration 0, which uses
// ρmin = the schedule's minimum (its scheduler starts from lr 0).
//
// # State
//
// Optimizer state is keyed by *Param, never by position. Stateful.State
// exports it keyed by Param.Name (torch's slot names: momentum_buffer,
// exp_avg, exp_avg_sq, step) so that a trainer can save it, for instance
// in a safetensors file with the step counters in its metadata, and resume
// bit-exactly with SetState.
//
// # Shapes
//
// Every Param is one tensor flattened in its own row-major order; Value and
// Grad have the same length and layout, and every optimizer buffer mirrors
// Value element for element.
//
// # Coordinates
//
// None: optim sees only flat parameter vectors, never image or heatmap
// coordinates.
//
// # References
//
//   - Bilateral sharpness-aware minimization (BSAM), arXiv:2409.13173;
//     official code github.com/ajiaaa/BSAM, files bsam.py (the optimizer),
//     train_bsam.py (call order, SGD base, schedules) and
//     utility/scheduler.py (CosineScheduler, ProportionScheduler).
//   - Foret et al., Sharpness-Aware Minimization, arXiv:2010.01412.
//   - torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW (single-tensor
//     implementations).
package optim
