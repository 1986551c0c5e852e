#!/bin/bash
# Packs what device_run.sh and tests/cli/device_checks.sh need from a build
# tree into BUNDLE, for a GPU machine that lacks this machine's Debian
# libraries: bin/attnreg_flash_attn_tests, bin/attnreg, lib/ (libattnreg, the
# plugin tree, libattnreg_fa_bench.so) and the shared libraries they load
# that are not part of a base system (fmt, Highway, OpenMP).
# Usage: bench/flash_attn/make_bundle.sh BUILD_DIR BUNDLE
set -euo pipefail
build=$1 bundle=$2
rm -rf "$bundle"
mkdir -p "$bundle/bin" "$bundle/lib"
cp "$build/bin/attnreg_flash_attn_tests" "$build/bin/attnreg" "$bundle/bin/"
cp -a "$build/lib/attnreg" "$build/lib/"libattnreg.so* "$build/lib/libattnreg_fa_bench.so" "$bundle/lib/"
for f in "$bundle"/bin/* "$bundle"/lib/*.so "$bundle"/lib/attnreg/plugins/attnreg/backends/*.so; do
  ldd "$f" | awk '/=> \// {print $3}'
done | sort -u | grep -E 'libfmt|libhwy|libgomp|libomp' | while read -r lib; do
  cp -L "$lib" "$bundle/lib/"
done
du -sh "$bundle"
