// Package synth draws the project's default dataset: procedurally generated
// people written as a standard COCO keypoints file with JPEG images, so a
// fresh clone can train and evaluate with no download.
//
// Each image (width and height drawn from [Options.MinSize,
// Options.MaxSize], default 192..288) holds 1 to 3 articulated people in
// the COCO 17-joint schema (standard names and the official skeleton).
// Joint angles are sampled within human limits (shoulder, elbow, hip and
// knee; standing, active and sitting pose families, with foreshortening);
// limbs are shaded capsules of varied thickness and colour, the torso a
// trapezoid, the head an ellipse with hair, ears, eyes, nose and mouth. The
// person is scaled, placed and rotated in plane. Backgrounds are never
// constant: gradients, value noise, textured rectangles, discs and lines,
// plus distractors (limb-like bars, bent "arms", faceless head blobs) that
// belong to nobody. Occluding rectangles are drawn over some people.
//
// Visibility follows COCO and comes from per-pixel owner and body-part
// maps kept while drawing: v=2 when the joint's pixel shows its own limb,
// v=1 when an occluder, another person or another limb of the same person
// covers it, v=0 (with x=y=0) when it is outside the image or a face point
// of a person seen from behind. Left and right are learnable and
// flip-consistent: most people face the camera (their left joints on the
// image right, the face visible); about one in ten is seen from behind
// (left on the image left, no face, nose and eyes unlabeled), so the face
// is the cue, never a colour that a horizontal flip would contradict. The
// bbox is the drawn extent clipped to the image, padded by 3 % (at least 2
// px) and grown to hold every labeled joint; area is the drawn silhouette
// in pixels; iscrowd is always 0.
//
// Output is a pure function of (seed, n, size/people/quality options):
// image i uses its own PCG stream, so files are byte-identical for any
// number of workers. Files are written to temporary names and renamed; a
// marker written last makes Ensure and EnsureSplits regenerate an
// interrupted or mismatching set and reuse a complete one.
//
// # Shapes
//
// keypoints in the JSON: 17*3 numbers per person, (x, y, v) per joint in
// the COCO order nose, left_eye, right_eye, left_ear, right_ear,
// left_shoulder, right_shoulder, left_elbow, right_elbow, left_wrist,
// right_wrist, left_hip, right_hip, left_knee, right_knee, left_ankle,
// right_ankle. bbox: [x, y, w, h]. Images are RGB JPEG of [w,h] pixels
// (image records give width and height).
//
// # Coordinates
//
// Image pixels with integer coordinates at pixel centres: pixel (i, j)
// covers [i-0.5, i+0.5) x [j-0.5, j+0.5). Labeled keypoints satisfy
// 0 <= x <= w-1 and 0 <= y <= h-1, rounded to 0.01 px. The bbox lies
// within [0, w] x [0, h].
//
// # References
//
// COCO keypoints format: Lin et al., "Microsoft COCO: Common Objects in
// Context", arXiv:1405.0312, and cocodataset.org/#format-data. Procedural
// articulated figures as pose data in the spirit of SURREAL (Varol et al.,
// arXiv:1701.01370), in 2D. mmpose parity: configs/_base_/datasets/coco.py
// (keypoint names, skeleton, flip pairs).
package synth
