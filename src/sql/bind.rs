//! Query binding: a parsed `SELECT` → a typed [`Plan`].
//!
//! Resolves `FROM` against the registered table, expands `*`, binds `WHERE`, works out whether
//! the query aggregates, resolves `GROUP BY` items (expressions, output aliases, ordinals), binds
//! the select list, `HAVING` and `ORDER BY` (aliases, ordinals, expressions — the latter become
//! hidden sort columns), and reads `LIMIT`/`OFFSET`. Finally it picks the columns the scan must
//! decode and renumbers column references to the scan batch.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use sqlparser::ast::{self, GroupByExpr, LimitClause, OrderByKind, SelectItem, TableFactor, Value};

use super::expr::{contains_aggregate, pos, ExprBinder, Groups, Scope};
use crate::error::{Error, Position, Result};
use crate::ir::{Body, ColumnRef, Expr, Plan, SortKey, SqlType};

/// One item of the select list after `*` expansion.
struct Item {
    expr: ast::Expr,
    name: String,
    /// Whether the user gave the name with `AS`.
    aliased: bool,
}

/// `ORDER BY ALL`: every output column in turn, with the same options (DuckDB's).
fn order_by_all(options: &ast::OrderByOptions, columns: usize) -> Vec<ast::OrderByExpr> {
    (1..=columns)
        .map(|k| ast::OrderByExpr {
            expr: ast::Expr::value(Value::Number(k.to_string(), false)),
            options: options.clone(),
            with_fill: None,
        })
        .collect()
}

/// Binds a parsed query against the table `table` with schema `schema`.
pub fn bind_query(query: &ast::Query, table: &str, schema: &SchemaRef) -> Result<Plan> {
    let ast::SetExpr::Select(select) = query.body.as_ref() else {
        return Err(Error::internal("parse_query let a non-SELECT through"));
    };
    reject_unsupported_clauses(query, select)?;
    let alias = bind_from(select, table)?;
    let binder = ExprBinder::new(table, alias, schema);
    bind_select(&binder, query, select, table, schema).map_err(|e| match e {
        // A type error where a column qjit passes through is in the query: an operation qjit
        // does not have on that type (which DataFusion may run).
        Error::Type { message, position } if binder.saw_other.get() => Error::Unsupported {
            what: message,
            position,
        },
        e => e,
    })
}

