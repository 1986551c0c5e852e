#!/bin/bash
# FLASH_ATTN through `attnreg run --check` / `select` / `bench` on a real CUDA
# device: the device half of the CLI tests (CI has no GPU; it runs the
# no-device paths in tests/cli/CMakeLists.txt). Not part of ctest.
#
# Usage, from anywhere, on the GPU machine:
#   tests/cli/device_checks.sh DIR [OUT]
# DIR is a build tree or a bundle: DIR/bin/attnreg (or DIR/tools/attnreg) and
# DIR/lib/ with libattnreg and the plugin tree lib/attnreg/plugins (plus any
# shared libraries the tool needs). OUT (optional) receives device_checks.log.
# Exit status: 0 when every check passed and every rejection was explained,
# else 1. The last lines are a summary table.
set -u
dir=$(cd "$1" && pwd)
out=${2:-}
tool=$dir/bin/attnreg
[ -x "$tool" ] || tool=$dir/tools/attnreg
export LD_LIBRARY_PATH=$dir/lib:${LD_LIBRARY_PATH:-}
unset ATTNREG_ATTENTION_BACKEND ATTNREG_PLUGIN_PATH
log=${out:+$out/device_checks.log}
log=${log:-/tmp/device_checks.log}
: >"$log"
if ! "$tool" --help >/dev/null 2>"$log"; then
  echo "device checks: $tool does not start:"; cat "$log"; exit 2
fi
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 | tee -a "$log"

summary=()
failures=0
# check NAME EXPECT(pass|reject) REGEX -- ARGS...: runs the tool, records the result.
check() {
  local name=$1 expect=$2 regex=$3
  shift 4
  local text rc
  text=$("$tool" "$@" 2>&1)
  rc=$?
  { echo "=== $name: attnreg $*"; echo "$text"; echo "rc=$rc"; } >>"$log"
  local flat
  flat=$(tr '\n' ' ' <<<"$text")  # regexes may span lines
  local ok=0
  if [ "$expect" = pass ]; then
    [ $rc -eq 0 ] && grep -Eq "$regex" <<<"$flat" && ok=1
  else
    [ $rc -ne 0 ] && grep -Eq "$regex" <<<"$flat" && ok=1
  fi
  local key
  key=$(grep -Eo "max abs error [^,]+|time: +[0-9.]+ ms|selected: [A-Z_]+|- (head_size|dtype) not supported: [^(]+" <<<"$text" |
        tr '\n' ' ' | sed 's/  */ /g')
  if [ $ok -eq 1 ]; then
    summary+=("ok    $name  $key")
  else
    summary+=("FAIL  $name  rc=$rc $key")
    failures=$((failures + 1))
    echo "--- $name failed (rc=$rc): attnreg $*"; echo "$text" | tail -15
  fi
}

pass_re="output vs float64 reference: .*: PASS"
layer=(--head-size 128 --num-heads 32 --num-kv-heads 8 --dtype bf16)

# ---- select on the real device ----
check select_auto pass "selected: FLASH_ATTN \\(from priority\\)" -- select "${layer[@]}"
check select_device_cuda pass "selected: FLASH_ATTN \\(from priority\\)" -- select "${layer[@]}" --device cuda
check select_head_72 reject "FLASH_ATTN +priority +not valid.*head_size not supported: 72" -- \
  select --head-size 72 --num-heads 32 --num-kv-heads 8 --dtype bf16 --device cuda
check select_fp32 reject "dtype not supported: float32" -- \
  select --head-size 128 --num-heads 32 --num-kv-heads 8 --dtype fp32 --device cuda
"$tool" select "${layer[@]}" >>"$log" 2>&1
"$tool" select --head-size 72 --num-heads 32 --num-kv-heads 8 --dtype fp32 --device cuda >>"$log" 2>&1

# ---- run --check: dtypes x head sizes (mixed batch: prefill chunks over a
# 64-row tile and decodes, shuffled blocks) ----
mixed=(--batch 2 --decode 5 --context-len 300 --query-len 70 --num-heads 8 --num-kv-heads 2 --iters 3)
for dtype in bf16 fp16; do
  for head in 64 96 128 256; do
    check run_${dtype}_d${head} pass "$pass_re.*kv cache after forward: PASS" -- \
      run --check --backend FLASH_ATTN "${mixed[@]}" --dtype $dtype --head-size $head
  done
done
check run_fp8_cache pass "kv cache fp8_e4m3.*$pass_re.*kv cache after forward: PASS" -- \
  run --check --backend FLASH_ATTN "${mixed[@]}" --dtype bf16 --head-size 128 --kv-cache-dtype fp8_e4m3
check run_fp8_cache_fp16 pass "kv cache fp8_e4m3.*$pass_re" -- \
  run --check --backend FLASH_ATTN "${mixed[@]}" --dtype fp16 --head-size 64 --kv-cache-dtype fp8_e4m3
check run_window_softcap_sinks pass "sliding window 100, soft-cap 30, sinks.*$pass_re.*kv cache after forward: PASS" -- \
  run --check --backend FLASH_ATTN "${mixed[@]}" --dtype bf16 --head-size 128 --sliding-window 100 --soft-cap 30 --sinks
check run_window_fp16 pass "sliding window 17.*$pass_re" -- \
  run --check --backend FLASH_ATTN "${mixed[@]}" --dtype fp16 --head-size 96 --sliding-window 17
for bs in 16 32; do
  check run_block_${bs} pass "block size ${bs}.*$pass_re.*kv cache after forward: PASS" -- \
    run --check --backend FLASH_ATTN "${mixed[@]}" --dtype bf16 --head-size 128 --block-size $bs
done
check run_default_layer_auto_device pass "backend:  FLASH_ATTN .*memory: .*$pass_re" -- \
  run --check --backend FLASH_ATTN --iters 10
check run_device_cuda_selected pass "backend:  FLASH_ATTN .*\\[priority\\] .*$pass_re" -- \
  run --check --device cuda --iters 3 --head-size 256 --dtype fp16
check run_long_decode pass "$pass_re" -- \
  run --check --backend FLASH_ATTN --batch 0 --decode 16 --context-len 4000 --iters 10
check run_rejects_head_72 reject "head_size not supported: 72" -- run --check --backend FLASH_ATTN --head-size 72
check run_rejects_fp32 reject "dtype not supported: float32" -- run --check --backend FLASH_ATTN --dtype fp32

# ---- bench on the device ----
check bench_quick pass "decode \\(1 new token.*GB/s.*prefill.*GFLOP/s" -- bench --quick --backend FLASH_ATTN
# The key outputs in full (the reply of a remote run carries the tail).
for name in select_auto select_head_72 run_bf16_d128 run_default_layer_auto_device bench_quick; do
  sed -n "/^=== $name:/,/^rc=/p" "$log"
done

echo
echo "device checks: $((${#summary[@]} - failures)) ok, $failures failed (log: $log)"
printf '%s\n' "${summary[@]}"
[ $failures -eq 0 ]
