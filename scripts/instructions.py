#!/usr/bin/env python3
"""Instructions per row of each query's execution, counted by Valgrind's callgrind.

Timings on a shared machine drift by 5-10% between runs; instruction counts do not. For each
query and engine, runs

    valgrind --tool=callgrind target/release/qjit bench --sf SF --queries <the query alone>
        --engines ENGINE --iterations 1 --threads 1 --no-cache --format json

and reads the inclusive instruction count of `qjit::exec::pipeline::execute_from` (the
execution of a compiled plan over the in-memory batches: the kernels, the interpreter, the
morsels; not parsing, compiling or the data's generation), which the bench calls twice (its
warm-up run and one timed run). Prints instructions per input row, per engine, side by side.

    cargo build --release
    python3 scripts/instructions.py                      # SF 0.1, jit and interp, every query
    python3 scripts/instructions.py --sf 0.01 --engines jit queries/q01.sql
    python3 scripts/instructions.py --qjit /tmp/qjit-before --engines jit   # another build

Needs `valgrind` (Debian: `apt-get install valgrind`). The data comes from `qjit bench`'s own
cache (`target/tpch`), generated on first use.
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QJIT = os.path.join(ROOT, "target", "release", "qjit")
FUNCTION = "qjit::exec::pipeline::execute_from"
# The bench executes each query twice per engine: one warm-up run, one timed run.
EXECUTIONS = 2


def inclusive_ir(out_file):
    """The inclusive instruction count of FUNCTION in a callgrind output file."""
    annotated = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", out_file],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True).stdout
    best = 0
    pattern = re.compile(r"^\s*([\d,]+)\s+\([\s\d.]+%\)\s+\S*:" + re.escape(FUNCTION) + r"(\s|$)")
    for line in annotated.splitlines():
        m = pattern.match(line)
        if m:
            best = max(best, int(m.group(1).replace(",", "")))
    return best


def measure(qjit, query, engine, sf, data_dir):
    """(instructions per row, rows) of `query` on `engine`."""
    with tempfile.TemporaryDirectory(prefix="qjit-instructions-") as tmp:
        queries = os.path.join(tmp, "queries")
        os.mkdir(queries)
        shutil.copy(query, queries)
        out_file = os.path.join(tmp, "callgrind.out")
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", qjit, "bench",
             "--sf", sf, "--data-dir", data_dir, "--queries", queries, "--engines", engine,
             "--iterations", "1", "--threads", "1", "--no-cache", "--format", "json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            sys.exit(f"qjit bench under callgrind failed ({done.returncode}): {done.stderr[-2000:]}")
        rows = json.loads(done.stdout.strip().splitlines()[-1])["rows_in"]
        ir = inclusive_ir(out_file)
        if ir == 0 or rows == 0:
            sys.exit(f"no execution of {FUNCTION} found for {query} on {engine}")
        return ir / (EXECUTIONS * rows), rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queries", nargs="*", help="query files (default: queries/*.sql)")
    parser.add_argument("--sf", default="0.1")
    parser.add_argument("--engines", default="jit,interp")
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "target", "tpch"))
    parser.add_argument("--qjit", default=QJIT, help="the qjit binary (default: the release build)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    queries = args.queries or sorted(glob.glob(os.path.join(ROOT, "queries", "*.sql")))
    engines = args.engines.split(",")
    print(f"instructions per input row of the execution (callgrind), SF {args.sf}, 1 thread")
    print(f"{'query':<16}" + "".join(f"{e:>10}" for e in engines) + f"{'rows':>10}")
    for query in queries:
        figures = [measure(args.qjit, query, e, args.sf, args.data_dir) for e in engines]
        name = os.path.splitext(os.path.basename(query))[0]
        cells = "".join(f"{per_row:>10.1f}" for per_row, _ in figures)
        print(f"{name:<16}{cells}{figures[0][1]:>10}", flush=True)


if __name__ == "__main__":
    main()
