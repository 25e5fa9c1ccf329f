#!/usr/bin/env python3
"""Timestamps: a filter and a GROUP BY DATE_TRUNC('day', ts) over 10M timestamps, on qjit's
JIT and interpreter and on DuckDB, one thread, in memory and from Parquet.

    cargo build --release
    python3 scripts/timestamp_bench.py                 # 10M rows, 1 thread, 5 runs
    python3 scripts/timestamp_bench.py --rows 1000000 --runs 9

1. Writes `events.parquet` (unless it exists) with pyarrow: `ts`, microseconds spread at random
   over 2020-2024, and `v`, an integer 0-999; row groups of 1M rows.
2. In memory: `qjit bench --data events.parquet --queries <the two queries> --engines
   jit,interp,duckdb --threads T` (each engine loads the file into memory first; medians of the
   timed runs; answers checked against each other).
3. From Parquet, whole processes, interleaved: `qjit query events.parquet SQL --engine E
   --threads T --no-cache` for E in jit, interp, auto, and a fresh Python that runs DuckDB over
   read_parquet (its in-process time, connect to fetched answer, is what is printed for it).

Needs pyarrow and duckdb in the Python that runs it (or --python).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

QUERIES = {
    "ts_filter": "SELECT count(*) AS n, sum(v) AS total FROM events "
    "WHERE ts >= TIMESTAMP '2022-03-01 00:00:00' AND ts < TIMESTAMP '2022-09-01 00:00:00' "
    "AND EXTRACT(HOUR FROM ts) BETWEEN 9 AND 17",
    "ts_group": "SELECT DATE_TRUNC('day', ts) AS day, count(*) AS n, sum(v) AS total FROM events "
    "GROUP BY day ORDER BY day",
}

DUCKDB_CHILD = """
import sys, time
import duckdb
file, threads, sql = sys.argv[1], int(sys.argv[2]), sys.argv[3]
start = time.perf_counter()
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute(f"SET threads = {threads}")
con.execute("SET TimeZone = 'UTC'")
quoted = file.replace("'", "''")
con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{quoted}')")
con.execute(sql).fetchall()
print((time.perf_counter() - start) * 1e3)
"""


def generate(path, rows):
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    start = 1577836800 * 1_000_000  # 2020-01-01
    span = 5 * 365 * 86400 * 1_000_000
    ts = pc.floor(pc.multiply(pc.random(rows, initializer=1), span)).cast(pa.int64())
    ts = pc.add(ts, start).cast(pa.timestamp("us"))
    v = pc.floor(pc.multiply(pc.random(rows, initializer=2), 1000)).cast(pa.int32())
    pq.write_table(pa.table({"ts": ts, "v": v}), path, row_group_size=1_000_000)


def wall_ms(argv):
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = (time.perf_counter() - start) * 1e3
    if done.returncode != 0:
        sys.exit(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed, done.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument(
        "--file", default=os.path.join(ROOT, "target/timestamps/events.parquet")
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--qjit", default=os.path.join(ROOT, "target/release/qjit"))
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()

    if not os.path.exists(args.file):
        os.makedirs(os.path.dirname(args.file), exist_ok=True)
        generate(args.file, args.rows)
    queries = tempfile.mkdtemp(prefix="qjit-ts-bench-")
    for name, sql in QUERIES.items():
        with open(os.path.join(queries, name + ".sql"), "w") as f:
            f.write(sql + "\n")

    print(f"# in memory, {args.threads} thread(s): qjit bench --data {args.file}", flush=True)
    env = dict(os.environ, QJIT_PYTHON=args.python)
    subprocess.run(
        [
            args.qjit, "bench", "--data", args.file, "--queries", queries,
            "--engines", "jit,interp,duckdb", "--threads", str(args.threads),
            "--iterations", str(args.runs),
        ],
        check=True,
        env=env,
    )

    print(f"\n# from Parquet, whole process, {args.threads} thread(s), median of {args.runs} (ms)")
    engines = ["jit", "interp", "auto", "duckdb"]
    print("query        " + "".join(f"{e:>10}" for e in engines))
    for name, sql in QUERIES.items():
        times = {e: [] for e in engines}
        for run in range(args.runs + 1):
            for e in engines:
                if e == "duckdb":
                    _, out = wall_ms([args.python, "-c", DUCKDB_CHILD, args.file, str(args.threads), sql])
                    ms = float(out.strip())
                else:
                    ms, _ = wall_ms([
                        args.qjit, "query", args.file, sql, "--engine", e,
                        "--threads", str(args.threads), "--format", "csv", "--no-cache",
                    ])
                if run > 0:  # the first round warms the file cache
                    times[e].append(ms)
        print(f"{name:<13}" + "".join(f"{statistics.median(times[e]):>10.1f}" for e in engines))


if __name__ == "__main__":
    main()
