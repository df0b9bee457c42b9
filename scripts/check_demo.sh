#!/usr/bin/env bash
# Check that `make demo` works: create the demo project, open the app on it under Xvfb,
# wait until the main window is painted, save a screenshot, and fail if there is none.
#
# Usage: scripts/check_demo.sh [SCREENSHOT.png]
#   ANNOTATOR  the command to run (default: .venv/bin/annotator if it exists, else
#              `python -m annotator` with $PYTHON, default python3); the frozen app's
#              smoke test sets it to dist/annotator/annotator.
#   TIMEOUT    seconds to wait for the window (default 120).
# Needs xvfb-run (Debian/Ubuntu: apt-get install xvfb xauth libxcb-cursor0
# libxcb-icccm4 libxcb-keysyms1).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
shot=${1:-$here/out/demo-screenshot.png}  # out/ is ignored by git
mkdir -p "$(dirname "$shot")"
timeout_s=${TIMEOUT:-120}
if [[ -z "${ANNOTATOR:-}" ]]; then
    if [[ -x "$here/.venv/bin/annotator" ]]; then
        ANNOTATOR="$here/.venv/bin/annotator"
    else
        ANNOTATOR="${PYTHON:-python3} -m annotator"
    fi
fi
command -v xvfb-run >/dev/null || { echo "check_demo: xvfb-run is not installed" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -f "$shot"

# The same two steps as `make demo`, in a throw-away folder.
$ANNOTATOR demo "$work/demo-project"
# A real X server (not the offscreen platform): the screenshot is grabbed from the screen.
QT_QPA_PLATFORM=xcb timeout "$timeout_s" xvfb-run -a -s "-screen 0 1400x900x24" \
    $ANNOTATOR gui "$work/demo-project" --screenshot "$shot" --quit-after-paint \
    | tee "$work/gui.log"

if [[ ! -s "$shot" ]]; then
    echo "check_demo: FAILED: the window was not painted within ${timeout_s} s (no $shot)" >&2
    exit 1
fi
grep -q "first paint" "$work/gui.log" || { echo "check_demo: FAILED: no paint reported" >&2; exit 1; }
echo "check_demo: OK: $shot"
