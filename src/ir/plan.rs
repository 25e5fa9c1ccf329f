//! The typed plan of one single-table query.
//!
//! ```text
//! Scan(projection) → Filter(filter) → Project(exprs)                         → Distinct → Sort → Limit
//!                                   → Aggregate(keys, aggs) → Having → Project(exprs) ↗
//! ```
//!
//! Column references in `filter`, in [`Body::Project::exprs`] and in the group keys and aggregate
//! arguments index into the *scan batch* (the file's columns listed in [`Plan::projection`], in
//! that order). The expressions after an aggregation ([`Body::Aggregate::having`] and
//! [`Body::Aggregate::exprs`]) index into the *aggregate batch*: the group keys followed by the
//! aggregate results.
//!
//! The final expressions produce the output columns followed by hidden sort keys (ORDER BY
//! expressions that are not output columns); [`Plan::order_by`] indexes into that list, and the
//! hidden columns are dropped after sorting.

use std::fmt;

use arrow::datatypes::{Field, Schema, SchemaRef};

use super::aggregate::AggregateCall;
use super::expr::Expr;

/// What the query computes per row or per group.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// A row-wise projection: `exprs` over the scan batch.
    Project { exprs: Vec<Expr> },
    /// A grouped (or, with no keys, global) aggregation.
    Aggregate {
        /// Group keys over the scan batch.
        keys: Vec<Expr>,
        /// Aggregates whose arguments are over the scan batch.
        aggregates: Vec<AggregateCall>,
        /// A predicate over the aggregate batch (keys then aggregate results).
        having: Option<Expr>,
        /// The final expressions over the aggregate batch.
        exprs: Vec<Expr>,
    },
}

/// One `ORDER BY` key: a column of the final expressions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortKey {
    pub column: usize,
    pub descending: bool,
    pub nulls_first: bool,
}

/// A bound, typed, folded single-table query.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The table name the query reads (`FROM`).
    pub table: String,
    /// The source's full schema.
    pub source_schema: SchemaRef,
    /// Indices into `source_schema` of the columns the query reads, ascending.
    pub projection: Vec<usize>,
    /// The schema of the scan batch (`source_schema` projected).
    pub scan_schema: SchemaRef,
    /// The `WHERE` predicate over the scan batch (a `BOOLEAN`; NULL drops the row).
    pub filter: Option<Expr>,
    pub body: Body,
    /// `SELECT DISTINCT`.
    pub distinct: bool,
    /// Sort keys over the final expressions.
    pub order_by: Vec<SortKey>,
    pub offset: usize,
    pub limit: Option<usize>,
    /// The names of the output columns: the first `output_names.len()` final expressions.
    pub output_names: Vec<String>,
    /// The session time zone: the zone the result's `TIMESTAMP WITH TIME ZONE` columns are
    /// labelled with (their values are instants; see [`crate::sql::session_zone`]).
    pub timezone: super::time::Zone,
}

impl Plan {
    /// The final expressions (output columns, then hidden sort keys).
    pub fn final_exprs(&self) -> &[Expr] {
        match &self.body {
            Body::Project { exprs } | Body::Aggregate { exprs, .. } => exprs,
        }
    }

    /// The schema of the query's result.
    pub fn output_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .output_names
            .iter()
            .zip(self.final_exprs())
            .map(|(name, e)| {
                let ty = match e {
                    // A column qjit passes through keeps its own Arrow type.
                    Expr::Column(c) if c.ty.is_other() => c.data_type.clone(),
                    e => self.result_type(e.ty()),
                };
                Field::new(name, ty, e.nullable())
            })
            .collect();
        std::sync::Arc::new(Schema::new(fields))
    }

    /// The Arrow type of a result column of SQL type `ty`: a zoned timestamp labelled with the
    /// session zone.
    pub fn result_type(&self, ty: super::SqlType) -> arrow::datatypes::DataType {
        match ty {
            super::SqlType::Timestamp { unit, zoned: true } => {
                arrow::datatypes::DataType::Timestamp(
                    unit.to_arrow(),
                    Some(self.timezone.name().into()),
                )
            }
            t => t.to_arrow(),
        }
    }

    /// The schema of the aggregate batch (keys then aggregates), for aggregate queries.
    pub fn aggregate_schema(&self) -> Option<SchemaRef> {
        let Body::Aggregate {
            keys, aggregates, ..
        } = &self.body
        else {
            return None;
        };
        let mut fields: Vec<Field> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| Field::new(format!("key{i}"), k.ty().to_arrow(), k.nullable()))
            .collect();
        fields.extend(
            aggregates
                .iter()
                .enumerate()
                .map(|(i, a)| Field::new(format!("agg{i}"), a.ty.to_arrow(), a.nullable())),
        );
        Some(std::sync::Arc::new(Schema::new(fields)))
    }
}

impl fmt::Display for Plan {
    /// The plan as `--explain` prints it, one operator a line, leaves first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cols: Vec<String> = self
            .scan_schema
            .fields()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        writeln!(f, "Scan {} [{}]", self.table, cols.join(", "))?;
        if let Some(p) = &self.filter {
            writeln!(f, "Filter {p}")?;
        }
        let list = |es: &[Expr]| es.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        match &self.body {
            Body::Project { exprs } => writeln!(f, "Project [{}]", list(exprs).join(", "))?,
            Body::Aggregate {
                keys,
                aggregates,
                having,
                exprs,
            } => {
                let aggs: Vec<String> = aggregates.iter().map(|a| a.to_string()).collect();
                writeln!(
                    f,
                    "Aggregate keys=[{}] aggregates=[{}]",
                    list(keys).join(", "),
                    aggs.join(", ")
                )?;
                // How the DISTINCT calls run (an error here was raised at bind time).
                if let Ok(Some(d)) = super::aggregate::DistinctPlan::of(keys, aggregates) {
                    let calls: Vec<String> = d.scan_calls.iter().map(|a| a.to_string()).collect();
                    writeln!(
                        f,
                        "  DISTINCT: scan groups by keys=[{}] aggregates=[{}], then by the first {} key(s)",
                        list(&d.scan_keys).join(", "),
                        calls.join(", "),
                        d.keys
                    )?;
                }
                if let Some(h) = having {
                    writeln!(f, "Having {h}")?;
                }
                writeln!(f, "Project [{}]", list(exprs).join(", "))?;
            }
        }
        if self.distinct {
            writeln!(f, "Distinct")?;
        }
        if !self.order_by.is_empty() {
            let keys: Vec<String> = self
                .order_by
                .iter()
                .map(|k| {
                    format!(
                        "#{} {} NULLS {}",
                        k.column,
                        if k.descending { "DESC" } else { "ASC" },
                        if k.nulls_first { "FIRST" } else { "LAST" }
                    )
                })
                .collect();
            writeln!(f, "Sort [{}]", keys.join(", "))?;
        }
        if self.limit.is_some() || self.offset > 0 {
            writeln!(f, "Limit offset={} limit={:?}", self.offset, self.limit)?;
        }
        write!(f, "Output [{}]", self.output_names.join(", "))
    }
}
