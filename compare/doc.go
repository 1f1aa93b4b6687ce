// Package compare runs the paper's experiment: one training run per arm
// (an optimizer with its settings) and seed with everything else
// identical, validation of each, the flatness measures of package sharp on
// each final checkpoint, an evaluation of each final checkpoint on the
// final report set, paired differences between arms with bootstrap
// intervals, and the aggregate as results.md, results.json and PNG plots.
//
// Runs live in Out/runs/<arm>-s<seed>/: train.Run's files plus
// sharpness.json and loss_profile.png, eval.json (the final set's PCK@0.2,
// PCKh@0.5 and OKS AP, and the training probe's), hits.json (per person and
// joint, what PCK counted; the bootstrap resamples it) and machine.json
// (per training session: CPU model, kernel ISA, wall time). A run with
// summary.json is finished and is read back, not retrained, after its
// saved settings are checked against the arm's; a run with only
// last.safetensors continues with train.Config.Resume. So an interrupted
// compare resumes by running the same command again, and adding arms or
// seeds trains only the new runs.
//
// Arms are written optim[flag=value,...] (ParseArms): the optimizer names
// of train.Config.Optim plus "bsam-center" (BSAM with FromCenter, the
// update applied at w, not at the official w_min), "asam" and "absam"
// (adaptive SAM and BSAM), with per-arm training flags in brackets; the
// folder name is DirName of the text. Seeds are Train.Seed, Train.Seed+1,
// ...: runs with the same seed share initialisation and data order across
// arms.
//
// With Config.Dev the training file is split by image (coco.Split):
// the runs train on the train part and validate on the dev part (all
// choices, the best checkpoint included, see only dev), and Train.ValAnn is
// the final report set, evaluated once per run at the end, together with
// the training probe (training images, no augmentation) whose PCK minus
// dev PCK is the generalisation gap.
//
// Paired differences: for an arm with a baseline, arm − baseline of the
// final set's PCK@0.2 and PCKh@0.5 per seed, averaged over the seeds both
// have; the 95 % interval is a percentile bootstrap (Resamples draws, a
// fixed random source) that draws the persons with replacement (the same
// persons for both arms and every seed: paired by person) and,
// independently, the seeds with replacement (paired by seed).
//
// results.json and results.md hold no absolute paths: run files are
// relative to Out, data files to the repository root (PathsNote).
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
