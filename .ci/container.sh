#!/usr/bin/env bash
# CI step: build the container image from the Dockerfile, run it on a loopback port, wait until it is
# healthy, read samples/hello_world.png over POST /api/ocr, then stop it (which must take <= 5 s) and
# remove the container and the image. Prints image size, build time and start-to-healthy time.
# Needs root, podman, runc and mmdebstrap (installed with apt-get when missing) and ../shared beside
# the checkout (shared/tools/container: the local base image and containers.conf, see its README);
# without them it prints one line saying why and exits 0. Every step is bounded by a timeout.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-tinycrnn:ci}
NAME=tinycrnn-ci-$$
BASE_IMAGE=localhost/python-bookworm:base
TOOLS=../shared/tools/container

skip() { echo "container step skipped: $*"; exit 0; }

[ -f "$TOOLS/make_base.sh" ] && [ -f "$TOOLS/containers.conf" ] \
  || skip "$TOOLS/make_base.sh and containers.conf not found (shared/ must sit beside the checkout)"
[ "$(id -u)" = 0 ] || skip "needs root (podman with the local base image runs as root on these machines)"
missing=()
for tool in podman runc mmdebstrap; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || skip "${missing[*]} missing and no apt-get to install them"
  (timeout 300 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq "${missing[@]}") \
    >/dev/null 2>&1 || skip "apt-get could not install ${missing[*]}"
fi
PY=$(command -v python3 || command -v python) || skip "no python3 on this machine to talk HTTP to the container"
export CONTAINERS_CONF
CONTAINERS_CONF="$(cd "$TOOLS" && pwd)/containers.conf"

# podman logs an error on each start/stop when it cannot create the HEALTHCHECK's systemd timer (no
# systemd here); the check itself still runs with `podman healthcheck run`. Drop that noise only.
pm() { local limit=$1; shift; timeout "$limit" podman "$@" 2> >(grep -v "unable to get systemd connection" >&2); }
now() { date +%s.%N; }
secs() { "$PY" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }

log=$(mktemp)
cleanup() {
  local status=$?
  if [ $status -ne 0 ] && timeout 20 podman container exists "$NAME" 2>/dev/null; then
    echo "--- container log (last 30 lines) ---" >&2
    timeout 20 podman logs --tail 30 "$NAME" >&2 || true
  fi
  timeout 60 podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
  timeout 60 podman rmi "$IMAGE" >/dev/null 2>&1 || true
  rm -f "$log"
  exit $status
}
trap cleanup EXIT

if ! timeout 900 sh "$TOOLS/make_base.sh" "$BASE_IMAGE" >"$log" 2>&1; then
  tail -20 "$log" >&2; echo "container: building the local base image failed" >&2; exit 1
fi

# --layers=false: nothing cached between runs (a fresh build, fresh dependencies, and no intermediate
# images left on this shared machine); --pull=never: the base is local, no registry is contacted.
t0=$(now)
if ! timeout 1800 podman build --layers=false --pull=never --format docker \
     --build-arg BASE="$BASE_IMAGE" -t "$IMAGE" . >"$log" 2>&1; then
  tail -40 "$log" >&2; echo "container: podman build failed" >&2; exit 1
fi
build_s=$(secs "$t0" "$(now)")
grep -E "kernels compiled" "$log" | sed 's/^/  warmup: /' || true
size=$(timeout 60 podman image ls --format '{{.Size}}' "$IMAGE" | head -1)
echo "container: image $IMAGE $size, built in $build_s s"

t0=$(now)
pm 120 run -d --name "$NAME" -p 127.0.0.1::8000 "$IMAGE" >/dev/null
port=$(timeout 20 podman port "$NAME" 8000 | head -1 | sed 's/.*://')
url=http://127.0.0.1:$port
healthy=""
for _ in $(seq 1 480); do  # 120 s
  if "$PY" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$url/api/health" 2>/dev/null; then
    healthy=$(now); break
  fi
  [ "$(timeout 20 podman inspect -f '{{.State.Running}}' "$NAME")" = true ] || { echo "container: exited during start" >&2; exit 1; }
  sleep 0.25
done
[ -n "$healthy" ] || { echo "container: not healthy within 120 s" >&2; exit 1; }
echo "container: healthy $(secs "$t0" "$healthy") s after start ($url)"
timeout 30 podman logs "$NAME" 2>&1 | grep -E "warmed .* kernels compiled" | sed 's/.*tinycrnn: /  start-up: /' || true
pm 60 healthcheck run "$NAME" >/dev/null || { echo "container: the image's HEALTHCHECK reports unhealthy" >&2; exit 1; }

"$PY" - "$url" samples/hello_world.png <<'EOF'
import json, sys, time, urllib.request

url, path = sys.argv[1], sys.argv[2]
req = urllib.request.Request(url + "/api/ocr", data=open(path, "rb").read(), headers={"Content-Type": "image/png"})
t = time.perf_counter()
with urllib.request.urlopen(req, timeout=30) as r:
    res = json.load(r)
text = " ".join(line["text"] for line in res["text"])
print(f"container: POST /api/ocr {path} -> {text!r} in {(time.perf_counter() - t) * 1000:.0f} ms (first request)")
if text != "Hello World":
    sys.exit(f"container: expected 'Hello World', got {text!r}")
EOF

t0=$(now)
pm 30 stop -t 10 "$NAME" >/dev/null
stop_s=$(secs "$t0" "$(now)")
code=$(timeout 20 podman inspect -f '{{.State.ExitCode}}' "$NAME")
echo "container: podman stop took $stop_s s, exit code $code"
"$PY" -c "import sys; sys.exit(float(sys.argv[1]) > 5)" "$stop_s" || { echo "container: stop took over 5 s" >&2; exit 1; }
[ "$code" = 0 ] || { echo "container: tinycrnn serve exited with $code on SIGTERM" >&2; exit 1; }
echo "container: ok"
