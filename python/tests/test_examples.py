"""The examples in examples/python run on the repository's data and print what they say."""

import subprocess
import sys

from conftest import REPO


def run_example(name, *args):
    run = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / name), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_filter_polars():
    out = run_example("filter_polars.py")
    assert "filter: compiled" in out
    assert "2137 of 60175 rows pass" in out


def test_query_folder(tmp_path):
    out = run_example("query_folder.py")
    assert "[[14876,30397,14902]]" in out  # rows per return flag
    assert "[[859,884,873,873]]" in out  # the join's rows per ship mode
