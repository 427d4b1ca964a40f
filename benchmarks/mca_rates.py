"""Which x86 cores issue AVX2's int8 multiply-add faster than FP32's FMA: LLVM's scheduling models, per core.

    python -m benchmarks.mca_rates            # needs llvm-mca (Debian: apt-get install llvm)

The AVX2 int8 tiles (kernels/tiles_avx2.py) spend their time in ``vpmaddwd`` + ``vpaddd`` pairs (16 int16
multiply-adds each); FP32 tiles in ``vfmadd231ps`` (8 each). For each core, llvm-mca runs 12 independent chains of
each and reports the steady-state multiply-adds per cycle. Where the two rates are equal (one integer multiply pipe)
the int8 convs cannot beat FP32 (english_g2's int8 Winograd needs 1.78x FP32's multiplies), and
``kernels.cpu_features.ONE_INT_MULTIPLY_PIPE_CPUS`` lists exactly those cores; the script checks that it agrees.

These are model estimates, not timings. LLVM 14's znver3 model is wrong for FMA (1 per cycle; this project's Zen 3
measures 1.95 with ``benchmarks/avx2_port_rates.c``), so the znver3 row is printed but not used: Zen 3 is measured.
"""
import shutil
import subprocess
import sys

CPUS = ("haswell", "broadwell", "skylake", "skylake-avx512", "icelake-client", "alderlake", "znver1", "znver2",
        "znver3")
#: rows the script prints but does not check: LLVM's model of the core is known to be off (see the docstring)
UNTRUSTED = {"znver3"}
CHAINS = 12


def _loops():
    pairs = "".join(f"vpmaddwd %ymm14, %ymm15, %ymm{12 + k % 2}\nvpaddd %ymm{12 + k % 2}, %ymm{k}, %ymm{k}\n"
                    for k in range(CHAINS))
    fmas = "".join(f"vfmadd231ps %ymm14, %ymm15, %ymm{k}\n" for k in range(CHAINS))
    return {"int16": (pairs, 16 * CHAINS), "fp32": (fmas, 8 * CHAINS)}


def cycles_per_iteration(mca: str, cpu: str, asm: str, iterations: int = 1000) -> float:
    out = subprocess.run([mca, f"-mcpu={cpu}", f"-iterations={iterations}"], input=asm, capture_output=True,
                         text=True, check=True).stdout
    total = next(line for line in out.splitlines() if line.startswith("Total Cycles:"))
    return float(total.split()[-1]) / iterations


def main() -> int:
    from tinycrnn.kernels.cpu_features import one_int_multiply_pipe

    mca = shutil.which("llvm-mca") or shutil.which("llvm-mca-14")
    if not mca:
        print("llvm-mca not found (Debian: apt-get install llvm)")
        return 1
    version = subprocess.run([mca, "--version"], capture_output=True, text=True).stdout
    version = next((line.strip() for line in version.splitlines() if "version" in line), "llvm-mca")
    print(f"# {version}; {CHAINS} independent chains per loop; multiply-adds per cycle")
    print(f"{'core':16s} {'int16 pairs':>11s} {'fp32 fma':>9s} {'int8/fp32 rate':>15s}  one-pipe list")
    bad = []
    for cpu in CPUS:
        rates = {k: macs / cycles_per_iteration(mca, cpu, asm) for k, (asm, macs) in _loops().items()}
        ratio = rates["int16"] / rates["fp32"]
        listed = one_int_multiply_pipe(cpu)
        note = "(model not used: see docstring)" if cpu in UNTRUSTED else ("listed" if listed else "-")
        print(f"{cpu:16s} {rates['int16']:11.1f} {rates['fp32']:9.1f} {ratio:15.2f}  {note}")
        if cpu not in UNTRUSTED and listed != (ratio < 1.2):
            bad.append(cpu)
    if bad:
        print(f"ONE_INT_MULTIPLY_PIPE_CPUS disagrees with the model for: {', '.join(bad)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
