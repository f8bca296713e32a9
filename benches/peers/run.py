#!/usr/bin/env python3
"""Runs waimai and peer solvers on Li & Lim instances at one time limit,
verifies every solution with ../shared/tools/pdptw_verify.py, and appends
one JSON line per (solver, instance) to a results file.

usage: benches/peers/run.py --time-limit-ms 1000 [--solvers waimai,pyvrp,vroom,ortools,vrp-cli]
                            [--set pdp_100|pdp_200|all] [--instances lc101,lr201,...]
                            [--out benches/peers/results.jsonl]

Peers come from benches/peers/install.sh (a git-ignored .venv and vrp-cli
binary). waimai runs with both cores (two parallel searches); each peer
runs as it runs by default (single-threaded).
"""
import argparse, json, os, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared"))
LILIM = os.path.join(SHARED, "data", "lilim")
VERIFY = os.path.join(SHARED, "tools", "pdptw_verify.py")
BKS = os.path.join(LILIM, "bks.csv")
VENV_PY = os.path.join(HERE, ".venv", "bin", "python")
VRP_CLI = os.path.join(HERE, ".cargo", "bin", "vrp-cli")


def instances(which, names):
    sets = ["pdp_100", "pdp_200"] if which == "all" else [which]
    out = []
    for s in sets:
        for f in sorted(os.listdir(os.path.join(LILIM, s))):
            name = f.rsplit(".", 1)[0]
            if not names or name in names:
                out.append((name, os.path.join(LILIM, s, f)))
    return out


def run_waimai(path, limit_ms, seed, tune="", exe=None, searches=None):
    exe = exe or os.path.join(ROOT, "target", "release", "waimai")
    cmd = [exe, "solve", "--format", "lilim", path, "--time-limit-ms", str(limit_ms), "--seed", str(seed), "--tune", tune]
    if searches:
        cmd += ["--searches", str(searches)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=limit_ms / 1000 + 60)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    return json.loads(out.stdout)["routes"]


def run_peer(solver, path, limit_ms, seed):
    if solver == "vrp-cli":
        return run_vrp_cli(path, limit_ms)
    script = os.path.join(HERE, "peer_solvers.py")
    cmd = [VENV_PY, script, solver, path, str(limit_ms), str(seed)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=limit_ms / 1000 + 120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip()[-500:])
    return json.loads(out.stdout)["routes"]


def run_vrp_cli(path, limit_ms):
    with tempfile.TemporaryDirectory() as d:
        sol = os.path.join(d, "sol.txt")
        cmd = [VRP_CLI, "solve", "lilim", path, "--max-time", str(max(1, round(limit_ms / 1000))), "-o", sol]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=limit_ms / 1000 + 120)
        if out.returncode != 0:
            raise RuntimeError(out.stderr.strip()[-500:])
        # vrp-cli prints job k (the k-th pickup of the file, from 0) for both
        # its pickup and its delivery: first occurrence is the pickup.
        rows = [l.split() for l in open(path) if l.strip()][1:]
        pairs = [(int(r[0]), int(r[8])) for r in rows if float(r[3]) > 0]
        routes = []
        for line in open(sol):
            if line.startswith("Route"):
                seen, route = set(), []
                for job in (int(x) for x in line.split(":", 1)[1].split()):
                    route.append(pairs[job][1] if job in seen else pairs[job][0])
                    seen.add(job)
                routes.append(route)
        return routes


def verify(path, routes):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"routes": routes}, f)
        name = f.name
    try:
        out = subprocess.run([sys.executable, VERIFY, path, name, BKS], capture_output=True, text=True)
        return json.loads(out.stdout)
    finally:
        os.unlink(name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit-ms", type=int, required=True)
    ap.add_argument("--solvers", default="waimai")
    ap.add_argument("--set", default="all")
    ap.add_argument("--instances", default="")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tune", default="", help="waimai --tune overrides (experiments)")
    ap.add_argument("--out", default=os.path.join(HERE, "results.jsonl"))
    a = ap.parse_args()
    names = set(filter(None, a.instances.split(",")))
    with open(a.out, "a") as out:
        for name, path in instances(a.set, names):
            for solver in a.solvers.split(","):
                t = time.time()
                try:
                    routes = run_waimai(path, a.time_limit_ms, a.seed, a.tune) if solver == "waimai" else run_peer(solver, path, a.time_limit_ms, a.seed)
                    wall = time.time() - t
                    v = verify(path, routes)
                except Exception as e:  # a peer failing is a result, not a crash
                    wall, v = time.time() - t, {"feasible": False, "errors": [str(e)[:300]]}
                row = dict(solver=solver, instance=name, time_limit_ms=a.time_limit_ms, wall_s=round(wall, 3), **v)
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(f"{solver:8} {name:10} feasible={v.get('feasible')} veh={v.get('vehicles')} "
                      f"bks={v.get('bks_vehicles')} gap={v.get('gap_pct')} wall={wall:.2f}s", flush=True)


if __name__ == "__main__":
    main()
