#!/usr/bin/env python3
"""Paired experiments on waimai's search: runs each configuration on the
same instances and seeds, verifies every solution with
../shared/tools/pdptw_verify.py, and prints one table with a column per
configuration (per seed: riders above best known as "+k", then the gap to
best known in %), with totals: riders above, and the mean gap over the
runs that match best-known riders.

Seed-to-seed spread on the hard 200-task instances is several points, so
compare configurations on the same seeds and on many of them.

usage: benches/peers/seeds.py --instances lr2_2_6,lc1_2_8 --seeds 1-4
           --config base= --config adapt=rebuild_adapt=0.3
           [--config other=@path/to/waimai] [--time-limit-ms 10000]
           [--searches 2] [--parallel 1] [--out target/seeds.jsonl]

A configuration is NAME=TUNE[@EXE]: TUNE is passed as --tune (empty for
the defaults), EXE replaces target/release/waimai (to compare builds).
With --parallel 2 use --searches 1, so that runs do not share cores.
"""
import argparse, json, os, sys, time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import ROOT, instances, run_waimai, verify  # noqa: E402


def parse_config(text):
    name, _, rest = text.partition("=")
    tune, _, exe = rest.partition("@")
    return name, tune, exe or None


def parse_seeds(text):
    if "-" in text:
        lo, hi = text.split("-", 1)
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def run_one(job):
    (name, tune, exe), (inst, path), seed, a = job
    t = time.time()
    try:
        v = verify(path, run_waimai(path, a.time_limit_ms, seed, tune, exe, a.searches))
    except Exception as e:  # a failed run is a result, not a crash
        v = {"feasible": False, "errors": [str(e)[:300]]}
    return dict(config=name, tune=tune, instance=inst, seed=seed, wall_s=round(time.time() - t, 3), **v)


def cell(r):
    if not r.get("feasible"):
        return "FAIL"
    above = r["vehicles"] - r["bks_vehicles"]
    return ("+%d" % above if above else "") + "%.2f" % r["gap_pct"]


def report(rows, configs, insts, seeds):
    by = {(r["config"], r["instance"], r["seed"]): r for r in rows}
    width = max(12, 9 * len(seeds))
    print("%-10s" % "instance" + "".join("%*s" % (width + 2, c[0]) for c in configs))
    for inst, _ in insts:
        cells = [" ".join(cell(by[(c[0], inst, s)]) for s in seeds) for c in configs]
        print("%-10s" % inst + "".join("%*s" % (width + 2, x) for x in cells))
    totals = []
    for c in configs:
        rs = [by[(c[0], i, s)] for i, _ in insts for s in seeds]
        ok = [r for r in rs if r.get("feasible")]
        above = sum(r["vehicles"] - r["bks_vehicles"] for r in ok)
        matched = [r["gap_pct"] for r in ok if r["vehicles"] == r["bks_vehicles"]]
        gap = sum(matched) / len(matched) if matched else float("nan")
        totals.append("+%d %.3f%% (%d)" % (above, gap, len(matched)))
    print("%-10s" % "total" + "".join("%*s" % (width + 2, x) for x in totals))
    print("total: riders above best known, mean gap where riders match (runs that match)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", required=True)
    ap.add_argument("--seeds", default="1-2")
    ap.add_argument("--config", action="append", required=True, help="NAME=TUNE[@EXE]")
    ap.add_argument("--time-limit-ms", type=int, default=10000)
    ap.add_argument("--searches", type=int, default=2)
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "seeds.jsonl"))
    a = ap.parse_args()
    configs = [parse_config(c) for c in a.config]
    names = set(filter(None, a.instances.split(",")))
    insts = instances("all", names)
    missing = names - {i for i, _ in insts}
    if missing:
        sys.exit("unknown instances: " + ",".join(sorted(missing)))
    seeds = parse_seeds(a.seeds)
    jobs = [(c, i, s, a) for c in configs for i in insts for s in seeds]
    rows = []
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with ThreadPoolExecutor(max(1, a.parallel)) as pool, open(a.out, "a") as out:
        for r in pool.map(run_one, jobs):
            rows.append(r)
            out.write(json.dumps(r) + "\n")
            out.flush()
            print(f"{r['config']:10} {r['instance']:10} seed={r['seed']} {cell(r)}", file=sys.stderr, flush=True)
    report(rows, configs, insts, seeds)


if __name__ == "__main__":
    main()
