#!/usr/bin/env python3
"""Whole-process comparison: `qjit query` against DuckDB reading the same Parquet file.

Each run is a fresh process, so the times include everything a user waits for: starting the
process, opening and decoding the Parquet file, compiling (qjit, with `--no-cache`: every run
compiles its kernels afresh; `--warm-cache` loads them from a kernel cache on disk filled by
the untimed run instead) and running the query, and writing the answer.

    cargo build --release
    python3 scripts/process_bench.py                       # SF1, 2 threads, every query
    python3 scripts/process_bench.py --runs 9 queries/q01.sql queries/q06.sql

qjit:   target/release/qjit query <file> "<sql>" --threads T --format csv --no-cache > /dev/null
DuckDB: a fresh `python3` that imports duckdb, connects to an in-memory database,
        SET threads = T, creates a view named after the file (`lineitem`) over
        read_parquet('<file>'), runs the
        query and fetches the answer (fetchall).

DuckDB has no process of its own here, so three DuckDB figures are printed: the whole Python
process ("duckdb"), the time inside it from connect to the fetched answer ("duckdb in-proc"),
and the cost of starting Python and importing duckdb alone ("python+import"). The fair
whole-process figure for a DuckDB binary lies between the first two. Every figure is the
median of --runs runs, after one untimed run of each that warms the file cache.
"""

import argparse
import glob
import os
import statistics
import subprocess
import tempfile
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The DuckDB process: argv = file, threads, sql. Prints its own connect-to-answer time in ms.
DUCKDB_CHILD = r"""
import os, sys, time
start = time.perf_counter()
import duckdb
imported = time.perf_counter()
file, threads, sql = sys.argv[1], int(sys.argv[2]), sys.argv[3]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute(f"SET threads = {threads}")
quoted = file.replace("'", "''")
table = os.path.basename(file).rsplit(".", 1)[0]
con.execute(f"CREATE VIEW \"{table}\" AS SELECT * FROM read_parquet('{quoted}')")
con.execute(sql).fetchall()
print((time.perf_counter() - imported) * 1e3)
"""


def wall_ms(argv):
    """Runs argv with stdout captured; its wall time in ms and its stdout."""
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = (time.perf_counter() - start) * 1e3
    if done.returncode != 0:
        sys.exit(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed, done.stdout


def median_of(runs, argv, prints_time=False):
    """Median wall time over `runs` runs, and the median of the time the process printed."""
    wall_ms(argv)
    walls, inner = [], []
    for _ in range(runs):
        ms, out = wall_ms(argv)
        walls.append(ms)
        if prints_time:
            inner.append(float(out.strip()))
    return statistics.median(walls), (statistics.median(inner) if inner else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--file",
        default=os.path.join(ROOT, "target/tpch/sf1/lineitem.parquet"),
        help="the lineitem Parquet file (default: target/tpch/sf1/lineitem.parquet, "
        "made by `qjit bench --sf 1` or `qjit gen-tpch --sf 1 --out target/tpch/sf1`)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per query and engine")
    parser.add_argument(
        "--qjit", default=os.path.join(ROOT, "target/release/qjit"), help="the qjit binary"
    )
    parser.add_argument(
        "--python",
        default=os.environ.get("QJIT_PYTHON", sys.executable),
        help="the Python that has duckdb (default: $QJIT_PYTHON, else this one)",
    )
    parser.add_argument(
        "--warm-cache",
        action="store_true",
        help="load qjit's kernels from a fresh kernel cache directory that the untimed run fills",
    )
    parser.add_argument(
        "queries", nargs="*", help="query files (default: queries/*.sql)"
    )
    args = parser.parse_args()
    cache_args = (
        ["--cache-dir", tempfile.mkdtemp(prefix="qjit-process-bench-")]
        if args.warm_cache
        else ["--no-cache"]
    )

    if not os.path.exists(args.file):
        sys.exit(f"{args.file}: no such file; generate it with `qjit gen-tpch --sf 1 --out ...`")
    if not os.access(args.qjit, os.X_OK):
        sys.exit(f"{args.qjit}: not found; run `cargo build --release` first")
    check = subprocess.run([args.python, "-c", "import duckdb"], capture_output=True)
    if check.returncode != 0:
        sys.exit(f"{args.python} cannot import duckdb; install it with `pip install duckdb`")
    queries = args.queries or sorted(glob.glob(os.path.join(ROOT, "queries/*.sql")))

    startup, _ = median_of(args.runs, [args.python, "-c", "import duckdb"])
    print(
        f"{args.file}: {args.threads} threads, median of {args.runs} runs; "
        f"python+import duckdb alone: {startup:.1f} ms"
    )
    header = ("query", "qjit ms", "duckdb ms", "duckdb in-proc ms", "qjit/duckdb", "qjit/in-proc")
    print("{:<16} {:>9} {:>10} {:>18} {:>12} {:>13}".format(*header))
    for path in queries:
        with open(path, encoding="utf-8") as f:
            sql = f.read().strip()
        name = os.path.splitext(os.path.basename(path))[0]
        threads = str(args.threads)
        qjit_argv = [args.qjit, "query", args.file, sql, "--threads", threads, "--format", "csv"]
        qjit_argv += cache_args
        qjit, _ = median_of(args.runs, qjit_argv)
        duck_argv = [args.python, "-c", DUCKDB_CHILD, args.file, threads, sql]
        duck, duck_inner = median_of(args.runs, duck_argv, prints_time=True)
        print(
            f"{name:<16} {qjit:>9.1f} {duck:>10.1f} {duck_inner:>18.1f} "
            f"{qjit / duck:>12.2f} {qjit / duck_inner:>13.2f}"
        )


if __name__ == "__main__":
    main()
