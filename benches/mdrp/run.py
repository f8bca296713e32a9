#!/usr/bin/env python3
"""Runs `waimai simulate` over MDRPLIB instances, verifies every solution with
../shared/tools/mdrp_verify.py and prints (and appends to a JSONL file) the
verifier's figures, overall and per instance class.

  python3 benches/mdrp/run.py [--policy rolling|naive] [--tune k=v,...]
                              [--only PREFIX] [--jobs 2] [--out results.jsonl]
"""
import argparse, glob, json, os, subprocess, sys, tempfile
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("WAIMAI_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
BIN = os.path.join(ROOT, "target", "release", "waimai")
CLASSES = {"o100": "o100", "o50": "o50", "r50": "r50", "t100": "t100", "t75": "t75",
           "s1": "s1", "s2": "s2", "p100": "p100", "p125": "p125"}
KEYS = ["undelivered_pct", "ctd_mean", "ctd_p90", "rtp_mean", "ctd_overage_mean", "cost_per_order",
        "orders_per_bundle", "utilization_mean"]

def classes(name):
    import re
    m = re.match(r"(\d+)([or])(\d+)t(\d+)s(\d)p(\d+)", name)
    seed, kind, frac, t, s, p = m.groups()
    return [f"{kind}{frac}", f"t{t}", f"s{s}", f"p{p}"]

def run_one(inst, args):
    name = os.path.basename(inst.rstrip("/"))
    with tempfile.TemporaryDirectory() as out:
        cmd = [BIN, "simulate", "--mdrp", inst, "--out", out, "--quiet", "--policy", args.policy,
               "--tick-secs", str(args.tick_secs)]
        if args.tune:
            cmd += ["--tune", args.tune]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return dict(instance=name, error=r.stderr.strip())
        own = json.loads(r.stdout)
        v = subprocess.run([sys.executable, os.path.join(SHARED, "tools", "mdrp_verify.py"), inst, out],
                           capture_output=True, text=True)
        row = json.loads(v.stdout)
        row.pop("errors", None) if row.get("feasible") else None
        row.update(instance=name, policy=args.policy, tune=args.tune, tick_secs=args.tick_secs,
                   wall_secs=own["wall_secs"], tick_p99_ms=own["ticks"]["p99_ms"],
                   tick_max_ms=own["ticks"]["max_ms"])
        return row

def summary(rows, label):
    ok = [r for r in rows if "ctd_mean" in r and r["ctd_mean"] is not None]
    if not ok:
        return f"{label}: no rows"
    orders = sum(r["orders"] for r in ok)
    delivered = sum(r["delivered"] for r in ok)
    feas = sum(1 for r in ok if r["feasible"])
    mean = lambda k: sum(r[k] for r in ok if r[k] is not None) / len(ok)
    return (f"{label:<6} n={len(ok):3d} feasible={feas:3d} undelivered={100*(orders-delivered)/orders:.3f}% "
            f"ctd={mean('ctd_mean'):.2f} ctd_p90={mean('ctd_p90'):.2f} rtp={mean('rtp_mean'):.2f} "
            f"cost={mean('cost_per_order'):.2f} bundle={mean('orders_per_bundle'):.3f} "
            f"tick_p99={max(r['tick_p99_ms'] for r in ok):.1f}ms wall_max={max(r['wall_secs'] for r in ok):.2f}s")

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--policy", default="rolling")
    ap.add_argument("--tune", default="")
    ap.add_argument("--tick-secs", type=int, default=60)
    ap.add_argument("--only", default="", help="instance name prefix or regex-free substring")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    insts = sorted(d for d in glob.glob(os.path.join(SHARED, "data", "mdrplib", "*/"))
                   if args.only in os.path.basename(d.rstrip("/")))
    with ThreadPoolExecutor(args.jobs) as ex:
        rows = list(ex.map(lambda i: run_one(i, args), insts))
    bad = [r for r in rows if "error" in r or not r.get("feasible")]
    for r in bad:
        print("FAILED", r.get("instance"), r.get("error") or r.get("errors"), file=sys.stderr)
    if args.out:
        with open(args.out, "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    print(summary(rows, "all"))
    for c in ["o100", "o50", "r50", "t100", "t75", "s1", "s2", "p100", "p125"]:
        print(summary([r for r in rows if "instance" in r and c in classes(r["instance"])], c))
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
