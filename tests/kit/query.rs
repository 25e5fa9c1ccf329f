//! Random well-typed queries over the kit's table ([`super::table`]), as SQL text.
//!
//! In: a [`Kind`] and a depth ([`expr`]), or nothing ([`projection`], [`aggregation`],
//! [`query`]). Out: strategies of SQL text, expressions and [`Query`]s, built bottom-up from
//! columns and literals of each kind with operators that keep them well typed: arithmetic on
//! integers of every width, decimals and floats, comparisons, Kleene logic, `CASE` (both
//! forms), `CAST`, `COALESCE`/`NULLIF`, `IN`, `BETWEEN`, `LIKE` (with `ESCAPE`),
//! `IS [NOT] DISTINCT FROM`, string functions, date ± interval, `EXTRACT` and date − date.
//! The binder accepts nearly every query, so both engines get to run it; values may still
//! overflow, divide by zero or fail a cast, and those errors must agree too.
//!
//! Aggregations mix those random expressions with a curated list of group keys, aggregate
//! arguments and predicates that the aggregation kernel compiles (so that most of them run
//! compiled), with `COUNT(*)`, `COUNT`/`SUM`/`AVG`/`MIN`/`MAX`, each over `DISTINCT` values
//! too, `HAVING`, `ORDER BY` and `LIMIT`.
//!
//! Everything shrinks toward leaves (a column before a literal), earlier alternatives, fewer
//! items and no optional clauses.

use std::fmt;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::BoxedStrategy;

use super::one_of::{maybe, OneOf};

/// The type class of a generated expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    Decimal,
    Float,
    Bool,
    Str,
    Date,
}

/// Every kind, in the order of [`Kind::index`].
pub const KINDS: [Kind; 6] = [
    Kind::Int,
    Kind::Decimal,
    Kind::Float,
    Kind::Bool,
    Kind::Str,
    Kind::Date,
];

impl Kind {
    fn index(self) -> usize {
        self as usize
    }

    fn is_numeric(self) -> bool {
        matches!(self, Kind::Int | Kind::Decimal | Kind::Float)
    }

    /// The table's columns of this kind.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Kind::Int => &["a", "y", "k", "z", "i", "w", "l", "u"],
            Kind::Decimal => &["d", "dd"],
            Kind::Float => &["f", "r"],
            Kind::Bool => &["b"],
            Kind::Str => &["s", "ls", "vs", "ds", "dl"],
            Kind::Date => &["dt"],
        }
    }

    /// Literals of this kind, edge values included.
    fn literals(self) -> &'static [&'static str] {
        match self {
            Kind::Int => &[
                "0",
                "1",
                "-1",
                "2",
                "7",
                "-3",
                "127",
                "-128",
                "32767",
                "2147483647",
                "-2147483648",
                "2147483648",
                "9223372036854775807",
                "-9223372036854775808",
                "CAST(NULL AS INT)",
                "CAST(255 AS UTINYINT)",
                "CAST(3 AS SMALLINT)",
            ],
            Kind::Decimal => &[
                "0.5",
                "1.25",
                "-0.01",
                "100.000",
                "-12.5",
                "0.0",
                "99999999999999999999999999999999999999",
                "0.00000000000000000001",
                "CAST(NULL AS DECIMAL(5,2))",
                "CAST(1 AS DECIMAL(38,10))",
            ],
            Kind::Float => &[
                "CAST(1.5 AS DOUBLE)",
                "CAST(-0.0 AS DOUBLE)",
                "CAST('NaN' AS DOUBLE)",
                "CAST('inf' AS DOUBLE)",
                "CAST('-inf' AS DOUBLE)",
                "1e300",
                "2.5e-3",
                "CAST(0.1 AS REAL)",
                "CAST(NULL AS DOUBLE)",
            ],
            Kind::Bool => &["TRUE", "FALSE", "NULL", "CAST(NULL AS BOOLEAN)"],
            Kind::Str => &[
                "''",
                "'a'",
                "'abcd'",
                "'héllo wörld'",
                "'ß'",
                "'abcdXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX'",
                "'12'",
                "'-3.5'",
                "'x'",
                "CAST(NULL AS VARCHAR)",
            ],
            Kind::Date => &[
                "DATE '2000-01-01'",
                "DATE '1970-01-01'",
                "DATE '2024-02-29'",
                "DATE '0001-01-01'",
                "DATE '9999-12-31'",
                "CAST(NULL AS DATE)",
            ],
        }
    }

    /// Target types of a `CAST` to this kind.
    fn cast_types(self) -> &'static [&'static str] {
        match self {
            Kind::Int => &[
                "TINYINT",
                "SMALLINT",
                "INT",
                "BIGINT",
                "UTINYINT",
                "USMALLINT",
                "UINTEGER",
                "UBIGINT",
            ],
            Kind::Decimal => &[
                "DECIMAL(5,2)",
                "DECIMAL(10,0)",
                "DECIMAL(18,4)",
                "DECIMAL(38,0)",
                "DECIMAL(38,10)",
                "DECIMAL(3,3)",
            ],
            Kind::Float => &["DOUBLE", "REAL"],
            Kind::Bool => &["BOOLEAN"],
            Kind::Str => &["VARCHAR"],
            Kind::Date => &["DATE"],
        }
    }

    /// The kinds that cast to this kind.
    fn cast_sources(self) -> &'static [Kind] {
        match self {
            // Numbers cast between each other and from strings (which may fail).
            Kind::Int | Kind::Decimal | Kind::Float => {
                &[Kind::Int, Kind::Decimal, Kind::Float, Kind::Str]
            }
            Kind::Str => &KINDS,
            Kind::Date => &[Kind::Date, Kind::Str],
            Kind::Bool => &[Kind::Bool, Kind::Int, Kind::Str],
        }
    }
}

