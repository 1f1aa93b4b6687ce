// Package compare runs the paper's experiment: one training run per
// optimizer and seed with everything else identical, validation of each,
// the flatness measures of package sharp on each final checkpoint, and the
// aggregate as results.md, results.json and PNG plots.
//
// Runs live in Out/runs/<optim>-s<seed>/ (train.Run's files plus
// sharpness.json and loss_profile.png). A run with summary.json is
// finished and is read back, not retrained; a run with only
// last.safetensors continues with train.Config.Resume. So an interrupted
// compare resumes by running the same command again.
//
// The optimizer names are those of train.Config.Optim plus "bsam-center",
// BSAM with FromCenter (the update applied at w, not at the official
// w_min). Seeds are Train.Seed, Train.Seed+1, ...: runs with the same
// seed share initialisation and data order across optimizers.
//
// # Shapes
//
// Per-epoch curves are indexed by epoch (1-based in the files); a
// statistic over seeds is mean, sample standard deviation (n−1; 0 for one
// seed), min and max.
//
// # Coordinates
//
// Not applicable: compare sees only run summaries and parameter-space
// measures.
//
// # References
//
//   - BSAM: arXiv 2409.13173, and the official code github.com/ajiaaa/BSAM.
//   - SimpleBaseline (Xiao et al., arXiv 1804.06208): the paper-scale
//     protocol of Paper().
package compare
