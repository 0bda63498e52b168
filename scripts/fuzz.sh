#!/bin/sh
# fuzz.sh runs each fuzz target for FUZZTIME and prints, per target, how
# many inputs it ran and how fast: a target that runs a handful of inputs
# in its budget does not fuzz. A crasher is written by go test to
# PKG/testdata/fuzz/TARGET/ and is from then on a regression case of
# `make test`; commit it. Every target runs even when one fails; the exit
# status is 1 if any failed.
#
# Usage: scripts/fuzz.sh [TIME] [MINIMIZE] PKG:TARGET[:ENV=VALUE]...
# MINIMIZE bounds the minimization of each new interesting input; Go's
# default (60s) spends the whole budget minimizing large inputs.
set -u
GO=${GO:-go}
time=$1 minimize=$2
shift 2
summary=$(mktemp)
trap 'rm -f "$summary" "$summary.out"' EXIT
failed=0
for t in "$@"; do
	pkg=${t%%:*} rest=${t#*:}
	name=${rest%%:*} env=
	[ "$rest" != "$name" ] && env=${rest#*:}
	label="$name ($pkg${env:+, $env})"
	echo "fuzz: $label for $time"
	status=0
	env $env "$GO" test -run '^$' -fuzz "^$name\$" -fuzztime "$time" -fuzzminimizetime "$minimize" "./$pkg" >"$summary.out" 2>&1 || status=$?
	cat "$summary.out"
	# The last progress line: "fuzz: elapsed: 1m30s, execs: 492832 (0/sec), ...";
	# its rate is the last interval's, so the average is computed here.
	last=$(grep -o 'elapsed: [0-9hms]*, execs: [0-9]*' "$summary.out" | tail -1 | awk '{
		t = $2; sub(/,$/, "", t); secs = 0
		if (match(t, /[0-9]+h/)) secs += substr(t, RSTART, RLENGTH - 1) * 3600
		if (match(t, /[0-9]+m/)) secs += substr(t, RSTART, RLENGTH - 1) * 60
		if (match(t, /[0-9]+s/)) secs += substr(t, RSTART, RLENGTH - 1)
		printf "%d execs in %ds (%d/s)", $4, secs, (secs > 0 ? $4 / secs : 0)
	}')
	if [ -z "$last" ]; then
		base=$(grep -o 'baseline coverage: [0-9]*/[0-9]*' "$summary.out" | tail -1)
		last="no executions${base:+ (still gathering $base)}"
	fi
	result=ok
	if [ $status -ne 0 ]; then
		result="FAILED (see above; a crasher is in $pkg/testdata/fuzz/$name/)"
		failed=1
	fi
	printf '%-48s %-44s %s\n' "$label" "$last" "$result" >>"$summary"
done
echo
echo "fuzz summary ($time per target, minimization bounded by $minimize):"
cat "$summary"
exit $failed
