#!/usr/bin/env bash
# The emulated aarch64 pass (issue 14): a Pi 4 build (cortex-a72: ARMv8.0, the mul/sadalp int8 tile) and a Pi 5 build
# (cortex-a76: ARMv8.2, the sdot tile) of this checkout under qemu-user, each on the CPU it was compiled for. Runs the
# ARM tiles against NumPy + their instruction check (fmla; sdot or sadalp), the int8 kernel twins, a few english_g2 and
# PP-OCRv2 parity cases (a76), and reads the sample line with all four shipped models on both builds (no SIGILL).
# Needs root and ../shared/tools/arm64 (setup_arm64.sh, ~4 min once); skips with the reason otherwise.
# Wall time on this machine (2 cores, Zen 3): 3.5 min with warm Numba caches, 17.5 min cold (first run after a kernel change).
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=${ARM64_TOOLS:-$(cd .. && pwd)/shared/tools/arm64}
export ARMPROBE=${ARMPROBE:-${TMPDIR:-/tmp}/tinycrnn-arm64}
skip() { echo "arm64 pass SKIPPED: $*"; exit 0; }
[ "$(uname -m)" = x86_64 ] || skip "the emulation route is for x86-64 hosts"
[ -x "$TOOLS/setup_arm64.sh" ] || skip "no emulation tools at $TOOLS (set ARM64_TOOLS)"
[ "$(id -u)" = 0 ] || skip "emulation setup (binfmt_misc, chroot) needs root"
if [ ! -x "$ARMPROBE/rootfs/opt/venv/bin/python" ] || [ ! -f "$ARMPROBE/plugins/libinsn.so" ]; then
  PROJECT=$PWD nice "$TOOLS/setup_arm64.sh" || skip "setup_arm64.sh failed (no Debian mirror or apt?)"
fi

# The working tree's tracked files at /src, all with one fixed mtime: Numba's cache then depends only on the
# cache folder, which is named after the content of every file that Numba compiles (njit, intrinsics and the llvmlite IR
# they are built from) (a kernel edit means a cold cache;
# tiles_arm is inlined into int8's cached functions, so mtimes per file would not be enough anyway).
"$TOOLS/run_arm64.sh" --umount || true
rm -rf "$ARMPROBE/src" && mkdir -p "$ARMPROBE/src"
git ls-files -z | tar --null -T - -c | tar -x -C "$ARMPROBE/src"
find "$ARMPROBE/src" -exec touch -h -d @1700000000 {} +
key=$(grep -rlE 'njit|@intrinsic|numba\.extending|llvmlite' tinycrnn --include='*.py' | sort | xargs cat | sha256sum | cut -c1-12)

t0=$(date +%s)
run() {  # run CPU INT8KIND COMMAND...
  local cpu=$1 kind=$2; shift 2
  echo "== arm64 $cpu ($kind): $*"
  NUMBA_CPU_NAME=$cpu NUMBA_CACHE_DIR=/var/tmp/numba-$cpu-$key TINYCRNN_EXPECT_ARM_INT8=$kind TINYCRNN_MAX_EXAMPLES=8 \
    TINYCRNN_PARITY_CASES=3 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 nice "$TOOLS/run_arm64.sh" --cpu "$cpu" "$@"
}
READ='import tinycrnn
want = {"english_g2": "Hello World", "english_g2_int8": "Hello World"}
for m in ("english_g2", "english_g2_int8", "ppocrv2_zh", "ppocrv2_zh-int8"):
    t = tinycrnn.Recognizer(m).recognize("samples/hello_world.png").text
    print(m, repr(t))
    assert t == want.get(m, t), (m, t)'
for cpu in cortex-a72 cortex-a76; do
  kind=$([ $cpu = cortex-a76 ] && echo sdot || echo neon)
  tests=(tests/test_arm_tiles.py "tests/test_kernels.py::test_microkernel_fallback_tiles_match_numpy" tests/test_nhwc_copy.py)
  tests+=(tests/test_kernels.py::test_conv2d_int8_accumulators_match_reference_exactly
          tests/test_kernels.py::test_linear_int8_matches_reference_exactly
          tests/test_kernels.py::test_bilstm_int8_matches_reference_exactly
          tests/test_ops_ppocr.py::test_pointwise_int8_numba_matches_reference)
  if [ $cpu = cortex-a76 ]; then
    tests+=("tests/test_parity_english_g2.py::test_parity_logits_text_confidence_every_case[numba]"
            tests/test_parity_english_g2.py::test_preprocess_reproduces_reference_inputs
            "tests/test_parity_ppocrv2.py::test_ppocrv2_top1_and_probs_match_onnxruntime_every_step[numba-zh.png]"
            "tests/test_parity_ppocrv2.py::test_ppocrv2_int8_reads_golden_lines_as_fp32[numba]")
  fi
  run $cpu $kind python -m pytest -q -p no:cacheprovider "${tests[@]}"
  run $cpu $kind python -c "$READ"
done
echo "arm64 pass: $(( $(date +%s) - t0 )) s"
