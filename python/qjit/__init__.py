"""qjit: compiled SQL filters, projections and queries over Arrow data.

qjit parses SQL expressions, binds them against an Arrow schema, and compiles them with LLVM
into kernels that run over Arrow record batches; an interpreter built on arrow-rs runs what does
not compile. Inputs are taken through Arrow's PyCapsule interface, without a copy, so pyarrow
tables and batches, Polars DataFrames and DuckDB results all work; results are pyarrow objects.

    >>> import pyarrow as pa, qjit
    >>> t = pa.table({"x": [1, 2, None, 4]})
    >>> f = qjit.Engine().compile_filter(t.schema, "x > 1")
    >>> f.apply(t).column("x").to_pylist()
    [2, 4]
"""

from ._qjit import Engine, Error, Filter, Projection, __version__, query, versions

__all__ = ["Engine", "Error", "Filter", "Projection", "query", "versions", "__version__"]
