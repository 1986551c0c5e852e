#!/usr/bin/env bash
# The main job: install what is missing, build, and run the attnreg CLI on the
# CPU backend: list the registry, show a member, select a backend for a
# Llama-style layer, and run a mixed batch checked against the float64 reference.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cli=build/bin/attnreg
set -x
"$cli" list
"$cli" show FLASH_ATTN || true   # on a machine without CUDA this prints the resolution error
"$cli" show CPU_ATTN
"$cli" select --head-size 128 --num-heads 32 --num-kv-heads 8 --dtype bf16 --block-size 16
"$cli" run --backend CPU_ATTN --batch 4 --context-len 1024 --query-len 64 --decode 4 --dtype bf16 --check
