"""The Python package gives the Rust engine's answers: each case runs through `qjit.query` over an
Arrow IPC file and a Parquet file and through `Engine.sql` over the same rows held as a pyarrow table (and, for the
string and integer columns, as a Polars DataFrame), in each engine, and is compared with the
`qjit` binary's answer written to a Parquet file."""

import subprocess

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import qjit

ENGINES = ["auto", "jit", "interp"]

# .slt-style cases over the typed table `t` (conftest.typed_table): every multi-row result is
# ordered, so that any source and thread count give the same rows in the same order.
CASES = [
    "SELECT id, i32 FROM t WHERE i32 > 100 AND i8 < 0 ORDER BY id",
    "SELECT count(*), count(i32), sum(i32), min(i16), max(u32), avg(f64) FROM t",
    "SELECT id FROM t WHERE i32 IS NULL OR s LIKE 'apple%' ORDER BY id LIMIT 25",
    "SELECT id, u8 + u32 AS x, u64 % 7 AS m FROM t WHERE u8 BETWEEN 10 AND 40 ORDER BY id",
    "SELECT id, f32 * 2 + f64 AS x, round(f64, 1) AS r FROM t WHERE f64 > 5 ORDER BY id",
    "SELECT id, dec * 3 - 1.25 AS x, dec / 4 AS q, cast(dec AS DOUBLE) AS f FROM t WHERE dec < 0 ORDER BY id",
    "SELECT sum(dec), min(dec), max(dec), avg(dec) FROM t WHERE i32 > 0",
    "SELECT id, dec64 * 2 AS x, dec64 + dec AS y FROM t WHERE dec64 < 0 ORDER BY id LIMIT 40",
    "SELECT sum(dec64), min(dec64), count(dec64) FROM t",
    "SELECT id, iv < INTERVAL '3 days' AS short FROM t WHERE iv <> INTERVAL '1 month' ORDER BY id LIMIT 30",
    "SELECT count(*) FROM t WHERE iv IS NULL",
    "SELECT s, count(*) AS n, sum(i32) AS total FROM t GROUP BY s ORDER BY s",
    "SELECT upper(s) AS u, length(ls) AS n, substr(vs, 2, 3) AS sub FROM t WHERE id < 40 ORDER BY id",
    "SELECT id FROM t WHERE cat = 'apple' AND vs <> 'date' ORDER BY id",
    "SELECT cat, count(*) FROM t GROUP BY cat ORDER BY cat",
    "SELECT id, s || '-' || cat AS j, coalesce(s, ls, 'none') AS c FROM t WHERE id % 9 = 0 ORDER BY id",
    "SELECT id, CASE WHEN i32 > 0 THEN 'pos' WHEN i32 < 0 THEN 'neg' ELSE 'zero' END AS sign FROM t ORDER BY id LIMIT 50",
    "SELECT id FROM t WHERE s IN ('apple0', 'fig3', 'date1') AND NOT b ORDER BY id",
    "SELECT b, count(*), sum(CASE WHEN b THEN 1 ELSE 0 END) FROM t GROUP BY b ORDER BY b",
    "SELECT id, d + 30 AS later, extract(year FROM d) AS y FROM t WHERE d < DATE '2020-06-01' ORDER BY id",
    "SELECT extract(month FROM d) AS m, count(*) FROM t GROUP BY 1 ORDER BY 1",
    "SELECT id, ts + INTERVAL '1 day' AS tomorrow, date_trunc('hour', ts) AS h FROM t WHERE ts < TIMESTAMP '2024-01-02 12:00' ORDER BY id",
    "SELECT id, tsz, extract(hour FROM tsz) AS h FROM t WHERE tsz >= TIMESTAMPTZ '2024-01-20 00:00:00+00' ORDER BY id LIMIT 30",
    "SELECT date_trunc('day', tsn) AS day, count(*) FROM t GROUP BY 1 ORDER BY 1 LIMIT 20",
    "SELECT id, cast(i32 AS VARCHAR) AS txt, cast(s AS VARCHAR(3)) AS short FROM t WHERE id < 30 ORDER BY id",
    "SELECT id, nullif(i8, 0) AS n, abs(i16) AS a FROM t WHERE i8 = 0 OR i16 < -850 ORDER BY id",
    "SELECT id, bin, lst FROM t WHERE bin IS NOT NULL AND id < 30 ORDER BY id",
    "SELECT count(bin), count(lst), count(*) FROM t WHERE lst IS NULL OR i32 > 0",
    "SELECT DISTINCT s FROM t WHERE s IS NOT NULL ORDER BY s",
    "SELECT id, i32 FROM t ORDER BY i32 DESC NULLS LAST, id LIMIT 10 OFFSET 5",
]


