"""Filters and projections over pyarrow and Polars data: answers, every type, sliced arrays,
NULLs, threads, and no copy of the input's buffers."""

import concurrent.futures
import datetime
import decimal

import polars as pl
import pyarrow as pa
import pytest

import qjit

ENGINES = ["auto", "jit", "interp"]

# (predicate, the same predicate over a row of Python values; None where SQL gives NULL)
def _and(a, b):
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or(a, b):
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _cmp(v, f):
    return None if v is None else f(v)


PREDICATES = [
    ("i32 > 100", lambda r: _cmp(r["i32"], lambda v: v > 100)),
    ("i8 < 0 AND u8 >= 30", lambda r: _and(_cmp(r["i8"], lambda v: v < 0), _cmp(r["u8"], lambda v: v >= 30))),
    ("f64 <= 3.5 OR i32 IS NULL", lambda r: _or(_cmp(r["f64"], lambda v: v <= 3.5), r["i32"] is None)),
    ("s = 'apple0'", lambda r: _cmp(r["s"], lambda v: v == "apple0")),
    ("ls <> 'fig'", lambda r: _cmp(r["ls"], lambda v: v != "fig")),
    ("vs = 'datedate'", lambda r: _cmp(r["vs"], lambda v: v == "datedate")),
    ("cat = 'Banana'", lambda r: _cmp(r["cat"], lambda v: v == "Banana")),
    ("b", lambda r: r["b"]),
    ("NOT b", lambda r: _cmp(r["b"], lambda v: not v)),
    ("d >= DATE '2021-01-01'", lambda r: _cmp(r["d"], lambda v: v >= datetime.date(2021, 1, 1))),
    ("u64 > 50000000", lambda r: _cmp(r["u64"], lambda v: v > 50_000_000)),
    ("dec > 12.5", lambda r: _cmp(r["dec"], lambda v: v > decimal.Decimal("12.5"))),
    ("dec64 <= -3.5 OR dec64 = 7", lambda r: _or(_cmp(r["dec64"], lambda v: v <= decimal.Decimal("-3.5")), _cmp(r["dec64"], lambda v: v == 7))),
    ("iv > INTERVAL '10 days'", lambda r: _cmp(r["iv"], lambda v: v.months * 30 * 86400e9 + v.days * 86400e9 + v.nanoseconds > 10 * 86400e9)),
    ("ts < TIMESTAMP '2024-01-03 10:00'", lambda r: _cmp(r["ts"], lambda v: v < datetime.datetime(2024, 1, 3, 10))),
]


def expected_mask(table: pa.Table, predicate) -> list:
    """The rows where `predicate` is TRUE (NULL is false)."""
    return [predicate(r) is True for r in table.to_pylist()]


def kept(records, mask):
    return [r for r, keep in zip(records, mask) if keep]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("predicate,expression", PREDICATES, ids=[p for p, _ in PREDICATES])
def test_filters_agree_with_python(engine, predicate, expression, table):
    f = qjit.Engine(engine=engine).compile_filter(table.schema, predicate)
    want = expected_mask(table, expression)
    assert f.evaluate(table).to_pylist() == want
    batch = table.combine_chunks().to_batches()[0]
    mask = f.evaluate(batch)
    assert mask.null_count == 0 and mask.to_pylist() == want
    assert f.apply(batch).to_pylist() == kept(batch.to_pylist(), want)
    assert f.apply(table).to_pylist() == kept(table.to_pylist(), want)


@pytest.mark.parametrize("engine", ENGINES)
def test_sliced_batches_read_from_their_offset(engine, table):
    batch = table.combine_chunks().to_batches()[0]
    f = qjit.Engine(engine=engine).compile_filter(batch.schema, "i32 > 0 AND s LIKE '%e%'")
    whole = f.evaluate(batch).to_pylist()
    for offset, length in [(1, 10), (3, 500), (77, 923), (999, 1), (500, 0)]:
        piece = batch.slice(offset, length)
        assert f.evaluate(piece).to_pylist() == whole[offset : offset + length]
        assert f.apply(piece).to_pylist() == [r for r, keep in zip(piece.to_pylist(), whole[offset : offset + length]) if keep]