/// The deepest expression [`expr`] makes.
pub const MAX_DEPTH: u32 = 4;

/// Strategies of every kind at every depth: `levels[d][kind]` makes expressions at most `d`
/// operators deep. Each level refers to the one below, so building them all is linear in the
/// depth.
struct Grammar {
    levels: Vec<Vec<BoxedStrategy<String>>>,
}

thread_local! {
    static GRAMMAR: Grammar = Grammar::new();
}

/// Expressions of `kind` at most `depth` operators deep (at most [`MAX_DEPTH`]).
pub fn expr(kind: Kind, depth: u32) -> BoxedStrategy<String> {
    GRAMMAR.with(|g| g.levels[depth.min(MAX_DEPTH) as usize][kind.index()].clone())
}

/// A column (more often) or a literal of `kind`.
fn leaf(kind: Kind) -> BoxedStrategy<String> {
    one_of![
        2 => select(kind.columns()),
        1 => select(kind.literals()),
    ]
    .prop_map(str::to_string)
    .boxed()
}

/// One of `f(kind)` for every kind in `kinds`.
fn any_of(kinds: &[Kind], f: impl Fn(Kind) -> BoxedStrategy<String>) -> BoxedStrategy<String> {
    OneOf::new(kinds.iter().map(|&k| (1, f(k))).collect()).boxed()
}

/// `" NOT"` or nothing.
fn not() -> impl Strategy<Value = &'static str> {
    select(&["", " NOT"][..])
}

impl Grammar {
    fn new() -> Grammar {
        let mut levels: Vec<Vec<BoxedStrategy<String>>> = vec![KINDS.map(leaf).to_vec()];
        for _ in 0..MAX_DEPTH {
            let below = levels.last().expect("level 0").clone();
            let next = KINDS
                .iter()
                .map(|&kind| Grammar::level(kind, &below))
                .collect();
            levels.push(next);
        }
        Grammar { levels }
    }

    /// Expressions of `kind` whose operands come from `below`.
    fn level(kind: Kind, below: &[BoxedStrategy<String>]) -> BoxedStrategy<String> {
        let sub = |k: Kind| below[k.index()].clone();
        let common = one_of![
            case(kind, below),
            proptest::collection::vec(sub(kind), 1..=3)
                .prop_map(|items| format!("COALESCE({})", items.join(", "))),
            (sub(kind), sub(kind)).prop_map(|(a, b)| format!("NULLIF({a}, {b})")),
            any_of(kind.cast_sources(), |from| {
                (sub(from), select(kind.cast_types()))
                    .prop_map(|(x, ty)| format!("CAST({x} AS {ty})"))
                    .boxed()
            }),
        ];
        let own = match kind {
            Kind::Int | Kind::Decimal | Kind::Float => arithmetic(kind, below),
            Kind::Bool => predicate(below),
            Kind::Str => string(below),
            Kind::Date => date(below),
        };
        one_of![
            1 => leaf(kind),
            1 => common,
            2 => own,
        ]
        .boxed()
    }
}

