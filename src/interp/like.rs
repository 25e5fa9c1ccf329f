//! `[NOT] LIKE` and `[NOT] ILIKE` with a constant pattern.
//!
//! In: a `VARCHAR` array and the pattern text. Out: a `BOOLEAN` array, NULL where the string is
//! NULL.
//!
//! `%` matches any sequence of characters, `_` exactly one character (a Unicode scalar value, not
//! a byte). The escape character (none when `escape` is `None`) makes the next character literal;
//! an escape at the very end of the pattern stands for itself. `ILIKE` lowercases the pattern's
//! literal text and every value with Rust's Unicode `to_lowercase` and then matches.
//!
//! The pattern is compiled once per call into [`Pattern`]: literal runs and `_` grouped into
//! segments between `%`s. Matching anchors the first segment at the start and the last at the
//! end, then finds each middle segment at its leftmost position — greedy and without
//! backtracking, which is exact for `%`-separated segments. Case-sensitive patterns of the
//! shapes `abc`, `abc%`, `%abc`, `%abc%` use arrow-string's kernels instead.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Scalar, StringArray};
use arrow::buffer::BooleanBuffer;
use arrow::compute::kernels::cmp;
use arrow::compute::kernels::comparison::{contains, ends_with, starts_with};
use arrow::compute::{cast, not};

use super::eval;
use super::input::Input;
use super::strings::StrArray;
use crate::error::Result;
use crate::ir::like::{literal, LikePattern, LikePiece as Piece, LikeShape as Shape};
use crate::ir::Expr;

/// `arg [NOT] [I]LIKE pattern [ESCAPE escape]`.
pub(crate) fn like(
    arg: &Expr,
    pattern: &str,
    escape: Option<char>,
    case_insensitive: bool,
    negated: bool,
    input: &Input,
) -> Result<ArrayRef> {
    let values = eval(arg, input)?;
    let pattern = Pattern::compile(pattern, escape, case_insensitive);
    let matched = pattern.evaluate(&values)?;
    Ok(Arc::new(if negated { not(&matched)? } else { matched }))
}

/// The pattern between two `%`s: matches a fixed number of characters.
#[derive(Clone, Debug, PartialEq)]
struct Segment {
    pieces: Vec<Piece>,
    /// How many characters the segment matches.
    chars: usize,
}

impl Segment {
    /// Matches the segment at byte offset `pos` of `text`; the end offset on success.
    fn match_at(&self, text: &str, mut pos: usize) -> Option<usize> {
        for p in &self.pieces {
            let rest = text.get(pos..)?;
            match p {
                Piece::Text(t) => {
                    if !rest.starts_with(t.as_str()) {
                        return None;
                    }
                    pos += t.len();
                }
                Piece::One => pos += rest.chars().next()?.len_utf8(),
            }
        }
        Some(pos)
    }

    /// The byte offset where the segment must start to end exactly at the end of `text`.
    fn start_for_end(&self, text: &str) -> Option<usize> {
        if self.chars == 0 {
            return Some(text.len());
        }
        if text.is_ascii() {
            return text.len().checked_sub(self.chars);
        }
        text.char_indices()
            .rev()
            .nth(self.chars - 1)
            .map(|(offset, _)| offset)
    }

    /// The leftmost match within `text[from..to]`; the end offset of the match.
    fn find(&self, text: &str, from: usize, to: usize) -> Option<usize> {
        let window = text.get(..to)?;
        if let Some(lit) = literal(&self.pieces) {
            return window
                .get(from..)?
                .find(lit.as_str())
                .map(|i| from + i + lit.len());
        }
        let mut start = from;
        loop {
            if let Some(end) = self.match_at(window, start) {
                return Some(end);
            }
            start += window.get(start..)?.chars().next()?.len_utf8();
        }
    }
}

/// A compiled LIKE pattern.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Pattern {
    /// The segments between `%`s; one segment means the pattern has no `%`.
    segments: Vec<Segment>,
    case_insensitive: bool,
}