def test_every_type_passes_nulls_through_projections(table):
    batch = table.combine_chunks().to_batches()[0]
    for engine in ENGINES:
        e = qjit.Engine(engine=engine)
        for field in table.schema:
            p = e.compile_projection(batch.schema, [f"{field.name} AS v", f"{field.name} IS NULL AS n"])
            out = p.evaluate(batch)
            assert out.column(0).to_pylist() == batch.column(field.name).to_pylist(), (engine, field)
            assert out.column(1).to_pylist() == batch.column(field.name).is_null().to_pylist(), (engine, field)
            f = e.compile_filter(batch.schema, f"{field.name} IS NOT NULL")
            assert f.evaluate(batch).to_pylist() == batch.column(field.name).is_valid().to_pylist()


def test_every_type_through_polars(table):
    # Every column Polars holds, in Polars' own Arrow types (string views, dictionaries of
    # them, microsecond timestamps, large lists, binary views).
    # (Polars has no month-day-nano intervals.)
    frame = pl.from_arrow(table.drop_columns(["cat", "iv"])).with_columns(
        pl.Series("cat", table.column("cat").to_pylist(), dtype=pl.Categorical)
    )
    for engine in ENGINES:
        e = qjit.Engine(engine=engine)
        for name in frame.columns:
            p = e.compile_projection(frame, [f"{name} AS v", f"{name} IS NULL AS n"])
            out = p.evaluate(frame)
            assert out.column("v").to_pylist() == frame[name].to_arrow().to_pylist(), (engine, name)
            assert out.column("n").to_pylist() == frame[name].is_null().to_list(), (engine, name)
        f = e.compile_filter(frame, "i32 > 0 AND cat = 'apple' AND s LIKE 'a%'")
        want = frame.filter((pl.col("i32") > 0) & (pl.col("cat") == "apple") & pl.col("s").str.starts_with("a"))
        assert f.apply(frame).to_pylist() == want.to_arrow().to_pylist()


@pytest.mark.parametrize("engine", ENGINES)
def test_projections_compute(engine, table):
    p = qjit.Engine(engine=engine).compile_projection(
        table.schema, ["i32 * 2 + 1 AS x", "upper(s) AS u", "dec * 2 AS dd", "CASE WHEN b THEN 'y' ELSE 'n' END"]
    )
    assert [f.name for f in p.schema] == ["x", "u", "dd", "CASE WHEN b THEN 'y' ELSE 'n' END"]
    assert p.schema.field("dd").type == pa.decimal128(23, 2)  # DECIMAL(12,2) * INTEGER
    out = p.evaluate(table)
    assert isinstance(out, pa.Table)
    assert out.column("x").to_pylist() == [None if v is None else v * 2 + 1 for v in table.column("i32").to_pylist()]
    assert out.column("u").to_pylist() == [None if v is None else v.upper() for v in table.column("s").to_pylist()]
    assert out.column("dd").to_pylist() == [None if v is None else v * 2 for v in table.column("dec").to_pylist()]
    assert out.column(3).to_pylist() == ["y" if v else "n" for v in table.column("b").to_pylist()]


def test_one_filter_shared_by_threads(table):
    f = qjit.Engine().compile_filter(table.schema, "i32 > 0 AND s LIKE 'a%' OR f64 < 0")
    batches = [b for b in table.combine_chunks().to_batches(max_chunksize=37)]
    want = [f.evaluate(b).to_pylist() for b in batches]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            got = list(pool.map(lambda b: f.evaluate(b).to_pylist(), batches))
            assert got == want
            kept = list(pool.map(lambda b: f.apply(b).num_rows, batches))
            assert kept == [sum(m) for m in want]


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_tables_of_many_batches_on_any_number_of_threads(threads, table):
    big = pa.concat_tables([table] * 200)  # 200,000 rows in 200 chunks
    f = qjit.Engine(threads=threads).compile_filter(big.schema, "i32 > 0 AND s LIKE 'a%'")
    want = qjit.Engine(engine="interp", threads=1).compile_filter(big.schema, "i32 > 0 AND s LIKE 'a%'").apply(table)
    got = f.apply(big)
    assert got.num_rows == 200 * want.num_rows
    assert got.slice(0, want.num_rows).to_pylist() == want.to_pylist()
    assert f.evaluate(big).true_count == got.num_rows


