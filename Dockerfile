# tinycrnn as a web service: `tinycrnn serve` (upload page + REST API) on port 8000, running as a
# non-root user, with the shipped models inside the package and the Numba kernels compiled at build
# time. Nothing is downloaded at run time.
#
#   docker build -t tinycrnn . && docker run --rm -p 127.0.0.1:8000:8000 tinycrnn
#
# BASE: any Debian-like image with Python >= 3.11 (tomllib), python3 and useradd. Machines that cannot
# pull python:3.11-slim build a stand-in with shared/tools/container/make_base.sh and pass
# --build-arg BASE=localhost/python-bookworm:base (see .ci/container.sh).
ARG BASE=python:3.11-slim

# ---- build: a venv with the dependencies, then the wheel built from this checkout ----------------
FROM ${BASE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/tinycrnn
# Dependencies from pyproject.toml alone (run-time + the serve extra), so that a source change reuses
# this layer, the slow and large one, from the layer cache.
COPY pyproject.toml /src/
RUN python3 -c "import tomllib; p = tomllib.load(open('/src/pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['serve']))" > /tmp/requirements.txt \
 && /opt/tinycrnn/bin/pip install -r /tmp/requirements.txt
COPY . /src
# The serve extra is already satisfied, so this installs the wheel and nothing else.
RUN /opt/tinycrnn/bin/pip wheel --no-deps -w /dist /src \
 && /opt/tinycrnn/bin/pip install "$(ls /dist/tinycrnn-*.whl)[serve]"

# ---- final: the venv only (no wheel files, no build tree) ----------------------------------------
FROM ${BASE}
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin tinycrnn \
 && mkdir -p /var/cache/tinycrnn/numba && chown -R tinycrnn:tinycrnn /var/cache/tinycrnn
# Same base and same path as in the build stage, so the venv's interpreter link still resolves.
COPY --from=build /opt/tinycrnn /opt/tinycrnn
ENV PATH=/opt/tinycrnn/bin:$PATH \
    NUMBA_CACHE_DIR=/var/cache/tinycrnn/numba
USER tinycrnn
# Compile every kernel the shipped models can reach into NUMBA_CACHE_DIR, as the serving user, so
# the server's start-up warm-up loads them instead of compiling. NOTE: Numba keys its cache on the
# CPU (model name and features): the cache is reused only on a CPU of the build machine's type.
# Elsewhere Numba recompiles at start (the server warms up before it answers) and, as the
# folder is writable, caches again in the container's own layer.
RUN tinycrnn warmup

EXPOSE 8000
# urllib, not curl: slim images have no curl. Start period: a cold Numba cache compiles for a while.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4)"]
# `tinycrnn serve` exits 0 on SIGTERM, so `docker stop` / `podman stop` return at once.
ENTRYPOINT ["tinycrnn"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
