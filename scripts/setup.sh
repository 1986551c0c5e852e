#!/usr/bin/env bash
# Installs what attnreg needs on a fresh Debian 12 machine, skipping what is
# already there. Idempotent; needs root (or sudo) for apt-get.
set -euo pipefail

debian_packages=(
  cmake ninja-build g++ clang libclang-rt-14-dev
  libfmt-dev libcli11-dev nlohmann-json3-dev libdlpack-dev libhwy-dev libomp-dev
  libgtest-dev libgmock-dev libbenchmark-dev

)

missing=()
for p in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
