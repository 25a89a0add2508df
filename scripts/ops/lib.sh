# Shared by the scripts in scripts/ops/ (sourced): installing what a fresh Debian machine lacks,
# free loopback ports, the simulator, and waiting. Everything runs on 127.0.0.1.

# apt_need CMD PACKAGE...: install the Debian packages when CMD is missing (root only).
apt_need() {
  local cmd=$1; shift
  command -v "$cmd" >/dev/null 2>&1 && return 0
  apt_install "$@"
}

# apt_install PACKAGE...: install the Debian packages (root only; 1 with a message otherwise).
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "SKIP: $* missing and cannot be installed here (needs root and apt-get)" >&2
    return 1
  fi
  if [ -z "${OPS_APT_UPDATED:-}" ]; then
    apt-get update -qq >/dev/null
    export OPS_APT_UPDATED=1
  fi
  echo "== installing $* from Debian's packages" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for SECONDS COMMAND...: run COMMAND every 0.2 s until it succeeds; 1 after SECONDS.
wait_for() {
  local secs=$1; shift
  local n=$((secs * 5))
  while [ "$n" -gt 0 ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2; n=$((n - 1))
  done
  return 1
}

# start_simulator BIN DIR EVENTS USERS: the simulator on a free loopback port; sets SIM_PID and
# SIM_PORT, writes DIR/sim-key.pem and DIR/snippet.toml (its [[integrations]] table).
start_simulator() {
  local bin=$1 dir=$2
  SIM_PORT=$(free_port)
  "$bin" simulate --listen "127.0.0.1:$SIM_PORT" --key-out "$dir/sim-key.pem" --events "$3" \
    --users "$4" >"$dir/snippet.toml" 2>"$dir/sim.log" &
  SIM_PID=$!
  if ! wait_for 20 grep -q '^admin = ' "$dir/snippet.toml"; then
    echo "FAIL: the simulator did not start"; cat "$dir/sim.log"; return 1
  fi
}

# count_records FILE TYPE: lines of FILE holding "TYPE" (customerevent, auditusers).
count_records() {
  local n
  n=$(grep -c "\"$2\"" "$1" 2>/dev/null) || true
  echo "${n:-0}"
}

# fail MESSAGE [FILE...]: print the message and the files, exit 1.
fail() {
  echo "FAIL: $1"
  shift
  for f in "$@"; do echo "--- $f"; tail -n 40 "$f" 2>/dev/null || true; done
  exit 1
}

# podman_setup: podman and runc from Debian when missing, and the one setting this kind of
# machine needs: no default ulimits (the engine's defaults exceed what the sandbox allows).
# Prints nothing; returns 1 when no engine can be had. Callers run `podman --runtime runc`
# (crun refuses this machine's cgroups) with `--network host` (test traffic stays on loopback).
podman_setup() {
  apt_need podman podman runc catatonit || return 1
  command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || apt_need runc runc || return 1
  local conf=/etc/containers/containers.conf
  if [ ! -e "$conf" ]; then
    mkdir -p /etc/containers
    printf '# Written by docusign-collector scripts/ops: no default ulimits for containers.\n[containers]\ndefault_ulimits = []\n' >"$conf"
  elif ! grep -q '^[[:space:]]*default_ulimits' "$conf"; then
    python3 - "$conf" <<'PY'
import re, sys
p = sys.argv[1]; s = open(p).read()
if re.search(r"(?m)^\[containers\]", s):
    s = re.sub(r"(?m)^\[containers\]\s*$", "[containers]\ndefault_ulimits = []", s, count=1)
else:
    s = "[containers]\ndefault_ulimits = []\n\n" + s
open(p, "w").write(s)
PY
  fi
}

# pm ARGS...: podman as the tests run it. Without systemd, podman complains on every start and
# stop that it cannot set up timers for health checks (the tests run them with `healthcheck run`):
# those lines are dropped.
pm() {
  local rc=0
  podman --runtime runc "$@" 2>"${TMPDIR:-/tmp}/pm-stderr.$$" || rc=$?
  grep -v 'unable to get systemd connection' "${TMPDIR:-/tmp}/pm-stderr.$$" >&2 || true
  rm -f "${TMPDIR:-/tmp}/pm-stderr.$$"
  return "$rc"
}

# http_get URL: the body of a 2xx answer on stdout, else exit 1 (python: curl may be missing).
http_get() {
  python3 - "$1" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        sys.stdout.write(r.read().decode())
except Exception as e:
    sys.exit(1)
PY
}
