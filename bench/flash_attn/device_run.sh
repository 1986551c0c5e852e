#!/bin/bash
# The FLASH_ATTN device session in one command: device tests, compute-sanitizer
# memcheck and racecheck over the same suite, then the benchmark. Logs and
# results go to OUT. Usage (from the repository root, on the GPU machine):
#   bench/flash_attn/device_run.sh BUNDLE OUT [tests] [sanitize] [bench] [bench-args...]
# BUNDLE holds bin/attnreg_flash_attn_tests and lib/ (libattnreg, the plugin
# tree lib/attnreg/plugins, libattnreg_fa_bench.so and libfmt) built elsewhere.
set -u
bundle=$1 out=$2
shift 2
export LD_LIBRARY_PATH=$bundle/lib:${LD_LIBRARY_PATH:-}
tests=$bundle/bin/attnreg_flash_attn_tests
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
for stage in "$@"; do
  case $stage in
    tests)
      # Twice: as dispatched (the wgmma prefill kernel on compute capability
      # 9.0), then with every prefill forced onto the portable mma.sync kernel.
      for portable in 0 1; do
        ATTNREG_FLASH_ATTN_PORTABLE_PREFILL=$portable "$tests" >"$out/tests_portable$portable.log" 2>&1
        echo "tests (ATTNREG_FLASH_ATTN_PORTABLE_PREFILL=$portable) rc=$?"
        grep -E "^\[  (PASSED|FAILED|SKIPPED)|tests? ran" "$out/tests_portable$portable.log" | head -20
        grep -B2 -A8 "Failure" "$out/tests_portable$portable.log" | head -80
      done
      # Then with the 16-bit decode kernel pinned: the Hopper (TMA) kernel for
      # every batch it can serve (the plan gives it rows of at most 6 splits,
      # and the test batches split more), or the cp.async kernel, each with
      # the 3-stage rings and with the 2-stage ones (the scheduler picks those
      # only for splits of 640 keys and more, which the test batches do not
      # have); the prefill-only cases are left out.
      for variant in "0 1" "2 1" "0 0" "2 0"; do
        ring=${variant% *} tma=${variant#* }
        log=$out/tests_ring${ring}_tma$tma.log
        ATTNREG_FLASH_ATTN_DECODE_RING_STAGES=$ring ATTNREG_FLASH_ATTN_DECODE_TMA=$tma "$tests" \
          --gtest_filter='-*long_prefill*:*all_prefill*' >"$log" 2>&1
        echo "tests (ATTNREG_FLASH_ATTN_DECODE_RING_STAGES=$ring ATTNREG_FLASH_ATTN_DECODE_TMA=$tma) rc=$?"
        grep -E "^\[  (PASSED|FAILED)|tests? ran" "$log" | head -20
        grep -B2 -A8 "Failure" "$log" | head -80
      done
      # And the fp8 cases on each fp8 decode kernel: the CUDA-core one (devices
      # before compute capability 8.9) and the tensor-core one.
      for fp8mma in 0 1; do
        log=$out/tests_fp8_mma$fp8mma.log
        ATTNREG_FLASH_ATTN_DECODE_FP8_MMA=$fp8mma "$tests" --gtest_filter='*fp8*:*Fp8*:*everything*' >"$log" 2>&1
        echo "tests (ATTNREG_FLASH_ATTN_DECODE_FP8_MMA=$fp8mma, fp8 cases) rc=$?"
        grep -E "^\[  (PASSED|FAILED)|tests? ran" "$log" | head -20
        grep -B2 -A8 "Failure" "$log" | head -80
      done ;;
    sanitize)
      for tool in memcheck racecheck; do
        timeout 240 compute-sanitizer --tool $tool --error-exitcode 3 "$tests" --gtest_brief=1 >"$out/$tool.log" 2>&1
        echo "$tool rc=$?"
        grep -E "ERROR SUMMARY|RACECHECK SUMMARY|tests? ran|FAILED" "$out/$tool.log" | head -8
        ATTNREG_FLASH_ATTN_DECODE_RING_STAGES=2 ATTNREG_FLASH_ATTN_DECODE_TMA=1 timeout 120 compute-sanitizer \
          --tool $tool --error-exitcode 3 "$tests" --gtest_brief=1 --gtest_filter='*decode*:*d128_bf16*:*d256*:*Graph*' \
          >"$out/${tool}_ring2.log" 2>&1
        echo "$tool (2-stage rings, TMA kernel) rc=$?"
        grep -E "ERROR SUMMARY|RACECHECK SUMMARY|tests? ran|FAILED" "$out/${tool}_ring2.log" | head -8
        ATTNREG_FLASH_ATTN_DECODE_TMA=1 timeout 120 compute-sanitizer --tool $tool --error-exitcode 3 \
          "$tests" --gtest_brief=1 --gtest_filter='*decode*:*d128_bf16*:*d256*:*Graph*' >"$out/${tool}_tma1.log" 2>&1
        echo "$tool (TMA kernel) rc=$?"
        grep -E "ERROR SUMMARY|RACECHECK SUMMARY|tests? ran|FAILED" "$out/${tool}_tma1.log" | head -8
      done ;;
    ncu)
      # One launch of each of our kernels on the headline shapes, for the optimisation log.
      sections="--section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats"
      ncu --clock-control none -k regex:"decode(_mma|_tma)?_kernel" -c 1 $sections --section MemoryWorkloadAnalysis \
        python3 bench/flash_attn/bench_flash_attn.py --lib "$bundle/lib/libattnreg_fa_bench.so" --out /tmp \
        --only decode --batches 64 --lens 16384 --iters 1 --peers off >"$out/ncu_decode.txt" 2>&1
      echo "ncu decode rc=$?"
      ncu --clock-control none -k regex:prefill -c 1 $sections \
        python3 bench/flash_attn/bench_flash_attn.py --lib "$bundle/lib/libattnreg_fa_bench.so" --out /tmp \
        --only prefill --prefill-n 16384 --prefill-d 128 --iters 1 --peers off >"$out/ncu_prefill.txt" 2>&1
      echo "ncu prefill rc=$?"
      grep -hE "Duration|Memory Throughput|DRAM Throughput|Compute \(SM\) Throughput|Achieved Occupancy|Registers Per|Theoretical Occupancy" \
        "$out/ncu_decode.txt" "$out/ncu_prefill.txt" ;;
    bench)
      PYTHONUNBUFFERED=1 python3 bench/flash_attn/bench_flash_attn.py --lib "$bundle/lib/libattnreg_fa_bench.so" \
        --out "$out" ${BENCH_ARGS:-} 2>&1 | tee "$out/bench.log" | tail -60 ;;
  esac
done
