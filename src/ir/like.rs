//! LIKE patterns, parsed once for both engines.
//!
//! A pattern is split at its `%`s into segments; a segment is literal text and `_` pieces (one
//! character each). Escapes are resolved while parsing: the escape character makes the next
//! character literal, and an escape at the very end stands for itself (the binder rejects such
//! patterns, so only constant-folded ones reach here). Empty middle segments are dropped
//! (`a%%b` is `a%b`). The interpreter and the code generator both match with these segments, so
//! they cannot disagree on what a pattern means.

/// One element of a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LikePiece {
    /// Literal text.
    Text(String),
    /// `_`: any one character.
    One,
}

/// What a pattern reduces to when it is a simple shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LikeShape {
    /// No wildcard.
    Equals(String),
    /// `abc%`.
    StartsWith(String),
    /// `%abc`.
    EndsWith(String),
    /// `%abc%`.
    Contains(String),
    /// `%`: every non-NULL string.
    Any,
}

/// A parsed pattern: the segments between its `%`s; one segment means no `%`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LikePattern {
    pub segments: Vec<Vec<LikePiece>>,
}

impl LikePattern {
    /// Parses `pattern` with escape character `escape` (none when `None`).
    pub fn parse(pattern: &str, escape: Option<char>) -> LikePattern {
        let mut segments = vec![];
        let mut pieces: Vec<LikePiece> = vec![];
        let mut text = String::new();
        let flush = |text: &mut String, pieces: &mut Vec<LikePiece>| {
            if !text.is_empty() {
                pieces.push(LikePiece::Text(std::mem::take(text)));
            }
        };
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            if Some(c) == escape {
                text.push(chars.next().unwrap_or(c));
            } else if c == '%' {
                flush(&mut text, &mut pieces);
                segments.push(std::mem::take(&mut pieces));
            } else if c == '_' {
                flush(&mut text, &mut pieces);
                pieces.push(LikePiece::One);
            } else {
                text.push(c);
            }
        }
        flush(&mut text, &mut pieces);
        segments.push(pieces);
        if segments.len() > 2 {
            let last = segments.pop();
            let first = segments.remove(0);
            segments.retain(|s| !s.is_empty());
            segments.insert(0, first);
            segments.extend(last);
        }
        LikePattern { segments }
    }

    /// The pattern with its literal text lowercased (Unicode), for ILIKE.
    pub fn lowercased(self) -> LikePattern {
        let segments = self
            .segments
            .into_iter()
            .map(|s| {
                s.into_iter()
                    .map(|p| match p {
                        LikePiece::Text(t) => LikePiece::Text(t.to_lowercase()),
                        one => one,
                    })
                    .collect()
            })
            .collect();
        LikePattern { segments }
    }

    /// The simple shape of the pattern, if it has one.
    pub fn shape(&self) -> Option<LikeShape> {
        let literals: Option<Vec<String>> = self.segments.iter().map(|s| literal(s)).collect();
        Some(match literals?.as_slice() {
            [one] => LikeShape::Equals(one.clone()),
            [a, b] if a.is_empty() && b.is_empty() => LikeShape::Any,
            [prefix, b] if b.is_empty() => LikeShape::StartsWith(prefix.clone()),
            [a, suffix] if a.is_empty() => LikeShape::EndsWith(suffix.clone()),
            [a, middle, c] if a.is_empty() && c.is_empty() => LikeShape::Contains(middle.clone()),
            _ => return None,
        })
    }
}

/// A segment's text, if it has no `_`.
pub fn literal(segment: &[LikePiece]) -> Option<String> {
    let mut out = String::new();
    for p in segment {
        match p {
            LikePiece::Text(t) => out.push_str(t),
            LikePiece::One => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(p: &str) -> Option<LikeShape> {
        LikePattern::parse(p, Some('\\')).shape()
    }

    #[test]
    fn simple_shapes() {
        assert_eq!(shape("abc"), Some(LikeShape::Equals("abc".into())));
        assert_eq!(shape("abc%"), Some(LikeShape::StartsWith("abc".into())));
        assert_eq!(shape("%abc"), Some(LikeShape::EndsWith("abc".into())));
        assert_eq!(shape("%%abc%%"), Some(LikeShape::Contains("abc".into())));
        assert_eq!(shape("%"), Some(LikeShape::Any));
        assert_eq!(shape(r"a\%b"), Some(LikeShape::Equals("a%b".into())));
        assert_eq!(shape("a_c"), None);
        assert_eq!(shape("a%b%c"), None);
    }

    #[test]
    fn escapes_and_segments() {
        let p = LikePattern::parse("a#_%%b_", Some('#'));
        assert_eq!(
            p.segments,
            vec![
                vec![LikePiece::Text("a_".into())],
                vec![LikePiece::Text("b".into()), LikePiece::One],
            ]
        );
        let p = LikePattern::parse(r"ab\", Some('\\'));
        assert_eq!(p.segments, vec![vec![LikePiece::Text(r"ab\".into())]]);
        let p = LikePattern::parse(r"a\_", None);
        assert_eq!(
            p.segments,
            vec![vec![LikePiece::Text(r"a\".into()), LikePiece::One]]
        );
        assert_eq!(
            LikePattern::parse("ÀB%", None).lowercased().shape(),
            Some(LikeShape::StartsWith("àb".into()))
        );
    }
}
