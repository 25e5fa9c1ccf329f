#!/usr/bin/env python3
"""The 22 TPC-H queries as a user runs them: whole `qjit query` processes over a folder of
tables, DataFusion with qjit's kernels (`--engine auto`, the default: kernels compile in the
background while DataFusion evaluates the first batches) against DataFusion alone
(`--engine interp`), interleaved, with DuckDB's time inside its own process beside them.

    cargo build --release
    target/release/qjit gen-tpch --sf 1 --out target/tpch-all/sf1
    python3 scripts/tpch_bench.py --data target/tpch-all/sf1 --runs 5

qjit:   target/release/qjit query DATA "<sql>" --engine E --threads T --format csv --datafusion
        (every query in DataFusion, Q1 and Q6 too, which qjit's own engine runs by default)
        (cold: every run compiles its kernels, `--no-cache`; `--warm-cache` loads them from a
        kernel cache that an untimed run fills)
DuckDB: one warm Python process with views over DATA's tables, `SET threads = T`; the time of
        each query from execute to fetched answer.

Prints each query's medians (ms), the ratio interp / auto (above 1: qjit's kernels faster), the
totals, and the queries where the kernels are slower. Every figure is the median of --runs runs
after one untimed run of each that warms the file cache.
"""

import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_qjit(binary, data, sql, engine, threads, cache):
    argv = [binary, "query", data, sql, "--engine", engine, "--threads", str(threads),
            "--format", "csv", "--datafusion"]
    argv += ["--cache-dir", cache] if cache else ["--no-cache"]
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = (time.perf_counter() - start) * 1e3
    if done.returncode != 0:
        sys.exit(f"qjit --engine {engine} failed: {done.stderr.strip()}")
    return elapsed


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.join(ROOT, "target/tpch-all/sf1"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warm-cache", action="store_true")
    p.add_argument("--no-duckdb", action="store_true")
    p.add_argument("--engine", default="auto", choices=["auto", "jit"],
                   help="the engine with qjit's kernels (jit: every kernel compiled before the first row)")
    p.add_argument("queries", nargs="*")
    a = p.parse_args()
    binary = os.path.join(ROOT, "target/release/qjit")
    queries = a.queries or sorted(glob.glob(os.path.join(ROOT, "queries/tpch/q*.sql")))
    cache = tempfile.mkdtemp(prefix="qjit-tpch-cache-") if a.warm_cache else None
    con = None
    if not a.no_duckdb:
        import duckdb
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        con.execute(f"SET threads = {a.threads}")
        for f in sorted(glob.glob(os.path.join(a.data, "*.parquet"))):
            name = os.path.splitext(os.path.basename(f))[0]
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{f}')")
    rows = []
    for q in queries:
        sql = open(q).read()
        name = os.path.splitext(os.path.basename(q))[0]
        times = {"auto": [], "interp": [], "duckdb": []}
        engines = {"auto": a.engine, "interp": "interp"}
        for engine in engines.values():
            run_qjit(binary, a.data, sql, engine, a.threads, cache)
        if con:
            con.execute(sql).fetchall()
        for _ in range(a.runs):
            for key, engine in engines.items():
                times[key].append(run_qjit(binary, a.data, sql, engine, a.threads, cache))
            if con:
                start = time.perf_counter()
                con.execute(sql).fetchall()
                times["duckdb"].append((time.perf_counter() - start) * 1e3)
        med = {k: statistics.median(v) if v else float("nan") for k, v in times.items()}
        rows.append((name, med))
        print(f"{name}: auto {med['auto']:8.1f}  interp {med['interp']:8.1f}  "
              f"duckdb {med['duckdb']:8.1f}  interp/auto {med['interp'] / med['auto']:.3f}",
              flush=True)
    total = {k: sum(m[k] for _, m in rows) for k in ("auto", "interp", "duckdb")}
    print(f"total: auto {total['auto']:.0f} ms, interp (DataFusion alone) {total['interp']:.0f} ms, "
          f"duckdb in-process {total['duckdb']:.0f} ms; interp/auto {total['interp'] / total['auto']:.3f}")
    slower = [(n, m["interp"] / m["auto"]) for n, m in rows if m["interp"] / m["auto"] < 0.98]
    print("queries more than 2% slower with qjit's kernels: "
          + (", ".join(f"{n} ({r:.3f})" for n, r in slower) or "none"))


if __name__ == "__main__":
    main()
