#!/usr/bin/env python3
"""Starts `waimai serve --demo` on a free port and reports the wall seconds
from the printed address to the first assigned and first delivered order
(issue 24: within 10 s and 30 s on a 2-core machine, release build).

  cargo build --release && python3 benches/serve/demo_start.py target/release/waimai .
"""
import re, subprocess, sys, time, urllib.request
binary = sys.argv[1]
p = subprocess.Popen([binary, "serve", "--demo", "--listen", "127.0.0.1:0", "--for-secs", "75"],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=sys.argv[2] if len(sys.argv) > 2 else ".")
addr = None
for line in p.stdout:
    m = re.search(r"serving on (http://\S+)", line)
    if m:
        addr = m.group(1); t0 = time.monotonic(); break
first = {}
while time.monotonic() - t0 < 70 and len(first) < 2:
    try:
        text = urllib.request.urlopen(addr + "/metrics", timeout=2).read().decode()
    except Exception:
        time.sleep(0.2); continue
    counts = {m.group(1): float(m.group(2)) for m in re.finditer(r'waimai_orders\{state="(\w+)"\} (\S+)', text)}
    moved = sum(v for k, v in counts.items() if k in ("assigned", "picked_up", "delivered"))
    if moved > 0 and "assigned" not in first:
        first["assigned"] = round(time.monotonic() - t0, 1)
    if counts.get("delivered", 0) > 0 and "delivered" not in first:
        first["delivered"] = round(time.monotonic() - t0, 1)
    time.sleep(0.2)
print(first)
p.terminate(); p.wait()
