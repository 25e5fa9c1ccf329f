#!/usr/bin/env python3
"""DuckDB as a peer engine of `qjit bench --engines ...,duckdb`.

qjit bench runs this script (embedded in the binary, through `python3 -c`; `QJIT_PYTHON`
names another interpreter) once per run. It can also be run by hand:

    python3 scripts/duckdb_bench.py --file target/tpch/sf1/lineitem.parquet \
        --threads 2 --iterations 5 queries/*.sql
    python3 scripts/duckdb_bench.py --dir target/tpch/sf1 --threads 2 queries/tpch/*.sql

What it does, in the terms of qjit bench:

1. Loads every column of the Parquet file into an in-memory table named after the file (`lineitem`)
   (`CREATE TABLE lineitem AS SELECT * FROM read_parquet(...)`), like qjit bench decoding the
   file into in-memory Arrow batches; with `--dir`, each `TABLE.parquet` of the folder into a
   table named TABLE (`qjit bench --suite tpch`). Loading is not timed as part of any query.
2. `SET threads = N`.
3. For each query file: one untimed warm-up run, then `--iterations` timed runs. A timed run is
   `con.execute(sql).fetchall()`: DuckDB's parse, bind, optimize, execute, and the conversion of
   the (small) result to Python objects.

It prints JSON lines on stdout:

    {"duckdb": "<version>", "rows": <rows of the tables>, "load_ms": <ms>}
    {"query": "<file stem>", "first_ms": <warm-up ms>, "exec_ms": [<ms>, ...],
     "csv": "<the answer as CSV>", "float_columns": [<bool per column>]}
    {"query": "<file stem>", "error": "<DuckDB's message>"}     (when DuckDB rejects a query)

The CSV has a header row and one line per row: decimals exact with their scale, floats in
Python's shortest round-trip form, dates as YYYY-MM-DD, NULL as an empty field.

Exit status 3 when the duckdb module cannot be imported (qjit bench then says to
`pip install duckdb`), 1 when the data file cannot be loaded.
"""

import argparse
import csv
import decimal
import io
import json
import os
import sys
import time

MISSING_MODULE = 3


def render_value(value):
    """One CSV field, written the way the reference answers are."""
    if value is None:
        return ""
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def render_csv(names, rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([render_value(v) for v in row])
    return out.getvalue()


def run_query(con, sql, iterations):
    """One warm-up run, then `iterations` timed runs; the answer of the last one."""
    start = time.perf_counter()
    con.execute(sql).fetchall()
    first_ms = (time.perf_counter() - start) * 1e3
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        cursor = con.execute(sql)
        rows = cursor.fetchall()
        times.append((time.perf_counter() - start) * 1e3)
    names = [d[0] for d in cursor.description]
    floats = [str(d[1]) in ("DOUBLE", "FLOAT", "REAL") for d in cursor.description]
    return {
        "first_ms": first_ms,
        "exec_ms": times,
        "csv": render_csv(names, rows),
        "float_columns": floats,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", help="the lineitem Parquet file")
    parser.add_argument("--dir", help="a folder of TABLE.parquet files, one table each")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument(
        "--version", action="store_true", help="print the DuckDB version and exit"
    )
    parser.add_argument("queries", nargs="*", help="query files (*.sql)")
    args = parser.parse_args()

    try:
        import duckdb
    except ImportError as e:
        print(e, file=sys.stderr)
        return MISSING_MODULE
    if args.version:
        print(duckdb.__version__)
        return 0
    if bool(args.file) == bool(args.dir):
        parser.error("one of --file and --dir is required")
    if args.file:
        # The table is named after the file, as qjit names it (`lineitem.parquet`: lineitem).
        stem = os.path.basename(args.file)
        stem = stem[: -len(".parquet")] if stem.endswith(".parquet") else stem
        tables = [(stem, args.file)]
    else:
        names = sorted(n for n in os.listdir(args.dir) if n.endswith(".parquet"))
        tables = [(n[: -len(".parquet")], os.path.join(args.dir, n)) for n in names]

    # No progress bar: it would print on stdout, which qjit bench reads.
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    start = time.perf_counter()
    rows = 0
    for name, path in tables:
        try:
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM read_parquet(?)', [path])
        except duckdb.Error as e:
            print(f"{path}: DuckDB cannot load it: {e}", file=sys.stderr)
            return 1
        (count,) = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()
        rows += count
    load_ms = (time.perf_counter() - start) * 1e3
    con.execute(f"SET threads = {int(args.threads)}")
    header = {"duckdb": duckdb.__version__, "rows": rows, "load_ms": load_ms}
    print(json.dumps(header), flush=True)

    for path in args.queries:
        name = os.path.splitext(os.path.basename(path))[0]
        with open(path, encoding="utf-8") as f:
            sql = f.read()
        try:
            line = {"query": name, **run_query(con, sql, args.iterations)}
        except duckdb.Error as e:
            line = {"query": name, "error": str(e)}
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
