#!/usr/bin/env bash
# bench-compare.sh OLD NEW CORE [RUNS]
#
# Times two pycoroner binaries on one core, alternating runs so that both
# see the same machine (a shared VM's speed drifts), and prints the median
# wall time of each command and the census time the binaries report
# themselves (histogram's last line). For refactorings that must not cost
# speed; `make bench` measures the census of one tree in-process.
set -u
old=${1:?usage: bench-compare.sh OLD NEW CORE [RUNS]}
new=${2:?usage: bench-compare.sh OLD NEW CORE [RUNS]}
core=${3:?usage: bench-compare.sh OLD NEW CORE [RUNS]}
runs=${4:-5}
commands=("info" "stacks --locals" "histogram" "refs @ __main__:USERS" "path @ __main__:USERS")

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ms BIN ARGS... prints the wall time of one run in milliseconds, and
# leaves the output in $tmp/out.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ms() {
	local s e
	s=$(date +%s%N)
	PYCORONER_NO_LAYOUT_CACHE= "$@" >"$tmp/out" 2>"$tmp/err"
	e=$(date +%s%N)
	echo $(((e - s) / 1000000))
}

# census time from histogram's summary line ("... in 1.234s" or "in 90ms").
census_ms() {
	sed -n -E 's/.*unreadable pointers.*, in ([0-9.]+)(ms|s)$/\1 \2/p' "$tmp/out" |
		awk '{ if ($2 == "s") printf "%d\n", $1 * 1000; else printf "%d\n", $1 }'
}

printf "%-22s %10s %10s\n" "command (median ms)" "old" "new"
for c in "${commands[@]}"; do
	pre=${c%%@*} post=
	[[ $c == *@* ]] && post=${c#*@}
	read -r -a args <<<"$pre"
	read -r -a postw <<<"$post"
	args+=("$core" "${postw[@]}")
	: >"$tmp/old" && : >"$tmp/new" && : >"$tmp/oldc" && : >"$tmp/newc"
	"$old" "${args[@]}" >/dev/null 2>&1 # warm the page cache
	for ((i = 0; i < runs; i++)); do
		ms "$old" "${args[@]}" >>"$tmp/old"
		[ "${args[0]}" = histogram ] && census_ms >>"$tmp/oldc"
		ms "$new" "${args[@]}" >>"$tmp/new"
		[ "${args[0]}" = histogram ] && census_ms >>"$tmp/newc"
	done
	printf "%-22s %10s %10s\n" "${c/@ /}" "$(median <"$tmp/old")" "$(median <"$tmp/new")"
	if [ "${args[0]}" = histogram ]; then
		printf "%-22s %10s %10s\n" "  census (reported)" "$(median <"$tmp/oldc")" "$(median <"$tmp/newc")"
	fi
done