/// `CASE WHEN … THEN … END` of `kind`, searched or simple.
fn case(kind: Kind, below: &[BoxedStrategy<String>]) -> BoxedStrategy<String> {
    let sub = |k: Kind| below[k.index()].clone();
    let otherwise = maybe(0.5, sub(kind));
    let searched = (
        proptest::collection::vec((sub(Kind::Bool), sub(kind)), 1..=3),
        otherwise.clone(),
    )
        .prop_map(|(whens, otherwise)| case_sql(None, whens, otherwise));
    let simple = any_of(&KINDS, |operand| {
        (
            sub(operand),
            proptest::collection::vec((sub(operand), sub(kind)), 1..=3),
            otherwise.clone(),
        )
            .prop_map(|(x, whens, otherwise)| case_sql(Some(x), whens, otherwise))
            .boxed()
    });
    one_of![2 => searched, 1 => simple].boxed()
}

fn case_sql(
    operand: Option<String>,
    whens: Vec<(String, String)>,
    otherwise: Option<String>,
) -> String {
    let mut sql = String::from("CASE");
    if let Some(x) = operand {
        sql.push_str(&format!(" {x}"));
    }
    for (when, then) in whens {
        sql.push_str(&format!(" WHEN {when} THEN {then}"));
    }
    if let Some(e) = otherwise {
        sql.push_str(&format!(" ELSE {e}"));
    }
    sql.push_str(" END");
    sql
}

/// Arithmetic of a numeric `kind`; integers also from strings and dates.
fn arithmetic(kind: Kind, below: &[BoxedStrategy<String>]) -> BoxedStrategy<String> {
    let sub = |k: Kind| below[k.index()].clone();
    let ops = select(&["+", "-", "*", "/", "%"][..]);
    // The other operand: the same kind, or an integer (which meets a decimal or a float).
    let binary = one_of![
        (sub(kind), ops.clone(), sub(kind)),
        (sub(kind), ops.clone(), sub(Kind::Int)),
        (sub(Kind::Int), ops, sub(kind)),
    ]
    .prop_map(|(a, op, b)| format!("({a} {op} {b})"));
    let unary = one_of![
        sub(kind).prop_map(|x| format!("(-{x})")),
        sub(kind).prop_map(|x| format!("ABS({x})")),
    ];
    let special = if kind == Kind::Int {
        one_of![
            sub(Kind::Str).prop_map(|x| format!("LENGTH({x})")),
            sub(Kind::Str).prop_map(|x| format!("CHAR_LENGTH({x})")),
            (select(&["YEAR", "MONTH", "DAY"][..]), sub(Kind::Date))
                .prop_map(|(field, x)| format!("EXTRACT({field} FROM {x})")),
            (sub(Kind::Date), sub(Kind::Date)).prop_map(|(a, b)| format!("({a} - {b})")),
        ]
        .boxed()
    } else {
        one_of![
            sub(kind).prop_map(|x| format!("ROUND({x})")),
            (sub(kind), -3i8..=5).prop_map(|(x, digits)| format!("ROUND({x}, {digits})")),
        ]
        .boxed()
    };
    one_of![5 => binary, 2 => unary, 2 => special].boxed()
}

