//! Random well-typed SQL: fuzz bytes → the text of a query over [`crate::table`]'s columns.
//!
//! [`expr`] builds an expression of a requested [`Kind`] bottom-up from columns and literals with
//! operators that keep it well typed (arithmetic, comparisons, Kleene logic, `CASE`, `CAST`,
//! `COALESCE`/`NULLIF`, `IN`, `BETWEEN`, `LIKE`, string and date functions), so that the binder
//! accepts nearly every query and both engines get to run it. Values may still overflow,
//! divide by zero or fail a cast: those errors must agree too. [`query`] wraps expressions in a
//! projection or an aggregation with `GROUP BY`, an optional `WHERE`, `HAVING`, `ORDER BY` and
//! `LIMIT`.

use arbitrary::{Result, Unstructured};

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

const KINDS: &[Kind] = &[
    Kind::Int,
    Kind::Decimal,
    Kind::Float,
    Kind::Bool,
    Kind::Str,
    Kind::Date,
];

/// Columns of each kind.
fn columns(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Int => &["a", "k", "i", "l", "w", "u"],
        Kind::Decimal => &["d", "dd"],
        Kind::Float => &["f", "r"],
        Kind::Bool => &["b"],
        Kind::Str => &["s", "ls", "vs", "ds"],
        Kind::Date => &["dt"],
    }
}

