//! The one error type of qjit.
//!
//! Every fallible function in the crate returns [`Result<T>`]. Variants fall into four groups:
//!
//! * **the user's query** ([`Error::Syntax`], [`Error::UnknownColumn`], [`Error::Type`],
//!   [`Error::Unsupported`], [`Error::Plan`], …): the SQL text is wrong or asks for something
//!   qjit does not do. They carry a [`Position`] into the SQL where one is known.
//! * **the data** ([`Error::DivisionByZero`], [`Error::Overflow`], [`Error::InvalidCast`],
//!   [`Error::File`], …): the query is valid but the values or the input file are not.
//! * **limits** ([`Error::Cancelled`], [`Error::MemoryLimit`]): the query was stopped, or its
//!   state would outgrow the memory it may use.
//! * **bugs** ([`Error::Internal`]): something qjit itself got wrong. A user should never see one;
//!   if they do, it is reported as a bug.
//!
//! `Display` reads as one sentence that says what went wrong, where, and what to do about it.

use std::fmt;

/// A position in the SQL text: 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Position {
    pub line: u64,
    pub column: u64,
}

impl Position {
    /// The position of a sqlparser span's start, or `None` for an empty span.
    pub fn from_span(span: sqlparser::tokenizer::Span) -> Option<Position> {
        (span.start.line > 0).then_some(Position {
            line: span.start.line,
            column: span.start.column,
        })
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Formats an optional position as " at line L, column C" (or nothing).
pub struct At(pub Option<Position>);

/// What [`Error::Unsupported`] says qjit runs instead.
#[cfg(feature = "datafusion")]
const WHAT_QJIT_RUNS: &str = "qjit runs queries (SELECT, WITH): over one table in its own engine, \
                              over several in DataFusion";
#[cfg(not(feature = "datafusion"))]
const WHAT_QJIT_RUNS: &str = "qjit runs one single-table SELECT";

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(p) => write!(f, " at {p}"),
            None => Ok(()),
        }
    }
}

/// Formats an optional "did you mean" suggestion.
pub struct Suggest<'a>(pub &'a Option<String>);

impl fmt::Display for Suggest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, "; did you mean '{s}'?"),
            None => Ok(()),
        }
    }
}

