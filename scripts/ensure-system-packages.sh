#!/usr/bin/env bash
# Installs the Debian packages named as arguments when any of them is missing, saying why
# (--why REASON). Nothing is run as root when they are all installed; otherwise apt-get runs
# as root, directly or through sudo.
set -euo pipefail
why=""
if [ "${1:-}" = "--why" ]; then why=$2; shift 2; fi
missing=()
for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Missing system packages: ${missing[*]}${why:+ (needed because $why)}."
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    echo "Installing them needs root: run 'apt-get install ${missing[*]}' as root, then again." >&2
    exit 1
fi
echo "Installing them with ${sudo:-apt-get as root}${sudo:+ apt-get}…"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
