#!/bin/bash
# A/B of FLASH_ATTN decode builds in one device session: each variant is a
# libattnreg_fa_bench.so built from one tree (optionally with NAME=VALUE
# environment for the run), and the variants run the decode sweep timing only
# our kernels (each output still compared with the peers', so a variant that
# computes wrong fails), alternated in two rounds, so that a drift of the card
# shows up as a difference between rounds rather than between variants.
#
# Usage, on the GPU machine from the repository root:
#   bench/flash_attn/ab_variants.sh OUT LIB[@NAME=VALUE] LIB2[@NAME=VALUE] ...
# with AB_ARGS for bench_flash_attn.py (default: the decode sweep's batches
# and lengths, 20 calls a point). Prints one line per point: each variant's
# TB/s in rounds 1/2. Logs and bench.json per run go to OUT/<variant index><round>.
set -u
out=$1
shift
variants=("$@")
args=${AB_ARGS:---batches 1 8 64 256 --lens 1024 4096 16384 65536 --iters 20}
for round in 1 2; do
  for i in "${!variants[@]}"; do
    v=${variants[$i]}
    lib=${v%%@*}
    envs=()
    [[ $v == *@* ]] && envs=("${v#*@}")
    dir=$out/v$i.$round
    mkdir -p "$dir"
    # shellcheck disable=SC2086  # AB_ARGS is a list of arguments
    env "${envs[@]}" python3 bench/flash_attn/bench_flash_attn.py --lib "$lib" --out "$dir" --only decode \
      --peers check $args >"$dir/log" 2>&1 || { echo "$v (round $round) failed:"; tail -3 "$dir/log"; }
  done
done
python3 - "$out" "${variants[@]}" <<'EOF'
import json
import sys

out, variants = sys.argv[1], sys.argv[2:]


def tbs(index, rnd):
    try:
        with open(f"{out}/v{index}.{rnd}/bench.json") as f:
            rows = json.load(f).get("decode", [])
    except (OSError, ValueError):
        return {}
    return {(r["B"], r["L"]): r["ours_tbs"] for r in rows if "ours_tbs" in r}


runs = [[tbs(i, 1), tbs(i, 2)] for i in range(len(variants))]
points = sorted(set().union(*[set(r) for v in runs for r in v]))
print("B L | " + " | ".join(variants))
for p in points:
    cells = ["/".join(f"{r[p]:.3f}" if p in r else "-" for r in v) for v in runs]
    print(f"{p[0]} {p[1]} | " + " | ".join(cells))
EOF