/// Boolean expressions: comparisons, logic, NULL tests, `IN`, `BETWEEN`, `LIKE`.
fn predicate(below: &[BoxedStrategy<String>]) -> BoxedStrategy<String> {
    let sub = |k: Kind| below[k.index()].clone();
    let compare = any_of(&KINDS, |k| {
        // Numbers of different kinds compare with each other.
        let other = if k.is_numeric() {
            one_of![
                2 => sub(k),
                1 => any_of(&[Kind::Int, Kind::Decimal, Kind::Float], sub),
            ]
            .boxed()
        } else {
            sub(k)
        };
        (
            sub(k),
            select(&["=", "<>", "<", "<=", ">", ">="][..]),
            other,
        )
            .prop_map(|(a, op, b)| format!("({a} {op} {b})"))
            .boxed()
    });
    let logic = (sub(Kind::Bool), select(&["AND", "OR"][..]), sub(Kind::Bool))
        .prop_map(|(a, op, b)| format!("({a} {op} {b})"));
    let negation = sub(Kind::Bool).prop_map(|x| format!("(NOT {x})"));
    let is_null = any_of(&KINDS, |k| {
        (sub(k), not())
            .prop_map(|(x, not)| format!("({x} IS{not} NULL)"))
            .boxed()
    });
    // The list's items are leaves (the lists the binder folds into a set of constants).
    let in_list = any_of(&KINDS, |k| {
        (sub(k), not(), proptest::collection::vec(leaf(k), 1..=4))
            .prop_map(|(x, not, items)| format!("({x}{not} IN ({}))", items.join(", ")))
            .boxed()
    });
    let between = any_of(&KINDS, |k| {
        (sub(k), not(), sub(k), sub(k))
            .prop_map(|(x, not, lo, hi)| format!("({x}{not} BETWEEN {lo} AND {hi})"))
            .boxed()
    });
    let like = (sub(Kind::Str), not(), select(LIKE_PATTERNS)).prop_map(|(x, not, pattern)| {
        let escape = if pattern.contains('\\') {
            " ESCAPE '\\'"
        } else {
            ""
        };
        format!("({x}{not} LIKE {pattern}{escape})")
    });
    let distinct = any_of(&KINDS, |k| {
        (sub(k), not(), sub(k))
            .prop_map(|(a, not, b)| format!("({a} IS{not} DISTINCT FROM {b})"))
            .boxed()
    });
    one_of![
        2 => compare,
        1 => logic,
        1 => negation,
        1 => is_null,
        1 => in_list,
        1 => between,
        2 => like,
        1 => distinct,
    ]
    .boxed()
}

/// LIKE patterns: anchored and not, `_` on multi-byte characters, an escaped `%`.
const LIKE_PATTERNS: &[&str] = &[
    "'a%'",
    "'%'",
    "'_'",
    "'%b_c'",
    "'%X%'",
    "'h_llo%'",
    "'%é%'",
    "''",
    "'abcd'",
    "'%%'",
    "'a\\%b%'",
    "'_%_'",
    "'日本%'",
    "'%Y'",
];

/// String functions and concatenation.
fn string(below: &[BoxedStrategy<String>]) -> BoxedStrategy<String> {
    let sub = |k: Kind| below[k.index()].clone();
    let starts = select(&["1", "2", "0", "-1", "5", "100"][..]);
    one_of![
        1 => (select(&["UPPER", "LOWER"][..]), sub(Kind::Str))
            .prop_map(|(f, x)| format!("{f}({x})")),
        1 => (sub(Kind::Str), starts.clone(), select(&["0", "1", "3", "-1", "40"][..]))
            .prop_map(|(x, start, len)| format!("SUBSTRING({x}, {start}, {len})")),
        1 => (sub(Kind::Str), starts).prop_map(|(x, start)| format!("SUBSTR({x}, {start})")),
        1 => (sub(Kind::Str), sub(Kind::Int))
            .prop_map(|(x, start)| format!("SUBSTRING({x} FROM {start} FOR 2)")),
        2 => (sub(Kind::Str), sub(Kind::Str)).prop_map(|(a, b)| format!("({a} || {b})")),
    ]
    .boxed()
}

/// Dates plus or minus an interval.
fn date(below: &[BoxedStrategy<String>]) -> BoxedStrategy<String> {
    (
        below[Kind::Date.index()].clone(),
        select(&["+", "-"][..]),
        select(&["1", "-1", "30", "0", "12", "400", "2147483647"][..]),
        select(&["DAY", "MONTH", "YEAR", "WEEK"][..]),
    )
        .prop_map(|(x, op, n, unit)| format!("({x} {op} INTERVAL '{n}' {unit})"))
        .boxed()
}

