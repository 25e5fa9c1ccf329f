//! Checking an engine's answer: CSV text compared cell by cell with another answer.
//!
//! A column that either side computed in floating point matches within a relative 1e-6 (engines
//! sum floats in different orders, and print them in different forms), or, where one side is a
//! decimal, when the float cut to the decimal's places gives the decimal (DataFusion's `AVG` of
//! decimals and its decimal divisions truncate where DuckDB answers in floats); every other
//! cell, headers included, must be the same text. Fields are read as CSV: a double-quoted field
//! may hold commas and doubled quotes (TPC-H's comments and addresses do).

use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::output::{self, OutputFormat};

/// Columns the reference engine computed in floating point (qjit keeps some of them exact).
const REFERENCE_FLOAT_COLUMNS: &[&str] = &["avg_qty", "avg_price", "avg_disc", "promo"];

/// The relative tolerance for floating columns.
const FLOAT_TOLERANCE: f64 = 1e-6;

/// The most decimal places an exact number has in the reference answers (TPC-H's decimals have
/// two, their products four); a number printed with more is a float.
const EXACT_PLACES: usize = 4;

/// A query's answer as CSV.
#[derive(Clone, Debug)]
pub struct Answer {
    /// A header row, then one line per row.
    pub csv: String,
    /// Which columns are floating point.
    pub floats: Vec<bool>,
}

impl Answer {
    /// A reference answer (`tests/reference/*/<query>.csv`), whose floating columns are known by
    /// name or by their values: a column is floating where any of its numbers has an exponent,
    /// more than four decimal places, or is a whole number written with `.0` (as Python prints
    /// a float; TPC-H has no decimals of one place).
    pub fn reference(csv: &str) -> Answer {
        let mut lines = csv.lines().map(fields);
        let header = lines.next().unwrap_or_default();
        let mut floats: Vec<bool> = header
            .iter()
            .map(|name| REFERENCE_FLOAT_COLUMNS.contains(&name.trim()))
            .collect();
        for row in lines {
            for (c, cell) in row.iter().enumerate() {
                let float = cell.parse::<f64>().is_ok()
                    && (cell.contains(['e', 'E'])
                        || places(cell) > EXACT_PLACES
                        || cell.ends_with(".0"));
                if let Some(f) = floats.get_mut(c) {
                    *f |= float;
                }
            }
        }
        Answer {
            csv: csv.to_string(),
            floats,
        }
    }

