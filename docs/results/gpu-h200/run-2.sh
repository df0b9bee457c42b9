#!/bin/bash
set -u
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir .whl/*.whl >/dev/null 2>&1
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . >/dev/null 2>&1
nproc; python3 -c "import os;print(os.cpu_count(), len(os.sched_getaffinity(0)))"
timeout 200 python3 benchmarks/engine.py .devdata/isbi --steps 2000 --device cuda --big 10000 \
    --out $OUT/engine-isbi-cuda.json 2>&1 | tee $OUT/engine.log
