#!/bin/sh
# Regenerate the resource/Fmax table of docs/results.md: n = 128, m = 1, d = 10, 4-bit weights,
# 8-bit activations, the core inside the UART board top, one synthesis at a time.
#   scripts/resource-table.sh [SEED] [OUTDIR]
# Needs a release build of `qornn` (CARGO_TARGET_DIR/release/qornn, default target/).
# REUSE=1 keeps every OUTDIR/<target>-<lanes>-<multipliers>/report.json already there.
set -eu
SEED=${1:-1}
OUT=${2:-/tmp/qornn-table}
Q=${QORNN:-${CARGO_TARGET_DIR:-target}/release/qornn}
CONFIGS="ice40-up5k:2:dsp ice40-up5k:4:dsp ice40-up5k:8:dsp ecp5-25k:4:dsp ecp5-25k:8:dsp
ecp5-25k:16:dsp ecp5-25k:28:dsp ecp5-25k:16:lut ecp5-25k:28:lut"
mkdir -p "$OUT"
[ -f "$OUT/m128.json" ] || "$Q" model random --hidden 128 --input 1 --output 10 --weight-bits 4 \
    --activation-bits 8 --seed 1 -o "$OUT/m128.json" >/dev/null
for cfg in $CONFIGS; do
    t=${cfg%%:*}; rest=${cfg#*:}; p=${rest%%:*}; mul=${rest#*:}
    dir="$OUT/$t-$p-$mul"
    if [ "${REUSE:-0}" = 1 ] && [ -f "$dir/report.json" ]; then continue; fi
    "$Q" synth --model "$OUT/m128.json" --lanes "$p" --multipliers "$mul" --target "$t" \
        --seed "$SEED" --out "$dir" --no-bitstream >/dev/null 2>&1 \
        || echo "$t P=$p $mul: synth failed (see $dir)" >&2
done
echo "| target | lanes | multipliers | LUTs | FFs | DSPs | BRAMs | Fmax (MHz) | cycles/step | ideal | over | steps/s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for cfg in $CONFIGS; do
    t=${cfg%%:*}; rest=${cfg#*:}; p=${rest%%:*}; mul=${rest#*:}
    python3 - "$OUT/$t-$p-$mul/report.json" "$t" "$p" "$mul" <<'PY'
import json, sys, math
path, t, p, mul = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
try:
    r = json.load(open(path))
except Exception:
    print(f"| {t} | {p} | {mul} | — | — | — | — | did not build | | | | |"); sys.exit()
s, c = r["synthesis"], r["core"]
res = s["resources"]
u = lambda k: f'{res[k]["used"]} / {res[k]["available"]}'
f = list(s["fmax_mhz"].values())[0]
n, m, d = 128, 1, 10
ideal = math.ceil(n / p) * (n + m) + math.ceil(d / p) * n
cyc = c["cycles_per_step"]
sps = r["throughput"]["steps_per_second"]
print(f"| {t} | {p} | {mul} | {u('luts')} | {res['flip_flops']['used']} | {u('dsps')} | {u('block_rams')} "
      f"| {f:.1f} | {cyc} | {ideal} | {100*(cyc/ideal-1):.1f} % | {sps:,.0f} |")
PY
done
