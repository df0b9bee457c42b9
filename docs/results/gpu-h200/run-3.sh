#!/bin/bash
set -u
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir .whl/*.whl >/dev/null 2>&1
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . >/dev/null 2>&1
for mode in off on off on; do
  echo "== prefetch $mode"
  timeout 60 python3 docs/results/gpu-h200/ab.py $mode .devdata/isbi --steps 1000 --device cuda --repeats 3 \
    --out $OUT/engine-$mode.json 2>&1 | grep -E "training  |pixel accuracy"
done
