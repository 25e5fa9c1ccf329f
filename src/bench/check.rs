//! Checking an engine's answer: CSV text compared cell by cell with another answer.
//!
//! A column that either side computed in floating point matches within a relative 1e-6 (engines
//! sum floats in different orders, and print them in different forms); every other cell,
//! headers included, must be the same text. Answers are small (one line per group), so the
//! comparison splits on commas and does not unquote.

/// Columns the reference engine computed in floating point (qjit keeps some of them exact).
const REFERENCE_FLOAT_COLUMNS: &[&str] = &["avg_qty", "avg_price", "avg_disc", "promo"];

/// The relative tolerance for floating columns.
const FLOAT_TOLERANCE: f64 = 1e-6;

/// A query's answer as CSV.
#[derive(Clone, Debug)]
pub struct Answer {
    /// A header row, then one line per row.
    pub csv: String,
    /// Which columns are floating point.
    pub floats: Vec<bool>,
}

impl Answer {
    /// A reference answer (`tests/reference/sf<N>/<query>.csv`), whose floating columns are
    /// known by name.
    pub fn reference(csv: &str) -> Answer {
        let header = csv.lines().next().unwrap_or_default();
        Answer {
            csv: csv.to_string(),
            floats: header
                .split(',')
                .map(|name| REFERENCE_FLOAT_COLUMNS.contains(&name.trim()))
                .collect(),
        }
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
        let floating = |c: usize| {
            self.floats.get(c).copied().unwrap_or(false)
                || want.floats.get(c).copied().unwrap_or(false)
        };
        for (r, (g, w)) in got.iter().zip(&expected).enumerate() {
            let (gs, ws): (Vec<&str>, Vec<&str>) = (g.split(',').collect(), w.split(',').collect());
            if gs.len() != ws.len() {
                return (false, format!("line {r}: {g} vs {w}"));
            }
            for (c, (a, b)) in gs.iter().zip(&ws).enumerate() {
                let same = match (a.parse::<f64>(), b.parse::<f64>()) {
                    (Ok(x), Ok(y)) if r > 0 && floating(c) => {
                        (x - y).abs() <= FLOAT_TOLERANCE * x.abs().max(y.abs()).max(1e-300)
                    }
                    _ => a == b,
                };
                if !same {
                    return (false, format!("line {r} column {c}: {a} vs {b}"));
                }
            }
        }
        (true, String::new())
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
        let (ok, why) = exact("l_returnflag,avg_qty\nA,25.58\n").matches(&want);
        assert!(!ok);
        assert_eq!(why, "line 1 column 1: 25.58 vs 25.575154611454693");
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