/// Everything that can go wrong in qjit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SQL text does not parse.
    #[error("syntax error{}: {message}", At(*position))]
    Syntax {
        message: String,
        position: Option<Position>,
    },

    /// A column name that the table does not have.
    #[error("unknown column '{name}'{} in table '{table}'{}{}", At(*position), Suggest(suggestion),
        if *double_quoted && suggestion.is_none() { format!("; a string takes single quotes: '{name}'") } else { String::new() })]
    UnknownColumn {
        name: String,
        table: String,
        suggestion: Option<String>,
        position: Option<Position>,
        /// Written in double quotes (`"A"`), as a string would be in other languages.
        double_quoted: bool,
    },

    /// `FROM` names a table other than the one the source provides.
    #[error("unknown table '{name}'{}: the input is registered as table '{expected}'", At(*position))]
    UnknownTable {
        name: String,
        expected: String,
        position: Option<Position>,
    },

    /// A function name qjit does not know.
    #[error("unknown function '{name}'{}{}; the functions qjit supports are listed under \"Supported SQL\" in its README", At(*position), Suggest(suggestion))]
    UnknownFunction {
        name: String,
        suggestion: Option<String>,
        position: Option<Position>,
    },

    /// Operand types that an operator or function does not accept.
    #[error("type error{}: {message}", At(*position))]
    Type {
        message: String,
        position: Option<Position>,
    },

    /// Valid SQL that qjit does not implement.
    #[error("unsupported SQL{}: {what}; {}", At(*position), WHAT_QJIT_RUNS)]
    Unsupported {
        what: String,
        position: Option<Position>,
    },

    /// A query that is well-typed but not meaningful (an aggregate in WHERE, a non-grouped column, …).
    #[error("invalid query{}: {message}", At(*position))]
    Plan {
        message: String,
        position: Option<Position>,
    },

    /// A column of a type qjit cannot process, used by the query.
    #[error("column '{column}' has type {data_type}, which qjit does not support; leave it out of the query or cast it when writing the file")]
    UnsupportedColumnType { column: String, data_type: String },

    /// A query part that the JIT engine ([`crate::EngineKind::Jit`]) was asked to compile but
    /// does not compile yet.
    #[error("the JIT engine cannot compile {what}; run it with the engine auto (which interprets what it does not compile) or interp")]
    NotCompiled { what: String },

    /// Division or modulo by zero while evaluating the query.
    #[error("division by zero")]
    DivisionByZero,

    /// A result that does not fit its type.
    #[error("{ty} out of range: {what}")]
    Overflow { ty: String, what: String },

    /// A value that cannot be converted to the requested type.
    #[error("invalid value for type {ty}: '{value}'")]
    InvalidCast { value: String, ty: String },

    /// Any other error in a function's argument (a negative SUBSTRING length, …).
    #[error("invalid argument: {message}")]
    InvalidArgument { message: String },

    /// A record batch whose columns do not match the schema an expression was compiled for.
    #[error("the batch does not match the compiled schema: {0}")]
    Schema(String),

    /// An input or output file that cannot be used.
    #[error("{path}: {reason}")]
    File { path: String, reason: String },

    /// Writing the result failed: a full disk, a closed descriptor, an I/O error.
    #[error("cannot write the result to {target}: {reason}")]
    Write { target: String, reason: String },

    /// Standard output's reader has gone (a closed pipe, as with `| head`): the command stops
    /// quietly with exit status 141.
    #[error("standard output was closed by its reader")]
    OutputClosed,

    /// Bad command-line usage detected after argument parsing (exit status 2).
    #[error("{0}")]
    Usage(String),

    /// The query was cancelled through its [`crate::Cancel`] flag (in `qjit`, by Ctrl-C).
    #[error("interrupted: the query was cancelled before it finished")]
    Cancelled,

    /// State that would grow past the memory limit of a query
    /// ([`crate::QueryOptions::memory_limit`]).
    #[error("{}", memory_limit_message(*what, *limit, "the memory limit"))]
    MemoryLimit { what: MemoryUse, limit: u64 },

    /// An error DataFusion reported, for a query qjit handed to it (joins, several tables, SQL
    /// qjit's own engine does not take).
    #[error("{0}")]
    DataFusion(String),

    /// A Ballista cluster could not be reached, started or used (`qjit scheduler`, `qjit
    /// executor`, `qjit query --cluster`).
    #[error("{0}")]
    Cluster(String),

    /// A bug in qjit: an invariant that the front end should have guaranteed did not hold.
    #[error("internal error (a bug in qjit, please report it): {0}")]
    Internal(String),
}

/// What a query's memory was reserved for ([`Error::MemoryLimit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryUse {
    /// Hash tables, group keys and accumulators of a `GROUP BY` (or of aggregates without keys).
    GroupBy,
    /// The rows a query without aggregates collects before `DISTINCT`, `ORDER BY` and output.
    Rows,
}

/// A byte count for people: `512 bytes`, `1.0 KiB`, `3.5 GiB`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The message of [`Error::MemoryLimit`]: what needs the memory, the limit, and what to do
/// (raise `setting`: the option's name where the query was started).
fn memory_limit_message(what: MemoryUse, limit: u64, setting: &str) -> String {
    let limit = format_bytes(limit);
    match what {
        MemoryUse::GroupBy => format!(
            "the GROUP BY state needs more memory than the limit of {limit}; raise {setting} or group by fewer distinct values"
        ),
        MemoryUse::Rows => format!(
            "the rows the query collects need more memory than the limit of {limit}; raise {setting}, or select fewer rows (WHERE, LIMIT without ORDER BY) or columns"
        ),
    }
}

