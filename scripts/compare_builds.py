#!/usr/bin/env python3
"""Two builds of qjit side by side: whole `qjit query` processes of each, interleaved, on the
same queries and data, with their medians, the ratio after / before and whether the answers
are the same. For "does this change move the benchmarks?".

    git stash; cargo build --release; cp target/release/qjit /tmp/qjit-before; git stash pop
    cargo build --release
    python3 scripts/compare_builds.py /tmp/qjit-before target/release/qjit
    python3 scripts/compare_builds.py /tmp/qjit-before target/release/qjit -- --engine jit --no-cache

Each query runs once untimed on each build (warming the file cache and each build's kernel
cache), then --runs times on each, alternating which build goes first. Arguments after `--`
go to every `qjit query`.
"""

import argparse
import glob
import os
import statistics
import subprocess
import sys
import time


def run(binary, data, sql, threads, extra):
    start = time.perf_counter()
    p = subprocess.run(
        [binary, "query", data, sql, "--threads", str(threads), "--format", "csv", *extra],
        capture_output=True,
        text=True,
    )
    elapsed = (time.perf_counter() - start) * 1000
    if p.returncode != 0:
        sys.exit(f"{binary} failed on {sql[:60]!r}: {p.stderr.strip()}")
    return elapsed, p.stdout


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--data", default=os.path.join(root, "target/tpch-all/sf1/lineitem.parquet"))
    ap.add_argument("--queries", nargs="*", default=sorted(glob.glob(os.path.join(root, "queries/*.sql"))))
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    args, extra = ap.parse_known_args()
    extra = [a for a in extra if a != "--"]
    if not os.path.exists(args.data):
        sys.exit(f"no data at {args.data}: generate it with qjit gen-tpch --sf 1 --out "
                 f"{os.path.dirname(args.data)}, or give --data")
    for path in args.queries:
        sql = open(path).read()
        for b in (args.before, args.after):
            run(b, args.data, sql, args.threads, extra)
        times = {args.before: [], args.after: []}
        answers = {}
        for i in range(args.runs):
            order = (args.before, args.after) if i % 2 == 0 else (args.after, args.before)
            for b in order:
                ms, out = run(b, args.data, sql, args.threads, extra)
                times[b].append(ms)
                answers[b] = out
        mb = statistics.median(times[args.before])
        ma = statistics.median(times[args.after])
        same = answers[args.before] == answers[args.after]
        print(f"{os.path.basename(path):20} before {mb:8.1f} ms  after {ma:8.1f} ms  "
              f"after/before {ma / mb:5.3f}  same answer {same}", flush=True)


if __name__ == "__main__":
    main()
