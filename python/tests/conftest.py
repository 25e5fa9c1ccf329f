"""Fixtures for qjit's Python tests: tables of every type qjit computes on, with NULLs, as
pyarrow tables and Parquet files, and the qjit command-line binary (the Rust engine) to compare
answers with."""

import datetime
import decimal
import os
import pathlib
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
ROWS = 1000


def typed_table(rows: int = ROWS) -> pa.Table:
    """A table with a column of each Arrow type qjit computes on (and a few it passes through),
    every nullable column with NULLs in different rows."""

    def nulls(values, every):
        return [None if i % every == 0 else v for i, v in enumerate(values)]

    ids = list(range(rows))
    base = datetime.datetime(2024, 1, 1)
    names = ["apple", "Banana", "cherry pie", "date", "elderberry jam", "fig"]
    columns = {
        "id": pa.array(ids, pa.int64()),
        "i8": pa.array(nulls([i % 100 - 50 for i in ids], 7), pa.int8()),
        "i16": pa.array(nulls([i * 3 - 900 for i in ids], 11), pa.int16()),
        "i32": pa.array(nulls([i * 17 % 1001 - 500 for i in ids], 5), pa.int32()),
        "u8": pa.array(nulls([i % 256 for i in ids], 13), pa.uint8()),
        "u32": pa.array(nulls([i * 7919 % 65536 for i in ids], 9), pa.uint32()),
        "u64": pa.array(nulls([i * 104729 for i in ids], 8), pa.uint64()),
        "f32": pa.array(nulls([i / 8 - 40 for i in ids], 6), pa.float32()),
        "f64": pa.array(nulls([(i * 37 % 101) / 3 - 10 for i in ids], 4), pa.float64()),
        "dec": pa.array(
            nulls([decimal.Decimal(i * 123 % 10007 - 5000).scaleb(-2) for i in ids], 10),
            pa.decimal128(12, 2),
        ),
        "dec64": pa.array(
            nulls([decimal.Decimal(i * 7 % 1000 - 500).scaleb(-1) for i in ids], 23),
            pa.decimal64(9, 1),
        ),
        "s": pa.array(nulls([names[i % 6] + str(i % 4) for i in ids], 3), pa.string()),
        "ls": pa.array(nulls([names[i % 5] for i in ids], 12), pa.large_string()),
        "vs": pa.array(nulls([names[i % 4] * (i % 3 + 1) for i in ids], 14), pa.string_view()),
        "cat": pa.array(nulls([names[i % 3] for i in ids], 15)).dictionary_encode(),
        "b": pa.array(nulls([i % 3 == 0 for i in ids], 16), pa.bool_()),
        "d": pa.array(
            nulls([datetime.date(2020, 1, 1) + datetime.timedelta(days=i * 3) for i in ids], 17),
            pa.date32(),
        ),
        "ts": pa.array(
            nulls([base + datetime.timedelta(minutes=i * 97) for i in ids], 18),
            pa.timestamp("us"),
        ),
        "tsz": pa.array(
            nulls([base + datetime.timedelta(seconds=i * 3607) for i in ids], 19),
            pa.timestamp("ms", tz="UTC"),
        ),
        "tsn": pa.array(
            nulls([base + datetime.timedelta(hours=i * 5) for i in ids], 20),
            pa.timestamp("ns"),
        ),
        "iv": pa.array(
            nulls([pa.MonthDayNano([i % 3, i % 40 - 20, i * 1_000_000_000]) for i in ids], 24),
            pa.month_day_nano_interval(),
        ),
        # Passed through (selected, tested for NULL, counted), not computed on.
        "bin": pa.array(nulls([bytes([i % 256]) for i in ids], 21), pa.binary()),
        "lst": pa.array(nulls([[i, i + 1] for i in ids], 22), pa.list_(pa.int64())),
    }
    return pa.table(columns)


@pytest.fixture(scope="session")
def table() -> pa.Table:
    return typed_table()


@pytest.fixture(scope="session")
def parquet_path(tmp_path_factory, table) -> pathlib.Path:
    """The typed table as a Parquet file of several row groups (without the interval column,
    which Parquet cannot hold)."""
    path = tmp_path_factory.mktemp("data") / "t.parquet"
    pq.write_table(table.drop_columns(["iv"]), path, row_group_size=300)
    return path


@pytest.fixture(scope="session")
def ipc_path(tmp_path_factory, table) -> pathlib.Path:
    """The typed table as an Arrow IPC file of several batches."""
    import pyarrow.ipc

    path = tmp_path_factory.mktemp("data") / "t.arrow"
    with pyarrow.ipc.new_file(path, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=300):
            writer.write_batch(batch)
    return path


@pytest.fixture(scope="session")
def lineitem() -> pathlib.Path:
    """The repository's TPC-H lineitem table at scale factor 0.01."""
    return REPO / "data" / "lineitem.parquet"


@pytest.fixture(scope="session")
def qjit_bin() -> pathlib.Path:
    """The `qjit` binary built from this checkout (the Rust engine the answers are compared
    with): $QJIT_BIN, else target/debug/qjit, else target/release/qjit."""
    candidates = [os.environ.get("QJIT_BIN"), REPO / "target" / "debug" / "qjit", REPO / "target" / "release" / "qjit"]
    for c in candidates:
        if c and pathlib.Path(c).is_file():
            return pathlib.Path(c)
    found = shutil.which("qjit")
    if found:
        return pathlib.Path(found)
    pytest.fail("no qjit binary to compare with: run `cargo build` or set QJIT_BIN")
