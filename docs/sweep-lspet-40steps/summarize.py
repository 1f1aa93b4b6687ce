"""Prints the table of docs/README.md from the *.metrics.jsonl files here (python3 summarize.py)."""
import glob, json, statistics as S

def mean(rows, key, a, b, f=lambda r, k: r.get(k, 0.0)):
    xs = [f(r, key) for r in rows[a:b]]
    return S.mean(xs) if xs else float("nan")

ratio = lambda r, _: r["grad_norm_max"] / r["grad_norm_min"] if r.get("grad_norm_min") else float("nan")
print("| run | steps | loss 1-10 | loss 31-40 | ‖g‖ 1-5 | ‖g‖ 31-40 | r = ‖g_max‖/‖g_min‖ | cos(u,g) | u·g/‖g‖² | g·sign(u)/‖g‖₁ | MaxS/L (step 1) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for path in sorted(glob.glob("*.metrics.jsonl")):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    name = path.removesuffix(".metrics.jsonl")
    sa = name.startswith(("sam", "bsam"))
    maxs = f"{rows[0].get('max_s', 0) / rows[0]['loss']:.3f}" if sa else "–"
    rr = f"{mean(rows, None, 0, 40, ratio):.2f}" if name.startswith("bsam") else "–"
    cell = lambda v: f"{v:.3f}" if sa else "1 (u = g)"
    print(f"| {name} | {len(rows)} | {mean(rows,'loss',0,10):.6f} | {mean(rows,'loss',30,40):.6f} | "
          f"{mean(rows,'grad_norm',0,5):.4f} | {mean(rows,'grad_norm',30,40):.5f} | "
          f"{rr} | "
          f"{cell(mean(rows,'cos_ug',0,40))} | {cell(mean(rows,'coef_g',0,40))} | {cell(mean(rows,'sign_agree',0,40))} | "
          f"{maxs} |")