/// [`bind_query`] of its `SELECT` with `binder`.
fn bind_select(
    binder: &ExprBinder,
    query: &ast::Query,
    select: &ast::Select,
    table: &str,
    schema: &SchemaRef,
) -> Result<Plan> {
    let items = expand_items(binder, &select.projection)?;

    let filter = select
        .selection
        .as_ref()
        .map(|w| {
            let p = binder.bind(w, &mut Scope::Rows { clause: "WHERE" })?;
            where_predicate(p, pos(w))
        })
        .transpose()?;

    let group_exprs = match &select.group_by {
        GroupByExpr::Expressions(exprs, modifiers) => {
            if !modifiers.is_empty() {
                return Err(Error::unsupported("GROUP BY modifiers (ROLLUP, CUBE, …)"));
            }
            exprs.clone()
        }
        GroupByExpr::All(_) => return Err(Error::unsupported("GROUP BY ALL")),
    };
    let order_items: Vec<ast::OrderByExpr> = match &query.order_by {
        None => vec![],
        Some(ob) => match &ob.kind {
            OrderByKind::All(options) => order_by_all(options, items.len()),
            // `ORDER BY ALL [ASC | DESC]` where the table has no column `all` (the generic
            // dialect parses it as a column).
            OrderByKind::Expressions(v) => match v.as_slice() {
                [ast::OrderByExpr {
                    expr: ast::Expr::Identifier(id),
                    options,
                    with_fill: None,
                }] if id.quote_style.is_none()
                    && id.value.eq_ignore_ascii_case("all")
                    && !schema
                        .fields()
                        .iter()
                        .any(|f| f.name().eq_ignore_ascii_case("all")) =>
                {
                    order_by_all(options, items.len())
                }
                _ => v.clone(),
            },
        },
    };
    let aggregating = !group_exprs.is_empty()
        || select.having.is_some()
        || items.iter().any(|i| contains_aggregate(&i.expr))
        || order_items.iter().any(|o| contains_aggregate(&o.expr));

    let names: Vec<String> = items.iter().map(|i| i.name.clone()).collect();
    let distinct = match &select.distinct {
        None | Some(ast::Distinct::All) => false,
        Some(ast::Distinct::Distinct) => true,
        Some(ast::Distinct::On(_)) => return Err(Error::unsupported("DISTINCT ON")),
    };

    let (mut body, mut groups) = if aggregating {
        let mut groups = Groups::default();
        for g in &group_exprs {
            let key = bind_group_item(binder, g, &items)?;
            refuse_other("GROUP BY", &key, pos(g))?;
            if !groups.keys.contains(&key) {
                groups.keys.push(key);
            }
        }
        let mut exprs = Vec::with_capacity(items.len());
        for item in &items {
            exprs.push(binder.bind(&item.expr, &mut Scope::Groups(&mut groups))?);
        }
        let having = select
            .having
            .as_ref()
            .map(|h| {
                let p = binder.bind(h, &mut Scope::Groups(&mut groups))?;
                binder.to_boolean(p, "HAVING", pos(h))
            })
            .transpose()?;
        (
            Body::Aggregate {
                keys: vec![],
                aggregates: vec![],
                having,
                exprs,
            },
            Some(groups),
        )
    } else {
        let exprs = items
            .iter()
            .map(|i| binder.bind(&i.expr, &mut Scope::Rows { clause: "SELECT" }))
            .collect::<Result<Vec<_>>>()?;
        (Body::Project { exprs }, None)
    };

    // ORDER BY: output names and ordinals refer to output columns; anything else is bound like
    // a select item and becomes a hidden column unless it equals one.
    let mut order_by = Vec::with_capacity(order_items.len());
    for o in &order_items {
        if o.with_fill.is_some() {
            return Err(Error::unsupported("ORDER BY … WITH FILL"));
        }
        let descending = match &o.options.sort {
            None | Some(ast::OrderBySort::Asc) => false,
            Some(ast::OrderBySort::Desc) => true,
            Some(other) => {
                return Err(Error::Unsupported {
                    what: format!("ORDER BY … {other:?}"),
                    position: pos(&o.expr),
                })
            }
        };
        let nulls_first = o.options.nulls_first.unwrap_or(descending);
        let column = match output_reference(&o.expr, &items, "ORDER BY")? {
            Some(i) => i,
            None => {
                let bound = match &mut groups {
                    Some(g) => binder.bind(&o.expr, &mut Scope::Groups(g))?,
                    None => binder.bind(&o.expr, &mut Scope::Rows { clause: "ORDER BY" })?,
                };
                let exprs = match &mut body {
                    Body::Project { exprs } | Body::Aggregate { exprs, .. } => exprs,
                };
                match exprs.iter().position(|e| *e == bound) {
                    Some(i) => i,
                    None if distinct => {
                        return Err(Error::Plan {
                            message: "for SELECT DISTINCT, ORDER BY expressions must appear in the select list".into(),
                            position: pos(&o.expr),
                        })
                    }
                    None => {
                        exprs.push(bound);
                        exprs.len() - 1
                    }
                }
            }
        };
        order_by.push(SortKey {
            column,
            descending,
            nulls_first,
        });
    }
    if let (
        Body::Aggregate {
            keys, aggregates, ..
        },
        Some(g),
    ) = (&mut body, groups)
    {
        *keys = g.keys;
        *aggregates = g.aggregates;
        // Refused here, before anything runs, if its DISTINCT calls cannot be planned.
        crate::ir::aggregate::DistinctPlan::of(keys, aggregates)?;
    }

    // A column qjit passes through can be selected, counted and tested for NULL: not grouped,
    // sorted or made distinct.
    let finals = match &body {
        Body::Project { exprs } | Body::Aggregate { exprs, .. } => exprs,
    };
    for (k, o) in order_by.iter().zip(&order_items) {
        refuse_other("ORDER BY", &finals[k.column], pos(&o.expr))?;
    }
    if distinct {
        for (e, item) in finals.iter().zip(&items) {
            refuse_other("SELECT DISTINCT", e, pos(&item.expr))?;
        }
    }

    let (offset, limit) = bind_limit(query)?;
    finish(
        table, schema, filter, body, distinct, order_by, offset, limit, names,
    )
}