impl Error {
    /// The message as the `qjit` command prints it: where the library's message names a
    /// setting (the engine, the memory limit), the command line names its flag.
    pub fn command_line_message(&self) -> String {
        match self {
            Error::NotCompiled { what } => format!(
                "the JIT engine cannot compile {what}; run it with --engine auto or --engine interp"
            ),
            Error::MemoryLimit { what, limit } => {
                memory_limit_message(*what, *limit, "--memory-limit")
            }
            other => other.to_string(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The internal error of a panic caught on a worker thread, with its message.
    pub fn from_panic(panic: &Box<dyn std::any::Any + Send>) -> Error {
        let what = panic
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        Error::internal(format!("a worker thread panicked: {what}"))
    }

    /// A type error with no position.
    pub fn type_error(message: impl Into<String>) -> Error {
        Error::Type {
            message: message.into(),
            position: None,
        }
    }

    /// An unsupported construct with no position.
    pub fn unsupported(what: impl Into<String>) -> Error {
        Error::Unsupported {
            what: what.into(),
            position: None,
        }
    }

    /// A planning error with no position.
    pub fn plan(message: impl Into<String>) -> Error {
        Error::Plan {
            message: message.into(),
            position: None,
        }
    }

    /// An internal error (a bug).
    pub fn internal(message: impl Into<String>) -> Error {
        Error::Internal(message.into())
    }

    /// An overflow of type `ty` in `what`.
    pub fn overflow(ty: impl fmt::Display, what: impl Into<String>) -> Error {
        Error::Overflow {
            ty: ty.to_string(),
            what: what.into(),
        }
    }

    /// Attaches a position to a front-end error that does not have one yet.
    pub fn at(mut self, pos: Option<Position>) -> Error {
        if let Some(position) = self.position_mut() {
            if position.is_none() {
                *position = pos;
            }
        }
        self
    }

    /// The position in the SQL text of a front-end error (`None` for other errors).
    pub fn position_mut(&mut self) -> Option<&mut Option<Position>> {
        match self {
            Error::Syntax { position, .. }
            | Error::UnknownColumn { position, .. }
            | Error::UnknownTable { position, .. }
            | Error::UnknownFunction { position, .. }
            | Error::Type { position, .. }
            | Error::Unsupported { position, .. }
            | Error::Plan { position, .. } => Some(position),
            _ => None,
        }
    }

    /// The process exit status for this error: 2 for usage, 130 for a cancelled query (as a
    /// shell reports a process stopped by Ctrl-C), 141 when standard output's reader has gone
    /// (as a shell reports a process stopped by `SIGPIPE`), 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Cancelled => 130,
            Error::OutputClosed => 141,
            _ => 1,
        }
    }
}

impl From<arrow::error::ArrowError> for Error {
    /// Arrow errors reaching qjit's boundary: arithmetic failures keep their meaning, anything
    /// else from a compute kernel means qjit passed it something it should not have.
    fn from(e: arrow::error::ArrowError) -> Error {
        use arrow::error::ArrowError;
        match e {
            ArrowError::DivideByZero => Error::DivisionByZero,
            ArrowError::ArithmeticOverflow(what) => Error::overflow("value", what),
            ArrowError::ExternalError(inner) => match inner.downcast::<Error>() {
                Ok(e) => *e,
                Err(inner) => Error::Internal(inner.to_string()),
            },
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<Error> for arrow::error::ArrowError {
    /// Lets qjit errors travel through arrow callbacks (such as a Parquet `ArrowPredicate`).
    fn from(e: Error) -> arrow::error::ArrowError {
        arrow::error::ArrowError::ExternalError(Box::new(e))
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `name` (case-insensitive), if it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count().max(3) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_pick_near_names_only() {
        let cols = ["l_shipdate", "l_quantity", "l_tax"];
        assert_eq!(closest("l_shipdat", cols), Some("l_shipdate".into()));
        assert_eq!(closest("L_QUANTTY", cols), Some("l_quantity".into()));
        assert_eq!(closest("price", cols), None);
    }

    #[test]
    fn messages_read_as_sentences() {
        let e = Error::UnknownColumn {
            name: "l_shipdat".into(),
            table: "lineitem".into(),
            suggestion: Some("l_shipdate".into()),
            position: Some(Position { line: 1, column: 8 }),
            double_quoted: false,
        };
        assert_eq!(
            e.to_string(),
            "unknown column 'l_shipdat' at line 1, column 8 in table 'lineitem'; did you mean 'l_shipdate'?"
        );
        let e = Error::UnknownColumn {
            name: "A".into(),
            table: "lineitem".into(),
            suggestion: None,
            position: Some(Position {
                line: 1,
                column: 52,
            }),
            double_quoted: true,
        };
        assert_eq!(
            e.to_string(),
            "unknown column 'A' at line 1, column 52 in table 'lineitem'; a string takes single quotes: 'A'"
        );
    }
}
