#!/usr/bin/env python3
"""Whole-process times of `qjit query` on several engines, side by side.

For each scale factor and query, runs `target/release/qjit query FILE SQL --format csv
--threads 2 --engine E` for every engine of --engines, interleaved (one run of each per round,
so that they share the machine's load), --runs rounds, and prints the medians and their ratios
to the last engine. Used to measure what tiered execution saves: `auto` against `interp` on
small files (SF 0.01 is data/lineitem.parquet), and against `jit` on large ones.

    python3 scripts/tier_bench.py --engines auto,jit,interp --runs 9 --sf 0.01,0.1,1

Files other than SF 0.01 come from `qjit gen-tpch --sf N --tables lineitem --out target/tpch/sfN`.

Every run compiles afresh (`--no-cache`), unless --warm-cache: then the runs share a fresh
kernel cache directory, filled by one untimed run of each query and engine first.
"""
import argparse
import statistics
import subprocess
import tempfile
import time

QJIT = "target/release/qjit"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="auto,jit,interp")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--sf", default="0.01,0.1,1")
    parser.add_argument("--queries", default="q01,q06,q12_lineitem")
    parser.add_argument("--threads", default="2")
    parser.add_argument("--warm-cache", action="store_true",
                        help="load kernels from a kernel cache filled first (default: --no-cache)")
    args = parser.parse_args()
    engines = args.engines.split(",")
    cache = tempfile.mkdtemp(prefix="qjit-tier-bench-") if args.warm_cache else None
    cache_args = ["--cache-dir", cache] if cache else ["--no-cache"]
    for sf in args.sf.split(","):
        path = "data/lineitem.parquet" if sf == "0.01" else f"target/tpch/sf{sf}/lineitem.parquet"
        for query in args.queries.split(","):
            with open(f"queries/{query}.sql") as f:
                sql = f.read()
            times = {e: [] for e in engines}
            command_of = {e: [QJIT, "query", path, sql, "--format", "csv", "--threads",
                              args.threads, "--engine", e] + cache_args for e in engines}
            if cache:
                for engine in engines:
                    subprocess.run(command_of[engine], stdout=subprocess.DEVNULL, check=True)
            for _ in range(args.runs):
                for engine in engines:
                    command = command_of[engine]
                    start = time.perf_counter()
                    subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
                    times[engine].append(time.perf_counter() - start)
            medians = {e: statistics.median(t) * 1e3 for e, t in times.items()}
            base = medians[engines[-1]]
            row = ", ".join(f"{e} {m:.1f} ms ({m / base:.2f}x)" for e, m in medians.items())
            print(f"sf {sf} {query}: {row}")


if __name__ == "__main__":
    main()