/// An error if `e` is of a type qjit passes through ([`SqlType::Other`]), which `what` (grouping,
/// sorting, `DISTINCT`) does not take.
fn refuse_other(what: &str, e: &Expr, position: Option<crate::error::Position>) -> Result<()> {
    match e.ty() {
        t @ SqlType::Other(_) => Err(Error::Unsupported {
            what: format!("{what} on {} of type {t}", e.sql()),
            position,
        }),
        _ => Ok(()),
    }
}

/// Chooses the scan projection and renumbers the pre-aggregation expressions to it.
#[allow(clippy::too_many_arguments)]
fn finish(
    table: &str,
    schema: &SchemaRef,
    filter: Option<Expr>,
    body: Body,
    distinct: bool,
    order_by: Vec<SortKey>,
    offset: usize,
    limit: Option<usize>,
    output_names: Vec<String>,
) -> Result<Plan> {
    let mut used = BTreeSet::new();
    let mut note = |e: &Expr| {
        e.walk(&mut |n| {
            if let Expr::Column(c) = n {
                used.insert(c.index);
            }
        })
    };
    if let Some(f) = &filter {
        note(f);
    }
    match &body {
        Body::Project { exprs } => exprs.iter().for_each(&mut note),
        Body::Aggregate {
            keys, aggregates, ..
        } => {
            keys.iter().for_each(&mut note);
            aggregates
                .iter()
                .filter_map(|a| a.arg.as_ref())
                .for_each(&mut note);
        }
    }
    let projection: Vec<usize> = used.into_iter().collect();
    let mut renumber = |c: ColumnRef| ColumnRef {
        index: projection.binary_search(&c.index).unwrap_or(c.index),
        ..c
    };
    let filter = filter.map(|f| f.map_columns(&mut renumber));
    let body = match body {
        Body::Project { exprs } => Body::Project {
            exprs: exprs
                .into_iter()
                .map(|e| e.map_columns(&mut renumber))
                .collect(),
        },
        Body::Aggregate {
            keys,
            aggregates,
            having,
            exprs,
        } => Body::Aggregate {
            keys: keys
                .into_iter()
                .map(|e| e.map_columns(&mut renumber))
                .collect(),
            aggregates: aggregates
                .into_iter()
                .map(|mut a| {
                    a.arg = a.arg.map(|e| e.map_columns(&mut renumber));
                    a
                })
                .collect(),
            having,
            exprs,
        },
    };
    let body = name_aggregate_refs(body);
    let scan_schema = Arc::new(schema.project(&projection)?);
    let output_names = unique_names(output_names);
    Ok(Plan {
        table: table.to_string(),
        source_schema: schema.clone(),
        projection,
        scan_schema,
        filter,
        body,
        distinct,
        order_by,
        offset,
        limit,
        output_names,
        timezone: super::session_zone(),
    })
}

/// The output names made unique, so that JSON keys and Parquet columns never repeat: a name
/// that comes again gets `_1`, `_2`, … (the first suffix no output column has):
/// `l_quantity, l_quantity` → `l_quantity, l_quantity_1`.
fn unique_names(names: Vec<String>) -> Vec<String> {
    let mut taken: std::collections::HashSet<String> = names.iter().cloned().collect();
    let mut seen = std::collections::HashSet::new();
    let mut next: std::collections::HashMap<String, usize> = Default::default();
    names
        .into_iter()
        .map(|name| {
            if seen.insert(name.clone()) {
                return name;
            }
            let n = next.entry(name.clone()).or_insert(1);
            loop {
                let candidate = format!("{name}_{n}");
                *n += 1;
                if taken.insert(candidate.clone()) {
                    return candidate;
                }
            }
        })
        .collect()
}

