#!/usr/bin/env bash
# Installs what the tests need beyond the build (scripts/setup.sh): Debian's python3-zmq, for the
# ZeroMQ publisher the zeromq input's tests run; Debian's chromium, and playwright-core (from npm,
# tests/ui/package-lock.json) to drive it, for the dashboard's browser tests. No test tool
# downloads a browser of its own. The tests use /usr/bin/python3 when it exists (Debian's packages
# install there; a python3 earlier on PATH, such as a pyenv one, may not see them), else python3.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup-test: need root to run: $*" >&2; exit 1
  fi
}

python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3

missing=()
command -v "$python" >/dev/null || missing+=(python3)
"$python" -c 'import zmq' 2>/dev/null || missing+=(python3-zmq)
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-test: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
(cd tests/ui && npm ci --no-audit --no-fund --loglevel=error)
echo "setup-test: ready ($("$python" -c 'import zmq; print("pyzmq", zmq.__version__, "libzmq", zmq.zmq_version())'); $("${CHROMIUM:-/usr/bin/chromium}" --version))"
