"""What this CPU can execute and what Numba compiles for, decided once at import (aarch64 dot product).

A kernel needing a feature is used only when both hold: the CPU has it (``AT_HWCAP`` from ``/proc/self/auxv``, else
``/proc/cpuinfo`` Features) and Numba's target machine enables it (``NUMBA_CPU_FEATURES`` / ``NUMBA_CPU_NAME``, else
LLVM's host detection). NOTE: compiling ``llvm.aarch64.neon.sdot`` for a target without dotprod aborts the process
(``LLVM ERROR: Cannot select``), and running it on a CPU without it raises SIGILL: neither can be caught, so both
are checked before any such kernel is built. x86 feature detection stays in :mod:`.microkernel`; the x86 CPU *class*
that decides whether int8 pays (:func:`one_int_multiply_pipe`) is here, by name like the aarch64 dotprod rule.
"""
import platform
import struct

IS_AARCH64 = platform.machine().lower() in ("aarch64", "arm64")

_AT_HWCAP = 16
_HWCAP_ASIMDDP = 1 << 20  # Linux arch/arm64 uapi hwcap.h: the ARMv8.2 SDOT/UDOT instructions

#: LLVM AArch64 CPU names whose default feature set has dotprod (ARMv8.2+ cores with it). Unknown names count as
#: without: the ARMv8.0 tile is correct everywhere, the sdot tile aborts compilation where dotprod is missing.
DOTPROD_CPUS = frozenset(
    "cortex-a55 cortex-a65 cortex-a65ae cortex-a75 cortex-a76 cortex-a76ae cortex-a77 cortex-a78 cortex-a78c "
    "cortex-a78ae cortex-a710 cortex-a715 cortex-a720 cortex-a725 cortex-x1 cortex-x1c cortex-x2 cortex-x3 "
    "cortex-x4 cortex-r82 neoverse-e1 neoverse-n1 neoverse-n2 neoverse-n3 neoverse-v1 neoverse-v2 neoverse-v3 "
    "neoverse-512tvb ampere1 ampere1a ampere1b apple-a12 apple-a13 apple-a14 apple-a15 apple-a16 apple-a17 "
    "apple-m1 apple-m2 apple-m3 apple-m4 carmel tsv110 a64fx exynos-m4 exynos-m5 kryo".split()
)


#: LLVM x86 CPU names whose cores issue the 256-bit integer multiply-add ``vpmaddwd`` on one pipe against two FMA pipes
#: (Intel Haswell and Broadwell, port 0 only; AMD Zen 1 and Zen 2, FP0 only; ``core-avx2`` is LLVM's alias for
#: Haswell): there the int8 multiply-adds of :mod:`.int8_avx2` issue at FP32's rate, not ~1.5x it as on Skylake and
#: later or Zen 3 (two pipes). From Intel's and AMD's instruction tables and LLVM's scheduling models
#: (``benchmarks/mca_rates.py``), not timed: none of these cores is available to this project.
ONE_INT_MULTIPLY_PIPE_CPUS = frozenset("haswell core-avx2 broadwell znver1 znver2".split())
#: Names that say nothing about the microarchitecture (portable builds): the host's own name decides.
_GENERIC_CPU_NAMES = frozenset("host generic x86-64 x86-64-v2 x86-64-v3 x86-64-v4".split())


def target_cpu_name() -> str:
    """The core the kernels are meant for: ``NUMBA_CPU_NAME`` when it names a microarchitecture (a build for a fleet of
    Haswell servers), else LLVM's host CPU name. Speed classes only: what may be *compiled* is the target's feature
    set (:func:`target_has_dotprod`, ``microkernel._cpu_features``), where a generic name means no optional features."""
    from numba import config
    from llvmlite import binding as llvm

    name = (config.CPU_NAME or "").lower()
    return name if name and name not in _GENERIC_CPU_NAMES else llvm.get_host_cpu_name().lower()


def one_int_multiply_pipe(cpu_name=None) -> bool:
    """Whether the x86 core compiled for (:func:`target_cpu_name` when None) has one vector integer multiply pipe
    (:data:`ONE_INT_MULTIPLY_PIPE_CPUS`), where AVX2 int8 models are not faster than their FP32 twins."""
    return (cpu_name or target_cpu_name()).lower() in ONE_INT_MULTIPLY_PIPE_CPUS


def _hwcap_auxv(path="/proc/self/auxv"):
    """``AT_HWCAP`` of this process (64-bit little-endian auxv pairs), or None when unreadable."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    for off in range(0, len(data) - 15, 16):
        key, value = struct.unpack_from("<QQ", data, off)
        if key == _AT_HWCAP:
            return value
    return None


def _cpuinfo_features(path="/proc/cpuinfo"):
    """The first ``Features`` line of /proc/cpuinfo as a set of names (empty when absent)."""
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.lower().startswith("features"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_has_dotprod() -> bool:
    """Whether this aarch64 CPU executes SDOT (HWCAP asimddp; /proc/cpuinfo ``asimddp`` when auxv is unreadable)."""
    if not IS_AARCH64:
        return False
    hwcap = _hwcap_auxv()
    if hwcap is not None:
        return bool(hwcap & _HWCAP_ASIMDDP)
    return "asimddp" in _cpuinfo_features()


def target_has_dotprod(cpu_name=None, features=None) -> bool:
    """Whether Numba's target machine (CPU name + feature string, Numba's defaults when None) enables dotprod.

    An explicit ``+dotprod`` / ``-dotprod`` in the feature string decides; otherwise the CPU name's defaults
    (:data:`DOTPROD_CPUS`)."""
    if cpu_name is None or features is None:
        from numba import config
        from numba.core.codegen import get_host_cpu_features
        from llvmlite import binding as llvm

        if cpu_name is None:
            cpu_name = config.CPU_NAME if config.CPU_NAME not in (None, "host") else llvm.get_host_cpu_name()
        if features is None:
            features = config.CPU_FEATURES if config.CPU_FEATURES is not None else get_host_cpu_features()
    flags = [f.strip() for f in (features or "").split(",")]
    if "+dotprod" in flags:
        return True
    if "-dotprod" in flags:
        return False
    return (cpu_name or "").lower() in DOTPROD_CPUS


def arm_int8_kind() -> str:
    """The aarch64 int8 tile this process may compile and run: ``"sdot"`` (ARMv8.2 dotprod on both the CPU and the
    compile target) or ``"neon"`` (ARMv8.0: widening multiply + pairwise add). Not meaningful off aarch64."""
    return "sdot" if cpu_has_dotprod() and target_has_dotprod() else "neon"
