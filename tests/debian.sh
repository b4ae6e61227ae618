#!/bin/sh
# SPDX-License-Identifier: MIT
# The Debian packages, as a distribution and a user meet them: builds libcsock0.1, libcsock-dev
# and csock from a copy of the tree with dpkg-buildpackage, checks them with lintian, unpacks
# them into a throw-away root and builds and runs tests/consumer against what they hold (CMake
# package and pkg-config). With CI=true, as root, it also installs them on the machine for real
# (CI machines are thrown away), so their dependencies resolve, `man csock` and `csock -V` work,
# and a program finds the shared library with no help; then it removes them again.
# Usage: tests/debian.sh   (needs: apt-get install dpkg-dev debhelper lintian fakeroot)
set -eu
cd "$(dirname "$0")/.."
. tests/needs.sh
needs dpkg-buildpackage dpkg-dev
needs dh debhelper
needs lintian lintian

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
# The tree as git has it (or as it stands, outside git), without build directories.
if git rev-parse --git-dir >/dev/null 2>&1; then
    git ls-files -z | xargs -0 cp --parents -t "$work/src"
    git ls-files -z --others --exclude-standard debian | xargs -0 -r cp --parents -t "$work/src"
else
    tar --exclude='./build*' --exclude=./.git -cf - . | tar -xf - -C "$work/src"
fi

echo "== dpkg-buildpackage"
(cd "$work/src" && dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) || {
    tail -50 "$work/build.log"
    exit 1
}
ls "$work"/*.deb

echo "== lintian"
lintian --fail-on error,warning --allow-root "$work"/csock_*.changes

echo "== a program built against the unpacked packages"
root="$work/root"
for deb in "$work"/*.deb; do
    case "$deb" in *-dbgsym_*) continue ;; esac
    dpkg-deb -x "$deb" "$root"
done
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
lib="$root/usr/lib/$arch"
cmake -S tests/consumer -B "$work/consumer" -DCMAKE_PREFIX_PATH="$root/usr" >/dev/null
cmake --build "$work/consumer" -j2 >/dev/null
LD_LIBRARY_PATH="$lib" "$work/consumer/consumer_cmake"
"$work/consumer/consumer_static"
cc $(PKG_CONFIG_PATH="$lib/pkgconfig" pkg-config --cflags csock) tests/consumer/main.c \
    $(PKG_CONFIG_PATH="$lib/pkgconfig" pkg-config --libs csock) -o "$work/consumer_pc"
LD_LIBRARY_PATH="$lib" "$work/consumer_pc"
"$root/usr/bin/csock" -V

if [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ]; then
    echo "== installed on this (throw-away) machine"
    apt-get install -y -qq "$work"/libcsock0.1_*.deb "$work"/libcsock-dev_*.deb \
        "$work"/csock_*.deb >/dev/null
    cc tests/consumer/main.c $(pkg-config --cflags --libs csock) -o "$work/consumer_system"
    "$work/consumer_system"
    csock -V
    man -w csock
    apt-get purge -y -qq csock libcsock-dev libcsock0.1 >/dev/null
fi
echo "debian packages: built, lintian-clean, and used"
