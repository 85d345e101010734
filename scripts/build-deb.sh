#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the Debian package alumet-agent (binary only, unsigned) from this
# tree: a copy of the tracked and untracked-but-not-ignored files is built
# with dpkg-buildpackage -us -uc -b in a temporary directory, and the .deb
# (with its .buildinfo and .changes) lands in OUTDIR (default: build-deb/).
# Needs the Build-Depends of debian/control (dpkg-checkbuilddeps says which
# are missing).
#   scripts/build-deb.sh [OUTDIR]
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mkdir -p "${1:-$src/build-deb}" && cd "${1:-$src/build-deb}" && pwd)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/alumet-deb.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/alumet"
(cd "$src" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -C "$tmp/alumet" -xf -
cd "$tmp/alumet"
dpkg-checkbuilddeps
DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }parallel=$(nproc)" dpkg-buildpackage -us -uc -b
cp "$tmp"/alumet-agent_*.deb "$tmp"/alumet_*.buildinfo "$tmp"/alumet_*.changes "$out"/
ls "$out"/alumet-agent_*.deb
