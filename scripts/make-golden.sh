#!/bin/sh
# Regenerates the small golden cores under testdata/golden: real cores that
# let the parser tests run where no gdb or pyenv is installed.
#   debian-3.11-gcore: Debian's stripped python3.11, a gcore snapshot, with
#                      the stripped executable it needs (under root/).
#   pyenv-3.13-abort:  a kernel crash core (SIGABRT) of CPython 3.13, kept
#                      with no binaries at all: 3.13 cores must work without.
set -e
cd "$(dirname "$0")/.."
out=testdata/golden
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$out" && mkdir -p "$out/root/usr/bin"
make_one() { # NAME PYTHON MODE
	go run ./fixtures/cmd/mkcore -python "$2" -scenario threads -mode "$3" -o "$tmp/$1" > "$tmp/$1.paths"
	core=$(sed -n 's/^core: *//p' "$tmp/$1.paths")
	oracle=$(sed -n 's/^oracle: *//p' "$tmp/$1.paths")
	xz -9 -T2 -c "$core" > "$out/$1.core.xz"
	cp "$oracle" "$out/$1.oracle.json"
}
make_one debian-3.11-gcore debian-3.11 gcore
make_one pyenv-3.13-abort 3.13 abort
xz -9 -T2 -c /usr/bin/python3.11 > "$out/root/usr/bin/python3.11.xz"
du -ch "$out"/*.xz "$out"/root/usr/bin/*.xz | tail -1