/// A query, in parts; [`Query::sql`] (and `Debug`) is its text.
#[derive(Clone, PartialEq)]
pub struct Query {
    pub select: Vec<String>,
    pub filter: Option<String>,
    pub group_by: Vec<String>,
    pub having: Option<String>,
    /// Ordinals into the SELECT list (1-based) and a direction.
    pub order_by: Vec<(usize, &'static str)>,
    pub limit: Option<u8>,
}

impl Query {
    /// The query's SQL.
    pub fn sql(&self) -> String {
        let mut sql = format!(
            "SELECT {} FROM {}",
            self.select.join(", "),
            super::table::TABLE
        );
        if let Some(f) = &self.filter {
            sql.push_str(&format!(" WHERE {f}"));
        }
        if !self.group_by.is_empty() {
            sql.push_str(&format!(" GROUP BY {}", self.group_by.join(", ")));
        }
        if let Some(h) = &self.having {
            sql.push_str(&format!(" HAVING {h}"));
        }
        if !self.order_by.is_empty() {
            let keys: Vec<String> = self
                .order_by
                .iter()
                .map(|(ordinal, dir)| format!("{ordinal}{dir}"))
                .collect();
            sql.push_str(&format!(" ORDER BY {}", keys.join(", ")));
        }
        if let Some(n) = self.limit {
            sql.push_str(&format!(" LIMIT {n}"));
        }
        sql
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sql())
    }
}

impl fmt::Debug for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.sql())
    }
}

/// The directions of an ORDER BY key.
const DIRECTIONS: &[&str] = &["", " DESC", " ASC NULLS FIRST", " DESC NULLS LAST"];

/// A projection: one to three expressions of any kinds at most `depth` deep, an optional
/// `WHERE`, sometimes an `ORDER BY` one output and a `LIMIT`.
pub fn projection(depth: u32) -> impl Strategy<Value = Query> {
    let item = any_of(&KINDS, |k| expr(k, depth));
    (
        proptest::collection::vec(item, 1..=3),
        maybe(0.5, expr(Kind::Bool, depth)),
        maybe(0.3, (1..=3usize, select(DIRECTIONS))),
        maybe(0.2, 0..=5u8),
    )
        .prop_map(|(select, filter, order, limit)| Query {
            order_by: order
                .map(|(ordinal, dir)| (1 + (ordinal - 1) % select.len(), dir))
                .into_iter()
                .collect(),
            select,
            filter,
            group_by: vec![],
            having: None,
            limit,
        })
}

/// Group keys the aggregation kernel compiles: columns of every type and expressions over them.
const KEYS: &[&str] = &[
    "k",
    "i",
    "l",
    "u",
    "a",
    "y",
    "z",
    "w",
    "f",
    "r",
    "d",
    "dd",
    "dt",
    "b",
    "s",
    "ls",
    "vs",
    "ds",
    "dl",
    "k + 1",
    "i % 3",
    "f * 2",
    "d * 2",
    "-d",
    "EXTRACT(YEAR FROM dt)",
    "dt + INTERVAL '1' DAY",
    "LENGTH(s)",
    "SUBSTRING(vs, 2, 3)",
    "CASE WHEN b THEN 1 ELSE 0 END",
    "COALESCE(k, 0)",
    "NULLIF(k, 0)",
    "k = 1",
    "ROUND(d)",
    "l / k",
    "i + 1",
    "CAST(i AS BIGINT)",
    "SUBSTRING(s, 1, 2)",
    "SUBSTRING(ds, 2)",
    "LENGTH(vs)",
    "CAST(f AS REAL)",
    "r + 1",
    "u % 7",
    "-f",
    "f + 0",
    "CASE WHEN k > 1 THEN s ELSE vs END",
    "COALESCE(vs, ls)",
    "CASE WHEN b THEN d END",
    "NULL",
    "CAST(NULL AS INT)",
    "1",
    "'x'",
    "UPPER(s)",
    "LOWER(vs)",
    "UPPER(SUBSTRING(ds, 1, 1))",
    "LOWER(ls) || 'x'",
    "s || vs",
    "CAST(dd AS DOUBLE)",
    "CAST(k AS VARCHAR)",
];

