"""Run a command with tinycrnn's kernels compiled for another x86 CPU class: the stand-in builds of RESULTS.md.

    python -m benchmarks.cpu_build haswell -- python -m benchmarks.bench_int8 --widths 256 --batch 1 --runs 150 --clock cpu
    python -m benchmarks.cpu_build alderlake -- python -m benchmarks.eval_ppocrv2 --sets none ...

A stand-in build runs the instructions of the CPU it names on this machine's core: it says which kernels
such a CPU runs and how they compare on this core, not how fast that CPU is. Each build sets

- ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` (what Numba compiles for, hence which tiles tinycrnn picks);
- ``OPENBLAS_CORETYPE``: numpy's OpenBLAS chooses its kernels from the real CPU, not from Numba's target, so
  on an AVX-512 machine the FP32 models' BLAS calls (PP-OCRv2's pointwise convs, its 6625-class head) would
  run AVX-512 code the stand-in CPU lacks and flatter FP32. Measured on the 2-vCPU Intel Xeon (AVX-512 VNNI)
  of RESULTS.md: PP-OCRv2 FP32 10.1 ms per 32x320 line with the host's OpenBLAS kernels, 13.2 ms with Haswell's;
- ``NUMBA_CACHE_DIR``: a cache per build (``$TMPDIR/tinycrnn-numba-<build>``), so that kernels compiled for
  another CPU never mix with the host's (``--cache DIR`` overrides; a fresh one times the cold compile).

``.ci/run`` runs its AVX2 pass through the ``haswell`` build. A build needing an instruction set this CPU
lacks (``alderlake`` without AVX-VNNI) is refused: its kernels would die of SIGILL.
"""
import argparse
import os
import sys
import tempfile

from benchmarks import PINNED

_AVX2 = ("+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+f16c,+fma,+fsgsbase,+lzcnt,+mmx,+movbe,+popcnt,+sse,+sse2,"
         "+sse3,+sse4.1,+sse4.2,+ssse3,+xsave")
#: build -> (NUMBA_CPU_NAME, NUMBA_CPU_FEATURES, OPENBLAS_CORETYPE, what it stands in for)
BUILDS = {
    "haswell": ("haswell", _AVX2, "Haswell",
                "AVX2 + FMA, one vector integer multiply pipe: the int16-pair int8 tiles, FP32 defaults"),
    "skylake": ("skylake", _AVX2, "Haswell",
                "AVX2 + FMA, two vector integer multiply pipes: the same tiles, int8 defaults"),
    "alderlake": ("alderlake", _AVX2 + ",+avxvnni", "Haswell",
                  "AVX2 + AVX-VNNI (VEX vpdpbusd on ymm), no AVX-512: the uint8 x int8 ymm tiles"),
}


def build_env(build: str, cache_dir: str = "", env=None) -> dict:
    """``env`` (default ``os.environ``) with the variables of ``build``."""
    cpu, features, coretype, _ = BUILDS[build]
    env = dict(os.environ if env is None else env)
    env.update(NUMBA_CPU_NAME=cpu, NUMBA_CPU_FEATURES=features, OPENBLAS_CORETYPE=coretype,
               NUMBA_CACHE_DIR=cache_dir or os.path.join(tempfile.gettempdir(), f"tinycrnn-numba-{build}"))
    return env


def missing_features(build: str) -> list:
    """The features ``build`` compiles for that this machine's CPU lacks (LLVM's host feature list)."""
    import llvmlite.binding as llvm

    host = {f[1:] for f in llvm.get_host_cpu_features().flatten().split(",") if f.startswith("+")}
    return [f[1:] for f in BUILDS[build][1].split(",") if f[1:] not in host]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], usage="%(prog)s BUILD [--cache DIR] -- COMMAND ...")
    ap.add_argument("build", choices=sorted(BUILDS))
    ap.add_argument("--cache", default="", help="Numba cache folder (default: one per build under $TMPDIR)")
    argv = sys.argv[1:] if argv is None else list(argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    args, command = ap.parse_args(argv[:cut]), argv[cut + 1:]
    if not command:
        ap.error("no command given (python -m benchmarks.cpu_build BUILD -- COMMAND ...)")
    lacking = missing_features(args.build)
    if lacking:
        sys.exit(f"cpu_build: this CPU lacks {', '.join(lacking)}, which the {args.build} build compiles for")
    print(f"# {args.build} build: {BUILDS[args.build][3]}", file=sys.stderr, flush=True)
    env = {k: v for k, v in build_env(args.build, args.cache).items() if k not in PINNED}
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main()