impl Pattern {
    /// Compiles `pattern`; the literal text is lowercased for ILIKE.
    pub fn compile(pattern: &str, escape: Option<char>, case_insensitive: bool) -> Pattern {
        let parsed = LikePattern::parse(pattern, escape);
        let parsed = if case_insensitive {
            parsed.lowercased()
        } else {
            parsed
        };
        let segments = parsed.segments;
        let segments: Vec<Segment> = segments
            .into_iter()
            .map(|pieces| {
                let chars = pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Text(t) => t.chars().count(),
                        Piece::One => 1,
                    })
                    .sum();
                Segment { pieces, chars }
            })
            .collect();
        Pattern {
            segments,
            case_insensitive,
        }
    }

    /// Whether `text` (already lowercased for ILIKE) matches.
    pub fn matches(&self, text: &str) -> bool {
        let segments = &self.segments;
        let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
            return text.is_empty();
        };
        if segments.len() == 1 {
            return first.match_at(text, 0) == Some(text.len());
        }
        let Some(mut pos) = first.match_at(text, 0) else {
            return false;
        };
        let Some(tail) = last.start_for_end(text) else {
            return false;
        };
        if tail < pos || last.match_at(text, tail) != Some(text.len()) {
            return false;
        }
        for middle in &segments[1..segments.len() - 1] {
            match middle.find(text, pos, tail) {
                Some(end) => pos = end,
                None => return false,
            }
        }
        true
    }

    /// Whether `text` matches, lowercasing it first for ILIKE.
    fn matches_value(&self, text: &str) -> bool {
        if self.case_insensitive && needs_lowering(text) {
            self.matches(&text.to_lowercase())
        } else {
            self.matches(text)
        }
    }

    fn shape(&self) -> Option<Shape> {
        if self.case_insensitive {
            return None;
        }
        let lits: Option<Vec<String>> = self.segments.iter().map(|s| literal(&s.pieces)).collect();
        Some(match lits?.as_slice() {
            [one] => Shape::Equals(one.clone()),
            [a, b] if a.is_empty() && b.is_empty() => Shape::Any,
            [prefix, b] if b.is_empty() => Shape::StartsWith(prefix.clone()),
            [a, suffix] if a.is_empty() => Shape::EndsWith(suffix.clone()),
            [a, middle, c] if a.is_empty() && c.is_empty() => Shape::Contains(middle.clone()),
            _ => return None,
        })
    }

    /// Matches every string of `values`; NULL stays NULL.
    pub fn evaluate(&self, values: &ArrayRef) -> Result<BooleanArray> {
        if let Some(shape) = self.shape() {
            let scalar = |s: &str| -> Result<Scalar<ArrayRef>> {
                let one: ArrayRef = Arc::new(StringArray::from(vec![s]));
                Ok(Scalar::new(cast(one.as_ref(), values.data_type())?))
            };
            return Ok(match shape {
                Shape::Equals(s) => cmp::eq(values, &scalar(&s)?)?,
                Shape::StartsWith(s) => starts_with(values, &scalar(&s)?)?,
                Shape::EndsWith(s) => ends_with(values, &scalar(&s)?)?,
                Shape::Contains(s) => contains(values, &scalar(&s)?)?,
                Shape::Any => {
                    BooleanArray::new(BooleanBuffer::new_set(values.len()), values.logical_nulls())
                }
            });
        }
        let strings = StrArray::new(values.as_ref())?;
        let matched = BooleanBuffer::collect_bool(strings.len(), |i| {
            strings.is_valid(i) && self.matches_value(strings.value(i))
        });
        Ok(BooleanArray::new(matched, strings.nulls().cloned()))
    }
}

