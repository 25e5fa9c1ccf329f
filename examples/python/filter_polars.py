"""A compiled filter and projection over a Polars DataFrame, without copying it.

    python examples/python/filter_polars.py [data/lineitem.parquet]
"""

import sys

import polars as pl

import qjit

path = sys.argv[1] if len(sys.argv) > 1 else "data/lineitem.parquet"
frame = pl.read_parquet(path)

engine = qjit.Engine()
# Compiled once for the frame's schema (Polars' string views and categoricals included) ...
cheap = engine.compile_filter(
    frame, "l_shipmode IN ('MAIL', 'SHIP') AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24"
)
print(f"filter: {cheap.engine}")
# ... then applied to the frame: the rows that pass, as a pyarrow Table.
kept = cheap.apply(frame)
print(f"{kept.num_rows} of {frame.height} rows pass")

revenue = engine.compile_projection(
    frame, ["l_orderkey", "l_extendedprice * (1 - l_discount) AS net", "upper(l_shipmode) AS mode"]
)
net = revenue.evaluate(frame)
print(pl.from_arrow(net).head(5))
