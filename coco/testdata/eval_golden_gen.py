#!/usr/bin/env python3
"""Generate coco/testdata/eval_golden.json: keypoint-evaluation cases and the
stats that the reference pycocotools COCOeval(iouType='keypoints') prints.

How it was run (see the "note" field of the output):

  * pycocotools: cocodataset/cocoapi @ 8c9bcc3cf640524c4c20a9c40e89cb6a2f2fa0e9,
    PythonAPI/pycocotools/{coco.py,cocoeval.py} copied to a scratch folder
    outside the project, with an empty mask.py (the C mask extension is not
    used by keypoint evaluation) and `np.float` replaced by `float` in
    accumulate() (the alias was removed in numpy 1.24).
  * Debian bookworm python3 3.11 and python3-numpy 1.24.2.
  * PYTHONPATH=<scratch> python3 eval_golden_gen.py <shared/data> > eval_golden.json

Each case has either an inline ground-truth "gt" (COCO dict) or "gt_shared"
(a path relative to the shared data folder), the "results" list, and the ten
"stats" of COCOeval.summarize(). Synthetic cases use numpy RandomState with
fixed seeds, so re-running gives the same file.
"""
import contextlib
import copy
import json
import sys

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

KEYS = ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"]
SIGMAS = [.026, .025, .025, .035, .035, .079, .079, .072, .072, .062, .062,
          .107, .107, .087, .087, .089, .089]
K = 17


def coco_from_dict(d):
    c = COCO()
    c.dataset = copy.deepcopy(d)
    c.createIndex()
    return c


def evaluate(gt_dict, results):
    with contextlib.redirect_stdout(sys.stderr):  # pycocotools prints progress
        return _evaluate(gt_dict, results)


def _evaluate(gt_dict, results):
    gt = coco_from_dict(gt_dict)
    if results:
        dt = gt.loadRes(copy.deepcopy(results))
    else:  # loadRes crashes on an empty list; build an empty result set
        dt = COCO()
        dt.dataset = {"images": list(gt.dataset["images"]), "annotations": [],
                      "categories": copy.deepcopy(gt.dataset["categories"])}
        dt.createIndex()
    e = COCOeval(gt, dt, "keypoints")
    e.params.kpt_oks_sigmas = np.array(SIGMAS)
    e.evaluate()
    e.accumulate()
    e.summarize()
    return {k: float(v) for k, v in zip(KEYS, e.stats)}


def person_category():
    return [{"id": 1, "name": "person", "supercategory": "person",
             "keypoints": ["nose", "left_eye", "right_eye", "left_ear", "right_ear",
                           "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
                           "left_wrist", "right_wrist", "left_hip", "right_hip",
                           "left_knee", "right_knee", "left_ankle", "right_ankle"],
             "skeleton": [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13]]}]


def synth_gt(rng, n_images, per_image, start_id=1, ann_id=1):
    """Random people of all sizes; area = 0.55 * box area like COCO's masks."""
    images, anns = [], []
    for i in range(n_images):
        iid = start_id + i
        images.append({"id": iid, "file_name": "%d.jpg" % iid, "width": 640, "height": 480})
        for _ in range(per_image if np.isscalar(per_image) else per_image[i]):
            side = float(rng.choice([20, 45, 70, 110, 200]) * rng.uniform(0.8, 1.25))
            w, h = round(side * 0.6, 2), round(side, 2)
            x, y = round(float(rng.uniform(0, 640 - w)), 2), round(float(rng.uniform(0, 480 - h)), 2)
            kps = []
            nk = 0
            for _ in range(K):
                v = int(rng.choice([0, 1, 2], p=[0.2, 0.2, 0.6]))
                if v == 0:
                    kps += [0, 0, 0]
                else:
                    kps += [round(float(x + rng.uniform(0, w)), 2), round(float(y + rng.uniform(0, h)), 2), v]
                    nk += 1
            anns.append({"id": ann_id, "image_id": iid, "category_id": 1, "iscrowd": 0,
                         "bbox": [x, y, w, h], "area": round(0.55 * w * h, 3),
                         "num_keypoints": nk, "keypoints": kps})
            ann_id += 1
    return images, anns