/// Whether lowercasing can change `text` (anything but ASCII without capitals may).
fn needs_lowering(text: &str) -> bool {
    !text.is_ascii() || text.bytes().any(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use arrow::array::{DictionaryArray, LargeStringArray, StringViewArray};
    use arrow::datatypes::Int32Type;

    use super::super::testutil::*;
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        Pattern::compile(pattern, Some('\\'), false).matches(text)
    }

    #[test]
    fn wildcards() {
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abcd"));
        assert!(m("a%", "abc"));
        assert!(m("%c", "abc"));
        assert!(m("%b%", "abc"));
        assert!(m("%", ""));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(m("a%b%c", "aXbYc"));
        assert!(m("a%b%c", "abc"));
        assert!(!m("a%b%c", "acb"));
        assert!(m("%a%a%", "aa"));
        assert!(!m("%a%a%", "a"));
        assert!(!m("ab%ba", "aba"));
        assert!(m("ab%ba", "abba"));
        assert!(m("a_c", "abc"));
        assert!(!m("a_c", "ac"));
        assert!(m("%_x_%", "yxy"));
        assert!(!m("%_x_%", "xy"));
        assert!(m("___", "日本語"));
        assert!(!m("__", "日本語"));
        assert!(m("日_語", "日本語"));
        assert!(m("%本_", "日本語"));
        assert!(m("_%_", "ab"));
        assert!(!m("_%_", "a"));
        assert!(m("%%a%%", "bab"));
        assert!(m("%1%2_3%", "x1yy2z3"));
        assert!(!m("%1%2_3%", "x1yy2z"));
    }

    /// A plain recursive matcher over characters, the reference for the compiled one.
    fn reference(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|i| reference(rest, &t[i..])),
            Some(('_', rest)) => !t.is_empty() && reference(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && reference(rest, &t[1..]),
        }
    }

    fn all_strings(alphabet: &[char], max: usize) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..max {
            let next: Vec<String> = frontier
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            out.extend(next.iter().cloned());
            frontier = next;
        }
        out
    }

    #[test]
    fn agrees_with_a_reference_matcher_on_all_small_cases() {
        let patterns = all_strings(&['a', 'é', '%', '_'], 5);
        let texts = all_strings(&['a', 'é'], 5);
        for p in &patterns {
            let compiled = Pattern::compile(p, None, false);
            let pc: Vec<char> = p.chars().collect();
            for t in &texts {
                let tc: Vec<char> = t.chars().collect();
                assert_eq!(compiled.matches(t), reference(&pc, &tc), "{p:?} on {t:?}");
            }
        }
    }

    #[test]
    fn escapes() {
        assert!(m("100\\%", "100%"));
        assert!(!m("100\\%", "1000"));
        assert!(m("a\\_b", "a_b"));
        assert!(!m("a\\_b", "axb"));
        assert!(m("a\\\\b", "a\\b"));
        // An escape before an ordinary character or at the end is taken literally.
        assert!(m("\\a", "a"));
        assert!(m("a\\", "a\\"));
        let hash = Pattern::compile("10#%%", Some('#'), false);
        assert!(hash.matches("10% off"));
        assert!(!hash.matches("100 off"));
        let none = Pattern::compile("a\\%", None, false);
        assert!(none.matches("a\\xyz"));
    }

    #[test]
    fn ilike_lowercases_both_sides() {
        let p = Pattern::compile("%STRASSE%", None, true);
        assert!(p.matches_value("die strasse"));
        assert!(p.matches_value("DIE STRASSE"));
        let p = Pattern::compile("é_", None, true);
        assert!(p.matches_value("ÉT"));
        // The escape character is found before lowercasing.
        let p = Pattern::compile("aX%", Some('X'), true);
        assert!(p.matches_value("A%"));
        assert!(!p.matches_value("Ab"));
    }

    #[test]
    fn evaluation_over_every_layout() {
        let values = vec![Some("PROMO BRASS"), None, Some("STANDARD"), Some("promo")];
        let layouts: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(values.clone())),
            Arc::new(LargeStringArray::from(values.clone())),
            Arc::new(StringViewArray::from(values.clone())),
            Arc::new(
                values
                    .iter()
                    .copied()
                    .collect::<DictionaryArray<Int32Type>>(),
            ),
        ];
        for array in layouts {
            let (s, batch) = one_column(array);
            let run = |pattern: &str, ci, negated| {
                let e = Expr::like(s.clone(), pattern.into(), None, ci, negated).unwrap();
                bools(&eval_on(&e, &batch).unwrap())
            };
            let t = Some(true);
            let f = Some(false);
            assert_eq!(run("PROMO%", false, false), vec![t, None, f, f]);
            assert_eq!(run("PROMO%", true, false), vec![t, None, f, t]);
            assert_eq!(run("PROMO%", false, true), vec![f, None, t, t]);
            assert_eq!(run("%BRASS", false, false), vec![t, None, f, f]);
            assert_eq!(run("%AND%", false, false), vec![f, None, t, f]);
            assert_eq!(run("STANDARD", false, false), vec![f, None, t, f]);
            assert_eq!(run("%", false, false), vec![t, None, t, t]);
            assert_eq!(run("_TAN%D", false, false), vec![f, None, t, f]);
            assert_eq!(run("%o", true, false), vec![f, None, f, t]);
            // Sliced input.
            let e = Expr::like(s.clone(), "%A%".into(), None, false, false).unwrap();
            assert_eq!(
                bools(&eval_on(&e, &batch.slice(1, 3)).unwrap()),
                vec![None, t, f]
            );
        }
    }
}
