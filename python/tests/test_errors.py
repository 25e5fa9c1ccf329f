"""Every error qjit reports raises qjit.Error with qjit's message; Ctrl-C interrupts a query."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pyarrow as pa
import pytest

import qjit


def raises(call, *fragments):
    with pytest.raises(qjit.Error) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)
    return info.value


def test_error_is_an_exception():
    assert issubclass(qjit.Error, Exception)
    assert qjit.Error.__module__ == "qjit"


def test_bad_sql_names_what_and_where(table):
    e = qjit.Engine()
    raises(lambda: e.compile_filter(table.schema, "i32 >"), "syntax error", "line 1, column")
    raises(lambda: e.compile_filter(table.schema, "nope > 1"), "unknown column 'nope'")
    raises(lambda: e.compile_filter(table.schema, "i32 + 1"), "BOOLEAN")
    raises(lambda: e.compile_projection(table.schema, ["i32", "s +"]), "line 2")
    raises(lambda: e.compile_projection(table.schema, ["sum(i32)"]), "aggregates do not belong")
    e.register("t", table)
    raises(lambda: e.sql("SELEC 1"), "syntax error")
    raises(lambda: e.sql("SELECT * FROM nowhere"), "no table 'nowhere'")
    raises(lambda: e.sql("SELECT * FROM t JOIN nowhere ON true"), "nowhere")


def test_a_batch_of_another_schema(table):
    f = qjit.Engine().compile_filter(table.schema, "i32 > 0")
    other = pa.table({"i32": pa.array(["x"])})
    raises(lambda: f.evaluate(other), "column")
    renamed = table.rename_columns([c + "_" for c in table.column_names])
    raises(lambda: f.apply(renamed))
    p = qjit.Engine().compile_projection(table.schema, ["i32 + 1"])
    raises(lambda: p.evaluate(pa.table({"i32": pa.array([1.5])})), "column")


@pytest.mark.parametrize("engine", ["auto", "jit", "interp"])
def test_errors_in_the_data(engine, table):
    e = qjit.Engine(engine=engine)
    p = e.compile_projection(table.schema, ["i32 / (i32 - i32)"])
    raises(lambda: p.evaluate(table), "division by zero")
    f = e.compile_filter(table.schema, "cast(s AS INTEGER) > 0")
    raises(lambda: f.evaluate(table), "'Banana1'")  # the first bad row
    e.register("t", table)
    raises(lambda: e.sql("SELECT sum(i32 * 1000000000000000000) FROM t"), "BIGINT out of range: -483")


def test_a_memory_limit():
    keys = pa.table({"k": pa.array(range(200_000), pa.int64())})
    e = qjit.Engine(memory_limit="64KiB")
    e.register("t", keys)
    raises(lambda: e.sql("SELECT k, count(*) FROM t GROUP BY k"), "memory", "64")
    assert qjit.Engine(memory_limit=1 << 30) is not None
    raises(lambda: qjit.Engine(memory_limit="lots"), "memory_limit")
    raises(lambda: qjit.Engine(memory_limit=0), "0 bytes")
    with pytest.raises(TypeError):
        qjit.Engine(memory_limit=1.5)


def test_bad_options_and_paths(tmp_path):
    raises(lambda: qjit.Engine(engine="fast"), "unknown engine 'fast'")
    raises(lambda: qjit.Engine(threads=0), "at least one thread")
    raises(lambda: qjit.query(tmp_path / "missing.parquet", "SELECT 1 FROM missing"), "missing.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    raises(lambda: qjit.query(bad, "SELECT * FROM bad"), "bad.parquet")
    e = qjit.Engine()
    raises(lambda: e.register("x", str(tmp_path / "missing.parquet")), "missing.parquet")
    with pytest.raises(TypeError):
        e.register("x", 42)
    with pytest.raises(TypeError):
        e.compile_filter(42, "x > 1")


def test_inputs_are_never_modified(tmp_path, table):
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    pq.write_table(table.drop_columns(["iv"]), path)
    before = path.read_bytes()
    qjit.query(path, "SELECT count(*) FROM t WHERE i32 > 0")
    assert path.read_bytes() == before


INTERRUPTED = textwrap.dedent(
    """
    import sys, qjit
    sys.stdout.write("running\\n"); sys.stdout.flush()
    try:
        qjit.query(sys.argv[1], sys.argv[2])
        print("finished")
    except KeyboardInterrupt:
        print("interrupted")
    """
)


@pytest.mark.parametrize(
    "sql",
    [
        # A cross join, in DataFusion: minutes of work.
        "SELECT count(*) FROM lineitem a, lineitem b WHERE a.l_quantity + b.l_quantity > 1000",
    ],
)
def test_ctrl_c_cancels_a_running_query(sql, lineitem, tmp_path):
    folder = tmp_path / "db"
    folder.mkdir()
    os.symlink(lineitem, folder / "lineitem.parquet")
    child = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED, str(folder), sql],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "running"
        time.sleep(1.0)  # into the query
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert out.strip() == "interrupted", err
    assert child.returncode == 0, err


def test_the_first_error_in_a_table_of_many_batches_is_reported():
    # Row 100,000 of 300,000 is the only bad one among good ones after it; then two bad ones.
    values = ["1"] * 300_000
    values[100_000] = "first"
    values[250_000] = "later"
    t = pa.table({"s": values})
    for threads in [1, 2, 4]:
        f = qjit.Engine(threads=threads).compile_filter(t.schema, "cast(s AS INTEGER) > 0")
        raises(lambda: f.apply(t), "'first'")
        raises(lambda: f.evaluate(t), "'first'")
