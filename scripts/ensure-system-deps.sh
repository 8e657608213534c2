#!/usr/bin/env bash
# Make sure the machine has what the local stack needs: Python >= 3.11 with venv, Java >= 17,
# Maven, the PostgreSQL server binaries, and Chromium (the console's browser tests drive it). Installs missing pieces with apt-get when we can
# (as root, or with sudo), says so on screen; otherwise names what to install and stops.
set -euo pipefail

missing=()
have_java17() {
  command -v java >/dev/null 2>&1 || return 1
  local v
  v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ -n "$v" ] && [ "$v" -ge 17 ]
}
have_pg() {
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1
}

have_java17 || missing+=("openjdk-17-jre-headless")
command -v mvn >/dev/null 2>&1 || missing+=("maven")
have_pg || missing+=("postgresql")
python3 -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null || missing+=("python3 (>= 3.11)")
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=("python3-venv")
command -v runuser >/dev/null 2>&1 || missing+=("util-linux")
[ -x /usr/bin/chromium ] || missing+=("chromium")

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; fi
fi
if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; }; then
  pkgs=()
  for m in "${missing[@]}"; do
    case "$m" in
      "python3 (>= 3.11)") pkgs+=("python3") ;;
      postgresql) pkgs+=("postgresql" "postgresql-contrib") ;;
      *) pkgs+=("$m") ;;
    esac
  done
  echo ">> installing system packages with apt-get: ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  # Debian's postgresql package starts a cluster on 5432; the stack runs its own, so stop it.
  if [[ " ${pkgs[*]} " == *" postgresql "* ]] && command -v pg_ctlcluster >/dev/null 2>&1; then
    $SUDO service postgresql stop >/dev/null 2>&1 || true
  fi
  exit 0
fi

echo "error: missing: ${missing[*]}. Install them (e.g. apt-get install ${missing[*]}) and run again." >&2
exit 1
