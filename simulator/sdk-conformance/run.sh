#!/usr/bin/env bash
# SDK conformance: Docusign's official Python SDKs (docusign-esign, docusign-admin, docusign-monitor)
# against the simulator; every answer must parse into the SDKs' models with no key they lack.
#
#   simulator/sdk-conformance/run.sh
#
# The venv lives in $CARGO_TARGET_DIR/sdk-venv (default target/sdk-venv) and is reused when present;
# SDK_VENV overrides its place. Needs python3 (with venv) and access to PyPI the first time.
# Exits 0 when every answer matched, non-zero otherwise; the last line is the summary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="${SDK_VENV:-$target/sdk-venv}"

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import docusign_esign, docusign_admin, docusign_monitor" 2>/dev/null; then
  echo "== creating the SDK venv in $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check docusign-esign docusign-admin docusign-monitor
fi

cd "$root"
echo "== building the simulator"
cargo build --quiet -p docusign-sim --example conformance_sim

work="$(mktemp -d)"
trap 'exec 3>&-; rm -rf "$work"' EXIT
# The simulator serves until its stdin closes: fd 3 is closed when this script exits.
exec 3> >(cargo run --quiet -p docusign-sim --example conformance_sim -- "$work/key.pem" >"$work/info.json" 2>"$work/sim.log")
for _ in $(seq 1 300); do
  [ -s "$work/info.json" ] && break
  sleep 0.1
done
if [ ! -s "$work/info.json" ]; then
  echo "the simulator did not start:" >&2
  cat "$work/sim.log" >&2
  exit 1
fi
"$venv/bin/python" "$here/check.py" "$work/info.json"
