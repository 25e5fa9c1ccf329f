#!/usr/bin/env python3
"""qjit over a CSV file against DuckDB's read_csv on the same file: whole `qjit query` processes
(jit and interp) beside DuckDB queries in one warm Python process, interleaved, with the same
thread count; medians and rows per second.

    cargo build --release
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install duckdb
    target/release/qjit gen-tpch --sf 1 --tables lineitem --out target/tpch-all/sf1
    /tmp/venv/bin/python scripts/csv_bench.py --parquet target/tpch-all/sf1/lineitem.parquet

Writes the Parquet file as CSV with DuckDB (`COPY ... (HEADER)`, quoting fields that need it)
unless `--csv` names one already written, then runs a filter query (TPC-H Q6's) and a grouping
(Q1's keys and filter) on both. Both read every byte of the file: neither keeps it between runs.
"""

import argparse
import os
import statistics
import subprocess
import time

import duckdb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target/release/qjit")

QUERIES = {
    "filter (Q6)": "SELECT sum(l_extendedprice * l_discount) AS revenue FROM {t} "
    "WHERE l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01' "
    "AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24",
    "group (Q1 keys)": "SELECT l_returnflag, l_linestatus, count(*), sum(l_quantity), "
    "avg(l_extendedprice) FROM {t} WHERE l_shipdate <= DATE '1998-09-02' "
    "GROUP BY 1, 2 ORDER BY 1, 2",
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parquet", default=os.path.join(ROOT, "target/tpch-all/sf1/lineitem.parquet"))
    p.add_argument("--csv", help="a CSV file of lineitem already written (else written next to the Parquet file)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=5)
    a = p.parse_args()
    con = duckdb.connect()
    con.execute(f"SET threads={a.threads}")
    csv = a.csv or os.path.splitext(a.parquet)[0] + ".csv"
    if not os.path.exists(csv):
        con.execute(f"COPY (SELECT * FROM read_parquet('{a.parquet}')) TO '{csv}' (HEADER)")
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{a.parquet}')").fetchone()[0]
    table = os.path.splitext(os.path.basename(csv))[0]
    print(f"{csv}: {os.path.getsize(csv) / 1e6:.0f} MB, {rows} rows, {a.threads} threads")
    for name, sql in QUERIES.items():
        times = {"duckdb": [], "jit": [], "interp": []}
        answers = set()
        for _ in range(a.runs):
            start = time.time()
            answers.add(str(con.execute(sql.format(t=f"read_csv('{csv}')")).fetchall()))
            times["duckdb"].append(time.time() - start)
            for engine in ("jit", "interp"):
                start = time.time()
                subprocess.run([BINARY, "query", csv, sql.format(t=table), "--engine", engine,
                                "--threads", str(a.threads), "--format", "csv"],
                               check=True, capture_output=True)
                times[engine].append(time.time() - start)
        m = {k: statistics.median(v) for k, v in times.items()}
        print(f"{name}: DuckDB read_csv {m['duckdb'] * 1e3:.0f} ms ({rows / m['duckdb'] / 1e6:.1f} M rows/s), "
              f"qjit jit {m['jit'] * 1e3:.0f} ms ({rows / m['jit'] / 1e6:.1f} M rows/s), "
              f"interp {m['interp'] * 1e3:.0f} ms; DuckDB ms / qjit jit ms {m['duckdb'] / m['jit']:.2f}")


if __name__ == "__main__":
    main()