def as_result(ann, score, rng=None, jitter=0.0):
    kps = list(ann["keypoints"])
    if rng is not None and jitter > 0:
        s = jitter * np.sqrt(ann["area"])
        for j in range(K):
            kps[3 * j] = round(kps[3 * j] + float(rng.normal(0, s)), 3)
            kps[3 * j + 1] = round(kps[3 * j + 1] + float(rng.normal(0, s)), 3)
    for j in range(K):
        kps[3 * j + 2] = 1 if kps[3 * j + 2] > 0 else 0
    return {"image_id": ann["image_id"], "category_id": 1, "keypoints": kps, "score": score}


def gt_dict(images, anns):
    return {"images": images, "annotations": anns, "categories": person_category()}


def cases(shared):
    out = []
    rng = np.random.RandomState(5)
    images, anns = synth_gt(rng, 6, 4)
    g = gt_dict(images, anns)
    labeled = [a for a in anns if a["num_keypoints"] > 0]
    out.append(("gt_fed_back", g, None, [as_result(a, 1.0) for a in labeled]))
    out.append(("jitter", g, None,
                [as_result(a, round(float(rng.uniform(0.3, 1)), 4), rng, 0.08) for a in labeled]))
    out.append(("jitter_small", g, None,
                [as_result(a, round(float(rng.uniform(0.3, 1)), 4), rng, 0.02) for a in labeled]))
    keep = [a for i, a in enumerate(labeled) if i % 3 != 0]
    out.append(("missing_dets", g, None,
                [as_result(a, round(float(rng.uniform(0.3, 1)), 4), rng, 0.03) for a in keep]))
    out.append(("empty_results", g, None, []))

    # More than 20 detections per image: 30 people, 35 detections.
    rng = np.random.RandomState(7)
    images, anns = synth_gt(rng, 2, [30, 3])
    res = [as_result(a, round(float(rng.uniform(0, 1)), 4), rng, 0.05) for a in anns if a["num_keypoints"] > 0]
    for a in anns[:5]:  # duplicates: extra detections beyond 20 on image 1
        res.append(as_result(a, round(float(rng.uniform(0, 1)), 4), rng, 0.1))
    out.append(("over_20_per_image", gt_dict(images, anns), None, res))

    # Crowd regions and ground truth without labeled joints (the box branch).
    rng = np.random.RandomState(11)
    images, anns = synth_gt(rng, 3, 2)
    crowd = {"id": 900, "image_id": 1, "category_id": 1, "iscrowd": 1, "bbox": [300, 200, 120, 90],
             "area": 5000.0, "num_keypoints": 0, "keypoints": [0] * (3 * K)}
    unl = {"id": 901, "image_id": 2, "category_id": 1, "iscrowd": 0, "bbox": [100, 100, 60, 80],
           "area": 2600.0, "num_keypoints": 0, "keypoints": [0] * (3 * K)}
    anns += [crowd, unl]
    res = [as_result(a, round(float(rng.uniform(0.3, 1)), 4), rng, 0.05) for a in anns if a["num_keypoints"] > 0]

    def blob(iid, cx, cy, spread, score):
        kps = []
        for _ in range(K):
            kps += [round(cx + float(rng.uniform(-spread, spread)), 2), round(cy + float(rng.uniform(-spread, spread)), 2), 1]
        return {"image_id": iid, "category_id": 1, "keypoints": kps, "score": score}
    # inside the crowd box, several of them (a crowd can absorb many)
    res += [blob(1, 360, 245, 30, s) for s in (0.95, 0.9, 0.5, 0.2)]
    # partly outside the crowd's enlarged box
    res.append(blob(1, 560, 380, 60, 0.85))
    # inside, near and far from the unlabeled ground truth's enlarged box
    res.append(blob(2, 130, 140, 20, 0.99))
    res.append(blob(2, 10, 30, 15, 0.7))
    res.append(blob(2, 400, 420, 10, 0.6))
    out.append(("crowd_and_unlabeled", gt_dict(images, anns), None, res))

    # Detections on images without any ground truth, and score ties across images.
    rng = np.random.RandomState(13)
    images, anns = synth_gt(rng, 3, 3)
    images += [{"id": 50, "file_name": "50.jpg", "width": 640, "height": 480},
               {"id": 51, "file_name": "51.jpg", "width": 640, "height": 480}]
    res = [as_result(a, 0.5, rng, 0.05) for a in anns if a["num_keypoints"] > 0]
    res += [blob(50, 300, 200, 50, 0.5), blob(50, 100, 100, 5, 0.9), blob(51, 200, 200, 80, 0.5)]
    out.append(("images_without_gt_and_ties", gt_dict(images, anns), None, res))

    # Results carrying a bbox: loadRes takes the bbox branch and the area is w*h.
    rng = np.random.RandomState(17)
    images, anns = synth_gt(rng, 3, 3)
    res = []
    for a in anns:
        if a["num_keypoints"] == 0:
            continue
        r = as_result(a, round(float(rng.uniform(0.3, 1)), 4), rng, 0.04)
        bx = a["bbox"]
        r["bbox"] = [bx[0], bx[1], round(bx[2] * float(rng.uniform(0.5, 2)), 2), round(bx[3] * float(rng.uniform(0.5, 2)), 2)]
        res.append(r)
    out.append(("results_with_bbox", gt_dict(images, anns), None, res))

    # A ground truth with annotation id 0: pycocotools stores matched ids and
    # tests them against 0, so a detection matched to it counts as unmatched.
    rng = np.random.RandomState(19)
    images, anns = synth_gt(rng, 2, 2, ann_id=0)
    res = [as_result(a, round(float(rng.uniform(0.3, 1)), 4), rng, 0.02) for a in anns if a["num_keypoints"] > 0]
    out.append(("gt_id_zero", gt_dict(images, anns), None, res))

    # Real COCO val2017 ground truth (coco_mini) with perturbed predictions:
    # every labeled person, jittered, some dropped, some duplicated, plus
    # false positives.
    if shared:
        rel = "coco_mini/annotations/person_keypoints_val2017.json"
        with open(shared + "/" + rel) as f:
            real = json.load(f)
        rng = np.random.RandomState(23)
        res = []
        for a in real["annotations"]:
            if a["iscrowd"] or a["num_keypoints"] == 0:
                continue
            u = rng.uniform()
            if u < 0.1:
                continue
            r = as_result(a, round(float(rng.uniform(0.05, 1)), 4), rng, float(rng.choice([0.01, 0.03, 0.08])))
            res.append(r)
            if u > 0.85:
                res.append(as_result(a, round(float(rng.uniform(0.05, 0.5)), 4), rng, 0.15))
        ids = [im["id"] for im in real["images"]]
        for _ in range(15):
            res.append(blob(int(rng.choice(ids)), float(rng.uniform(50, 500)), float(rng.uniform(50, 350)),
                            float(rng.uniform(10, 80)), round(float(rng.uniform(0.05, 0.6)), 4)))
        out.append(("coco_mini_val_perturbed", None, rel, res))
        gt_all = [a for a in real["annotations"] if not a["iscrowd"] and a["num_keypoints"] > 0]
        out.append(("coco_mini_val_gt_fed_back", None, rel, [as_result(a, 1.0) for a in gt_all]))
    return out


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else ""
    doc = {
        "note": ("Generated by eval_golden_gen.py with pycocotools (cocodataset/cocoapi @ 8c9bcc3c, "
                 "PythonAPI coco.py + cocoeval.py, keypoints only, np.float->float) on python3.11 + numpy 1.24.2; "
                 "sigmas are COCO's 17. Stats are COCOeval.summarize() e.stats."),
        "sigmas": SIGMAS,
        "cases": [],
    }
    for name, g, rel, res in cases(shared):
        if g is None:
            with open(shared + "/" + rel) as f:
                stats = evaluate(json.load(f), res)
        else:
            stats = evaluate(g, res)
        c = {"name": name}
        if g is not None:
            c["gt"] = g
        else:
            c["gt_shared"] = rel
        c["results"] = res
        c["stats"] = stats
        doc["cases"].append(c)
        print(name, stats, file=sys.stderr)
    json.dump(doc, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
