#!/usr/bin/env bash
# bench-compare.sh OLD NEW CORE [RUNS]
#
# Times two pycoroner binaries on one core, alternating runs so that both
# see the same machine (a shared VM's speed drifts), and prints the median
# wall time of each command and the census time the binaries report
# themselves (histogram's last line), and the median CPU time (user +
# system) of each. For refactorings that must not cost speed; `make bench`
# measures the census of one tree in-process. NEW_ARGS are extra arguments
# for the new binary's commands (e.g. NEW_ARGS=--no-index, so that both
# take the census).
set -u
old=${1:?usage: bench-compare.sh OLD NEW CORE [RUNS]}
new=${2:?usage: bench-compare.sh OLD NEW CORE [RUNS]}
core=${3:?usage: bench-compare.sh OLD NEW CORE [RUNS]}
runs=${4:-5}
commands=("info" "stacks --locals" "histogram" "refs @ __main__:USERS" "path @ __main__:USERS")

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ms FILE BIN ARGS... prints the wall time of one run in milliseconds,
# appends its CPU time in milliseconds to FILE, and leaves the output in
# $tmp/out.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ms() {
	local cpu=$1
	shift
	PYCORONER_NO_LAYOUT_CACHE= /usr/bin/time -f '%e %U %S' -o "$tmp/time" "$@" >"$tmp/out" 2>"$tmp/err"
	awk '{ printf "%d\n", ($2 + $3) * 1000 }' "$tmp/time" >>"$cpu"
	awk '{ printf "%d\n", $1 * 1000 }' "$tmp/time"
}

# census time from histogram's summary line ("... in 1.234s" or "in 90ms").
census_ms() {
	sed -n -E 's/.*unreadable pointers.*, in ([0-9.]+)(ms|s)$/\1 \2/p' "$tmp/out" |
		awk '{ if ($2 == "s") printf "%d\n", $1 * 1000; else printf "%d\n", $1 }'
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-22s %10s %10s %10s %10s\n" "command (median ms)" "old" "new" "old CPU" "new CPU"
for c in "${commands[@]}"; do
	pre=${c%%@*} post=
	[[ $c == *@* ]] && post=${c#*@}
	read -r -a args <<<"$pre"
	read -r -a postw <<<"$post"
	read -r -a extra <<<"${NEW_ARGS:-}"
	nargs=("${args[0]}" "${extra[@]}" "${args[@]:1}" "$core" "${postw[@]}")
	args+=("$core" "${postw[@]}")
	for f in old new oldc newc oldcpu newcpu; do : >"$tmp/$f"; done
	"$old" "${args[@]}" >/dev/null 2>&1 # warm the page cache
	for ((i = 0; i < runs; i++)); do
		ms "$tmp/oldcpu" "$old" "${args[@]}" >>"$tmp/old"
		[ "${args[0]}" = histogram ] && census_ms >>"$tmp/oldc"
		ms "$tmp/newcpu" "$new" "${nargs[@]}" >>"$tmp/new"
		[ "${args[0]}" = histogram ] && census_ms >>"$tmp/newc"
	done
	printf "%-22s %10s %10s %10s %10s\n" "${c/@ /}" "$(median <"$tmp/old")" "$(median <"$tmp/new")" "$(median <"$tmp/oldcpu")" "$(median <"$tmp/newcpu")"
	if [ "${args[0]}" = histogram ]; then
		printf "%-22s %10s %10s\n" "  census (reported)" "$(median <"$tmp/oldc")" "$(median <"$tmp/newc")"
	fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
