#!/usr/bin/env bash
# Measures gild against the tools people already use, side by side, in one run on one corpus,
# and writes bench/RESULTS.md. Speed is only ever claimed as a ratio measured here: the
# machines are shared and noisy, absolute seconds say little.
#
#   bench/run.sh [--runs N] [--corpus DIR] [--results FILE] [--no-scale]
#
# Needs (Debian): cargo, hyperfine, zstd, tar (GNU), gzip, time (/usr/bin/time), jq,
# coreutils, findutils, diffutils, mtree-netbsd for the audit row and pigz for the tar.gz row:
#   apt-get install -y hyperfine zstd tar time jq mtree-netbsd pigz
#
# Rows:
#   build    gild build, cold cache  vs  the shell pipeline a user would write  vs  the floor
#   tar.gz   gild build of a tar.gz image, cold cache  vs  zstd -dc | pigz -6   (when pigz exists)
#   rebuild  a warm rebuild (the next version: one patch more)  and  a no-op rebuild  vs  the floor
#   size     the images  vs  one zstd -3 stream and gzip -6 of the same tar
#   memory   peak RSS of gild build at ~7,000 and at 1,000,000 entries
#   audit    gild audit  vs  NetBSD mtree -f  vs  a parallel sha256sum   (when `gild audit` exists)
#   diff     gild diff   vs  GNU diff of the two files.mtree              (when `gild diff` exists)
# The floor: decompressing the base and compressing it again with `zstd -3 -T0`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
runs=5
corpus=$here/corpus
results=$here/RESULTS.md
scale=1

usage() {
    sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=${2:?--runs needs a number}; shift 2 ;;
        --corpus) corpus=${2:?--corpus needs a directory}; shift 2 ;;
        --results) results=${2:?--results needs a file}; shift 2 ;;
        --no-scale) scale=0; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "error: unexpected argument \`$1\`" >&2; usage >&2; exit 2 ;;
    esac
done

say() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }

