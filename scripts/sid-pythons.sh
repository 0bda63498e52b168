#!/bin/sh
# Fetches the CPython builds Debian's unstable suite (sid) carries today
# (python3.13, python3.14, python3.15 with their libpython, stdlib, headers
# and the runtime libraries they need) and unpacks them into a cache folder,
# never into the system: sid needs a newer glibc than this machine's. The
# interpreters run through the folder's own loader:
#
#   ROOT/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 \
#       --library-path ROOT/usr/lib/x86_64-linux-gnu ROOT/usr/bin/python3.14
#
# Whatever sid carries is taken (never a pinned version); the tests learn the
# exact version from the interpreter. Idempotent and quiet when the cache is
# complete. PYCORONER_SID_ROOT overrides the cache folder.
#
#   scripts/sid-pythons.sh          fetch what is missing
#   scripts/sid-pythons.sh --root   print the cache folder
#   scripts/sid-pythons.sh --force  fetch again (sid moved on)
#   scripts/sid-pythons.sh --dbg    also fetch python3.X-dbg of the cached
#                                   builds (same Debian version) and unpack
#                                   its usr/lib/debug: the separate DWARF of
#                                   the release builds, by build-id, that
#                                   go run ./pyheap/layout/gen reads the
#                                   standard library's C structs from (the
#                                   tests do not need it)
set -e
ROOT="${PYCORONER_SID_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/pycoroner-interpreters/sid}"
MINORS="3.13 3.14 3.15"
RUNTIME_LIBS="libc6 libexpat1 zlib1g libssl3t64 libbz2-1.0 libffi8 liblzma5 libncursesw6 libreadline8t64 libsqlite3-0 libtinfo6 libuuid1 libzstd1 libgcc-s1 libmpdec4 media-types"
# The real programs the tests stop mid-request (integration/programs_test.go),
# as sid packages them: they land in ROOT/usr/lib/python3/dist-packages,
# which sid's interpreters have on sys.path.
PROGRAMS="python3-flask python3-werkzeug python3-jinja2 python3-markupsafe python3-itsdangerous python3-click python3-blinker python3-sqlalchemy python3-sqlalchemy-ext python3-greenlet python3-typing-extensions python3-django python3-asgiref python3-sqlparse python3-pytest python3-iniconfig python3-packaging python3-pluggy python3-pygments"

# Debian strips glibc's symbol table into libc6-dbg (a regular package, not
# a debug-archive one): without it no function inside sid's libc.so.6 has a
# name (a crash in abort's __pthread_kill_implementation, in an AVX-512
# memset). It unpacks to ROOT/usr/lib/debug/.build-id, where pycoroner looks
# for the debug files of files under ROOT.
DEBUG_PKGS="libc6-dbg"

DBG=""
for arg in "$@"; do
	case "$arg" in
	--root) echo "$ROOT"; exit 0 ;;
	--force) rm -f "$ROOT/.complete" "$ROOT/.dbg-complete" "$ROOT/.programs-complete" ;;
	--dbg) DBG=1 ;;
	*) echo "sid-pythons: unknown argument $arg" >&2; exit 2 ;;
	esac
done

# has_files tells whether every debug file package $1 unpacked is still
# there (ROOT/.$1.files lists them; anything that replaced usr/lib/debug
# since removed them).
has_files() {
	[ -s "$ROOT/.$1.files" ] || return 1
	while read -r f; do
		[ -f "$ROOT/$f" ] || return 1
	done <"$ROOT/.$1.files"
}

# list_files records the debug files of package file $1 as ROOT/.$2.files
# under root $3.
list_files() {
	dpkg-deb -c "$1" | awk '{print $NF}' | sed 's|^\./||' | grep '\.debug$' >"$3/.$2.files" || true
}

# Debug packages a complete cache still lacks (it was made before they were
# listed, or their files were removed).
debug_missing() {
	for p in $DEBUG_PKGS; do
		has_files "$p" || echo "$p"
	done
}

# The programs' stamp names the packages, so a longer list fetches again.
programs_done() { [ "$(cat "$ROOT/.programs-complete" 2>/dev/null)" = "$PROGRAMS" ]; }
if [ -f "$ROOT/.complete" ] && programs_done && [ -z "$(debug_missing)" ] && { [ -z "$DBG" ] || [ -f "$ROOT/.dbg-complete" ]; }; then
	exit 0
