#!/usr/bin/env python3
"""qjit's Python package against pyarrow.compute, Polars and DuckDB: filtering an Arrow table
held in memory, and the fixed cost of one call.

    pip install ./python duckdb polars          # a release build of the package
    python3 scripts/python_bench.py --data target/tpch-all/sf1/lineitem.parquet --runs 9

Every engine filters the same pyarrow table (TPC-H lineitem, read once from --data, its strings
as plain `string`, which every engine takes) with Q6's
predicate and returns every column of the rows that pass as Arrow data:

    qjit      Engine(threads=T).compile_filter(schema, Q6).apply(table)  (compiled once, untimed)
    pyarrow   table.filter(<the predicate as a pyarrow.compute expression>)
    polars    frame.filter(<the predicate as Polars expressions>)  (the frame made from the
              table before timing: Polars converts strings to its own layout)
    duckdb    con.sql("SELECT * FROM t WHERE <Q6>").fetch_arrow_table(), t the pyarrow table

each on one thread and on every core (a child process per thread count, since Polars fixes its
thread pool at import). The figure is the median of --runs runs, the engines interleaved, after
one untimed run each. Then the per-call cost of `Filter.evaluate` on a batch of one row, against
pyarrow.compute's `filter` of the same batch.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

Q6 = (
    "l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01' "
    "AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24"
)


def child(data: str, threads: int, runs: int) -> dict:
    """Runs in a process whose thread settings are `threads`: every engine's median in ms."""
    import datetime
    import decimal

    import duckdb
    import polars as pl
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    import qjit

    pa.set_cpu_count(threads)
    pa.set_io_thread_count(threads)
    table = pq.read_table(data)
    # pyarrow.compute does not filter string views (what `qjit gen-tpch` writes): every engine
    # gets plain strings.
    plain = pa.schema(
        [f.with_type(pa.string()) if f.type == pa.string_view() else f for f in table.schema]
    )
    table = table.cast(plain)
    rows = table.num_rows

    engine = qjit.Engine(threads=threads)
    f = engine.compile_filter(table.schema, Q6)

    d0, d1 = datetime.date(1994, 1, 1), datetime.date(1995, 1, 1)
    disc = table.schema.field("l_discount").type
    qty = table.schema.field("l_quantity").type
    lo, hi = pa.scalar(decimal.Decimal("0.05"), disc), pa.scalar(decimal.Decimal("0.07"), disc)
    q24 = pa.scalar(decimal.Decimal(24), qty)
    expression = (
        (pc.field("l_shipdate") >= d0)
        & (pc.field("l_shipdate") < d1)
        & (pc.field("l_discount") >= lo)
        & (pc.field("l_discount") <= hi)
        & (pc.field("l_quantity") < q24)
    )
    frame = pl.from_arrow(table)
    polars_predicate = (
        (pl.col("l_shipdate") >= d0)
        & (pl.col("l_shipdate") < d1)
        & pl.col("l_discount").is_between(decimal.Decimal("0.05"), decimal.Decimal("0.07"))
        & (pl.col("l_quantity") < 24)
    )
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.register("t", table)

    engines = {
        "qjit": lambda: f.apply(table).num_rows,
        "pyarrow": lambda: table.filter(expression).num_rows,
        "polars": lambda: frame.filter(polars_predicate).height,
        "duckdb": lambda: con.sql(f"SELECT * FROM t WHERE {Q6}").fetch_arrow_table().num_rows,
    }
    answers = {name: run() for name, run in engines.items()}  # untimed, and the answers
    if len(set(answers.values())) != 1:
        raise SystemExit(f"the engines disagree on the rows that pass: {answers}")
    times = {name: [] for name in engines}
    for _ in range(runs):
        for name, run in engines.items():
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) * 1e3)
    result = {
        "rows": rows,
        "passing": answers["qjit"],
        "ms": {name: statistics.median(t) for name, t in times.items()},
    }

    # The fixed cost of one call: a batch of one row.
    one = table.slice(0, 1).combine_chunks().to_batches()[0]
    calls = 20000
    per_call = {}
    for name, run in {
        "qjit evaluate": lambda: f.evaluate(one),
        "qjit apply": lambda: f.apply(one),
        "pyarrow filter": lambda: one.filter(expression),
    }.items():
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(calls):
                run()
            samples.append((time.perf_counter() - start) / calls * 1e6)
        per_call[name] = statistics.median(samples)
    result["us_per_call"] = per_call
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="target/tpch-all/sf1/lineitem.parquet")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--threads", type=int, nargs="*", default=[1, os.cpu_count() or 1])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.data, args.child, args.runs)))
        return
    for threads in args.threads:
        env = dict(os.environ, POLARS_MAX_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
        out = subprocess.run(
            [sys.executable, __file__, "--data", args.data, "--runs", str(args.runs), "--child", str(threads)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out)
        ms = r["ms"]
        print(f"threads={threads}: {r['rows']} rows, {r['passing']} pass (Q6's predicate); median ms of {args.runs}")
        for name, t in ms.items():
            ratio = "" if name == "qjit" else f"  ({t / ms['qjit']:.2f}x qjit's time)"
            print(f"  {name:8s} {t:8.2f}{ratio}")
        calls = ", ".join(f"{k} {v:.1f} us" for k, v in r["us_per_call"].items())
        print(f"  one-row batch, per call: {calls}")


if __name__ == "__main__":
    main()
