#!/usr/bin/env bash
# Installs what Sluice needs to build and test on Debian 12. Safe to run again.
set -euo pipefail
if ! command -v swift >/dev/null 2>&1; then
  for d in /opt/swift/usr/bin /usr/share/swift/usr/bin; do [ -x "$d/swift" ] && export PATH="$d:$PATH"; done
fi
if ! command -v swift >/dev/null 2>&1; then
  echo "error: Swift 6 is not installed. Install the Swift 6.x toolchain for Debian 12 (https://www.swift.org/install/linux/) and add it to PATH." >&2
  exit 1
fi
need=()
for pkg in locales pkg-config python3 python3-venv libcurl4-openssl-dev libzstd-dev libsnappy-dev zlib1g-dev procps iproute2 libpq-dev postgresql postgresql-client libsmbclient-dev samba smbclient libssh2-1-dev openssh-server openssh-client libmariadb-dev mariadb-server mariadb-client prometheus chromium fonts-dejavu-core; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # The first attempt can fail with a transient dpkg error on fresh machines: try twice.
  $SUDO apt-get install -y -qq "${need[@]}" || $SUDO apt-get install -y -qq "${need[@]}"
fi
# Translated server and client messages for the test that a refused login is recognised by its
# SQLSTATE, never by English text (libpq and PostgreSQL 15 ship German, not Brazilian Portuguese).
for loc in de_DE pt_BR; do
  if ! locale -a 2>/dev/null | grep -i "^$loc.utf-\?8$" >/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO sed -i "s/^# *\($loc.UTF-8 UTF-8\)/\1/" /etc/locale.gen
    grep -q "^$loc.UTF-8 UTF-8" /etc/locale.gen || echo "$loc.UTF-8 UTF-8" | $SUDO tee -a /etc/locale.gen >/dev/null
    $SUDO locale-gen >/dev/null
  fi
done
swift --version 2>/dev/null | sed -n 1p
