"""What machine a benchmark ran on: CPU model, cores, OS, Python and library versions, git SHA, date."""
import datetime
import os
import platform
import subprocess


def machine_info() -> dict:
    model = platform.processor() or "unknown"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": model, "cores": os.cpu_count(), "os": platform.platform(), "python": platform.python_version(),
            "date": datetime.date.today().isoformat()}
    for mod in ("numpy", "numba", "cv2", "onnxruntime", "torch"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - absent optional packages are simply not reported
            pass
    try:
        info["git"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                     cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except OSError:
        pass
    return info


def set_threads(n: int) -> None:
    """Pin BLAS/OpenMP/Numba thread pools to ``n``; must run before numpy is imported."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(n)
