#!/usr/bin/env python3
"""Prints the MDRPLIB section of docs/benchmarks.md from
docs/mdrp-results.jsonl (rows written by benches/mdrp/run.py)."""
import os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
INTRO = """
# MDRPLIB: online meal delivery

`waimai simulate --mdrp` on the 216 MDRPLIB instances of seeds 1-9
(`../shared/data/mdrplib`), online (each order seen only from its placement
time), one-minute ticks, every solution checked by
`../shared/tools/mdrp_verify.py`; its figures below (means over instances,
minutes). "naive" is our nearest-idle-rider baseline (each order, once
placed, to the nearest idle rider, alone). "published" is the mean
click-to-door of the rolling-horizon algorithm of Reyes et al. (2018) per
class, over all 240 instances (seed 10 included, which we do not have):
32.74 overall, ready-to-pickup 1.93, 0.25% undelivered.

Reproduce: `cargo build --release && python3 benches/mdrp/run.py --out rows.jsonl
&& python3 benches/mdrp/run.py --policy naive --out rows.jsonl &&
python3 benches/mdrp/report.py rows.jsonl` (about 2 minutes on 2 cores; raw
rows of this table in `docs/mdrp-results.jsonl`).

"""

table = subprocess.run([sys.executable, os.path.join(HERE, "report.py"),
                        os.path.join(ROOT, "docs", "mdrp-results.jsonl")],
                       capture_output=True, text=True, check=True).stdout
sys.stdout.write(INTRO + table)
