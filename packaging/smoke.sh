#!/usr/bin/env bash
# Smoke test of the frozen app: --version, demo, a headless export, a short training round
# and proposals (torch, ONNX export, onnxruntime), the GUI under Xvfb.
#
# Usage: packaging/smoke.sh [APP_FOLDER]   (default dist/annotator)
#   RUNS  how many GUI launches to time (default 3; the median is reported)
# Prints the folder size and the time from launch to the first painted window, and
# writes them to APP_FOLDER/../smoke-results.txt. Exit 1 at the first failing step.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
app_dir=${1:-$here/dist/annotator}
[[ -x "$app_dir/annotator" ]] || { echo "smoke: no executable $app_dir/annotator (run make package)" >&2; exit 1; }
app_dir=$(cd "$app_dir" && pwd)
app="$app_dir/annotator"
runs=${RUNS:-3}
results="$(dirname "$app_dir")/smoke-results.txt"
command -v xvfb-run >/dev/null || { echo "smoke: xvfb-run is not installed" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Run outside the source tree, with no Python path, so only the bundle can be used.
cd "$work"
unset PYTHONPATH PYTHONHOME
export ANNOTATOR_LOG_DIR="$work"

step() { echo "== $*"; }
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }

step "--version"
"$app" --version | tee version.txt
grep -q "^annotator [0-9]" version.txt || fail "--version printed $(cat version.txt)"

step "demo"
"$app" demo demo-project --images 4 --labelled 2
[[ -f demo-project/project.db || -n "$(ls demo-project)" ]] || fail "no demo project"

step "headless export (voc, then coco)"
"$app" export demo-project out-voc --format voc
ls out-voc/SegmentationClass/*.png >/dev/null || fail "no VOC masks written"
"$app" export demo-project out-coco --format coco
[[ -n "$(find out-coco -name '*.json' | head -1)" ]] || fail "no COCO file written"

step "torch and onnxruntime inside: a short training round, then proposals"
"$app" train demo-project --steps 2 --device cpu
"$app" predict demo-project --out proposals
[[ -n "$(ls proposals)" ]] || fail "predict wrote nothing"

step "a 16-bit LZW TIFF, as OpenCV writes it (imagecodecs inside: without, it is refused)"
"$app" new tiff-project --classes a,b
"$app" add tiff-project "$here/tests/data/rgb12_lzw.tif"

step "superpixels and GrabCut (scikit-image, scipy inside): the simulated annotator"
"$app" export demo-project out-masks --format masks
"$app" bench out-masks --mode manual --limit 1 --tools superpixel,grabcut --max-strokes 30 \
    --out bench-out
[[ -s bench-out/bench.json ]] || fail "bench wrote nothing"

step "GUI offscreen (icons, palette and demo recipe load from the bundle)"
"$app" gui --help >/dev/null
probe=$(QT_QPA_PLATFORM=offscreen timeout 120 "$app" gui demo-project --quit-after-paint)
echo "$probe"

step "GUI under Xvfb, $runs launches"
times=()
for i in $(seq 1 "$runs"); do
    shot="$work/shot-$i.png"
    out=$(QT_QPA_PLATFORM=xcb timeout 180 xvfb-run -a -s "-screen 0 1400x900x24" \
        "$app" gui demo-project --screenshot "$shot" --quit-after-paint) \
        || fail "the GUI did not start (launch $i)"
    [[ -s "$shot" ]] || fail "no screenshot (launch $i)"
    t=$(sed -n 's/^first paint \([0-9.]*\) s.*/\1/p' <<<"$out")
    [[ -n "$t" ]] || fail "no paint time reported (launch $i): $out"
    echo "launch $i: first paint after $t s"
    times+=("$t")
done
cp "$work/shot-1.png" "$(dirname "$app_dir")/smoke-screenshot.png"
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
size=$(du -sh "$app_dir" | cut -f1)
{
    echo "folder: $app_dir"
    echo "size (du -sh): $size"
    echo "launch to first painted window (s): ${times[*]}; median $median"
} | tee "$results"
echo "smoke: OK (screenshot: $(dirname "$app_dir")/smoke-screenshot.png)"