/// Aggregate arguments the aggregation kernel compiles, and whether they are numbers (which
/// `SUM` and `AVG` take; others go to `MIN`, `MAX` and `COUNT`).
const ARGS: &[(&str, bool)] = &[
    ("k", true),
    ("i", true),
    ("l", true),
    ("u", true),
    ("a", true),
    ("y", true),
    ("z", true),
    ("w", true),
    ("f", true),
    ("r", true),
    ("d", true),
    ("dd", true),
    ("dt", false),
    ("b", false),
    ("s", false),
    ("vs", false),
    ("i * k", true),
    ("l + i", true),
    ("l * 2", true),
    ("f + r", true),
    ("d * k", true),
    ("dd * 10", true),
    ("dd + d", true),
    ("l / k", true),
    ("i % k", true),
    ("CAST(l AS DECIMAL(38,0))", true),
    ("f / k", true),
    ("CASE WHEN b THEN f END", true),
    ("ABS(i)", true),
    ("ROUND(d, 1)", true),
    ("LENGTH(ls)", true),
    ("d / 3", true),
    ("COALESCE(k, 0)", true),
    ("NULLIF(i, 0)", true),
    ("dt + INTERVAL '1' MONTH", false),
    ("-f", true),
    ("r * r", true),
    ("CASE WHEN k > 1 THEN d END", true),
    ("u + 1", true),
    ("CAST(u AS DECIMAL(38,0))", true),
    ("k * 1.5", true),
    ("EXTRACT(DAY FROM dt)", true),
    ("LENGTH(vs)", true),
    ("k > 1", false),
    ("dl", false),
    ("CAST(f AS INT)", true),
    ("CAST(r AS BIGINT)", true),
    ("1", true),
    ("2.5", true),
    ("CAST(NULL AS BIGINT)", true),
    ("NULL", false),
    ("CAST(2.5 AS DOUBLE)", true),
    ("CAST(dd AS DOUBLE)", true),
    ("CAST(d AS DOUBLE) * CAST(dd AS DOUBLE)", true),
    ("UPPER(s)", false),
    ("LOWER(dl)", false),
    ("ls || UPPER(vs)", false),
    ("CAST(i AS VARCHAR)", false),
    ("-(d * k)", true),
    ("d * d * d", true),
    ("CAST(i AS DECIMAL(12,2)) - d", true),
    ("CAST(d AS DECIMAL(9,3))", true),
    ("y * z", true),
    ("w + a", true),
];

/// Predicates over the table, some of which fail (a division by zero) on rows they see.
const PREDICATES: &[&str] = &[
    "k > 0",
    "b",
    "NOT b",
    "i IS NOT NULL",
    "f > 0.5",
    "s LIKE 'a%'",
    "dt > DATE '2000-01-01'",
    "k <> 0 AND l / k > 1",
    "l / k > 1",
    "d < 0",
    "vs = 'abcd'",
    "u > 5",
    "f = f",
    "k IN (1, 2)",
    "i % 2 = 0",
    "k = 0",
    "FALSE",
    "NULL",
    "f > 0.5 OR NULL",
    "ds = dl",
    "vs < s",
    "y > z",
];

/// HAVING conditions.
const HAVING: &[&str] = &[
    "COUNT(*) > 1",
    "COUNT(*) >= 1",
    "MIN(k) IS NOT NULL",
    "SUM(i) > 0",
    "MAX(f) > 1",
    "COUNT(DISTINCT s) > 1",
];

/// A group key: mostly one of [`KEYS`], sometimes a random expression (never a bare number,
/// which `GROUP BY` reads as an ordinal).
fn group_key() -> BoxedStrategy<String> {
    let random = any_of(&KINDS, |k| expr(k, 2)).prop_map(|key| {
        if key.parse::<f64>().is_ok() {
            format!("({key} + 0)")
        } else {
            key
        }
    });
    one_of![
        3 => select(KEYS).prop_map(str::to_string),
        1 => random,
    ]
    .boxed()
}

