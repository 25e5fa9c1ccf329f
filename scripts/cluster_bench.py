#!/usr/bin/env python3
"""The 22 TPC-H queries on a Ballista cluster of qjit processes: whole `qjit query --cluster`
processes with qjit's kernels (`--engine jit`) and without (`--engine interp`), interleaved,
beside local DataFusion (`--engine interp --datafusion`), each answer compared with the local one.

    cargo build --release
    target/release/qjit gen-tpch --sf 1 --out target/tpch-all/sf1
    python3 scripts/cluster_bench.py --data target/tpch-all/sf1 --runs 3

Starts `qjit scheduler` and one `qjit executor --engine jit --concurrency T` with a kernel cache
of its own on free local ports, warms every query once (compiling its kernels), then prints each
query's medians (ms) and the totals; stops the servers with Ctrl-C at the end.
"""

import argparse
import glob
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target/release/qjit")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port):
    start = time.time()
    while time.time() - start < 30:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing listens on port {port}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.join(ROOT, "target/tpch-all/sf1"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("queries", nargs="*")
    a = p.parse_args()
    queries = a.queries or sorted(glob.glob(os.path.join(ROOT, "queries/tpch/q*.sql")))
    sched_port, flight_port, grpc_port = free_port(), free_port(), free_port()
    cache = tempfile.mkdtemp(prefix="qjit-cluster-cache-")
    servers = [subprocess.Popen([BINARY, "scheduler", "--bind", f"127.0.0.1:{sched_port}"],
                                stderr=subprocess.DEVNULL)]
    wait_for(sched_port)
    servers.append(subprocess.Popen(
        [BINARY, "executor", "--scheduler", f"127.0.0.1:{sched_port}",
         "--bind", f"127.0.0.1:{flight_port}", "--grpc-port", str(grpc_port),
         "--concurrency", str(a.threads), "--engine", "jit", "--cache-dir", cache],
        stderr=subprocess.DEVNULL))
    wait_for(flight_port)
    cluster = f"df://127.0.0.1:{sched_port}"
    configs = {
        "jit": ["--engine", "jit", "--cluster", cluster],
        "interp": ["--engine", "interp", "--cluster", cluster],
        "local": ["--engine", "interp", "--datafusion"],
    }

    def run(sql, args):
        start = time.perf_counter()
        done = subprocess.run([BINARY, "query", a.data, sql, "--format", "csv",
                               "--threads", str(a.threads)] + args,
                              capture_output=True, text=True)
        elapsed = (time.perf_counter() - start) * 1e3
        if done.returncode != 0:
            sys.exit(f"{args}: {done.stderr.strip()}")
        return elapsed, done.stdout

    rows = []
    try:
        for q in queries:
            sql = open(q).read()
            answers = {k: run(sql, args)[1] for k, args in configs.items()}
            same = answers["jit"] == answers["local"] and answers["interp"] == answers["local"]
            times = {k: [] for k in configs}
            for _ in range(a.runs):
                for k, args in configs.items():
                    times[k].append(run(sql, args)[0])
            med = {k: statistics.median(v) for k, v in times.items()}
            rows.append(med)
            print(f"{os.path.basename(q)[:-4]}: cluster jit {med['jit']:.0f}  cluster interp "
                  f"{med['interp']:.0f}  local DataFusion {med['local']:.0f}  "
                  f"{'same answers' if same else 'ANSWERS DIFFER'}", flush=True)
    finally:
        for s in reversed(servers):
            s.send_signal(signal.SIGINT)
            s.wait(timeout=30)
    total = {k: sum(r[k] for r in rows) for k in configs}
    print(f"total: cluster jit {total['jit']:.0f} ms, cluster interp {total['interp']:.0f} ms, "
          f"local DataFusion {total['local']:.0f} ms; interp/jit {total['interp'] / total['jit']:.3f}")


if __name__ == "__main__":
    main()
