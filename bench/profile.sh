#!/usr/bin/env bash
# Profiles one `gild build` of a benchmark recipe: where the CPU time goes (perf, self time by
# symbol, and time inclusive of gild's phases) and, with --heap, where the peak memory goes
# (heaptrack). Run bench/run.sh first: it makes the corpus.
#
#   bench/profile.sh [bench|scale] [--heap] [--corpus DIR]
#
# Needs (Debian): linux-perf and python3, and heaptrack for --heap. Reports go to stdout; the raw data
# stays in the printed directory for `perf report -i` and `heaptrack_print`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
corpus=$here/corpus
recipe=bench
heap=0
while [ $# -gt 0 ]; do
    case $1 in
        bench | scale) recipe=$1; shift ;;
        --heap) heap=1; shift ;;
        --corpus) corpus=${2:?--corpus needs a directory}; shift 2 ;;
        -h | --help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unexpected argument \`$1\`" >&2; exit 2 ;;
    esac
done
[ -f "$corpus/recipes/$recipe.toml" ] || {
    echo "error: no corpus for \`$recipe\` in $corpus" >&2
    echo "  help: run bench/run.sh first (or the generator: cargo run --release --example bench_corpus -- --variant $recipe)" >&2
    exit 2
}
command -v perf >/dev/null || { echo "error: perf is not installed (apt-get install linux-perf)" >&2; exit 2; }

(cd "$repo" && cargo build --release --quiet --bin gild)
gild=$repo/target/release/gild
data=$(mktemp -d "${TMPDIR:-/tmp}/gild-profile.XXXXXX")
echo "profile data: $data" >&2

build() { # the build, from a clean slate each time
    rm -rf "${corpus:?}/baselines/$recipe" "$data/out"
    "$@" "$gild" -C "$corpus" build "recipes/$recipe.toml" --out "$data/out" >/dev/null
}

# Whole stacks (gild keeps 64 KiB buffers on the stack) at a rate that keeps the data to a
# few hundred MB.
freq=499
[ "$recipe" = scale ] && freq=99
build perf record -q -F "$freq" --call-graph dwarf,65528 -o "$data/perf.data"

echo "## self time by symbol (all threads)"
perf report -i "$data/perf.data" --no-children --sort symbol -g none --percent-limit 0.7 --stdio 2>/dev/null |
    grep -E '^ +[0-9]' || true
echo
echo "## by phase of the build"
perf script -i "$data/perf.data" -F tid,time,ip,sym 2>/dev/null | python3 "$here/phases.py" --freq "$freq"

if [ "$heap" = 1 ]; then
    command -v heaptrack >/dev/null || { echo "error: heaptrack is not installed" >&2; exit 2; }
    build heaptrack -o "$data/heap" >&2
    heaptrack_print -f "$data"/heap.* -a 0 -T 0 -l 0 -n 10 -s 3 >"$data/heap.txt" 2>/dev/null || true
    echo
    echo "## peak heap by allocation site (each site's first gild frames; full text: $data/heap.txt)"
    # Keep each peak's size line, its sub-sites' size lines, and the first two gild frames of each.
    awk '/peak memory consumed/ { print; getline; print "    in " $0; g = 0; next }
         /consumed over|^ *and .* from/ { print; g = 0; next }
         /gild::/ && g < 2 { sub(/::h[0-9a-f]+$/, ""); print "        " $0; g++ }' "$data/heap.txt"
    grep -E '^(peak heap memory|peak RSS|total runtime)' "$data/heap.txt" || true
fi
rm -rf "${corpus:?}/baselines/$recipe"
