#!/bin/sh
# Installs what pycoroner's tests need and a fresh machine may lack, and
# says plainly what cannot be installed from here.
set -e
need_apt=""
command -v gcore >/dev/null 2>&1 || need_apt="$need_apt gdb"
command -v gcc >/dev/null 2>&1 || need_apt="$need_apt gcc"
command -v xz >/dev/null 2>&1 || need_apt="$need_apt xz-utils"
if [ -n "$need_apt" ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "deps: installing$need_apt"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need_apt >/dev/null
	else
		echo "deps: missing$need_apt; install with: sudo apt-get install$need_apt" >&2
		exit 1
	fi
fi
command -v go >/dev/null 2>&1 || { echo "deps: Go is not installed (https://go.dev/dl/)" >&2; exit 1; }
# The integration tests run every CPython 3.8-3.13 they find (pyenv builds
# with debug info, and Debian's python3.11). They cannot be downloaded here;
# the tests say which are missing.
n=0
for v in 3.8 3.9 3.10 3.11 3.12 3.13; do
	if ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/$v.* >/dev/null 2>&1; then n=$((n+1)); fi
done
# Debian sid's CPython 3.13, 3.14 and 3.15 (stripped distribution builds),
# unpacked into a cache folder; quiet once there.
"$(dirname "$0")/sid-pythons.sh"
echo "deps: gdb $(gdb --version | head -1 | sed 's/.* //'), $n of 6 pyenv CPython versions (3.8-3.13)"
# Real third-party programs for the referents check (integration
# TestRealPrograms): Debian's packages, which run on /usr/bin/python3.11.
if [ -x /usr/bin/python3.11 ] && ! /usr/bin/python3.11 -c 'import flask, sqlalchemy, django, pytest' >/dev/null 2>&1; then
	programs="python3-flask python3-sqlalchemy python3-django python3-pytest"
	if [ "$(id -u)" = 0 ]; then
		echo "deps: installing $programs"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $programs >/dev/null
	else
		echo "deps: missing $programs (TestRealPrograms skips them); install with: sudo apt-get install $programs" >&2
	fi
fi
