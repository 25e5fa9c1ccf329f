//! Parsing: SQL text → one sqlparser `Query`.
//!
//! Accepts exactly one `SELECT` statement (a trailing `;` is fine). Anything else — several
//! statements, DDL/DML, `WITH`, set operations — is rejected here with an error that names it.

use sqlparser::ast::{SetExpr, Statement};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};

use crate::error::{Error, Position, Result};

/// How deeply sqlparser may nest expressions before it stops with a clear error. Deep enough for
/// any generated predicate, shallow enough that no stage after it can overflow the stack.
pub const MAX_PARSE_DEPTH: usize = 200;

/// Parses `sql` into a single query.
pub fn parse_query(sql: &str) -> Result<sqlparser::ast::Query> {
    if sql.trim().trim_end_matches(';').trim().is_empty() {
        return Err(Error::Syntax {
            message: "the query is empty; give one SELECT statement".into(),
            position: None,
        });
    }
    let dialect = GenericDialect {};
    check_depth(&dialect, sql)?;
    let statements = Parser::new(&dialect)
        .with_recursion_limit(MAX_PARSE_DEPTH)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| syntax_error(e, sql))?;
    if statements.is_empty() {
        // Only comments.
        return Err(Error::Syntax {
            message: "the query is empty; give one SELECT statement".into(),
            position: None,
        });
    }
    let mut statements = statements.into_iter();
    let (Some(statement), None) = (statements.next(), statements.next()) else {
        return Err(Error::unsupported(
            "more than one statement (give exactly one SELECT)",
        ));
    };
    let query = match statement {
        Statement::Query(q) => q,
        other => {
            let text = other.to_string();
            let verb = text
                .split_whitespace()
                .next()
                .unwrap_or("this")
                .to_uppercase();
            return Err(Error::unsupported(format!("{verb} statements")));
        }
    };
    if query.with.is_some() {
        return Err(Error::unsupported("WITH (common table expressions)"));
    }
    match query.body.as_ref() {
        SetExpr::Select(_) => {}
        SetExpr::SetOperation { op, .. } => {
            return Err(Error::unsupported(format!(
                "{op} (set operations between queries)"
            )))
        }
        SetExpr::Query(_) => return Err(Error::unsupported("a parenthesized subquery")),
        SetExpr::Values(_) => return Err(Error::unsupported("VALUES lists")),
        other => return Err(Error::unsupported(format!("the query form '{other}'"))),
    }
    Ok(*query)
}

/// Rejects text that nests deeper than [`MAX_PARSE_DEPTH`] before sqlparser sees it: more open
/// parentheses, or a longer run of prefix operators (`NOT`, `-`, `+`), than the limit. sqlparser
/// has its own limit, but some of its rules try an alternative when a branch fails, and then
/// report a misleading syntax error instead of the depth. The scan is linear and does not
/// recurse. Text that does not tokenize is left to the parser, which reports it.
fn check_depth(dialect: &GenericDialect, sql: &str) -> Result<()> {
    use sqlparser::keywords::Keyword;
    use sqlparser::tokenizer::{Token, Tokenizer};
    let Ok(tokens) = Tokenizer::new(dialect, sql).tokenize_with_location() else {
        return Ok(());
    };
    let (mut parens, mut prefix_run) = (0usize, 0usize);
    for t in &tokens {
        match &t.token {
            Token::Whitespace(_) => continue,
            Token::LParen => parens += 1,
            Token::RParen => parens = parens.saturating_sub(1),
            _ => {}
        }
        let prefix = match &t.token {
            Token::Minus | Token::Plus => true,
            Token::Word(w) => w.keyword == Keyword::NOT,
            _ => false,
        };
        prefix_run = if prefix { prefix_run + 1 } else { 0 };
        if parens > MAX_PARSE_DEPTH || prefix_run > MAX_PARSE_DEPTH {
            return Err(Error::Syntax {
                message: too_deep(),
                position: Position::from_span(t.span),
            });
        }
    }
    Ok(())
}

fn too_deep() -> String {
    format!("the query nests more than {MAX_PARSE_DEPTH} levels deep; simplify the expression")
}

/// Turns a sqlparser error into [`Error::Syntax`], lifting its "Line: L, Column: C" into a
/// [`Position`].
fn syntax_error(e: ParserError, sql: &str) -> Error {
    match e {
        ParserError::RecursionLimitExceeded => Error::Syntax {
            message: too_deep(),
            position: None,
        },
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => {
            let (message, position) = split_location(&m);
            // sqlparser gives no location for the end of the input: point just past it.
            let position = position.or_else(|| m.contains("EOF").then(|| end_of(sql)));
            Error::Syntax { message, position }
        }
    }
}

/// The position just past the last character of `sql`.
fn end_of(sql: &str) -> Position {
    let trimmed = sql.trim_end();
    let line = trimmed.matches('\n').count() as u64 + 1;
    let last_line = trimmed.rsplit('\n').next().unwrap_or("");
    Position {
        line,
        column: last_line.chars().count() as u64 + 1,
    }
}

/// Splits sqlparser's "… at Line: 1, Column: 8" suffix off a message.
fn split_location(message: &str) -> (String, Option<Position>) {
    let Some(at) = message.rfind(" at Line: ") else {
        return (message.to_string(), None);
    };
    let rest = &message[at + " at Line: ".len()..];
    let mut nums = rest
        .split(", Column: ")
        .map(|s| s.trim().parse::<u64>().ok());
    match (nums.next().flatten(), nums.next().flatten()) {
        (Some(line), Some(column)) => (message[..at].to_string(), Some(Position { line, column })),
        _ => (message.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_carry_a_position() {
        let e = parse_query("SELECT a FROM t WHERE").unwrap_err();
        match e {
            Error::Syntax { position, .. } => assert!(position.is_some(), "{e:?}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_one_select_is_accepted() {
        assert!(parse_query("SELECT 1 FROM t;").is_ok());
        for sql in [
            "SELECT 1 FROM t; SELECT 2 FROM t",
            "DELETE FROM t",
            "CREATE TABLE x (a INT)",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "SELECT a FROM t UNION SELECT a FROM t",
        ] {
            assert!(
                matches!(parse_query(sql), Err(Error::Unsupported { .. })),
                "{sql}"
            );
        }
        assert!(matches!(parse_query("  ; "), Err(Error::Syntax { .. })));
    }

    #[test]
    fn deep_nesting_is_a_clear_error() {
        let sql = format!("SELECT {}1{} FROM t", "(".repeat(5000), ")".repeat(5000));
        let e = parse_query(&sql).unwrap_err();
        assert!(e.to_string().contains("nests more than"), "{e}");
        for sql in [
            format!("SELECT a FROM t WHERE {}a", "NOT ".repeat(5000)),
            format!("SELECT {}a FROM t", "- ".repeat(5000)),
        ] {
            let e = parse_query(&sql).unwrap_err();
            let e = e.to_string();
            assert!(
                e.contains("at line 1, column") && e.contains("nests more than 200 levels deep"),
                "{e}"
            );
        }
        // Just inside the limit parses.
        let sql = format!("SELECT {}a FROM t", "NOT ".repeat(150));
        assert!(parse_query(&sql).is_ok());
    }

    #[test]
    fn comments_alone_are_an_empty_query() {
        for sql in ["/* nothing */", "-- nothing", " -- nothing\n;"] {
            let e = parse_query(sql).unwrap_err();
            assert!(e.to_string().contains("the query is empty"), "{e}");
        }
    }
}