/// Renames the aggregate-batch references of the final expressions after the scan columns were
/// renumbered, so that printed plans show each aggregate with the indices it really reads.
fn name_aggregate_refs(body: Body) -> Body {
    let Body::Aggregate {
        keys,
        aggregates,
        having,
        exprs,
    } = body
    else {
        return body;
    };
    let mut rename = |c: ColumnRef| {
        let name = match c.index.checked_sub(keys.len()) {
            Some(i) => aggregates.get(i).map(|a| a.to_string()),
            None => keys.get(c.index).map(|k| match k {
                Expr::Column(col) => col.name.clone(),
                other => other.to_string(),
            }),
        };
        ColumnRef {
            name: name.unwrap_or(c.name.clone()),
            ..c
        }
    };
    let having = having.map(|h| h.map_columns(&mut rename));
    let exprs = exprs
        .into_iter()
        .map(|e| e.map_columns(&mut rename))
        .collect();
    Body::Aggregate {
        keys,
        aggregates,
        having,
        exprs,
    }
}

/// A WHERE predicate must be boolean; a NULL literal means no row passes.
fn where_predicate(p: Expr, at: Option<Position>) -> Result<Expr> {
    match p.ty() {
        SqlType::Boolean => Ok(p),
        SqlType::Null => Ok(Expr::null(SqlType::Boolean)),
        t => Err(Error::Type {
            message: format!("the WHERE clause must be a BOOLEAN condition, not {t}"),
            position: at,
        }),
    }
}

fn reject_unsupported_clauses(query: &ast::Query, select: &ast::Select) -> Result<()> {
    let checks: [(bool, &str); 12] = [
        (query.fetch.is_some(), "FETCH"),
        (!query.locks.is_empty(), "FOR UPDATE / locking clauses"),
        (query.for_clause.is_some(), "FOR clauses"),
        (query.settings.is_some(), "SETTINGS"),
        (query.format_clause.is_some(), "FORMAT"),
        (!query.pipe_operators.is_empty(), "pipe operators"),
        (select.top.is_some(), "TOP (use LIMIT)"),
        (select.into.is_some(), "SELECT INTO"),
        (!select.lateral_views.is_empty(), "LATERAL VIEW"),
        (select.prewhere.is_some(), "PREWHERE"),
        (
            !select.named_window.is_empty() || select.qualify.is_some(),
            "window functions",
        ),
        (
            !select.cluster_by.is_empty()
                || !select.distribute_by.is_empty()
                || !select.sort_by.is_empty(),
            "CLUSTER/DISTRIBUTE/SORT BY",
        ),
    ];
    for (present, what) in checks {
        if present {
            return Err(Error::unsupported(what));
        }
    }
    Ok(())
}

/// Checks `FROM` names the registered table; returns its alias, if any.
fn bind_from(select: &ast::Select, table: &str) -> Result<Option<String>> {
    let from = match select.from.as_slice() {
        [] => {
            return Err(Error::Plan {
                message: format!("the query has no FROM clause; add FROM {table}"),
                position: None,
            })
        }
        [one] => one,
        [_, second, ..] => {
            return Err(Error::Unsupported {
                what: "joins (several tables in FROM)".into(),
                position: Position::from_span(sqlparser::ast::Spanned::span(&second.relation)),
            })
        }
    };
    if !from.joins.is_empty() {
        return Err(Error::unsupported("joins"));
    }
    match &from.relation {
        TableFactor::Table {
            name, alias, args, ..
        } => {
            if args.is_some() {
                return Err(Error::unsupported("table functions"));
            }
            let parts = &name.0;
            let last = parts
                .last()
                .and_then(|p| p.as_ident())
                .ok_or_else(|| Error::unsupported(format!("the table name {name}")))?;
            if parts.len() > 1 || !last.value.eq_ignore_ascii_case(table) {
                // The name as written, without doubling the quotes of `FROM 'data/x.parquet'`.
                let written: Vec<&str> = parts
                    .iter()
                    .filter_map(|p| p.as_ident())
                    .map(|i| i.value.as_str())
                    .collect();
                return Err(Error::UnknownTable {
                    name: written.join("."),
                    expected: table.to_string(),
                    position: Position::from_span(last.span),
                });
            }
            Ok(alias.as_ref().map(|a| a.name.value.clone()))
        }
        TableFactor::Derived { .. } => Err(Error::unsupported("subqueries in FROM")),
        other => Err(Error::unsupported(format!("the FROM item '{other}'"))),
    }
}