fi

fail() {
	echo "sid-pythons: $*" >&2
	echo "sid-pythons: Debian sid's CPython builds are not available; the tests that need them fail under CI=true (see docs/limits.md)" >&2
	exit 1
}
command -v apt-get >/dev/null 2>&1 || fail "apt-get not found (a Debian-like system is needed to fetch them)"
command -v dpkg >/dev/null 2>&1 || fail "dpkg not found"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || fail "$keyring missing (apt-get install debian-archive-keyring)"

# A private apt: its own sources list, lists, cache and no dpkg status, so
# nothing of the system's apt state is read or changed.
apt="$ROOT.apt"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/etc/sources.list.d" "$apt/etc/preferences.d" "$apt/debs"
echo "deb [signed-by=$keyring] http://deb.debian.org/debian sid main" >"$apt/sources.list"
cat >"$apt/apt.conf" <<CONF
Dir::State::Lists "$apt/lists";
Dir::State::status "/dev/null";
Dir::Cache "$apt/cache";
Dir::Etc::SourceList "$apt/sources.list";
Dir::Etc::SourceParts "$apt/etc/sources.list.d";
Dir::Etc::Preferences "$apt/etc/preferences";
Dir::Etc::PreferencesParts "$apt/etc/preferences.d";
APT::Architecture "amd64";
Acquire::Languages "none";
Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled "false";
CONF
export APT_CONFIG="$apt/apt.conf"

apt-get -q update >"$apt/update.log" 2>&1 || fail "apt-get update of suite sid failed (see $apt/update.log)"

