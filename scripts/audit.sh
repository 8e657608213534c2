#!/usr/bin/env bash
# `make audit`: known vulnerabilities of the installed, locked dependency set (requirements.lock).
#
# Fails (exit 1) on any known vulnerability not listed in scripts/audit-ignore.txt, and on any
# locked package the advisory service cannot look up (--strict: never a silent partial audit).
# The service is PyPI's advisory data (per-release JSON API), else OSV. When neither answers
# (an offline or proxied machine), it says so in one line and exits 0 — or 1 with AUDIT_REQUIRED=1.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}

reachable() { "$BIN/python" - "$1" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="GET"), timeout=10).close()
except Exception as exc:  # any answer but 2xx: the service cannot be used from here
    print(f"  {sys.argv[1]}: {exc}", file=sys.stderr)
    sys.exit(1)
PY
}

ignores=()
while read -r id _; do
  [[ -n "$id" && "$id" != \#* ]] && ignores+=(--ignore-vuln "$id")
done < scripts/audit-ignore.txt

pip_version=$("$BIN/python" -c 'import importlib.metadata as m; print(m.version("pip"))')
if reachable "https://pypi.org/pypi/pip/$pip_version/json"; then
  service=pypi
elif "$BIN/python" -c 'import socket; socket.getaddrinfo("api.osv.dev", 443)' 2>/dev/null; then
  service=osv
else
  echo "pip-audit: no advisory service reachable from this machine (PyPI per-release JSON and api.osv.dev both failed):" \
       "dependencies NOT audited" >&2
  [[ "${AUDIT_REQUIRED:-0}" == 1 ]] && exit 1
  exit 0
fi
exec "$BIN/pip-audit" --strict --vulnerability-service "$service" --skip-editable --progress-spinner off "${ignores[@]}"