def buffer_addresses(array: pa.Array) -> list:
    return [b.address if b is not None else None for b in array.buffers()]


def test_the_filter_path_does_not_copy_the_input(table):
    batch = table.combine_chunks().to_batches()[0]
    f = qjit.Engine().compile_filter(batch.schema, "id >= 0")  # every row passes
    kept = f.apply(batch)
    for name in ["id", "i32", "s", "vs", "dec", "ts", "lst"]:
        assert buffer_addresses(kept.column(name)) == buffer_addresses(batch.column(name)), name
    # A table's batches, read through the stream interface, are not copied either.
    kept = f.apply(table)
    for name in ["id", "s"]:
        assert buffer_addresses(kept.column(name).chunk(0)) == buffer_addresses(table.column(name).chunk(0)), name
    # Nor are a Polars frame's.
    frame = pl.from_arrow(table.select(["id", "i32", "s"]))
    kept = f_for(frame).apply(frame)
    original = frame.to_arrow()
    for name in ["id", "i32"]:
        assert buffer_addresses(kept.column(name).chunk(0)) == buffer_addresses(original.column(name).chunk(0)), name
    # A registered table is kept as it is: a query that selects a column hands it back.
    e = qjit.Engine(engine="interp")
    e.register("t", batch)
    out = e.sql("SELECT i32 FROM t")
    assert buffer_addresses(out.column(0).chunk(0))[1] == buffer_addresses(batch.column("i32"))[1]


def f_for(frame):
    return qjit.Engine().compile_filter(frame, "id >= 0")


def test_register_takes_every_kind_of_input(table, parquet_path, tmp_path):
    import duckdb

    e = qjit.Engine()
    batch = table.combine_chunks().to_batches()[0]
    e.register("a", table)
    e.register("b", batch)
    e.register("c", pa.RecordBatchReader.from_batches(table.schema, table.to_batches()))
    e.register("d", pl.from_arrow(table.select(["id", "i32", "s"])))
    e.register("e", str(parquet_path))
    e.register("f", parquet_path)  # os.PathLike
    con = duckdb.connect()
    con.register("src", table.select(["id", "i32"]))
    e.register("g", con.sql("SELECT id, i32 FROM src"))
    assert e.tables() == ["a", "b", "c", "d", "e", "f", "g"]
    want = e.sql("SELECT count(*) AS n, sum(i32) AS s FROM a WHERE i32 > 0").to_pylist()
    for name in "bcdefg":
        assert e.sql(f"SELECT count(*) AS n, sum(i32) AS s FROM {name} WHERE i32 > 0").to_pylist() == want, name


def test_an_empty_result_keeps_its_schema(table):
    e = qjit.Engine()
    e.register("t", table)
    out = e.sql("SELECT id, s FROM t WHERE id < 0")
    assert out.num_rows == 0 and out.schema.names == ["id", "s"]
    out = qjit.Engine().compile_filter(table.schema, "id < 0").apply(table)
    assert out.num_rows == 0 and out.schema == table.schema


def test_version_and_engine_descriptions(table):
    assert qjit.__version__ == qjit.versions()["qjit"]
    f = qjit.Engine().compile_filter(table.schema, "i32 > 1")
    assert f.engine == "compiled"
    f = qjit.Engine(engine="interp").compile_filter(table.schema, "i32 > 1")
    assert f.engine.startswith("interpreted")
    assert f.schema == table.schema
