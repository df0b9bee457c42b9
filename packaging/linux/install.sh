#!/usr/bin/env bash
# Install the frozen app for the current user: the folder, the `annotator` command, the
# desktop entry and the icon (freedesktop locations; no root needed).
#
# Usage: packaging/linux/install.sh [APP_FOLDER]   (default dist/annotator)
#        annotator/install.sh                     (the copy in the frozen folder: that one)
#   PREFIX  where to install (default ~/.local)
set -euo pipefail

own=$(cd "$(dirname "$0")" && pwd)
if [[ -x "$own/annotator" && -d "$own/_internal" ]]; then
    default=$own  # (run from the frozen folder, where make package puts a copy)
else
    default=$(cd "$own/../.." && pwd)/dist/annotator
fi
src=${1:-$default}
[[ -x "$src/annotator" ]] || { echo "install: no frozen app in $src (run make package)" >&2; exit 1; }
src=$(cd "$src" && pwd)
prefix=${PREFIX:-$HOME/.local}
res="$src/_internal/annotator/_resources"
[[ -f "$res/annotator.desktop" ]] || { echo "install: $res/annotator.desktop is missing" >&2; exit 1; }

mkdir -p "$prefix/opt" "$prefix/bin" "$prefix/share/applications" \
    "$prefix/share/icons/hicolor/256x256/apps" "$prefix/share/icons/hicolor/scalable/apps"
# (run from the installed copy, install.sh must not remove the folder it installs from)
installed=$( [[ -d "$prefix/opt/annotator" ]] && cd "$prefix/opt/annotator" && pwd -P || true )
if [[ "$(cd "$src" && pwd -P)" != "$installed" ]]; then
    rm -rf "$prefix/opt/annotator"
    cp -a "$src" "$prefix/opt/annotator"
fi
ln -sf "$prefix/opt/annotator/annotator" "$prefix/bin/annotator"
# The entry from resources/, with the absolute path of the installed program: quoted in
# Exec (a home such as "/home/Jane Doe"; the desktop entry spec's escapes of \ " ` $),
# as it is in TryExec, which takes no quotes.
program="$prefix/opt/annotator/annotator"
quoted=$(printf '%s' "$program" | sed 's/[\\"`$]/\\&/g')
while IFS= read -r line; do
    case "$line" in
        "Exec=annotator "*) printf 'Exec="%s" %s\n' "$quoted" "${line#Exec=annotator }" ;;
        "TryExec=annotator") printf 'TryExec=%s\n' "$program" ;;
        *) printf '%s\n' "$line" ;;
    esac
done < "$res/annotator.desktop" > "$prefix/share/applications/annotator.desktop"
cp "$res/annotator.png" "$prefix/share/icons/hicolor/256x256/apps/annotator.png"
cp "$res/annotator.svg" "$prefix/share/icons/hicolor/scalable/apps/annotator.svg"
command -v update-desktop-database >/dev/null && update-desktop-database "$prefix/share/applications" || true
echo "installed to $prefix/opt/annotator; command: $prefix/bin/annotator"
