#!/bin/sh
# The largest n that fits each device per weight width (docs/results.md): m = 1, d = 10, 8-bit h,
# the core inside the board top with DSP lanes, as `qornn model check --target` counts it
# before synthesis (block RAMs and DSPs; LUTs and Fmax need `qornn synth`). For each n the
# lanes tried are all the DSP blocks, then 3/4, 1/2 and 1/4 of them (fewer, deeper weight banks
# sometimes round into fewer block RAMs); the table gives the largest n (in steps of 8) that
# fits with one of them, and that P (by bisection: a lower bound where the rounding makes the
# fit non-monotone in n). Prints Markdown. A few minutes.
#   scripts/fit-table.sh            (QORNN: the binary, default target/release/qornn)
set -eu
Q=${QORNN:-${CARGO_TARGET_DIR:-target}/release/qornn}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
python3 - "$Q" "$TMP" <<'PY'
import json, subprocess, sys
q, tmp = sys.argv[1], sys.argv[2]
targets = {"ice40-up5k": 8, "ecp5-25k": 28, "ecp5-45k": 72, "ecp5-85k": 156}
bits = [3, 4, 5, 6, 8]

def fits(target, dsps, n, kw):
    """(fits, lanes, block RAMs used, available) for the first lane count that fits."""
    m = f"{tmp}/m.json"
    subprocess.run([q, "model", "random", "--hidden", str(n), "--input", "1", "--output", "10",
                    "--weight-bits", str(kw), "--activation-bits", "8", "--seed", "1", "-o", m],
                   check=True, capture_output=True)
    last = None
    for p in sorted({min(n, max(1, dsps * k // 4)) for k in (4, 3, 2, 1)}, reverse=True):
        o = subprocess.run([q, "model", "check", m, "--json", "--target", target,
                            "--lanes", str(p)], capture_output=True, text=True)
        if o.returncode == 2:
            continue
        f = json.loads(o.stdout)["fit"]
        last = (f["fits"], p, f["block_rams"]["used"], f["block_rams"]["available"])
        if f["fits"]:
            return last
    return last

print("| device | DSPs | " + " | ".join(f"{b}-bit W" for b in bits) + " |")
print("|---|---|" + "---|" * len(bits))
for t, dsps in targets.items():
    row = []
    for kw in bits:
        lo, hi = 8, 8
        while (r := fits(t, dsps, hi * 2, kw)) and r[0] and hi < 2048:
            hi *= 2
        lo, hi = hi, hi * 2          # fits at lo, not at hi (or the cap)
        while hi - lo > 8:
            mid = (lo + hi) // 2 // 8 * 8
            r = fits(t, dsps, mid, kw)
            lo, hi = (mid, hi) if r and r[0] else (lo, mid)
        r = fits(t, dsps, lo, kw)
        row.append(f"{lo} (P = {r[1]}, {r[2]}/{r[3]} BRAM)")
    print(f"| {t} | {dsps} | " + " | ".join(row) + " |")
PY
