#!/usr/bin/env bash
# Fuzz gild's parsers of untrusted bytes with afl++ (cargo-afl, stable toolchain).
#
#   fuzz/run.sh [SECONDS] [TARGET...]     default: 60 seconds each, every target
#
# Needs: apt-get install afl++ ; cargo install cargo-afl. Seeds are fuzz/corpus/TARGET/
# (real archives, specs and control files); findings go to fuzz/out/TARGET/ (git-ignored).
# New corpus entries afl++ finds can be kept with `fuzz/run.sh --keep`, which minimises them
# into fuzz/corpus/. Exit 1 when any target found a crash or a hang: each becomes a
# regression test (tests/it/ or the module's unit tests) before it is fixed.
set -euo pipefail
cd "$(dirname "$0")"
keep=0
if [ "${1:-}" = --keep ]; then keep=1; shift; fi
seconds=${1:-60}
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(tar mtree deb control)

# The fuzz crate always builds into its own target directory, whatever the caller set.
export CARGO_TARGET_DIR="$PWD/target"
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
cargo afl build --release -q
found=0
for t in "${targets[@]}"; do
	out=out/$t
	rm -rf "$out"
	mkdir -p "$out"
	cargo afl fuzz -V "$seconds" -i "corpus/$t" -o "$out" "target/release/$t" >"$out.log" 2>&1 || true
	stats=$out/default/fuzzer_stats
	if [ ! -f "$stats" ]; then
		tail -n 20 "$out.log" >&2
		echo "fuzz: $t did not run" >&2
		exit 2
	fi
	get() { sed -n "s/^$1 *: *//p" "$stats"; }
	crashes=$(find "$out/default/crashes" -type f ! -name README.txt | wc -l)
	hangs=$(find "$out/default/hangs" -type f | wc -l)
	echo "fuzz $t: $(get execs_done) execs, $(get execs_per_sec) execs/s, edges $(get edges_found)/$(get total_edges), corpus $(get corpus_count), crashes $crashes, hangs $hangs (${seconds}s)"
	if [ "$crashes" -gt 0 ] || [ "$hangs" -gt 0 ]; then
		found=1
		ls "$out/default/crashes" "$out/default/hangs" >&2
	fi
	if [ "$keep" = 1 ]; then
		# afl-cmin has been seen to hang (waiting with no CPU): bounded, and the corpus kept
		# as it was when it does not finish.
		rm -rf "corpus/$t.min"
		if timeout 600 cargo afl cmin -i "$out/default/queue" -o "corpus/$t.min" -- "target/release/$t" \
			</dev/null >"$out.cmin.log" 2>&1; then
			rm -rf "corpus/$t" && mv "corpus/$t.min" "corpus/$t"
		else
			rm -rf "corpus/$t.min"
			echo "fuzz $t: corpus not minimised (see $out.cmin.log); corpus/$t unchanged" >&2
		fi
	fi
done
exit "$found"
