#!/usr/bin/env bash
# Install tinycrnn the way a user does and check it works with no checkout in reach: build the sdist,
# build the wheel from that sdist, install the wheel into a fresh venv, then from an empty folder
# (no TINYCRNN_WEIGHTS, no PYTHONPATH) read a sample line and a sample page, inspect every shipped
# model, answer /api/health from `tinycrnn serve`, and run the whole test suite against the install.
#
#   .ci/check_wheel.sh                                   # the library versions pip resolves today
#   CONSTRAINTS=.ci/constraints-oldest.txt PYTHON=python3.9 .ci/check_wheel.sh   # the oldest versions declared
# PYTHON: the interpreter of the fresh venv (default: python). SUITE=0: the checks above without the test suite.
# WORKERS: pytest-xdist workers for the suite (default 2).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'kill "${server_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
label="${CONSTRAINTS:+oldest pins}"; label="${label:-versions pip resolves today}"
echo "== wheel check ($label)"

python -m build --outdir "$work/dist" "$repo" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
wheel="$(ls "$work"/dist/*.whl)"
echo "built $(basename "$wheel"): $(du -h "$wheel" | cut -f1) (sdist $(du -h "$work"/dist/*.tar.gz | cut -f1))"

"${PYTHON:-python}" -m venv "$work/venv"
py="$work/venv/bin/python"
pip_args=(-q --disable-pip-version-check)
[ -n "${CONSTRAINTS:-}" ] && pip_args+=(-c "$repo/$CONSTRAINTS")
# a current pip: the one a venv seeds can be years old, and its resolver backtracks for minutes on the test extras
"$py" -m pip install "${pip_args[@]}" --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
extras=serve; [ "${SUITE:-1}" != 0 ] && extras=test,serve   # the test extras only where the suite runs
"$py" -m pip install "${pip_args[@]}" "$wheel[$extras]" 2>&1 | grep -v "^WARNING: Location" || true
echo "$("$py" -V), $("$py" -m pip list --disable-pip-version-check 2>/dev/null | grep -iE "^(numpy|numba|llvmlite|opencv-python-headless) " | tr -s ' ' | paste -sd, -)"

mkdir "$work/empty" && cd "$work/empty"
unset TINYCRNN_WEIGHTS PYTHONPATH
export OPENBLAS_NUM_THREADS=1 NUMBA_CACHE_DIR="$work/numba-cache"
bin="$work/venv/bin"

where="$("$py" -c 'import tinycrnn; print(tinycrnn.__file__)')"
case "$where" in "$work/venv/"*) ;; *) echo "tinycrnn imported from $where, not from the installed wheel" >&2; exit 1;; esac

line="$("$bin/tinycrnn" read --line "$repo/samples/hello_world.png" 2>"$work/stderr")"
[ "$line" = "Hello World" ] || { echo "line read gave '$line'" >&2; cat "$work/stderr" >&2; exit 1; }
grep -q "not compiled for this CPU yet" "$work/stderr" || { echo "no first-run notice on stderr" >&2; exit 1; }
page="$("$bin/tinycrnn" read "$repo/samples/receipt.png" 2>>"$work/stderr")"
echo "$page" | grep -q "TOTAL" || { echo "page read lacks TOTAL:" >&2; echo "$page" >&2; exit 1; }

models="$("$py" -c 'from tinycrnn.engine import shipped_models; print(*shipped_models())')"
[ "$(echo "$models" | wc -w)" -eq "$(ls "$repo"/weights/*.tcrnn | wc -l)" ] || { echo "wheel ships: $models" >&2; exit 1; }
for m in $models; do "$bin/tinycrnn" inspect "$m" >/dev/null; done
echo "read a line and a page; inspected $models"

port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$bin/tinycrnn" serve --host 127.0.0.1 --port "$port" >"$work/serve.log" 2>&1 &
server_pid=$!
"$py" - "$port" <<'PY' || { cat "$work/serve.log" >&2; exit 1; }
import json, sys, time, urllib.request
deadline = time.time() + 180
while True:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/api/health", timeout=5) as r:
            print("serve: /api/health", r.status, json.loads(r.read()).get("status"))
            break
    except OSError:
        if time.time() > deadline:
            sys.exit("tinycrnn serve did not answer /api/health within 180 s")
        time.sleep(1)
PY
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=

if [ "${SUITE:-1}" != 0 ]; then
  # Two workers, a test file each at a time (module fixtures stay per file): this pass runs after the emulated
  # aarch64 one, when both cores are free, and alone took 12 of CI's 30 minutes.
  "$py" -m pytest -q -p no:cacheprovider -n "${WORKERS:-2}" --dist loadfile "$repo/tests"
fi
