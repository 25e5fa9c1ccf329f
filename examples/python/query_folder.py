"""SQL over a folder of Parquet tables: a single-table query runs in qjit's own engine, a join in
DataFusion with qjit's kernels inside. The answer is a pyarrow Table.

    python examples/python/query_folder.py [FOLDER]

Without FOLDER it makes one from the repository's lineitem table: lineitem.parquet and a small
`modes` table.
"""

import pathlib
import shutil
import sys
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq

import qjit

if len(sys.argv) > 1:
    folder = pathlib.Path(sys.argv[1])
else:
    folder = pathlib.Path(tempfile.mkdtemp(prefix="qjit-example-"))
    shutil.copy("data/lineitem.parquet", folder / "lineitem.parquet")
    modes = pa.table({"mode": ["AIR", "MAIL", "SHIP", "TRUCK"], "by_sea": [False, False, True, False]})
    pq.write_table(modes, folder / "modes.parquet")

print(qjit.query(folder, "SELECT l_returnflag, count(*) AS n, sum(l_quantity) AS qty FROM lineitem GROUP BY 1 ORDER BY 1"))

joined = qjit.query(
    folder,
    """SELECT m.mode, m.by_sea, count(*) AS n, avg(l.l_extendedprice) AS avg_price
       FROM lineitem l JOIN modes m ON l.l_shipmode = m.mode
       WHERE l.l_quantity > 45
       GROUP BY m.mode, m.by_sea ORDER BY m.mode""",
)
print(joined)
