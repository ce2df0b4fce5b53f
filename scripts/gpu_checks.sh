#!/usr/bin/env bash
# Every check that needs a CUDA GPU, in one run (the lent GPU machine has its own python3 with torch).
#   OUT=/some/folder [STAGES='tests bench train recipes'] bash scripts/gpu_checks.sh
# Writes under $OUT: pytest_cuda.log, results_cuda.md (the benchmark table), recipes.csv, train_gpu.log.
set -u
STAGES=${STAGES:-tests bench train recipes}
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
PY=python3
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv
$PY -c "import torch, numpy, safetensors; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"

[[ $STAGES == *tests* ]] && {
echo "== CUDA tests"
timeout 150 $PY -m pytest --noconftest -p no:cacheprovider -c /dev/null -q tests/core/test_train_cuda.py 2>&1 | tee "$OUT/pytest_cuda.log" | tail -25
}
[[ $STAGES == *bench* ]] && {
echo "== benchmarks"
timeout 300 $PY -m bench --device cuda --only train_vs_reference,train_flops,chain_speed,time_to_quality \
    --out "$OUT/results_cuda.md" 2>&1 | tail -40
timeout 60 $PY -m bench.chain_speed --device cuda --tf32 --json "$OUT/chain_tf32.json"
}
[[ $STAGES == *train* ]] && {
echo "== kgn train, paper recipe, on the GPU"
( time timeout 60 $PY -m kgn_gui.cli train --data mnist --preset paper --device cuda -o "$OUT/paper_gpu.safetensors" ) \
    2>&1 | tr '\r' '\n' | tail -6 | tee "$OUT/train_gpu.log"
rm -f "$OUT/paper_gpu.safetensors"
}
[[ $STAGES == *recipes* ]] && {
echo "== recipe search"
timeout 160 $PY scripts/recipe_search.py --device cuda --budget-s 100 --out "$OUT/recipes.csv" 2>&1 | tail -40
}
true
