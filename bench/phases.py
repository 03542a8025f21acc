#!/usr/bin/env python3
"""Splits a `gild build` profile into its phases.

Reads `perf script -F tid,time,ip,sym` (a DWARF call-graph recording) on stdin and prints,
for each phase of the build, its share of the CPU samples, when it ran (seconds from the
first sample) and its top leaf symbols. A sample belongs to the outermost gild phase on its
call chain; zstd's worker threads have no gild frame and count as image compression.

With `--freq HZ` (the rate perf sampled at) it also prints how many cores were busy in each
50 ms of the run, and which threads: where the build leaves a core idle.
"""

import collections
import re
import sys

PHASES = [
    ("verify: pins and signatures", re.compile(r"verify_all|trust::verify")),
    (
        "layering: decompress, hash, spool, tree",
        re.compile(r"verify_and_layer|decode_ahead|Layering::|Spool::store|EntryData|PinnedReader|DCtx|ZSTD_decompress|lzma_|inflate"),
    ),
    ("image: tar from the spool, hash (main thread)", re.compile(r"write_images|image::write")),
    ("image: zstd workers", re.compile(r"ZSTDMT|POOL_thread")),
    ("files.mtree render", re.compile(r"mtree::render")),
    ("build, other", re.compile(r"build::build")),
    ("teardown (drops)", re.compile(r"drop_in_place")),
]
OTHER = "startup, exit, other"
HEADER = re.compile(r"^\s*(\d+)\s+([0-9.]+):")


def phase_of(frames):
    chain = " ".join(frames)
    for name, pattern in PHASES:
        if pattern.search(chain):
            return name
    return OTHER


def samples(lines):
    frames, tid, time = None, None, None
    for line in lines:
        m = HEADER.match(line)
        if m:
            if frames:
                yield tid, time, frames
            frames, tid, time = [], int(m.group(1)), float(m.group(2))
        elif line.startswith("\t") and frames is not None:
            parts = line.split(None, 1)
            frames.append(parts[1].strip() if len(parts) > 1 else "?")
    if frames:
        yield tid, time, frames


def main():
    count = collections.Counter()
    leaves = collections.defaultdict(collections.Counter)
    span = {}
    timeline = collections.defaultdict(collections.Counter)
    for tid, time, frames in samples(sys.stdin):
        timeline[time][tid] += 1
        phase = phase_of(frames)
        count[phase] += 1
        leaves[phase][frames[0].split("+0x")[0]] += 1
        lo, hi = span.get(phase, (time, time))
        span[phase] = (min(lo, time), max(hi, time))
    total = sum(count.values())
    if not total:
        sys.exit("no samples: record with `perf record --call-graph dwarf`")
    start = min(lo for lo, _ in span.values())
    order = [name for name, _ in PHASES] + [OTHER]
    for phase in order:
        if phase not in count:
            continue
        lo, hi = span[phase]
        print(f"{phase:48} {100 * count[phase] / total:5.1f}% of samples, {lo - start:6.2f} s .. {hi - start:6.2f} s")
        for sym, n in leaves[phase].most_common(6):
            print(f"    {100 * n / total:5.1f}%  {sym[:100]}")
    if "--freq" in sys.argv:
        print_timeline(timeline, start, float(sys.argv[sys.argv.index("--freq") + 1]))


def print_timeline(timeline, start, freq, step=0.05):
    """Cores busy per `step` seconds, and each thread's share (1.0 = a whole core)."""
    buckets = collections.defaultdict(collections.Counter)
    for time, tids in timeline.items():
        buckets[int((time - start) / step)].update(tids)
    tids = sorted({t for b in buckets.values() for t in b})
    print()
    print(f"## cores busy per {int(step * 1000)} ms (threads in order of their first sample)")
    first = {}
    for b in sorted(buckets):
        for t in buckets[b]:
            first.setdefault(t, b)
    tids.sort(key=lambda t: first[t])
    print("    from   busy   " + " ".join(f"t{i:<4}" for i in range(len(tids))))
    per = freq * step
    for b in sorted(buckets):
        row = buckets[b]
        print(f"  {b * step:5.2f}s  {sum(row.values()) / per:4.2f}   " + " ".join(f"{row[t] / per:4.2f} " for t in tids))


if __name__ == "__main__":
    main()
