#!/usr/bin/env bash
# Install or upgrade modelhealthd as a systemd service.
#
#   sudo deploy/install.sh                      # into /opt/modelhealthd, units into /etc/systemd/system
#   deploy/install.sh --dry-run                 # print every step, change nothing
#   deploy/install.sh --root /tmp/r --prefix /opt/mhd --no-systemctl   # into a staging root
#
# It creates a virtualenv under PREFIX/venv, installs torch (CPU build, pinned) first and then
# modelhealthd, puts the config and the two token files in /etc/modelhealthd (an existing
# config is kept; the new example lands beside it), installs the units with PREFIX filled in,
# and the operator's guide under PREFIX/share/doc/modelhealthd. Re-running it upgrades: on a
# live system it first backs up the state store, and the daemon migrates the schema when it
# starts. It never starts or restarts the service itself; it prints the commands.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: install.sh [options]
  --prefix DIR        install under DIR (default /opt/modelhealthd)
  --root DIR          treat DIR as / (for packaging and tests; default /)
  --dry-run           print what would be done and change nothing
  --python PY         the Python 3.11+ that creates the virtualenv (default python3)
  --source PATH       the project directory or a wheel to install (default: this checkout)
  --torch SPEC        the torch requirement installed first (default torch==2.13.0)
  --pip-args "ARGS"   extra arguments for every pip install (an index, --find-links DIR, ...)
  --no-deps           install modelhealthd alone (the venv's dependencies are managed elsewhere)
  --no-systemctl      do not run systemctl daemon-reload (implied when --root is not /)
  -h, --help          this help
EOF
}

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX=/opt/modelhealthd
ROOT=/
DRY_RUN=0
PYTHON=python3
SOURCE="$(dirname "$HERE")"
TORCH="torch==2.13.0"
PIP_ARGS=""
NO_DEPS=0
SYSTEMCTL=1

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --root) ROOT="$2"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    --python) PYTHON="$2"; shift 2 ;;
    --source) SOURCE="$2"; shift 2 ;;
    --torch) TORCH="$2"; shift 2 ;;
    --pip-args) PIP_ARGS="$2"; shift 2 ;;
    --no-deps) NO_DEPS=1; shift ;;
    --no-systemctl) SYSTEMCTL=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

case "$PREFIX" in /*) ;; *) echo "install.sh: --prefix must be absolute (got $PREFIX)" >&2; exit 2 ;; esac
ROOT="${ROOT%/}"
[ "$ROOT" = "" ] || SYSTEMCTL=0 # a staging root is not the running system
VENV="$ROOT$PREFIX/venv"
ETC="$ROOT/etc/modelhealthd"
UNITS="$ROOT/etc/systemd/system"
DOCS="$ROOT$PREFIX/share/doc/modelhealthd"
STATE_DB="$ROOT/var/lib/modelhealthd/state.db"

say() { printf '==> %s\n' "$*"; }
run() {
  if [ "$DRY_RUN" = 1 ]; then printf '+ %s\n' "$*"; else "$@"; fi
}
# write_file MODE DEST: stdin to DEST, atomically, unless dry-run.
write_file() {
  local mode="$1" dest="$2" tmp
  if [ "$DRY_RUN" = 1 ]; then printf '+ write %s (mode %s)\n' "$dest" "$mode"; cat >/dev/null; return; fi
  tmp="$(mktemp "$dest.XXXXXX")"
  cat >"$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dest"
}

"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || {
  echo "install.sh: $PYTHON is not Python 3.11 or newer" >&2
  exit 2
}
[ -e "$SOURCE" ] || { echo "install.sh: --source $SOURCE does not exist" >&2; exit 2; }

say "virtualenv $VENV"
if [ -x "$VENV/bin/python" ]; then
  say "  exists; upgrading in place"
else
  run mkdir -p "$(dirname "$VENV")"
  run "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check --quiet)
# shellcheck disable=SC2206 # PIP_ARGS is split on purpose: it holds several arguments
[ -z "$PIP_ARGS" ] || PIP+=($PIP_ARGS)

if [ -e "$STATE_DB" ] && [ "$SYSTEMCTL" = 1 ] && [ -x "$VENV/bin/modelhealthd" ]; then
  BACKUP="$ROOT/var/lib/modelhealthd/backups/pre-upgrade-$(date -u +%Y%m%dT%H%M%SZ).db"
  say "backing up the state store to $BACKUP before the upgrade"
  run "$VENV/bin/modelhealthd" state backup "$BACKUP" --config "$ETC/config.yaml"
fi

if [ "$NO_DEPS" = 1 ]; then
  say "modelhealthd from $SOURCE (without dependencies)"
  run "${PIP[@]}" --no-deps "$SOURCE"
else
  say "$TORCH first (keeps pip from choosing a multi-GB GPU build), then modelhealthd from $SOURCE"
  run "${PIP[@]}" "$TORCH"
  run "${PIP[@]}" "$SOURCE"
fi

say "configuration in $ETC"
run mkdir -p "$ETC"
if [ -e "$ETC/config.yaml" ]; then
  say "  keeping the existing config.yaml; the current example is config.example.yaml"
else
  write_file 0644 "$ETC/config.yaml" <"$HERE/config.example.yaml"
fi
write_file 0644 "$ETC/config.example.yaml" <"$HERE/config.example.yaml"
for token in api-token server-token; do
  if [ -e "$ETC/$token" ]; then
    say "  keeping $token"
  else
    "$PYTHON" -c 'import secrets; print(secrets.token_hex(32))' | write_file 0600 "$ETC/$token"
  fi
done

say "systemd units in $UNITS"
run mkdir -p "$UNITS"
for unit in modelhealthd.service modelhealthd-serve@.service; do
  sed "s#/opt/modelhealthd#$PREFIX#g" "$HERE/systemd/$unit" | write_file 0644 "$UNITS/$unit"
done

if [ -d "$SOURCE/docs" ]; then
  say "operator's guide in $DOCS"
  run mkdir -p "$DOCS"
  run cp -R "$SOURCE/docs/." "$DOCS/"
fi

if [ "$NO_DEPS" = 0 ] && [ "$DRY_RUN" = 0 ]; then
  say "checking the config with the installed modelhealthd"
  "$VENV/bin/modelhealthd" config validate "$ETC/config.yaml"
fi

if [ "$SYSTEMCTL" = 1 ] && command -v systemctl >/dev/null 2>&1; then
  run systemctl daemon-reload
fi

cat <<EOF
==> done. Next:
    edit $ETC/config.yaml (models, rules), then:  $PREFIX/venv/bin/modelhealthd config validate /etc/modelhealthd/config.yaml
    systemctl enable --now modelhealthd           # first install
    systemctl restart modelhealthd                # upgrade: the state schema migrates on start
    systemctl enable --now modelhealthd-serve@MODEL   # the reference server, one per model
EOF
