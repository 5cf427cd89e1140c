#!/bin/sh
# Installs the Debian packages that building, testing and the demo need,
# when any is missing. Needs root (or sudo) only when something is missing.
set -eu
PKGS="pkg-config libcurl4-openssl-dev libwebsockets-dev libpq-dev libjansson-dev
libsodium-dev check postgresql postgresql-contrib python3 valgrind prometheus systemd curl"
missing=""
for p in $PKGS; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$st" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
