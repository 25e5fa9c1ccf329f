#!/usr/bin/env python3
"""Reference answers of the 22 TPC-H queries (queries/tpch/*.sql), computed by DuckDB.

Usage: python3 scripts/tpch_reference.py DATA_DIR OUT_DIR

DATA_DIR holds the eight tables as TABLE.parquet (`qjit gen-tpch --sf 0.01 --out DATA_DIR`);
OUT_DIR gets one CSV per query: a header row, then the rows in the query's order. Decimals are
written exactly, floats with Python's shortest round-trip form, NULL as an empty field.
"""
import csv
import pathlib
import sys

import duckdb


def main() -> None:
    data, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET threads TO 1")
    for table in sorted(data.glob("*.parquet")):
        con.execute(f"CREATE VIEW {table.stem} AS SELECT * FROM read_parquet('{table}')")
    queries = pathlib.Path(__file__).resolve().parent.parent / "queries" / "tpch"
    for query in sorted(queries.glob("q*.sql")):
        cursor = con.execute(query.read_text())
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        with open(out / f"{query.stem}.csv", "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(names)
            for row in rows:
                w.writerow("" if v is None else v for v in row)
        print(f"{query.stem}: {len(rows)} rows")


if __name__ == "__main__":
    main()