# fetch_dbg unpacks the usr/lib/debug of python3.X-dbg for every cached
# build, at the Debian version of the cached python3.X (its build-ids must
# be the cached binaries'): the debug interpreter it also carries is not
# kept.
fetch_dbg() {
	mkdir -p "$apt/dbg"
	rm -f "$apt/dbg"/*.deb
	want=""
	for m in $MINORS; do
		v=$(sed -n "s/^python${m}_//p" "$ROOT/packages.txt")
		[ -n "$v" ] || fail "$ROOT/packages.txt names no python$m"
		want="$want python$m-dbg=$(echo "$v" | sed 's/%3a/:/')"
	done
	echo "sid-pythons: fetching the release builds' DWARF ($want) into $ROOT/usr/lib/debug"
	(cd "$apt/dbg" && apt-get -q download $want >"$apt/dbg.log" 2>&1) ||
		fail "apt-get download of$want failed (see $apt/dbg.log); if sid moved on, run $0 --force --dbg"
	tmp="$ROOT.dbg"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	for deb in "$apt/dbg"/*.deb; do
		dpkg -x "$deb" "$tmp" || fail "dpkg -x $deb failed"
	done
	[ -d "$tmp/usr/lib/debug/.build-id" ] || fail "python3.X-dbg holds no usr/lib/debug/.build-id"
	# Added beside what is there (libc6-dbg's files share .build-id).
	mkdir -p "$ROOT/usr/lib/debug/.build-id"
	cp -a "$tmp/usr/lib/debug/.build-id/." "$ROOT/usr/lib/debug/.build-id/"
	rm -rf "$tmp"
	ls "$apt/dbg" | sed 's/_amd64\.deb$//' >"$ROOT/dbg-packages.txt"
	rm -f "$apt/dbg"/*.deb
	touch "$ROOT/.dbg-complete"
}

# fetch_programs unpacks the third-party programs' packages into ROOT,
# whatever versions sid carries.
fetch_programs() {
	mkdir -p "$apt/programs"
	rm -f "$apt/programs"/*.deb
	want=""
	for p in $PROGRAMS; do
		if apt-cache show "$p" >/dev/null 2>&1; then
			want="$want $p"
		else
			echo "sid-pythons: sid has no package $p; skipped" >&2
		fi
	done
	echo "sid-pythons: fetching the test programs ($want) into $ROOT"
	(cd "$apt/programs" && apt-get -q download $want >"$apt/programs.log" 2>&1) ||
		fail "apt-get download of the test programs failed (see $apt/programs.log)"
	for deb in "$apt/programs"/*.deb; do
		dpkg -x "$deb" "$ROOT" || fail "dpkg -x $deb failed"
	done
	ls "$apt/programs" | sed 's/_amd64\.deb$//; s/_all\.deb$//' >"$ROOT/programs-packages.txt"
	rm -f "$apt/programs"/*.deb
	lib="$ROOT/usr/lib/x86_64-linux-gnu"
	for m in $MINORS; do
		"$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$ROOT/usr/bin/python$m" -c 'import flask, sqlalchemy, django, pytest' ||
			echo "sid-pythons: python$m cannot import the test programs from sid's packages" >&2
	done
	echo "$PROGRAMS" >"$ROOT/.programs-complete"
}

# fetch_debug_pkgs unpacks the debug packages $* beside the interpreters, of
# the very version of the package they belong to, without touching what
# runs.
fetch_debug_pkgs() {
	echo "sid-pythons: adding $* to $ROOT"
	mkdir -p "$apt/extra"
	rm -f "$apt/extra"/*.deb
	for p in "$@"; do
		base=${p%-dbg}
		v=$(sed -n "s/^${base}_//p" "$ROOT/packages.txt" | sed 's/%3a/:/')
		[ -n "$v" ] || fail "$ROOT/packages.txt names no $base for $p"
		(cd "$apt/extra" && apt-get -q download "$p=$v" >>"$apt/download.log" 2>&1) ||
			fail "sid no longer carries $p $v (sid moved on: run $0 --force)"
	done
	for p in "$@"; do
		deb=$(ls "$apt/extra/${p}_"*.deb)
		dpkg -x "$deb" "$ROOT" || fail "dpkg -x $deb failed"
		list_files "$deb" "$p" "$ROOT"
		grep -q "^${p}_" "$ROOT/packages.txt" ||
			basename "$deb" | sed 's/_amd64\.deb$//; s/_all\.deb$//' >>"$ROOT/packages.txt"
	done
}

if [ -f "$ROOT/.complete" ]; then
	missing=$(debug_missing)
	[ -z "$missing" ] || fetch_debug_pkgs $missing
	programs_done || fetch_programs
	[ -z "$DBG" ] || [ -f "$ROOT/.dbg-complete" ] || fetch_dbg
	exit 0
fi

echo "sid-pythons: fetching Debian sid's CPython $MINORS into $ROOT"
pkgs="$RUNTIME_LIBS $DEBUG_PKGS"
for m in $MINORS; do
	pkgs="$pkgs python$m python$m-minimal libpython$m libpython$m-minimal libpython$m-stdlib libpython$m-dev python$m-dev"
done
# Keep only the packages sid has (a minor can leave sid); a missing
# interpreter package is an error.
want=""
for p in $pkgs; do
	if apt-cache show "$p" >/dev/null 2>&1; then
		want="$want $p"
	else
		case "$p" in
		python3.1[0-9]) fail "sid no longer carries $p (update MINORS in $0)" ;;
		*) echo "sid-pythons: sid has no package $p; skipped" >&2 ;;
		esac
	fi
done
rm -f "$apt/debs"/*.deb
(cd "$apt/debs" && apt-get -q download $want >"$apt/download.log" 2>&1) || fail "apt-get download failed (see $apt/download.log)"

tmp="$ROOT.new"
rm -rf "$tmp"
mkdir -p "$tmp"
for deb in "$apt/debs"/*.deb; do
	dpkg -x "$deb" "$tmp" || fail "dpkg -x $deb failed"
done
for p in $DEBUG_PKGS; do
	for deb in "$apt/debs/${p}_"*.deb; do
		[ -f "$deb" ] && list_files "$deb" "$p" "$tmp"
	done
done
ls "$apt/debs" | sed 's/_amd64\.deb$//; s/_all\.deb$//' >"$tmp/packages.txt"
lib="$tmp/usr/lib/x86_64-linux-gnu"
for m in $MINORS; do
	"$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$tmp/usr/bin/python$m" -c 'import sys, json, ssl, sqlite3' ||
		fail "the unpacked python$m does not run"
done
rm -rf "$ROOT"
mv "$tmp" "$ROOT"
touch "$ROOT/.complete"
for m in $MINORS; do
	v=$("$ROOT/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$ROOT/usr/lib/x86_64-linux-gnu" "$ROOT/usr/bin/python$m" -c 'import platform; print(platform.python_version())')
	echo "sid-pythons: python$m is CPython $v"
done
fetch_programs
if [ -n "$DBG" ]; then
	fetch_dbg
fi
