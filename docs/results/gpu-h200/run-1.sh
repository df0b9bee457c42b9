#!/bin/bash
# One prepared run on the GPU machine: tests that need CUDA, the engine benchmark and two
# assisted benches, in parallel. Everything lands in $OUT (at most 8 files).
set -u
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2 QT_QPA_PLATFORM=offscreen
LOG=$OUT/logs.txt
T0=$(date +%s)
say() { echo "[$(( $(date +%s) - T0 ))s] $*" >>"$LOG"; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir .whl/*.whl >>"$LOG" 2>&1
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . >>"$LOG" 2>&1
say "installed"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >>"$LOG" 2>&1
python3 -c "import torch,numpy,cv2;print('torch',torch.__version__,'cuda',torch.version.cuda,torch.cuda.is_available(),'numpy',numpy.__version__,'cv2',cv2.__version__)" >>"$LOG" 2>&1
nproc >>"$LOG"
W=/tmp/work; mkdir -p $W
PIDS=()

# 1. benches (longest first); each rewrites its JSON after every image
( timeout 420 annotator bench .devdata/isbi --mode assisted --strategy in-order --limit 12 \
    --train-steps 1500 --device cuda --out $W/b1500 >$W/b1500.log 2>&1; echo "rc=$?" >>$W/b1500.log ) &
PIDS+=($!)
( timeout 420 annotator bench .devdata/isbi --mode assisted --strategy in-order --limit 12 \
    --train-steps 100 --device cuda --out $W/b100 >$W/b100.log 2>&1; echo "rc=$?" >>$W/b100.log ) &
PIDS+=($!)
# 2. engine: 3000 steps on the GPU, proposal latency, a 10000x10000 proposal
( timeout 300 python3 benchmarks/engine.py .devdata/isbi --steps 3000 --device cuda --big 10000 \
    --out $OUT/engine-isbi-cuda.json >$W/engine.log 2>&1; echo "rc=$?" >>$W/engine.log ) &
PIDS+=($!)
# 3. torchrun with NCCL on the one GPU
( annotator demo $W/demo --labelled 4 >/dev/null 2>&1 && timeout 200 torchrun --standalone --nproc_per_node=1 -m annotator \
    train $W/demo --steps 300 --device cuda >$W/torchrun.log 2>&1; echo "rc=$?" >>$W/torchrun.log ) &
PIDS+=($!)
# 4. tests: tests/ml (CUDA tests included) and the rest without the GUI folder (no Qt there)
( timeout 400 python3 -m pytest tests/ml -q -p no:cacheprovider -n 4 -o faulthandler_timeout=120 \
    >$W/pytest-ml.log 2>&1; echo "rc=$?" >>$W/pytest-ml.log ) &
PIDS+=($!)
( timeout 400 python3 -m pytest tests -q -p no:cacheprovider -n 5 --ignore=tests/gui --ignore=tests/ml \
    --continue-on-collection-errors -o faulthandler_timeout=120 >$W/pytest-rest.log 2>&1; \
    echo "rc=$?" >>$W/pytest-rest.log ) &
PIDS+=($!)
( while sleep 20; do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader >>$W/smi.log; done ) &
SMI=$!
wait "${PIDS[@]}"
kill $SMI
say "all done"
for f in engine torchrun pytest-ml pytest-rest b100 b1500 smi; do
    echo "===== $f" >>"$LOG"; tail -c 6000 $W/$f.log >>"$LOG" 2>&1
done
cp $W/b1500/bench.json $OUT/bench-isbi-cuda-1500.json 2>>"$LOG"
cp $W/b100/bench.json $OUT/bench-isbi-cuda-100.json 2>>"$LOG"
cp $W/pytest-ml.log $W/pytest-rest.log $OUT/ 2>>"$LOG"
tail -c 3000 "$LOG"
