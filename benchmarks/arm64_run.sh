#!/usr/bin/env bash
# Python of this checkout under emulated aarch64, compiled for a given core: `python ARGS...` in a snapshot of the
# tracked files. Dynamic qemu-user route, like arm64_insns.sh: host paths stay visible (../shared/data), its own
# snapshot and its own per-file Numba cache (cold: ~50 min for the two parity files on this 2-core VM).
#   bash benchmarks/arm64_run.sh cortex-a76 -m pytest -q tests/test_parity_english_g2.py tests/test_parity_ppocrv2.py
#   bash benchmarks/arm64_run.sh cortex-a72 -m benchmarks.build_agree --emit /tmp/a72.json   (build_agree.py runs this)
# Needs the emulation .ci/arm64.sh sets up ($ARMPROBE, default /tmp/tinycrnn-arm64).
set -euo pipefail
cd "$(dirname "$0")/.."
cpu=$1; shift
probe=${ARMPROBE:-${TMPDIR:-/tmp}/tinycrnn-arm64}
root=$probe/rootfs
[ -x "$root/usr/bin/python3.11" ] || { echo "no emulation at $probe: run .ci/arm64.sh as root first" >&2; exit 2; }
src=${TMPDIR:-/tmp}/tinycrnn-pytest-src-$cpu
cache=${TMPDIR:-/tmp}/tinycrnn-pytest-numba-$cpu  # per-file Numba cache: unchanged files stay warm (tar keeps mtimes)
rm -rf "$src" && mkdir -p "$src" "$cache"
git ls-files -z | tar --null -T - -c | tar -x -C "$src"
kind=$([ "$cpu" = cortex-a72 ] && echo neon || echo sdot)
cd "$src"
env -i PATH=/opt/venv/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 PYTHONHOME=/usr \
  PYTHONPATH="$src:/opt/venv/lib/python3.11/site-packages" TINYCRNN_WEIGHTS="$src/weights" TINYCRNN_QUIET=1 \
  TINYCRNN_EXPECT_ARM_INT8=$kind NUMBA_CPU_NAME="$cpu" NUMBA_CACHE_DIR="$cache" \
  OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 \
  nice qemu-aarch64 -L "$root" -cpu "$cpu" "$root/usr/bin/python3.11" "$@"
