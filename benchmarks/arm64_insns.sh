#!/usr/bin/env bash
# Executed aarch64 guest instructions per Recognizer.recognize of samples/hello_world.png under qemu-user: counts,
# not times. (count of a process with 2 extra passes - count with none) / 2, on a warm Numba cache, one thread.
#   bash benchmarks/arm64_insns.sh cortex-a76 english_g2_int8      # also cortex-a72; any shipped model name
# Needs the emulation that .ci/arm64.sh sets up ($ARMPROBE, default /tmp/tinycrnn-arm64) and count_pass.py from the
# research tools ($TINYCRNN_SHARED/tools/arm64, default ../shared beside the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
cpu=$1 model=$2
tools=${ARM64_TOOLS:-${TINYCRNN_SHARED:-$(cd .. && pwd)/shared}/tools/arm64}
probe=${ARMPROBE:-${TMPDIR:-/tmp}/tinycrnn-arm64}
root=$probe/rootfs
[ -f "$probe/plugins/libinsn.so" ] && [ -x "$root/usr/bin/python3.11" ] || { echo "no emulation at $probe: run .ci/arm64.sh as root first" >&2; exit 2; }
key=$(grep -rlE 'njit|@intrinsic|numba\.extending' tinycrnn --include='*.py' | sort | xargs cat | sha256sum | cut -c1-12)
src=${TMPDIR:-/tmp}/tinycrnn-insns-src-$key
cache=${TMPDIR:-/tmp}/tinycrnn-insns-numba-$cpu-$key  # named after the kernels' content, kept: counts are warm-cache
if [ ! -d "$src" ]; then mkdir -p "$src" && git ls-files -z | tar --null -T - -c | tar -x -C "$src"; fi
log=$(mktemp -d)
count() {  # count PASSES [PLUGIN] -> executed instructions of the whole process
  local plugin=()
  [ "${2:-}" = insn ] && plugin=(-plugin "$probe/plugins/libinsn.so,inline=on" -d plugin -D "$log/$1.log")
  (cd "$src" && env -i PATH=/opt/venv/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 PYTHONHOME=/usr \
    PYTHONPATH="$src:/opt/venv/lib/python3.11/site-packages" TINYCRNN_WEIGHTS="$src/weights" TINYCRNN_QUIET=1 \
    NUMBA_CPU_NAME="$cpu" NUMBA_CACHE_DIR="$cache" OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 \
    nice qemu-aarch64 -L "$root" -cpu "$cpu" "${plugin[@]}" "$root/usr/bin/python3.11" "$tools/count_pass.py" \
    "$1" samples/hello_world.png "$model" >/dev/null 2>&1)
  [ "${2:-}" = insn ] && grep -o '[0-9]*' <(grep insns "$log/$1.log") | tail -1 || true
}
count 0  # warm-up: compiles into the cache when it is cold
n0=$(count 0 insn)
n2=$(count 2 insn)
python3 -c "print('$cpu $model: %.4fe9 instructions per line ((N=2 - N=0) / 2: $n2 - $n0)' % (($n2 - $n0) / 2 / 1e9))"
