#!/usr/bin/env bash
# Install the frozen app for the current user: the folder, the `annotator` command, the
# desktop entry and the icon (freedesktop locations; no root needed).
#
# Usage: packaging/linux/install.sh [APP_FOLDER]   (default dist/annotator)
#   PREFIX  where to install (default ~/.local)
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
src=$(cd "${1:-$here/dist/annotator}" && pwd)
prefix=${PREFIX:-$HOME/.local}
[[ -x "$src/annotator" ]] || { echo "install: no frozen app in $src (run make package)" >&2; exit 1; }
res="$src/_internal/annotator/_resources"
[[ -f "$res/annotator.desktop" ]] || { echo "install: $res/annotator.desktop is missing" >&2; exit 1; }

mkdir -p "$prefix/opt" "$prefix/bin" "$prefix/share/applications" \
    "$prefix/share/icons/hicolor/256x256/apps" "$prefix/share/icons/hicolor/scalable/apps"
rm -rf "$prefix/opt/annotator"
cp -a "$src" "$prefix/opt/annotator"
ln -sf "$prefix/opt/annotator/annotator" "$prefix/bin/annotator"
# The entry from resources/, with the absolute path of the installed program.
sed "s|^Exec=annotator |Exec=$prefix/opt/annotator/annotator |; s|^TryExec=annotator$|TryExec=$prefix/opt/annotator/annotator|" \
    "$res/annotator.desktop" > "$prefix/share/applications/annotator.desktop"
cp "$res/annotator.png" "$prefix/share/icons/hicolor/256x256/apps/annotator.png"
cp "$res/annotator.svg" "$prefix/share/icons/hicolor/scalable/apps/annotator.svg"
command -v update-desktop-database >/dev/null && update-desktop-database "$prefix/share/applications" || true
echo "installed to $prefix/opt/annotator; command: $prefix/bin/annotator"
