#!/usr/bin/env bash
# compare-outputs.sh OLD NEW [CORE_CACHE]
#
# Runs two pycoroner binaries over every complete core in the harness's
# core cache (fixtures/harness/cache.go: $PYCORONER_CORE_CACHE, else
# $TMPDIR/pycoroner-cores; `make test` fills it) and every command, text
# and --json, and diffs their outputs (stdout, stderr and exit code).
# CORES="GLOB ..." picks entries (default all, e.g. CORES="pyenv-3.12*gcore*");
# other checkouts share the cache, so name the scenario hash of this one.
# Refactorings that must not change any answer are checked with it:
#
#	go build -o /tmp/new ./cmd/pycoroner
#	scripts/compare-outputs.sh /path/to/old/pycoroner /tmp/new
#
# The differences it accepts are documented in docs/json.md: the
# structured fields of a reference (via_kind, via_name, via_index,
# via_offset) added beside the "via" text in JSON, and the envelope around
# heap answers (an old binary's bare answer is compared with "result"). They are removed from
# the new JSON (with jq) before comparing. Exit status 1 when anything else
# differs; the diffs are kept under $OUT (default a temporary directory).
set -u
old=${1:?usage: compare-outputs.sh OLD NEW [CORE_CACHE]}
new=${2:?usage: compare-outputs.sh OLD NEW [CORE_CACHE]}
cache=${3:-${PYCORONER_CORE_CACHE:-${TMPDIR:-/tmp}/pycoroner-cores}}
out=${OUT:-$(mktemp -d -t pycoroner-compare.XXXXXX)}
command -v jq >/dev/null || { echo "compare-outputs: jq is needed" >&2; exit 2; }

# Every command, with the objects the threads scenario names for itself
# (fixtures/scenarios/threads.py); each runs as text and as --json.
commands=(
	"info"
	"stacks"
	"stacks --locals"
	"histogram"
	"histogram --by module"
	"refs @ __main__:MARKED_LIST"
	"refs @ __main__:HOLDER"
	"path @ __main__:MARKED_LIST"
	"path --all @ __main__:MARKED_LIST"
	"show @ __main__:HOLDER"
	"show --depth 2 @ __main__:REGISTRY"
	"show @ __main__:POINTS"
	"grep @ pycoroner-"
	"grep --type bytes @ ."
	"modules"
	"modules --duplicates"
	"syspath"
)

# The structured reference fields are the one allowed addition.
# An old binary (before December 2026) printed heap answers bare, without
# the envelope (result, complete, warnings, census): compare the result.
strip='(if type == "object" and has("result") and has("complete") then .result else . end) | walk(if type == "object" then del(.via_kind, .via_name, .via_index, .via_offset) else . end)'

# run BIN NAME ARGS... writes NAME.out, NAME.err and NAME.code.
run() {
	local bin=$1 name=$2
	shift 2
	# PYCORONER_NO_LAYOUT_CACHE: both binaries read the layout the same way.
	PYCORONER_NO_LAYOUT_CACHE=1 timeout 600 "$bin" "$@" >"$name.out" 2>"$name.err"
	echo $? >"$name.code"
}

cores=0 runs=0 diffs=0 added=0
# The patterns are globbed under the cache, not in the current directory.
set -f
read -r -a patterns <<<"${CORES:-*}"
set +f
for entry in $(for pat in "${patterns[@]}"; do echo "$cache"/$pat/; done); do
	[ -f "$entry/complete.json" ] || continue
	core=$(jq -r .core "$entry/complete.json")
	[ -f "$core" ] || core="$entry/$core"
	[ -f "$core" ] || continue
	cores=$((cores + 1))
	tag=$(basename "$entry")
	for c in "${commands[@]}"; do
		for json in "" "--json"; do
			# "@" marks where the core goes: after the command and its
			# flags, before its arguments.
			pre=${c%%@*} post=
			[[ $c == *@* ]] && post=${c#*@}
			read -r -a args <<<"$pre"
			read -r -a postw <<<"$post"
			[ -n "$json" ] && args+=("$json")
			args+=("$core" "${postw[@]}")
			label="${args[*]}"
			label=${label/$core/CORE}
			name="$out/$tag/$(echo "$label" | sed 's|[^A-Za-z0-9_.-]|_|g')"
			mkdir -p "$out/$tag"
			run "$old" "$name.old" "${args[@]}"
			run "$new" "$name.new" "${args[@]}"
			runs=$((runs + 1))
			# The census line says how long the census took: the one
			# figure that differs between two runs of one binary.
			sed -i -E 's/(unreadable pointers.*, in )[0-9.]+(µs|ms|s|m[0-9.]+s)/\1TIME/' "$name.old.out" "$name.new.out"
			if [ -n "$json" ] && ! cmp -s "$name.old.out" "$name.new.out"; then
				# Not the same bytes: the same once the structured
				# reference fields are taken out?
				if jq -S "$strip" "$name.new.out" >"$name.new.stripped" 2>/dev/null &&
					jq -S . "$name.old.out" >"$name.old.stripped" 2>/dev/null &&
					cmp -s "$name.old.stripped" "$name.new.stripped"; then
					added=$((added + 1))
					cp "$name.old.out" "$name.new.out.cmp"
				fi
			fi
			for part in out err code; do
				b=$name.new.$part
				[ -f "$b.cmp" ] && b=$b.cmp
				if ! cmp -s "$name.old.$part" "$b"; then
					diffs=$((diffs + 1))
					echo "DIFF $tag: $label ($part)"
					diff "$name.old.$part" "$b" | head -6
				fi
			done
		done
	done
done
echo "compare-outputs: $cores cores, $runs runs, $diffs differences, $added JSON answers that differ only by the structured reference fields (outputs in $out)"
[ "$cores" -gt 0 ] || { echo "compare-outputs: no cores under $cache (run make test first)" >&2; exit 2; }
[ "$diffs" = 0 ]
