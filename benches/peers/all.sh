#!/usr/bin/env bash
# The full comparison behind docs/benchmarks.md: waimai on every Li & Lim
# instance at 1 s and 10 s, and waimai plus every peer on a fixed sample of
# 24 instances (every 5th of each set) at 1 s and 10 s. Takes about an hour;
# run on an otherwise idle machine. Results append to results.jsonl.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked
benches/peers/install.sh
out=benches/peers/results.jsonl
sample=$(python3 benches/peers/report.py --sample)
for ms in 1000 10000; do
  python3 benches/peers/run.py --time-limit-ms $ms --solvers waimai --set all --out $out
  python3 benches/peers/run.py --time-limit-ms $ms --solvers pyvrp,vroom,ortools,vrp-cli --instances "$sample" --out $out
done
python3 benches/peers/report.py --results $out > docs/benchmarks.md
cp $out docs/benchmarks-results.jsonl
# The MDRPLIB section (benches/mdrp/) follows the Li & Lim tables.
if [ -s docs/mdrp-results.jsonl ]; then
  python3 benches/mdrp/section.py >> docs/benchmarks.md
fi
