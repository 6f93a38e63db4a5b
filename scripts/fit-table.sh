#!/bin/sh
# The largest n that fits each device per weight width (docs/results.md): m = 1, d = 10, 8-bit h,
# the core inside the board top with DSP lanes, as `qornn model check --target` counts it
# before synthesis (block RAMs, SPRAMs and DSPs; LUTs and Fmax need `qornn synth`); the UP5K
# also with its lane banks in SPRAM (`--weights spram`). For each n the
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
# (row, device, DSP blocks, where the weight banks live)
targets = [("ice40-up5k", "ice40-up5k", 8, "rom"), ("ice40-up5k, SPRAM banks", "ice40-up5k", 8, "spram"),
           ("ecp5-25k", "ecp5-25k", 28, "rom"), ("ecp5-45k", "ecp5-45k", 72, "rom"),
           ("ecp5-85k", "ecp5-85k", 156, "rom")]
bits = [3, 4, 5, 6, 8]

def fits(target, dsps, n, kw, weights):
    """(fits, lanes, memory text) for the first lane count that fits."""
    m = f"{tmp}/m.json"
    subprocess.run([q, "model", "random", "--hidden", str(n), "--input", "1", "--output", "10",
                    "--weight-bits", str(kw), "--activation-bits", "8", "--seed", "1", "-o", m],
                   check=True, capture_output=True)
    last = None
    for p in sorted({min(n, max(1, dsps * k // 4)) for k in (4, 3, 2, 1)}, reverse=True):
        o = subprocess.run([q, "model", "check", m, "--json", "--target", target,
                            "--lanes", str(p), "--weights", weights], capture_output=True, text=True)
        if o.returncode == 2:
            continue
        f = json.loads(o.stdout)["fit"]
        mem = f"{f['block_rams']['used']}/{f['block_rams']['available']} BRAM"
        if f["sprams"]["used"]:
            mem += f", {f['sprams']['used']}/{f['sprams']['available']} SPRAM"
        last = (f["fits"], p, mem)
        if f["fits"]:
            return last
    return last

print("| device | DSPs | " + " | ".join(f"{b}-bit W" for b in bits) + " |")
print("|---|---|" + "---|" * len(bits))
for label, t, dsps, weights in targets:
    row = []
    for kw in bits:
        lo, hi = 8, 8
        while (r := fits(t, dsps, hi * 2, kw, weights)) and r[0] and hi < 2048:
            hi *= 2
        lo, hi = hi, hi * 2          # fits at lo, not at hi (or the cap)
        while hi - lo > 8:
            mid = (lo + hi) // 2 // 8 * 8
            r = fits(t, dsps, mid, kw, weights)
            lo, hi = (mid, hi) if r and r[0] else (lo, mid)
        r = fits(t, dsps, lo, kw, weights)
        row.append(f"{lo} (P = {r[1]}, {r[2]})")
    print(f"| {label} | {dsps} | " + " | ".join(row) + " |")
PY
