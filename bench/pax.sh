#!/usr/bin/env bash
# Cost per MB of the extension headers before one tar entry, 64 KiB to 10 MiB, with the
# `header` limit raised: linear merging keeps the ratio of the dearest to the cheapest size
# close to 1 (SPEC §4; issue 16 asks for within 1.5x).
#
#   bench/pax.sh [--runs N]
#
# Prints the reader's CPU time per MB (best of N), then, when valgrind is installed, the
# instructions it executes per MB: counted by cachegrind for making the stream alone and for
# making and reading it, the difference being the reader's, exact whatever the machine's load.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$(dirname "$here")"
cargo build --quiet --release --example bench_pax
bin=${CARGO_TARGET_DIR:-target}/release/examples/bench_pax
"$bin" "$@"
command -v valgrind >/dev/null || { echo "valgrind not installed: no instruction counts" >&2; exit 0; }

irefs() { # ARGS...: instructions executed by the example
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$bin" "$@" 2>&1 >/dev/null |
        sed -n 's/.*I *refs: *//p' | tr -d ,
}
echo
echo "| kind | headers | instructions per MB |"
echo "| --- | ---: | ---: |"
for kind in xattr dropped mixed; do
    lo='' hi=''
    for kib in 64 256 1024 4096 10240; do
        made=$(irefs --only "$kind" "$kib")
        both=$(irefs --only "$kind" "$kib" --parse)
        bytes=$("$bin" --only "$kind" "$kib")
        per=$(( (both - made) * 1048576 / bytes ))
        echo "| $kind | $kib KiB | $per |"
        [ -n "$lo" ] && [ "$per" -ge "$lo" ] || lo=$per
        [ -n "$hi" ] && [ "$per" -le "$hi" ] || hi=$per
    done
    ratios+=("$kind: dearest/cheapest per MB = $(awk "BEGIN { printf \"%.2f\", $hi / $lo }")")
done
echo
printf '%s\n' "${ratios[@]}"