/// The select list with `*` expanded to the table's columns.
fn expand_items(binder: &ExprBinder, projection: &[SelectItem]) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    for item in projection {
        match item {
            SelectItem::UnnamedExpr(e) => items.push(Item {
                name: default_name(binder.schema, e),
                expr: e.clone(),
                aliased: false,
            }),
            SelectItem::ExprWithAlias { expr, alias } => items.push(Item {
                name: alias.value.clone(),
                expr: expr.clone(),
                aliased: true,
            }),
            SelectItem::Wildcard(opts) | SelectItem::QualifiedWildcard(_, opts) => {
                if opts.opt_exclude.is_some()
                    || opts.opt_except.is_some()
                    || opts.opt_replace.is_some()
                    || opts.opt_rename.is_some()
                    || opts.opt_ilike.is_some()
                {
                    return Err(Error::unsupported("* with EXCLUDE/EXCEPT/REPLACE/RENAME"));
                }
                if let SelectItem::QualifiedWildcard(kind, _) = item {
                    let ast::SelectItemQualifiedWildcardKind::ObjectName(name) = kind else {
                        return Err(Error::unsupported(format!("the select item '{item}'")));
                    };
                    let last = name.0.last().and_then(|p| p.as_ident());
                    let ok = name.0.len() == 1
                        && last.is_some_and(|q| {
                            q.value.eq_ignore_ascii_case(binder.table)
                                || binder
                                    .alias
                                    .as_deref()
                                    .is_some_and(|a| q.value.eq_ignore_ascii_case(a))
                        });
                    if !ok {
                        return Err(Error::UnknownTable {
                            name: name.to_string(),
                            expected: binder.table.to_string(),
                            position: last.and_then(|q| Position::from_span(q.span)),
                        });
                    }
                }
                for f in binder.schema.fields() {
                    let ident = ast::Ident::with_quote('"', f.name().clone());
                    items.push(Item {
                        name: f.name().clone(),
                        expr: ast::Expr::Identifier(ident),
                        aliased: false,
                    });
                }
            }
            other => return Err(Error::unsupported(format!("the select item '{other}'"))),
        }
    }
    Ok(items)
}

/// The output name of an unaliased select item: a column's own name, else the expression text.
fn default_name(schema: &Schema, e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(i) => schema
            .fields()
            .iter()
            .find(|f| f.name() == &i.value)
            .or_else(|| {
                schema
                    .fields()
                    .iter()
                    .find(|f| f.name().eq_ignore_ascii_case(&i.value))
            })
            .map_or_else(|| i.value.clone(), |f| f.name().clone()),
        ast::Expr::CompoundIdentifier(parts) => parts
            .last()
            .map(|i| default_name(schema, &ast::Expr::Identifier(i.clone())))
            .unwrap_or_default(),
        other => other.to_string(),
    }
}

/// A positive integer literal (an ordinal), if `e` is one.
fn ordinal(e: &ast::Expr) -> Option<Result<usize>> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Some(n.parse::<usize>().map_err(|_| Error::Plan {
                message: format!("{n} is not a valid column position"),
                position: pos(e),
            })),
            _ => None,
        },
        _ => None,
    }
}

/// Resolves an ORDER BY item that names an output column by ordinal or by output name.
fn output_reference(e: &ast::Expr, items: &[Item], clause: &str) -> Result<Option<usize>> {
    if let Some(n) = ordinal(e) {
        let n = n?;
        if n == 0 || n > items.len() {
            return Err(Error::Plan {
                message: format!(
                    "{clause} position {n} is not in the select list (1 to {})",
                    items.len()
                ),
                position: pos(e),
            });
        }
        return Ok(Some(n - 1));
    }
    if let ast::Expr::Identifier(ident) = e {
        let matches: Vec<usize> = items
            .iter()
            .enumerate()
            .filter(|(_, it)| {
                if ident.quote_style.is_some() {
                    it.name == ident.value
                } else {
                    it.name.eq_ignore_ascii_case(&ident.value)
                }
            })
            .map(|(i, _)| i)
            .collect();
        match matches.as_slice() {
            [] => {}
            [one] => return Ok(Some(*one)),
            [first, rest @ ..] => {
                // Several output columns share the name: fine if they are the same expression.
                if rest.iter().all(|i| items[*i].expr == items[*first].expr) {
                    return Ok(Some(*first));
                }
                return Err(Error::Plan {
                    message: format!(
                        "{clause} '{}' is ambiguous: several output columns have that name",
                        ident.value
                    ),
                    position: pos(e),
                });
            }
        }
    }
    Ok(None)
}