missing=()
for tool in cargo hyperfine zstd tar gzip jq find xargs sort sha256sum diff awk; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
[ -x /usr/bin/time ] || missing+=("/usr/bin/time (package time)")
tar --version 2>/dev/null | grep -q 'GNU tar' || missing+=("GNU tar")
if [ ${#missing[@]} -gt 0 ]; then
    die "missing: ${missing[*]}
  help: apt-get install -y hyperfine zstd tar time jq mtree-netbsd pigz"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/gild-bench.XXXXXX")
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
trap 'rm -rf "$work"' EXIT
# No row touches the user's frame cache; the rows that measure a cold build empty their own.
export GILD_CACHE=$work/cache

say "building gild and the corpus generator (release)"
(cd "$repo" && cargo build --release --quiet --bin gild --example bench_corpus)
target_dir=${CARGO_TARGET_DIR:-target}
case $target_dir in /*) ;; *) target_dir=$repo/$target_dir ;; esac
gild=$target_dir/release/gild
gen=$target_dir/release/examples/bench_corpus

# A variant is complete when its marker exists (what the generator writes last: a recipe, or
# next-patch.toml); the baselines of the recipes named after it are stale once it is
# regenerated.
ensure_variant() { # VARIANT MARKER [RECIPE...]
    local variant=$1 marker=$2
    shift 2
    if [ ! -f "$corpus/$marker" ]; then
        say "generating the \`$variant\` corpus in $corpus"
        for name in "$@"; do rm -rf "${corpus:?}/baselines/$name"; done
        "$gen" --out "$corpus" --variant "$variant"
    fi
}
ensure_variant main recipes/bench.toml bench
[ "$scale" = 1 ] && ensure_variant scale recipes/scale.toml scale
ensure_variant next next-patch.toml

has_command() { "$gild" "$1" --help >/dev/null 2>&1; }

# hyperfine JSON → "median min max cpu" of the command named $2 (cpu: mean user + system).
stats() {
    jq -r --arg n "$2" '.results[] | select(.command == $n) | "\(.median) \(.min) \(.max) \(.user + .system)"' "$1"
}
median() { stats "$1" "$2" | cut -d' ' -f1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# met when $1 $2 $3 holds (awk comparison), else missed
verdict() { awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }" && echo met || echo missed; }

bench() {
    local json=$1
    shift
    hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$json" "$@" >&2
}

epoch=$(awk -F' *= *' '$1 == "epoch" { print $2; exit }' "$corpus/recipes/bench.toml")
patches=()
while IFS= read -r p; do patches+=("$corpus/${p#../}"); done < <(
    awk -F'"' '/^\[\[patch\]\]/ { inpatch = 1 } inpatch && $1 ~ /^artifact = / { print $2 }' "$corpus/recipes/bench.toml"
)
base=$corpus/artifacts/base.tar.zst

# The shell pipeline a user would write: extract base and patches (keeping usr-merge
# symlinks), a sha256 manifest, a reproducible-ish tar, zstd.
cat >"$work/pipeline.sh" <<EOF
set -eu
root="$work/root"
rm -rf "\$root" && mkdir "\$root"
for layer in "$base"$(printf ' \\\n    "%s"' "${patches[@]}"); do
    tar -x --keep-directory-symlink -C "\$root" -f "\$layer"
done
(cd "\$root" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$work/manifest.sha256"
tar -c --sort=name --numeric-owner --format=pax --pax-option=delete=atime,delete=ctime \\
    --mtime=@$epoch --clamp-mtime -C "\$root" . | zstd -3 -T0 -q >"$work/pipeline.tar.zst"
EOF

# ---------------------------------------------------------------------------------------
say "build: gild vs the shell pipeline vs the floor ($runs runs each)"
# hyperfine runs its commands through a shell: paths are quoted for it.
q() { printf '%q' "$1"; }
# A cold build: no baseline, no image, and an empty frame cache before each run.
cold=$work/cache-cold
bench "$work/build.json" \
    --prepare "rm -rf $(q "$corpus/baselines/bench") $(q "$work/out") $(q "$cold") && sync" \
    -n gild "GILD_CACHE=$(q "$cold") $(q "$gild") -C $(q "$corpus") build recipes/bench.toml --out $(q "$work/out")" \
    --prepare "rm -rf $(q "$work/root") && sync" -n pipeline "bash $(q "$work/pipeline.sh")" \
    --prepare "sync" -n floor "zstd -dc $(q "$base") | zstd -3 -T0 -q >/dev/null"
# hyperfine times all runs of one command, then all of the next: load that comes and goes
# on a shared machine tilts that ratio. So the floor is also measured in pairs, a gild build
# then a floor run, and the verdict takes the median of the pairs' ratios.
now() { date +%s.%N; }
# pairs OUT PREPARE_A A PREPARE_B B: $((2 * runs)) interleaved pairs, "A-seconds B-seconds
# A/B" a line (the prepare commands are not timed).
pairs() {
    local out=$1 prep_a=$2 a=$3 prep_b=$4 b=$5 t0 t1 t2 t3
    for _ in $(seq $((2 * runs))); do
        eval "$prep_a"
        t0=$(now)
        eval "$a" >/dev/null
        t1=$(now)
        eval "$prep_b"
        t2=$(now)
        eval "$b" >/dev/null
        t3=$(now)
        awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN { printf "%.4f %.4f %.4f\n", b - a, d - c, (b - a) / (d - c) }'
    done >"$out"
    cat "$out" >&2
}
say "build: gild and the floor in $((2 * runs)) interleaved pairs"
pairs "$work/pairs.txt" \
    "rm -rf $(q "$corpus/baselines/bench") $(q "$work/out") $(q "$cold") && sync" \
    "GILD_CACHE=$(q "$cold") $(q "$gild") -C $(q "$corpus") build recipes/bench.toml --out $(q "$work/out")" \
    "sync" "zstd -dc $(q "$base") | zstd -3 -T0 -q"
# pair_median COLUMN [FILE]: the median of a column of pairs.txt (or FILE).
pair_median() { sort -g -k"$1","$1" "${2:-$work/pairs.txt}" | awk -v k="$1" '{ v[NR] = $k } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# interleaved FILE A B: the paragraph that says what the pairs in FILE (an A, then a B) measured.
interleaved() {
    echo "Interleaved: $(wc -l <"$1") pairs of a $2 then a $3, so that load coming and going on"
    echo "the machine falls on both alike: $(pair_median 1 "$1") s and $(pair_median 2 "$1") s (medians); the median of the"
    echo "pairs' ratios is $(paired "$1")× (range $(pair_range "$1")×). The target below is judged on it."
}
# paired FILE: the median of the pairs' ratios, as the verdicts take it.
paired() { awk -v r="$(pair_median 3 "$1")" 'BEGIN { printf "%.2f", r }'; }
# pair_range FILE: the lowest and highest ratio of the pairs.
pair_range() { sort -g -k3,3 "$1" | awk 'NR == 1 { lo = $3 } { hi = $3 } END { printf "%.2f–%.2f", lo, hi }'; }

# The last gild run's baseline and image stay for the audit row.
[ -f "$corpus/baselines/bench/1.0.0/files.mtree" ] ||
    "$gild" -C "$corpus" build recipes/bench.toml --out "$work/out" >/dev/null

# Both sides must have made the same tree: compare the pipeline's manifest with files.mtree.
awk '$2 == "type=file" { for (i = 3; i <= NF; i++) if ($i ~ /^sha256digest=/) print substr($i, 14) "  " $1 }' \
    "$corpus/baselines/bench/1.0.0/files.mtree" | grep -v '  \./etc/gild/release$' | sort >"$work/gild.sha256"
sort "$work/manifest.sha256" >"$work/pipeline.sha256"
if cmp -s "$work/gild.sha256" "$work/pipeline.sha256"; then
    same="the pipeline's manifest and gild's files.mtree list the same $(wc -l <"$work/gild.sha256") file digests"
else
    same="WARNING: the pipeline's manifest and gild's files.mtree differ (see diff below)"
    diff "$work/gild.sha256" "$work/pipeline.sha256" | head -20 >&2 || true
fi
echo "$same" >&2

# A workspace of its own over the corpus's artifacts and keys, for rows whose baselines must
# not mix with the corpus's: DIR, with stdin as DIR/recipes/bench.toml.
workspace() {
    rm -rf "$1" && mkdir -p "$1/recipes"
    ln -s "$corpus/artifacts" "$1/artifacts"
    ln -s "$corpus/keys" "$1/keys"
    cat >"$1/recipes/bench.toml"
}

# ---------------------------------------------------------------------------------------
# tar.gz: the same recipe with `formats = ["tar.gz"]`, a cold build each run, against what a
# user would run for a fast gzip of the same base: pigz at gzip's default level.
gzws=$work/gz
sed 's/^formats = .*/formats = ["tar.gz"]/' "$corpus/recipes/bench.toml" | workspace "$gzws"
grep -q '^formats = \["tar.gz"\]$' "$gzws/recipes/bench.toml" || die "cannot make a tar.gz recipe of recipes/bench.toml"
gz_note="skipped: pigz is not installed (apt-get install pigz)"
if command -v pigz >/dev/null; then
    say "tar.gz build: gild vs zstd -dc | pigz -6 ($runs runs each)"
    bench "$work/gz.json" \
        --prepare "rm -rf $(q "$gzws/baselines") $(q "$work/out-gz") $(q "$work/cache-gz") && sync" \
        -n gild "GILD_CACHE=$(q "$work/cache-gz") $(q "$gild") -C $(q "$gzws") build recipes/bench.toml --out $(q "$work/out-gz")" \
        --prepare "sync" -n pigz "zstd -dc $(q "$base") | pigz -6 >/dev/null"
    say "tar.gz build: gild and pigz in $((2 * runs)) interleaved pairs"
    pairs "$work/gz-pairs.txt" \
        "rm -rf $(q "$gzws/baselines") $(q "$work/out-gz") $(q "$work/cache-gz") && sync" \
        "GILD_CACHE=$(q "$work/cache-gz") $(q "$gild") -C $(q "$gzws") build recipes/bench.toml --out $(q "$work/out-gz")" \
        "sync" "zstd -dc $(q "$base") | pigz -6"
    gz_note=""
fi
gz_image=$work/out-gz/bench-1.0.0.tar.gz
if [ ! -f "$gz_image" ]; then
    rm -rf "$gzws/baselines" "$work/out-gz"
    GILD_CACHE=$work/cache-gz "$gild" -C "$gzws" build recipes/bench.toml --out "$work/out-gz" >/dev/null
fi

# ---------------------------------------------------------------------------------------
# Rebuilds. In a workspace of its own, version 1.0.0 of the bench recipe is recorded (its
# frames fill the cache); then the recipe becomes version 1.0.1, the same plus one small
# patch. Every timed run of the warm rebuild starts from that state (1.0.1's baseline and
# images removed), so it is always a new version's build, never the unchanged path; the
# no-op rebuild builds 1.0.1 again once it is recorded with its images in place.
warm=$work/warm
workspace "$warm" <"$corpus/recipes/bench.toml"
say "rebuild: recording version 1.0.0 in $warm"
GILD_CACHE=$work/cache-warm "$gild" -C "$warm" build recipes/bench.toml --out "$work/out-warm-1.0.0" >/dev/null
{
    sed 's/^version = "1.0.0"$/version = "1.0.1"/' "$corpus/recipes/bench.toml"
    cat "$corpus/next-patch.toml"
} >"$warm/recipes/bench.toml"
grep -q '^version = "1.0.1"$' "$warm/recipes/bench.toml" || die "cannot make version 1.0.1 of recipes/bench.toml"
rebuild="GILD_CACHE=$(q "$work/cache-warm") $(q "$gild") -C $(q "$warm")"
rebuild_args="build recipes/bench.toml --out $(q "$work/out-warm")"
say "rebuild: warm and no-op rebuilds vs the floor ($runs runs each)"
bench "$work/rebuild.json" \
    --prepare "rm -rf $(q "$warm/baselines/bench/1.0.1") $(q "$work/out-warm") && sync" \
    -n "warm rebuild" "$rebuild $rebuild_args" \
    --prepare "sync" -n "no-op rebuild" "$rebuild $rebuild_args" \
    --prepare "sync" -n floor "zstd -dc $(q "$base") | zstd -3 -T0 -q >/dev/null"
say "rebuild: the warm rebuild and the floor in $((2 * runs)) interleaved pairs"
pairs "$work/warm-pairs.txt" \
    "rm -rf $(q "$warm/baselines/bench/1.0.1") $(q "$work/out-warm") && sync" "$rebuild $rebuild_args" \
    "sync" "zstd -dc $(q "$base") | zstd -3 -T0 -q"
# What the timed runs did, from one more of each: the frames a warm rebuild took from the
# cache and compressed, and that the no-op rebuild is reported unchanged.
rm -rf "$warm/baselines/bench/1.0.1" "$work/out-warm"
eval "$rebuild --json $rebuild_args" >"$work/warm.json"
eval "$rebuild --json $rebuild_args" >"$work/noop.json"
warm_check="the warm rebuild was \`$(jq -r .status "$work/warm.json")\`: $(jq -r .frames.reused "$work/warm.json") frames from the cache, $(jq -r .frames.compressed "$work/warm.json") compressed; $(jq -r .decoded.reused "$work/warm.json") patches read decoded from the cache, $(jq -r .decoded.decompressed "$work/warm.json") decompressed; base index \`$(jq -r '."base-index"' "$work/warm.json")\`; the no-op rebuild was \`$(jq -r .status "$work/noop.json")\`"
echo "$warm_check" >&2

# ---------------------------------------------------------------------------------------
# Sizes: chunks compressed apart cost some ratio against one stream over the same tar.
say "size: the images vs one zstd -3 stream and gzip -6 of the same tar"
zst_image=$work/out/bench-1.0.0.tar.zst
zst_size=$(wc -c <"$zst_image")
zst_single=$(zstd -dc "$zst_image" | zstd -3 -q -c | wc -c)
gz_size=$(wc -c <"$gz_image")
gz_single=$(gzip -dc "$gz_image" | gzip -6 -c | wc -c)
echo "tar.zst $zst_size bytes vs $zst_single; tar.gz $gz_size bytes vs $gz_single" >&2

# ---------------------------------------------------------------------------------------
# Peak memory: one build each, measured by /usr/bin/time -v.
peak() { # recipe name → "rss_kib entries seconds"
    local name=$1
    rm -rf "${corpus:?}/baselines/$name" "$work/out-$name" "$work/cache-peak"
    GILD_CACHE=$work/cache-peak /usr/bin/time -v -o "$work/time-$name.txt" \
        "$gild" -C "$corpus" --json build "recipes/$name.toml" --out "$work/out-$name" >"$work/build-$name.json"
    local rss entries secs
    rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time-$name.txt")
    entries=$(jq -r '.entries' "$work/build-$name.json")
    secs=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$work/time-$name.txt")
    echo "$rss $entries $secs"
}
say "memory: peak RSS of gild build"
measured=$(peak bench)
read -r rss_main entries_main secs_main <<<"$measured"
echo "bench: $entries_main entries, peak RSS $rss_main KiB, ${secs_main}s" >&2
rss_scale="" entries_scale="" secs_scale=""
if [ "$scale" = 1 ]; then
    measured=$(peak scale)
    read -r rss_scale entries_scale secs_scale <<<"$measured"
    echo "scale: $entries_scale entries, peak RSS $rss_scale KiB, ${secs_scale}s" >&2
    rm -rf "${corpus:?}/baselines/scale" "$work/out-scale"
fi

# ---------------------------------------------------------------------------------------
audit_note="skipped: this gild has no \`audit\` command yet (\`gild audit --help\` fails)"
if has_command audit; then
    if ! command -v mtree >/dev/null; then
        audit_note="skipped: NetBSD mtree is not installed (apt-get install mtree-netbsd)"
    else
        say "audit of a directory: gild vs mtree -f vs parallel sha256sum"
        target=$work/audit-root
        mkdir -p "$target"
        tar -x -C "$target" -f "$work/out/bench-1.0.0.tar.zst"
        spec=$corpus/baselines/bench/1.0.0/files.mtree
        jobs=$(nproc)
        if [ -n "$(mtree -e -f "$spec" -p "$target" 2>&1)" ]; then
            echo "WARNING: mtree finds differences in the extracted image" >&2
        fi
        bench "$work/audit.json" -i \
            -n gild "$(q "$gild") -C $(q "$corpus") audit bench $(q "$target") >/dev/null" \
            -n mtree "mtree -e -f $(q "$spec") -p $(q "$target")" \
            -n sha256sum "find $(q "$target") -type f -print0 | xargs -0 -P$jobs -n 256 sha256sum >/dev/null"
        audit_note=""
    fi
fi

diff_note="skipped: this gild has no \`diff\` command yet (\`gild diff --help\` fails)"
if has_command diff; then
    say "diff of two 500,000-entry baselines: gild vs GNU diff"
    ensure_variant diff recipes/diff-b.toml diff-b diff-a
    for name in diff-a diff-b; do
        [ -f "$corpus/baselines/$name/1.0.0/files.mtree" ] ||
            "$gild" -C "$corpus" build "recipes/$name.toml" --out "$work/out-$name" >/dev/null
    done
    a=$corpus/baselines/diff-a/1.0.0
    b=$corpus/baselines/diff-b/1.0.0
    bench "$work/diff.json" -i \
        -n gild "$(q "$gild") -C $(q "$corpus") diff $(q "$a") $(q "$b") >/dev/null" \
        -n "GNU diff" "diff $(q "$a/files.mtree") $(q "$b/files.mtree") >/dev/null"
    diff_note=""
fi

# ---------------------------------------------------------------------------------------
say "writing $results"
row() { # json name baseline-name → markdown row
    local s m lo hi cpu
    s=$(stats "$1" "$2")
    read -r m lo hi cpu <<<"$s"
    printf '| %s | %.3f | %.3f – %.3f | %s | %.3f |\n' "$2" "$m" "$lo" "$hi" "$(ratio "$m" "$(median "$1" "$3")")×" "$cpu"
}
table_head="| command | median (s) | min – max (s) | ratio to gild | CPU user+sys (s, mean) |
| --- | --- | --- | --- | --- |"
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
target_kib() { echo $((64 * 1024 + $1)); }

g=$(median "$work/build.json" gild)
p=$(median "$work/build.json" pipeline)
f=$(median "$work/build.json" floor)
speedup=$(ratio "$p" "$g")
over_floor=$(ratio "$g" "$f")
paired_floor=$(paired "$work/pairs.txt")
if [ -z "$gz_note" ]; then
    gz_over_pigz=$(ratio "$(median "$work/gz.json" gild)" "$(median "$work/gz.json" pigz)")
    gz_paired=$(paired "$work/gz-pairs.txt")
fi
warm_over_floor=$(ratio "$(median "$work/rebuild.json" "warm rebuild")" "$(median "$work/rebuild.json" floor)")
warm_paired=$(paired "$work/warm-pairs.txt")
noop_over_floor=$(ratio "$(median "$work/rebuild.json" "no-op rebuild")" "$(median "$work/rebuild.json" floor)")
size_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }
zst_over_single=$(size_ratio "$zst_size" "$zst_single")
gz_over_single=$(size_ratio "$gz_size" "$gz_single")

