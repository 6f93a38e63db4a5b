#!/bin/sh
# The placer-seed table of docs/results.md: each goal configuration synthesised, placed and
# routed at seeds 1-5 (n = 128, m = 1, d = 10, 4-bit W, 8-bit h, the core inside the board top),
# one synthesis at a time. Prints Markdown: Fmax per seed, median, worst, and at the worst seed
# steps/s, MACs per cycle per DSP and GMAC/s against the DSPs' limit (DSPs x MACs per DSP x Fmax).
#   scripts/seed-table.sh [OUTDIR] [SEEDS]      (default /tmp/qornn-seeds, "1 2 3 4 5")
# REUSE=1 keeps every OUTDIR/<config>-s<seed>/report.json already there (a rerun resumes), and
# reads OUTDIR/<config>-s<seed>.json where only the report was kept: the committed reports in
# results/synth/seeds/ regenerate the table without synthesis
#   (REUSE=1 scripts/seed-table.sh results/synth/seeds).
# CONFIGS overrides the list: "target:lanes:multipliers ..."; QORNN the binary.
set -eu
OUT=${1:-/tmp/qornn-seeds}
SEEDS=${2:-1 2 3 4 5}
Q=${QORNN:-${CARGO_TARGET_DIR:-target}/release/qornn}
CONFIGS=${CONFIGS:-"ice40-up5k:8:dsp ice40-up5k:8:packed ecp5-25k:16:dsp ecp5-25k:28:dsp"}
mkdir -p "$OUT"
[ -f "$OUT/m128.json" ] || [ "${REUSE:-0}" = 1 ] || "$Q" model random --hidden 128 --input 1 --output 10 --weight-bits 4 \
    --activation-bits 8 --seed 1 -o "$OUT/m128.json" >/dev/null
for cfg in $CONFIGS; do
    t=${cfg%%:*}; rest=${cfg#*:}; p=${rest%%:*}; mul=${rest#*:}
    for s in $SEEDS; do
        dir="$OUT/$t-$p-$mul-s$s"
        if [ "${REUSE:-0}" = 1 ] && { [ -f "$dir/report.json" ] || [ -f "$dir.json" ]; }; then continue; fi
        "$Q" synth --model "$OUT/m128.json" --lanes "$p" --multipliers "$mul" --target "$t" \
            --seed "$s" --out "$dir" --no-bitstream >/dev/null 2>&1 \
            || echo "$t P=$p $mul seed $s: synth failed (see $dir)" >&2
    done
done
python3 - "$OUT" "$SEEDS" $CONFIGS <<'PY'
import json, sys, statistics
out, seeds, configs = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
print("| configuration | " + " | ".join(f"seed {s}" for s in seeds)
      + " | median | worst | steps/s (worst) | MAC/cycle/DSP | GMAC/s (worst) | DSP limit (worst) |")
print("|---|" + "---|" * (len(seeds) + 6))
for cfg in configs:
    t, p, mul = cfg.split(":")
    fs, last = [], None
    for s in seeds:
        try:
            base = f"{out}/{t}-{p}-{mul}-s{s}"
            try:
                r = json.load(open(f"{base}/report.json"))
            except FileNotFoundError:
                r = json.load(open(f"{base}.json"))
            fs.append(list(r["synthesis"]["fmax_mhz"].values())[0]); last = r
        except Exception:
            fs.append(None)
    got = [f for f in fs if f is not None]
    cells = " | ".join("—" if f is None else f"{f:.1f}" for f in fs)
    if not got:
        print(f"| {t}, {p} lanes, {mul} | {cells} | | | | | | |"); continue
    worst, med = min(got), statistics.median(got)
    c = last["core"]
    cyc, macs_cycle, macs_step = c["cycles_per_step"], c["macs_per_cycle"], c["macs_per_step"]
    dsps = last["synthesis"]["resources"]["dsps"]["used"]
    sps = worst * 1e6 / cyc
    gmac = sps * macs_step / 1e9
    per_dsp = (macs_step / cyc) / dsps if dsps else 0
    # The DSPs' limit: every DSP doing its MACs (two when packed) every cycle at this Fmax.
    per = 2 if mul == "packed" else 1
    limit = dsps * per * worst / 1e3
    lim = f"{limit:.2f} GMAC/s ({100 * gmac / limit:.0f} %)" if dsps else "—"
    print(f"| {t}, {p} lanes, {mul} | {cells} | {med:.1f} | {worst:.1f} | {sps:,.0f} | "
          f"{per_dsp:.2f} | {gmac:.2f} | {lim} |")
PY