    /// An answer as qjit prints it in CSV, its floating columns known from the schema.
    pub fn from_batches(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Answer> {
        Ok(Answer {
            csv: output::render(schema, batches, OutputFormat::Csv)?,
            floats: schema
                .fields()
                .iter()
                .map(|f| matches!(f.data_type(), DataType::Float32 | DataType::Float64))
                .collect(),
        })
    }

    /// Whether this answer matches `want`, and if not, the first difference.
    pub fn matches(&self, want: &Answer) -> (bool, String) {
        let lines = |s: &str| -> Vec<String> {
            s.lines()
                .map(|l| l.trim_end_matches('\r').to_string())
                .collect()
        };
        let (got, expected) = (lines(&self.csv), lines(&want.csv));
        if got.len() != expected.len() {
            return (
                false,
                format!(
                    "{} rows, expected {}",
                    got.len().saturating_sub(1),
                    expected.len().saturating_sub(1)
                ),
            );
        }
        let float = |answer: &Answer, c: usize| answer.floats.get(c).copied().unwrap_or(false);
        let floating = |c: usize| float(self, c) || float(want, c);
        for (r, (g, w)) in got.iter().zip(&expected).enumerate() {
            let (gs, ws) = (fields(g), fields(w));
            if gs.len() != ws.len() {
                return (false, format!("line {r}: {g} vs {w}"));
            }
            for (c, (a, b)) in gs.iter().zip(&ws).enumerate() {
                let same =
                    a == b || (r > 0 && floating(c) && close(a, b, float(self, c), float(want, c)));
                if !same {
                    return (false, format!("line {r} column {c}: {a} vs {b}"));
                }
            }
        }
        (true, String::new())
    }
}

/// The fields of one CSV line: a double-quoted field may hold commas and doubled quotes.
fn fields(line: &str) -> Vec<String> {
    let mut out = vec![];
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    out.push(field);
    out
}

/// The decimal places a number is printed with.
fn places(number: &str) -> usize {
    number.split_once('.').map_or(0, |(_, f)| f.len())
}

/// Whether two numbers of a floating column match: within the relative tolerance, or, where
/// one side is a decimal (`a_float`/`b_float` false) and the other a float, the decimal is the
/// float truncated or rounded to the decimal's places.
fn close(a: &str, b: &str, a_float: bool, b_float: bool) -> bool {
    let (Ok(x), Ok(y)) = (a.parse::<f64>(), b.parse::<f64>()) else {
        return false;
    };
    if (x - y).abs() <= FLOAT_TOLERANCE * x.abs().max(y.abs()).max(1e-300) {
        return true;
    }
    // `decimal` printed as text, `float` its value: the decimal is the float cut to its places.
    let cut = |decimal: &str, d: f64, float: f64| {
        let unit = 10f64.powi(places(decimal) as i32);
        let (d, f) = (d * unit, float * unit);
        let near = |v: f64| (d - v).abs() <= 1e-6 * d.abs().max(1.0);
        !decimal.contains(['e', 'E']) && (near(f.trunc()) || near(f.round()))
    };
    match (a_float, b_float) {
        (false, true) => cut(a, x, y),
        (true, false) => cut(b, y, x),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(csv: &str) -> Answer {
        Answer {
            csv: csv.to_string(),
            floats: vec![false, false],
        }
    }

    #[test]
    fn floating_columns_match_within_the_tolerance() {
        let want = Answer::reference("l_returnflag,avg_qty\nA,25.575154611454693\n");
        assert!(
            exact("l_returnflag,avg_qty\nA,25.5751546114547\n")
                .matches(&want)
                .0
        );
        assert!(
            exact("l_returnflag,avg_qty\nA,25.57515461\n")
                .matches(&want)
                .0
        );
        let (ok, why) = exact("l_returnflag,avg_qty\nA,25.59\n").matches(&want);
        assert!(!ok);
        assert_eq!(why, "line 1 column 1: 25.59 vs 25.575154611454693");
    }

    #[test]
    fn a_column_either_side_computed_in_floats_is_compared_as_floats() {
        let decimal = exact("x,y\n1,2.50\n");
        let float = Answer {
            csv: "x,y\n1,2.5000000001\n".into(),
            floats: vec![false, true],
        };
        assert!(float.matches(&decimal).0);
        assert!(decimal.matches(&float).0);
    }

    #[test]
    fn a_decimal_matches_a_float_it_truncates_or_rounds() {
        let float = Answer {
            csv: "x,y\n1,0.040735\n".into(),
            floats: vec![false, true],
        };
        for (decimal, ok) in [
            ("0.0407", true),
            ("0.0408", false),
            ("0.04", true),
            ("0.05", false),
        ] {
            let got = exact(&format!("x,y\n1,{decimal}\n"));
            assert_eq!(got.matches(&float).0, ok, "{decimal}");
            assert_eq!(float.matches(&got).0, ok, "{decimal}");
        }
        // Not where both sides are floats: then only the tolerance holds.
        let short = Answer {
            csv: "x,y\n1,0.04\n".into(),
            floats: vec![false, true],
        };
        assert!(!short.matches(&float).0);
    }

    #[test]
    fn reference_answers_know_their_floats_by_name_or_by_their_digits() {
        let reference = Answer::reference(
            "n,avg_qty,share,total,note,zero\n1,2.5,0.040735,1.25,\"a, b\",0.0\n2,3,1e-7,2.50,c,0.0\n",
        );
        assert_eq!(
            reference.floats,
            vec![false, true, true, false, false, true]
        );
        let got = exact(
            "n,avg_qty,share,total,note,zero\n1,2.5,0.0407,1.25,\"a, b\",0.000\n2,3,0,2.50,c,0\n",
        );
        assert_eq!(got.matches(&reference), (true, String::new()));
    }

    #[test]
    fn other_cells_match_exactly() {
        let want = exact("x,y\n1,2.50\n");
        assert!(exact("x,y\n1,2.50\n").matches(&want).0);
        assert_eq!(
            exact("x,y\n1,2.5\n").matches(&want),
            (false, "line 1 column 1: 2.5 vs 2.50".to_string())
        );
        assert_eq!(
            exact("x,y\n").matches(&want),
            (false, "0 rows, expected 1".to_string())
        );
    }
}
