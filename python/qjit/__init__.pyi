"""Type stubs for qjit (the extension module qjit._qjit, re-exported)."""

import os
from typing import Any, Dict, List, Optional, Protocol, Sequence, Union

import pyarrow

__version__: str

class _ArrowSchemaLike(Protocol):
    def __arrow_c_schema__(self) -> object: ...

class _ArrowArrayLike(Protocol):
    def __arrow_c_array__(self, requested_schema: object = ...) -> object: ...

class _ArrowStreamLike(Protocol):
    def __arrow_c_stream__(self, requested_schema: object = ...) -> object: ...

#: Anything with an Arrow schema: a pyarrow Schema, or Arrow data whose schema is taken.
SchemaLike = Union[pyarrow.Schema, _ArrowSchemaLike, _ArrowArrayLike, _ArrowStreamLike]
#: Arrow data: a pyarrow RecordBatch (a batch), or a Table, RecordBatchReader, Polars DataFrame,
#: DuckDB relation or anything else with ``__arrow_c_stream__`` (a stream of batches).
ArrowData = Union[pyarrow.RecordBatch, pyarrow.Table, pyarrow.RecordBatchReader, _ArrowArrayLike, _ArrowStreamLike]
#: A memory limit: bytes, or a size such as "512MiB", "2GB", "unlimited".
MemoryLimit = Union[int, str, None]

class Error(Exception):
    """An error qjit reports: bad SQL, a batch whose schema is not the compiled one, an error in
    the data, a memory limit reached, a file that cannot be read."""

def query(
    path: Union[str, os.PathLike[str]],
    sql: str,
    engine: str = "auto",
    threads: Optional[int] = None,
    memory_limit: MemoryLimit = None,
    cache_dir: Optional[Union[str, os.PathLike[str]]] = None,
) -> pyarrow.Table:
    """Runs one SELECT over a Parquet (CSV, Arrow) file, a folder of tables or a glob, as
    ``qjit query`` does. Ctrl-C cancels it (``KeyboardInterrupt``)."""

def versions() -> Dict[str, Optional[str]]:
    """The versions qjit was built with: qjit, LLVM (None without the JIT), arrow, DataFusion."""

class Filter:
    """A compiled WHERE predicate. Safe to share between threads."""

    @property
    def schema(self) -> pyarrow.Schema:
        """The schema the filter was compiled for."""
    @property
    def engine(self) -> str:
        """'compiled', or 'interpreted: <why>'."""
    def evaluate(self, batch: ArrowData) -> pyarrow.BooleanArray:
        """The rows where the predicate is TRUE (NULL counts as false), without NULLs."""
    def apply(self, data: ArrowData) -> Union[pyarrow.RecordBatch, pyarrow.Table]:
        """The rows where the predicate is TRUE: a RecordBatch of a RecordBatch, else a Table."""

class Projection:
    """Compiled expressions, one output column each. Safe to share between threads."""

    @property
    def schema(self) -> pyarrow.Schema:
        """The schema of the result."""
    @property
    def engine(self) -> str:
        """'compiled', or 'interpreted: <why>'."""
    def evaluate(self, batch: ArrowData) -> Union[pyarrow.RecordBatch, pyarrow.Table]:
        """One column per expression: a RecordBatch of a RecordBatch, else a Table."""

class Engine:
    """Compiles filters and projections and runs SQL over registered tables."""

    def __init__(
        self,
        engine: str = "auto",
        threads: Optional[int] = None,
        memory_limit: MemoryLimit = None,
        cache_dir: Optional[Union[str, os.PathLike[str]]] = None,
    ) -> None: ...
    def compile_filter(self, schema: SchemaLike, predicate: str) -> Filter:
        """Compiles a WHERE predicate over batches of ``schema``."""
    def compile_projection(self, schema: SchemaLike, exprs: Union[str, Sequence[str]]) -> Projection:
        """Compiles expressions (each optionally ``AS name``) over batches of ``schema``."""
    def register(self, name: str, obj: Union[str, os.PathLike[str], ArrowData, Any]) -> None:
        """Registers a path (a file, or a folder of Parquet files) or Arrow data as table ``name``."""
    def sql(self, sql: str) -> pyarrow.Table:
        """Runs one SELECT over the registered tables (joins in DataFusion, qjit kernels inside)."""
    def tables(self) -> List[str]:
        """The names of the registered tables, sorted."""