/// An aggregate call: `COUNT(*)`, or a function over one of [`ARGS`] or a random expression,
/// over `DISTINCT` values one time in five.
fn aggregate_call(depth: u32) -> BoxedStrategy<String> {
    let distinct = one_of![4 => Just(""), 1 => Just("DISTINCT ")];
    let numeric = &["COUNT", "SUM", "AVG", "MIN", "MAX"][..];
    let ordered = &["COUNT", "MIN", "MAX"][..];
    let curated = (select(ARGS), select(numeric), distinct.clone()).prop_map(
        |((arg, is_number), f, distinct)| {
            // Sums and averages of non-numbers become MIN and MAX.
            let f = match f {
                "SUM" if !is_number => "MIN",
                "AVG" if !is_number => "MAX",
                f => f,
            };
            format!("{f}({distinct}{arg})")
        },
    );
    let random = any_of(&KINDS, move |k| {
        let funcs = if k.is_numeric() { numeric } else { ordered };
        (select(funcs), distinct.clone(), expr(k, depth))
            .prop_map(|(f, distinct, arg)| format!("{f}({distinct}{arg})"))
            .boxed()
    });
    one_of![
        1 => Just("COUNT(*)".to_string()),
        4 => curated,
        2 => random,
    ]
    .boxed()
}

/// A `WHERE` clause: one or two of [`PREDICATES`] joined by `AND` or `OR`, or a random
/// predicate.
fn aggregation_filter(depth: u32) -> BoxedStrategy<String> {
    let curated = (
        proptest::collection::vec(select(PREDICATES), 1..=2),
        select(&[" AND ", " OR "][..]),
    )
        .prop_map(|(preds, join)| {
            let preds: Vec<String> = preds.iter().map(|p| format!("({p})")).collect();
            preds.join(join)
        });
    one_of![3 => curated, 1 => expr(Kind::Bool, depth)].boxed()
}

/// A HAVING condition: one of [`HAVING`] or a comparison of an aggregate of a random
/// expression.
fn having() -> BoxedStrategy<String> {
    one_of![
        3 => select(HAVING).prop_map(str::to_string),
        1 => expr(Kind::Int, 1).prop_map(|x| format!("SUM({x}) > 0")),
        1 => expr(Kind::Str, 1).prop_map(|x| format!("MAX({x}) IS NOT NULL")),
        1 => expr(Kind::Decimal, 1).prop_map(|x| format!("MIN({x}) < 1")),
    ]
    .boxed()
}

/// An aggregation, grouped (by up to three keys) or not: one to four aggregate calls, an
/// optional `WHERE` and `HAVING`, ordered by every key, by one output, or not at all, and
/// sometimes a `LIMIT`. Aggregate arguments and random keys are at most `depth` deep.
pub fn aggregation(depth: u32) -> impl Strategy<Value = Query> {
    (
        proptest::collection::vec(group_key(), 0..=3),
        proptest::collection::vec(aggregate_call(depth), 1..=4),
        maybe(0.5, aggregation_filter(depth)),
        maybe(0.25, having()),
        maybe(0.2, 0..=5u8),
        0..3u8,
        1..=7usize,
        select(DIRECTIONS),
    )
        .prop_map(
            |(keys, calls, filter, having, limit, order, ordinal, dir)| {
                let outputs = keys.len() + calls.len();
                let order_by = match order {
                    // Every key, so that the rows have one order.
                    0 => (1..=keys.len()).map(|o| (o, "")).collect(),
                    1 => vec![(1 + (ordinal - 1) % outputs, dir)],
                    _ => vec![],
                };
                let mut select = keys.clone();
                select.extend(calls);
                Query {
                    select,
                    filter,
                    group_by: keys,
                    having,
                    order_by,
                    limit,
                }
            },
        )
}

/// Any query: a projection or an aggregation, at most one to [`MAX_DEPTH`] operators deep.
pub fn query() -> impl Strategy<Value = Query> {
    let options = (1..=MAX_DEPTH)
        .flat_map(|depth| {
            [
                (1, projection(depth).boxed()),
                (1, aggregation(depth).boxed()),
            ]
        })
        .collect();
    OneOf::new(options)
}
