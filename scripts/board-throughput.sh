#!/usr/bin/env bash
# The board's own throughput, end to end without a board (docs/board.md): the board top of an
# n = 128, m = 1, d = 10 model (4-bit W, 8 lanes) at 12 MHz and 3 Mbaud under Verilator behind
# a pseudo-terminal; `qornn board run` sends 16 sequences of 784 steps in last-output frames
# and reports steps/s at the board clock against the core's own rate.
# Writes results/board/throughput-n128.json. Needs verilator; takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
qornn=${QORNN:-target/release/qornn}
[ -x "$qornn" ] || cargo build --release -p qornn
work=qornn-out/board-throughput
mkdir -p "$work" results/board
"$qornn" model random --hidden 128 --input 1 --output 10 --weight-bits 4 --seed 1 -o "$work/model.json"
"$qornn" input random --model "$work/model.json" --sequences 16 --steps 784 --seed 2 -o "$work/input.json"
"$qornn" board sim --model "$work/model.json" --lanes 8 --baud 3000000 --link "$work/tty" &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
for _ in $(seq 1 1200); do [ -e "$work/tty" ] && break; sleep 0.5; done
"$qornn" board run --port "$work/tty" --model "$work/model.json" --input "$work/input.json" \
  --mode last --json results/board/throughput-n128.json

# The same model in a bitstream with run-time weights: load them over the line, then run.
kill $sim 2>/dev/null || true; wait $sim 2>/dev/null || true
"$qornn" board sim --model "$work/model.json" --lanes 8 --baud 3000000 --weights ram --link "$work/tty-ram" &
sim=$!
for _ in $(seq 1 1200); do [ -e "$work/tty-ram" ] && break; sleep 0.5; done
"$qornn" board load --port "$work/tty-ram" --baud 3000000 --model "$work/model.json" \
  --json results/board/load-n128.json
"$qornn" board run --port "$work/tty-ram" --baud 3000000 --model "$work/model.json" \
  --input "$work/input.json" --mode last --json results/board/throughput-n128-ram.json
