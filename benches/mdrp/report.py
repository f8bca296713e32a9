#!/usr/bin/env python3
"""Markdown tables from benches/mdrp/run.py rows (verifier figures): per
class, waimai's rolling policy against the naive baseline and the published
rolling-horizon algorithm (Reyes et al. 2018; their figures cover all 240
instances, these 216).

  python3 benches/mdrp/report.py docs/mdrp-results.jsonl
"""
import json, re, sys

PUBLISHED = {"all": 32.74, "o100": 32.55, "o50": 33.29, "r50": 33.27, "t100": 34.79, "t75": 31.29,
             "s1": 33.70, "s2": 32.38, "p100": 31.10, "p125": 34.98}

def classes(name):
    seed, kind, frac, t, s, p = re.match(r"(\d+)([or])(\d+)t(\d+)s(\d)p(\d+)", name).groups()
    return ["all", f"{kind}{frac}", f"t{t}", f"s{s}", f"p{p}"]

def agg(rows):
    n = len(rows)
    orders = sum(r["orders"] for r in rows); delivered = sum(r["delivered"] for r in rows)
    m = lambda k: sum(r[k] for r in rows) / n
    return dict(n=n, feasible=sum(1 for r in rows if r["feasible"]), delivered=100 * delivered / orders,
                ctd=m("ctd_mean"), rtp=m("rtp_mean"), cost=m("cost_per_order"), bundle=m("orders_per_bundle"),
                tick=max(r["tick_p99_ms"] for r in rows), wall=max(r["wall_secs"] for r in rows))

def main(path):
    rows = [json.loads(l) for l in open(path)]
    latest = {}
    for r in rows:  # the last row of each (policy, instance) wins
        if "ctd_mean" in r:
            latest[(r["policy"], r["instance"])] = r
    by = {}
    for (policy, inst), r in latest.items():
        for c in classes(inst):
            by.setdefault((policy, c), []).append(r)
    order = ["all", "o100", "o50", "r50", "t100", "t75", "s1", "s2", "p100", "p125"]
    print("| class | instances | waimai feasible | waimai delivered % | waimai click-to-door | waimai ready-to-pickup "
          "| waimai cost/order | waimai orders/bundle | naive delivered % | naive click-to-door | naive ready-to-pickup "
          "| naive cost/order | published click-to-door |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for c in order:
        w, nv = by.get(("rolling", c)), by.get(("naive", c))
        if not w or not nv:
            continue
        a, b = agg(w), agg(nv)
        print(f"| {c} | {a['n']} | {a['feasible']} | {a['delivered']:.3f} | {a['ctd']:.2f} | {a['rtp']:.2f} | {a['cost']:.2f} "
              f"| {a['bundle']:.3f} | {b['delivered']:.3f} | {b['ctd']:.2f} | {b['rtp']:.2f} | {b['cost']:.2f} | {PUBLISHED[c]:.2f} |")
    w = agg(by[("rolling", "all")])
    print(f"\nwaimai: dispatch tick p99 at most {w['tick']:.1f} ms on any instance; longest instance simulated in {w['wall']:.2f} s.")

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/mdrp-results.jsonl")