def rust_answer(qjit_bin, path, sql, engine, tmp_path):
    """The `qjit` binary's answer, as Python rows (through a Parquet file it writes)."""
    out = tmp_path / "answer.parquet"
    run = subprocess.run(
        [str(qjit_bin), "query", str(path), sql, "--engine", engine, "--no-cache", "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return normalized(pq.read_table(out).to_pylist())


def normalized(records):
    """Rows with floats to 12 significant digits: a float sum's last bits depend on the order
    its terms come in, which differs between a file's row groups and a table's batches."""

    def cell(v):
        return float(f"{v:.12g}") if isinstance(v, float) else v

    return [{k: cell(v) for k, v in r.items()} for r in records]


def rows(table: pa.Table):
    return normalized(table.to_pylist())


@pytest.mark.parametrize("sql", CASES)
def test_answers_are_the_rust_engines(sql, qjit_bin, parquet_path, ipc_path, table, tmp_path):
    expected = rust_answer(qjit_bin, ipc_path, sql, "interp", tmp_path)
    # Parquet has no intervals: the file of the other columns for the other cases.
    files = [ipc_path] + ([] if "iv" in sql else [parquet_path])
    for engine in ENGINES:
        for path in files:
            got = qjit.query(path, sql, engine=engine)
            assert rows(got) == expected, f"qjit.query({path.name}), engine={engine}"
        e = qjit.Engine(engine=engine)
        e.register("t", table)
        assert rows(e.sql(sql)) == expected, f"Engine.sql over a pyarrow table, engine={engine}"
    # The binary's own engines agree with its interpreter.
    assert rust_answer(qjit_bin, ipc_path, sql, "jit", tmp_path) == expected


POLARS_CASES = [
    "SELECT id, i32 FROM t WHERE i32 > 100 AND s LIKE '%an%' ORDER BY id",
    "SELECT s, count(*) AS n, sum(i32) AS total FROM t GROUP BY s ORDER BY s",
    "SELECT id, upper(vs) AS u FROM t WHERE cat = 'Banana' ORDER BY id",
    "SELECT id, d + 1 AS d1, ts FROM t WHERE d > DATE '2022-01-01' ORDER BY id LIMIT 40",
]


@pytest.mark.parametrize("sql", POLARS_CASES)
def test_polars_frames_give_the_answers_of_pyarrow_tables(sql, table):
    # Polars holds strings as string views and categoricals as dictionaries of them.
    frame = pl.from_arrow(table.select(["id", "i32", "s", "vs", "d", "ts"])).with_columns(
        pl.Series("cat", table.column("cat").to_pylist(), dtype=pl.Categorical)
    )
    for engine in ENGINES:
        e = qjit.Engine(engine=engine)
        e.register("t", table)
        expected = rows(e.sql(sql))
        p = qjit.Engine(engine=engine)
        p.register("t", frame)
        assert rows(p.sql(sql)) == expected, engine


def test_a_folder_of_tables_joins(tmp_path, table):
    table = table.drop_columns(["iv"])  # Parquet cannot hold it
    folder = tmp_path / "db"
    (folder / "big").mkdir(parents=True)
    pq.write_table(table.slice(0, 600), folder / "big" / "part-0.parquet")
    pq.write_table(table.slice(600), folder / "big" / "part-1.parquet")
    pq.write_table(table.select(["id", "s"]).slice(0, 50), folder / "small.parquet")
    sql = "SELECT small.id, big.i32 FROM small JOIN big ON small.id = big.id WHERE big.i32 > 0 ORDER BY 1"
    expected = [r for r in table.select(["id", "i32"]).slice(0, 50).to_pylist() if r["i32"] is not None and r["i32"] > 0]
    for engine in ENGINES:
        assert rows(qjit.query(folder, sql, engine=engine)) == expected
        e = qjit.Engine(engine=engine)
        e.register("big", folder / "big")
        e.register("small", str(folder / "small.parquet"))
        assert rows(e.sql(sql)) == expected
