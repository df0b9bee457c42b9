#!/bin/bash
# usage: final.sh BORDER SEED
B=$1; S=$2
P=/tmp/p3/b${B}s${S}
rm -rf $P; cp -r /tmp/p1/isbi-b0/projects/assisted-in-order $P
rm -f $P/*.lock $P/.lock 2>/dev/null
cd /work/snap1
OMP_NUM_THREADS=1 .venv/bin/python -m annotator train $P --from-scratch --steps 400 --seed $S --accepted-border $B --device cpu > $P.train.log 2>&1
names=$(for i in $(seq 15 29); do echo -n "$i.png "; done)
OMP_NUM_THREADS=1 .venv/bin/python -m annotator predict $P --images $names --out $P.pred --device cpu > $P.pred.log 2>&1
.venv/bin/python - <<PY
import cv2, numpy as np, glob
acc=[]
for i in range(15,30):
    t=(cv2.imread('/work/shared/data/isbi2012-membrane/labels/%d.png'%i,0)>127).astype(np.uint8)
    p=cv2.imread('$P.pred/%d.png'%i, cv2.IMREAD_UNCHANGED)
    acc.append((p==t).mean())
print('border $B seed $S acc %.4f' % np.mean(acc))
PY