/// Resolves one GROUP BY item: an ordinal, an input column, an output alias, or an expression.
fn bind_group_item(binder: &ExprBinder, g: &ast::Expr, items: &[Item]) -> Result<Expr> {
    let rows = &mut Scope::Rows { clause: "GROUP BY" };
    let target = if let Some(n) = ordinal(g) {
        let n = n?;
        let item = items.get(n.wrapping_sub(1)).ok_or_else(|| Error::Plan {
            message: format!(
                "GROUP BY position {n} is not in the select list (1 to {})",
                items.len()
            ),
            position: pos(g),
        })?;
        &item.expr
    } else if let ast::Expr::Identifier(ident) = g {
        // An input column wins over an output alias of the same name (as in PostgreSQL).
        match binder.column(ident) {
            Ok(c) => return Ok(c),
            Err(e @ Error::UnknownColumn { .. }) => {
                match items
                    .iter()
                    .find(|it| it.aliased && it.name.eq_ignore_ascii_case(&ident.value))
                {
                    Some(it) => &it.expr,
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    } else {
        g
    };
    if contains_aggregate(target) {
        return Err(Error::Plan {
            message: format!("GROUP BY cannot refer to an aggregate ('{target}')"),
            position: pos(g),
        });
    }
    binder.bind(target, rows)
}

/// `LIMIT` and `OFFSET` as row counts.
fn bind_limit(query: &ast::Query) -> Result<(usize, Option<usize>)> {
    let count = |e: &ast::Expr, what: &str| -> Result<Option<usize>> {
        match e {
            ast::Expr::Value(v) => match &v.value {
                Value::Number(n, _) => n.parse::<usize>().map(Some).map_err(|_| Error::Plan {
                    message: format!("{what} must be a non-negative integer, not {n}"),
                    position: pos(e),
                }),
                Value::Null => Ok(None),
                _ => Err(Error::Plan {
                    message: format!("{what} must be a non-negative integer constant"),
                    position: pos(e),
                }),
            },
            _ => Err(Error::Plan {
                message: format!("{what} must be a non-negative integer constant, not '{e}'"),
                position: pos(e),
            }),
        }
    };
    match &query.limit_clause {
        None => Ok((0, None)),
        Some(LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        }) => {
            if !limit_by.is_empty() {
                return Err(Error::unsupported("LIMIT BY"));
            }
            let limit = limit
                .as_ref()
                .map(|l| count(l, "LIMIT"))
                .transpose()?
                .flatten();
            let offset = offset
                .as_ref()
                .map(|o| count(&o.value, "OFFSET"))
                .transpose()?
                .flatten()
                .unwrap_or(0);
            Ok((offset, limit))
        }
        Some(LimitClause::OffsetCommaLimit { offset, limit }) => Ok((
            count(offset, "OFFSET")?.unwrap_or(0),
            count(limit, "LIMIT")?,
        )),
    }
}

/// What [`bind_query`] checks before it needs the table's schema: that the query has only
/// clauses qjit takes and that its `FROM` names `table`. A query that passes may still fail to
/// bind against the table's columns; one that does not fails to bind with this error.
pub fn check_from(query: &ast::Query, table: &str) -> Result<()> {
    let ast::SetExpr::Select(select) = query.body.as_ref() else {
        return Err(Error::internal("parse_query let a non-SELECT through"));
    };
    reject_unsupported_clauses(query, select)?;
    bind_from(select, table).map(|_| ())
}

/// The table a parsed query reads (its single `FROM` item), to find its source before binding.
pub fn table_name(query: &ast::Query) -> Result<String> {
    let ast::SetExpr::Select(select) = query.body.as_ref() else {
        return Err(Error::internal("parse_query let a non-SELECT through"));
    };
    match select.from.first().map(|f| &f.relation) {
        Some(TableFactor::Table { name, .. }) => Ok(name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.clone())
            .unwrap_or_default()),
        _ => Ok(String::new()),
    }
}