/// Literals of each kind, edge values included.
fn literals(kind: Kind) -> &'static [&'static str] {
    match kind {
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

/// Target types of `CAST` to each kind.
fn cast_types(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Int => &[
            "TINYINT", "SMALLINT", "INT", "BIGINT", "UTINYINT", "UINTEGER", "UBIGINT",
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

fn is_numeric(kind: Kind) -> bool {
    matches!(kind, Kind::Int | Kind::Decimal | Kind::Float)
}

/// An expression of `kind`, at most `depth` operators deep.
pub fn expr(u: &mut Unstructured, kind: Kind, depth: u32) -> Result<String> {
    if depth == 0 || u.is_empty() || u.ratio(1, 4)? {
        return leaf(u, kind);
    }
    let d = depth - 1;
    // Constructs every kind has.
    match u.int_in_range(0..=9u8)? {
        0 => return case(u, kind, d),
        1 => {
            let n = u.int_in_range(1..=3usize)?;
            let items = (0..n)
                .map(|_| expr(u, kind, d))
                .collect::<Result<Vec<_>>>()?;
            return Ok(format!("COALESCE({})", items.join(", ")));
        }
        2 => {
            return Ok(format!(
                "NULLIF({}, {})",
                expr(u, kind, d)?,
                expr(u, kind, d)?
            ))
        }
        3 => return cast(u, kind, d),
        _ => {}
    }
    match kind {
        Kind::Int | Kind::Decimal | Kind::Float => arithmetic(u, kind, d),
        Kind::Bool => predicate(u, d),
        Kind::Str => string(u, d),
        Kind::Date => date(u, d),
    }
}

/// A column or a literal of `kind`.
fn leaf(u: &mut Unstructured, kind: Kind) -> Result<String> {
    if u.ratio(2, 3)? {
        Ok((*u.choose(columns(kind))?).to_string())
    } else {
        Ok((*u.choose(literals(kind))?).to_string())
    }
}

fn case(u: &mut Unstructured, kind: Kind, d: u32) -> Result<String> {
    let mut sql = String::from("CASE");
    if u.ratio(1, 3)? {
        // The simple form: CASE x WHEN v THEN …
        let operand_kind = *u.choose(KINDS)?;
        sql.push_str(&format!(" {}", expr(u, operand_kind, d)?));
        for _ in 0..u.int_in_range(1..=3u8)? {
            sql.push_str(&format!(
                " WHEN {} THEN {}",
                expr(u, operand_kind, d)?,
                expr(u, kind, d)?
            ));
        }
    } else {
        for _ in 0..u.int_in_range(1..=3u8)? {
            sql.push_str(&format!(
                " WHEN {} THEN {}",
                expr(u, Kind::Bool, d)?,
                expr(u, kind, d)?
            ));
        }
    }
    if u.arbitrary()? {
        sql.push_str(&format!(" ELSE {}", expr(u, kind, d)?));
    }
    sql.push_str(" END");
    Ok(sql)
}

/// `CAST(x AS <a type of kind>)` from a kind that casts to it.
fn cast(u: &mut Unstructured, kind: Kind, d: u32) -> Result<String> {
    let from = match kind {
        // Numbers cast between each other and from strings (which may fail).
        Kind::Int | Kind::Decimal | Kind::Float => *u.choose(&[
            Kind::Int,
            Kind::Decimal,
            Kind::Float,
            Kind::Float,
            Kind::Str,
        ])?,
        Kind::Str => *u.choose(KINDS)?,
        Kind::Date => *u.choose(&[Kind::Date, Kind::Str])?,
        Kind::Bool => *u.choose(&[Kind::Bool, Kind::Int, Kind::Str])?,
    };
    Ok(format!(
        "CAST({} AS {})",
        expr(u, from, d)?,
        u.choose(cast_types(kind))?
    ))
}

fn arithmetic(u: &mut Unstructured, kind: Kind, d: u32) -> Result<String> {
    // The other operand: the same kind, or an integer (which meets a decimal or a float).
    let other = |u: &mut Unstructured| -> Result<Kind> {
        Ok(if u.ratio(1, 3)? { Kind::Int } else { kind })
    };
    Ok(match u.int_in_range(0..=9u8)? {
        0..=4 => {
            let op = u.choose(&["+", "-", "*", "/", "%"])?;
            let (a, b) = if u.arbitrary()? {
                (kind, other(u)?)
            } else {
                (other(u)?, kind)
            };
            format!("({} {op} {})", expr(u, a, d)?, expr(u, b, d)?)
        }
        5 => format!("(-{})", expr(u, kind, d)?),
        6 => format!("ABS({})", expr(u, kind, d)?),
        7 if kind != Kind::Int => {
            if u.arbitrary()? {
                format!("ROUND({})", expr(u, kind, d)?)
            } else {
                let digits = u.int_in_range(-3..=5i8)?;
                format!("ROUND({}, {digits})", expr(u, kind, d)?)
            }
        }
        8 if kind == Kind::Int => match u.int_in_range(0..=3u8)? {
            0 => format!("LENGTH({})", expr(u, Kind::Str, d)?),
            1 => {
                let field = u.choose(&["YEAR", "MONTH", "DAY"])?;
                format!("EXTRACT({field} FROM {})", expr(u, Kind::Date, d)?)
            }
            2 => format!(
                "({} - {})",
                expr(u, Kind::Date, d)?,
                expr(u, Kind::Date, d)?
            ),
            _ => format!("CHAR_LENGTH({})", expr(u, Kind::Str, d)?),
        },
        _ => leaf(u, kind)?,
    })
}

fn predicate(u: &mut Unstructured, d: u32) -> Result<String> {
    let comparable = |u: &mut Unstructured| -> Result<Kind> { u.choose(KINDS).copied() };
    Ok(match u.int_in_range(0..=11u8)? {
        0 | 1 => {
            let k = comparable(u)?;
            // Numbers of different kinds compare with each other.
            let k2 = if is_numeric(k) && u.ratio(1, 3)? {
                *u.choose(&[Kind::Int, Kind::Decimal, Kind::Float])?
            } else {
                k
            };
            let op = u.choose(&["=", "<>", "<", "<=", ">", ">="])?;
            format!("({} {op} {})", expr(u, k, d)?, expr(u, k2, d)?)
        }
        2 => {
            let op = u.choose(&["AND", "OR"])?;
            format!(
                "({} {op} {})",
                expr(u, Kind::Bool, d)?,
                expr(u, Kind::Bool, d)?
            )
        }
        3 => format!("(NOT {})", expr(u, Kind::Bool, d)?),
        4 => {
            let k = comparable(u)?;
            let not = if u.arbitrary()? { " NOT" } else { "" };
            format!("({} IS{not} NULL)", expr(u, k, d)?)
        }
        5 => {
            let k = comparable(u)?;
            let n = u.int_in_range(1..=4usize)?;
            let items = (0..n)
                .map(|_| expr(u, k, d.min(1)))
                .collect::<Result<Vec<_>>>()?;
            let not = if u.arbitrary()? { " NOT" } else { "" };
            format!("({}{not} IN ({}))", expr(u, k, d)?, items.join(", "))
        }
        6 => {
            let k = comparable(u)?;
            let not = if u.arbitrary()? { " NOT" } else { "" };
            format!(
                "({}{not} BETWEEN {} AND {})",
                expr(u, k, d)?,
                expr(u, k, d)?,
                expr(u, k, d)?
            )
        }
        7 | 8 => {
            let not = if u.arbitrary()? { " NOT" } else { "" };
            let pattern = u.choose(&[
                "'a%'", "'%'", "'_'", "'%b_c'", "'%X%'", "'h_llo%'", "'%é%'", "''", "'abcd'",
                "'%%'", "'a\\%b%'", "'_%_'",
            ])?;
            let escape = if pattern.contains('\\') {
                " ESCAPE '\\'"
            } else {
                ""
            };
            format!("({}{not} LIKE {pattern}{escape})", expr(u, Kind::Str, d)?)
        }
        9 => {
            let k = comparable(u)?;
            let not = if u.arbitrary()? { " NOT" } else { "" };
            format!(
                "({} IS{not} DISTINCT FROM {})",
                expr(u, k, d)?,
                expr(u, k, d)?
            )
        }
        _ => leaf(u, Kind::Bool)?,
    })
}

fn string(u: &mut Unstructured, d: u32) -> Result<String> {
    Ok(match u.int_in_range(0..=5u8)? {
        0 => format!(
            "{}({})",
            u.choose(&["UPPER", "LOWER"])?,
            expr(u, Kind::Str, d)?
        ),
        1 => {
            let start = u.choose(&["1", "2", "0", "-1", "5", "100"])?;
            if u.arbitrary()? {
                let len = u.choose(&["0", "1", "3", "-1", "40"])?;
                format!("SUBSTRING({}, {start}, {len})", expr(u, Kind::Str, d)?)
            } else {
                format!("SUBSTR({}, {start})", expr(u, Kind::Str, d)?)
            }
        }
        2 => {
            let start = expr(u, Kind::Int, d)?;
            format!("SUBSTRING({} FROM {start} FOR 2)", expr(u, Kind::Str, d)?)
        }
        3 | 4 => format!("({} || {})", expr(u, Kind::Str, d)?, expr(u, Kind::Str, d)?),
        _ => leaf(u, Kind::Str)?,
    })
}

fn date(u: &mut Unstructured, d: u32) -> Result<String> {
    Ok(match u.int_in_range(0..=2u8)? {
        0 | 1 => {
            let op = u.choose(&["+", "-"])?;
            let n = u.choose(&["1", "-1", "30", "0", "12", "400", "2147483647"])?;
            let unit = u.choose(&["DAY", "MONTH", "YEAR", "WEEK"])?;
            format!("({} {op} INTERVAL '{n}' {unit})", expr(u, Kind::Date, d)?)
        }
        _ => leaf(u, Kind::Date)?,
    })
}

/// An aggregate call over a generated argument.
fn aggregate(u: &mut Unstructured, d: u32) -> Result<String> {
    let kind = *u.choose(KINDS)?;
    let numeric = is_numeric(kind);
    let funcs: &[&str] = if numeric {
        &["COUNT", "SUM", "AVG", "MIN", "MAX", "COUNT(*)"]
    } else {
        &["COUNT", "MIN", "MAX", "COUNT(*)"]
    };
    let func = *u.choose(funcs)?;
    if func == "COUNT(*)" {
        return Ok(func.to_string());
    }
    // qjit does not support DISTINCT aggregates: they would only be errors.
    Ok(format!("{func}({})", expr(u, kind, d)?))
}

/// A whole query over the table `t`.
pub fn query(u: &mut Unstructured) -> Result<String> {
    let depth = u.int_in_range(1..=4u32)?;
    let filter = if u.ratio(1, 2)? {
        Some(expr(u, Kind::Bool, depth)?)
    } else {
        None
    };
    let mut sql;
    let outputs;
    if u.ratio(1, 2)? {
        // A projection.
        let n = u.int_in_range(1..=3usize)?;
        let mut items = vec![];
        for _ in 0..n {
            let kind = *u.choose(KINDS)?;
            items.push(expr(u, kind, depth)?);
        }
        outputs = items.len();
        sql = format!("SELECT {} FROM t", items.join(", "));
        if let Some(f) = &filter {
            sql.push_str(&format!(" WHERE {f}"));
        }
    } else {
        // An aggregation, grouped or not.
        let nkeys = u.int_in_range(0..=2usize)?;
        let mut keys = vec![];
        for _ in 0..nkeys {
            let kind = *u.choose(KINDS)?;
            let key = expr(u, kind, depth.min(2))?;
            // A bare number in GROUP BY is an ordinal, not a key.
            let key = match key.parse::<f64>() {
                Ok(_) => (*u.choose(columns(kind))?).to_string(),
                Err(_) => key,
            };
            keys.push(key);
        }
        let naggs = u.int_in_range(1..=3usize)?;
        let mut items = keys.clone();
        for _ in 0..naggs {
            items.push(aggregate(u, depth)?);
        }
        outputs = items.len();
        sql = format!("SELECT {} FROM t", items.join(", "));
        if let Some(f) = &filter {
            sql.push_str(&format!(" WHERE {f}"));
        }
        if !keys.is_empty() {
            sql.push_str(&format!(" GROUP BY {}", keys.join(", ")));
        }
        if u.ratio(1, 5)? {
            sql.push_str(&format!(" HAVING {}", having(u)?));
        }
    }
    if u.ratio(1, 4)? {
        let ordinal = u.int_in_range(1..=outputs)?;
        let dir = u.choose(&["", " DESC", " ASC NULLS FIRST", " DESC NULLS LAST"])?;
        sql.push_str(&format!(" ORDER BY {ordinal}{dir}"));
    }
    if u.ratio(1, 5)? {
        sql.push_str(&format!(" LIMIT {}", u.int_in_range(0..=5u8)?));
    }
    Ok(sql)
}

fn having(u: &mut Unstructured) -> Result<String> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 => "COUNT(*) > 1".to_string(),
        1 => format!("SUM({}) > 0", expr(u, Kind::Int, 1)?),
        2 => format!("MAX({}) IS NOT NULL", expr(u, Kind::Str, 1)?),
        _ => format!("MIN({}) < 1", expr(u, Kind::Decimal, 1)?),
    })
}