{
    echo "# gild benchmark results"
    echo
    echo "Written by \`bench/run.sh\` ($(date -u +%Y-%m-%d)); every ratio below was measured side by side"
    echo "in one run on one machine, with $runs timed runs per command after one warm-up (medians)."
    echo "The machine is shared: a load average above its core count means other work competed"
    echo "for the CPU during the run; the CPU column (user + system seconds) is less affected by"
    echo "that than wall time."
    echo
    echo "## Machine"
    echo
    echo "| | |"
    echo "| --- | --- |"
    echo "| CPU | $(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo) |"
    echo "| cores | $(nproc) |"
    echo "| RAM | $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) |"
    echo "| load average (1, 5, 15 min) | $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end |"
    echo "| kernel | $(uname -sr) |"
    echo "| OS | $(awk -F= '$1 == "PRETTY_NAME" { gsub(/"/, "", $2); print $2 }' /etc/os-release) |"
    echo "| gild | $("$gild" --version) (release build, commit $(git -C "$repo" rev-parse --short HEAD)) |"
    echo "| rustc | $(rustc --version) |"
    echo "| hyperfine | $(hyperfine --version) |"
    echo "| zstd | $(zstd --version | sed 's/^\*\*\* //; s/ \*\*\*$//') |"
    echo "| tar | $(tar --version | head -1) |"
    echo "| sha256sum | $(sha256sum --version | head -1) |"
    echo "| diff | $(diff --version | head -1) |"
    echo "| mtree | $(dpkg-query -W -f '${Package} ${Version}' mtree-netbsd 2>/dev/null || echo 'not installed') |"
    echo "| pigz | $(command -v pigz >/dev/null && pigz --version 2>&1 || echo 'not installed') |"
    echo "| gzip | $(gzip --version | head -1) |"
    echo
    echo "## Corpus"
    echo
    echo "Made by \`cargo run --release --example bench_corpus\` (deterministic from its seed; no network)."
    echo
    echo "| artifact | entries | unpacked | on disk |"
    echo "| --- | --- | --- | --- |"
    cat "$corpus"/corpus-*.txt | awk -F'\t' '{
        split($2, e, " "); split($3, u, " "); split($5, d, " ");
        printf "| `%s` | %s | %.1f MB | %.1f MB |\n", $1, e[1], u[1] / 1e6, d[1] / 1e6 }'
    echo
    echo "## Build"
    echo
    echo "\`gild build recipes/bench.toml\` (base + six patches; every pin and signature checked,"
    echo "one \`tar.zst\` image, \`files.mtree\` and \`baseline.toml\` written; outputs and the frame"
    echo "cache removed before each run: a cold build)"
    echo "against the shell pipeline a user would write for the same job, and against the floor:"
    echo "decompressing the base and compressing it again, which any build must at least do."
    echo
    echo '```sh'
    sed "s|$work|\$WORK|g; s|$corpus|\$CORPUS|g" "$work/pipeline.sh"
    echo '```'
    echo
    echo "$table_head"
    row "$work/build.json" gild gild
    row "$work/build.json" pipeline gild
    row "$work/build.json" floor gild
    echo
    interleaved "$work/pairs.txt" "gild build" "floor run"
    echo
    echo "Check: $same."
    echo
    echo "## tar.gz build"
    echo
    if [ -n "$gz_note" ]; then
        echo "$gz_note."
    else
        echo "The same recipe with \`formats = [\"tar.gz\"]\`, a cold build each run (outputs and"
        echo "cache removed), against decompressing the base and compressing it with"
        echo "\`pigz -6\` on every core: the tool a user would pick for a fast gzip."
        echo
        echo "$table_head"
        row "$work/gz.json" gild gild
        row "$work/gz.json" pigz gild
        echo
        interleaved "$work/gz-pairs.txt" "gild build" "pigz run"
    fi
    echo
    echo "## Rebuilds"
    echo
    echo "In a workspace of its own, version 1.0.0 of the bench recipe is recorded, which fills"
    echo "the cache (frames, the base index, the gzip and xz patches decoded). The warm rebuild"
    echo "builds version 1.0.1: the same recipe plus one small patch"
    echo "(\`artifacts/patches/7-tzdata-2026c.tar\`, one file; \`--variant next\` of the generator);"
    echo "before each run its baseline and images are removed, so every run is the build of a"
    echo "new version from the same state. The no-op rebuild builds the recorded 1.0.1"
    echo "again with its images in place. The floor is the one of the build above."
    echo
    echo "$table_head"
    row "$work/rebuild.json" "warm rebuild" "warm rebuild"
    row "$work/rebuild.json" "no-op rebuild" "warm rebuild"
    row "$work/rebuild.json" floor "warm rebuild"
    echo
    interleaved "$work/warm-pairs.txt" "warm rebuild" "floor run"
    echo
    echo "Check: $warm_check."
    echo
    echo "## Image sizes"
    echo
    echo "Each image against one stream over the same tar: \`zstd -dc IMAGE | zstd -3\` and"
    echo "\`gzip -dc IMAGE | gzip -6\`. Chunks compressed apart lose what one stream finds across"
    echo "their bounds."
    echo
    echo "| image | bytes | one stream (bytes) | ratio |"
    echo "| --- | --- | --- | --- |"
    echo "| \`bench-1.0.0.tar.zst\` | $zst_size | $zst_single (\`zstd -3\`) | ${zst_over_single}× |"
    echo "| \`bench-1.0.0.tar.gz\` | $gz_size | $gz_single (\`gzip -6\`) | ${gz_over_single}× |"
    echo
    echo "## Peak memory of the build"
    echo
    echo "\`/usr/bin/time -v gild build\` with an empty frame cache, maximum resident set size; target"
    echo "64 MiB + 1 KiB per entry."
    echo
    echo "| corpus | entries | peak RSS | target | wall time |"
    echo "| --- | --- | --- | --- | --- |"
    echo "| bench | $entries_main | $(mib "$rss_main") MiB | $(mib "$(target_kib "$entries_main")") MiB | ${secs_main} s |"
    if [ -n "$rss_scale" ]; then
        echo "| scale | $entries_scale | $(mib "$rss_scale") MiB | $(mib "$(target_kib "$entries_scale")") MiB | ${secs_scale} s |"
    else
        echo "| scale | – | skipped (\`--no-scale\`) | | |"
    fi
    echo
    echo "## Audit of a directory"
    echo
    if [ -n "$audit_note" ]; then
        echo "$audit_note."
    else
        echo "The bench image extracted into a directory, checked against its baseline by"
        echo "\`gild audit\`, by NetBSD \`mtree -e -f files.mtree -p DIR\`, and hashed by"
        echo "\`find DIR -type f -print0 | xargs -0 -P$(nproc) -n 256 sha256sum\`."
        echo
        echo "$table_head"
        row "$work/audit.json" gild gild
        row "$work/audit.json" mtree gild
        row "$work/audit.json" sha256sum gild
    fi
    echo
    echo "## Diff of two 500,000-entry baselines"
    echo
    if [ -n "$diff_note" ]; then
        echo "$diff_note."
    else
        echo "\`gild diff\` of two recorded baselines against GNU \`diff\` of their \`files.mtree\`."
        echo
        echo "$table_head"
        row "$work/diff.json" gild gild
        row "$work/diff.json" "GNU diff" gild
    fi
    echo
    echo "## Targets"
    echo
    echo "| target | measured | |"
    echo "| --- | --- | --- |"
    echo "| build ≥ 3× faster than the shell pipeline | ${speedup}× | $(verdict "$speedup" '>=' 3) |"
    echo "| cold build ≤ 1.7× the floor (median of interleaved pairs; ${over_floor}× from the medians above) | ${paired_floor}× | $(verdict "$paired_floor" '<=' 1.7) |"
    if [ -z "$gz_note" ]; then
        echo "| tar.gz build ≤ 0.5× \`zstd -dc \| pigz -6\` (median of interleaved pairs; ${gz_over_pigz}× from the medians above) | ${gz_paired}× | $(verdict "$gz_paired" '<=' 0.5) |"
    else
        echo "| tar.gz build ≤ 0.5× \`zstd -dc \| pigz -6\` | – | not run |"
    fi
    echo "| warm rebuild ≤ 0.5× the floor (median of interleaved pairs; ${warm_over_floor}× from the medians above) | ${warm_paired}× | $(verdict "$warm_paired" '<=' 0.5) |"
    echo "| no-op rebuild (no target) | ${noop_over_floor}× the floor | |"
    echo "| tar.zst ≤ 1.02× one \`zstd -3\` stream | ${zst_over_single}× | $(verdict "$zst_over_single" '<=' 1.02) |"
    echo "| tar.gz ≤ 1.02× one \`gzip -6\` stream | ${gz_over_single}× | $(verdict "$gz_over_single" '<=' 1.02) |"
    echo "| peak RSS ≤ 64 MiB + 1 KiB/entry at $entries_main entries | $(mib "$rss_main") MiB | $(verdict "$rss_main" '<=' "$(target_kib "$entries_main")") |"
    if [ -n "$rss_scale" ]; then
        echo "| peak RSS ≤ 64 MiB + 1 KiB/entry at $entries_scale entries | $(mib "$rss_scale") MiB | $(verdict "$rss_scale" '<=' "$(target_kib "$entries_scale")") |"
    else
        echo "| peak RSS ≤ 64 MiB + 1 KiB/entry at 1,000,000 entries | – | not run |"
    fi
    if [ -z "$audit_note" ]; then
        a_mtree=$(ratio "$(median "$work/audit.json" mtree)" "$(median "$work/audit.json" gild)")
        a_sha=$(ratio "$(median "$work/audit.json" gild)" "$(median "$work/audit.json" sha256sum)")
        echo "| audit ≥ 2× faster than \`mtree -f\` | ${a_mtree}× | $(verdict "$a_mtree" '>=' 2) |"
        echo "| audit ≤ 1.5× a parallel sha256 | ${a_sha}× | $(verdict "$a_sha" '<=' 1.5) |"
    else
        echo "| audit ≥ 2× faster than \`mtree -f\`, ≤ 1.5× a parallel sha256 | – | not run |"
    fi
    if [ -z "$diff_note" ]; then
        d=$(ratio "$(median "$work/diff.json" "GNU diff")" "$(median "$work/diff.json" gild)")
        echo "| diff faster than GNU diff | ${d}× | $(verdict "$d" '>' 1) |"
    else
        echo "| diff faster than GNU diff | – | not run |"
    fi
} >"$results"

cat "$results"
