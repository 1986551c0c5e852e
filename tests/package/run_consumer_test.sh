#!/usr/bin/env bash
# run_consumer_test.sh <attnreg build dir>
#
# Installs attnreg from a configured and built build dir into a temporary
# prefix (cmake --install), builds tests/package/consumer against it with
# find_package(attnreg CONFIG REQUIRED), and runs the consumer, which loads
# its own plugin through the installed library. Exits non-zero on any failure.
# The consumer uses the build's compiler and sanitizer flags so it can link.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 <attnreg build dir>" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/consumer
work=$(mktemp -d "${TMPDIR:-/tmp}/attnreg-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
cxx=$(cache_value CMAKE_CXX_COMPILER)
sanitize=$(cache_value ATTNREG_SANITIZE)
generator=$(cache_value CMAKE_GENERATOR)
flags=""
if [[ -n "$sanitize" ]]; then flags="-fsanitize=${sanitize//;/,} -fno-omit-frame-pointer"; fi

echo "== installing attnreg from $build into $prefix"
cmake --install "$build" --prefix "$prefix" > "$work/install.log" || { cat "$work/install.log"; exit 1; }

echo "== configuring and building the consumer"
# Only the temporary prefix may provide attnreg: no package registry, and the
# build tree's own attnregConfig.cmake is not on any search path.
cmake -S "$source_dir" -B "$work/build" -G "$generator" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
  -DCMAKE_MODULE_LINKER_FLAGS="$flags" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
  > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
found=$(sed -n 's/^attnreg_DIR:PATH=//p' "$work/build/CMakeCache.txt")
if [[ "$found" != "$prefix"/* ]]; then
  echo "the consumer found attnreg at '$found', not in the install prefix '$prefix'" >&2
  exit 1
fi
cmake --build "$work/build" -j 2 > "$work/build.log" || { cat "$work/build.log"; exit 1; }

echo "== running the consumer"
"$work/build/consumer" "$work/build/plugins" "$prefix"
