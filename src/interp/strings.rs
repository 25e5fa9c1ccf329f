//! String functions: `||`, `LENGTH`, `UPPER`, `LOWER`, `SUBSTRING`; and read access to strings in
//! every Arrow layout.
//!
//! In: `VARCHAR` arrays in any layout (`Utf8`, `LargeUtf8`, `Utf8View`). Out: `Utf8` arrays
//! (`LENGTH`: `INTEGER`). Lengths and positions count characters (Unicode scalar values), not
//! bytes; case mapping is Rust's Unicode `to_uppercase` / `to_lowercase`.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int32Array, Int64Array, LargeStringArray, StringArray, StringBuilder,
    StringViewArray,
};
use arrow::buffer::NullBuffer;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};

use super::eval;
use super::input::Input;
use super::kernel::Operand;
use crate::error::{Error, Result};
use crate::ir::Expr;

/// Read access to a string array in any of Arrow's string layouts.
#[derive(Clone, Copy)]
pub(crate) enum StrArray<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl<'a> StrArray<'a> {
    /// The strings of `array`; an internal error for a non-string array (dictionaries have been
    /// unpacked when the column was read).
    pub fn new(array: &'a dyn Array) -> Result<StrArray<'a>> {
        match array.data_type() {
            DataType::Utf8 => Ok(StrArray::Utf8(array.as_string::<i32>())),
            DataType::LargeUtf8 => Ok(StrArray::Large(array.as_string::<i64>())),
            DataType::Utf8View => Ok(StrArray::View(array.as_string_view())),
            other => Err(Error::internal(format!(
                "expected VARCHAR values, got {other}"
            ))),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            StrArray::Utf8(a) => a.len(),
            StrArray::Large(a) => a.len(),
            StrArray::View(a) => a.len(),
        }
    }

    pub fn nulls(&self) -> Option<&'a NullBuffer> {
        match *self {
            StrArray::Utf8(a) => a.nulls(),
            StrArray::Large(a) => a.nulls(),
            StrArray::View(a) => a.nulls(),
        }
    }

    #[inline]
    pub fn is_valid(&self, i: usize) -> bool {
        self.nulls().is_none_or(|n| n.is_valid(i))
    }

    /// The string at row `i` (only meaningful for a valid row).
    #[inline]
    pub fn value(&self, i: usize) -> &'a str {
        match *self {
            StrArray::Utf8(a) => a.value(i),
            StrArray::Large(a) => a.value(i),
            StrArray::View(a) => a.value(i),
        }
    }

    /// The string at row `i`, or `None` for NULL.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&'a str> {
        self.is_valid(i).then(|| self.value(i))
    }

    /// The total size in bytes of the string data (a capacity hint).
    pub fn data_len(&self) -> usize {
        match self {
            StrArray::Utf8(a) => a.value_data().len(),
            StrArray::Large(a) => a.value_data().len(),
            StrArray::View(a) => {
                a.data_buffers().iter().map(|b| b.len()).sum::<usize>() + 12 * a.len()
            }
        }
    }
}

/// Casts string arrays of different layouts to one layout (`Utf8View` if any is a view, else
/// `LargeUtf8` if any is large, else `Utf8`); other arrays are returned as they are.
pub(crate) fn unify_strings(arrays: &[ArrayRef]) -> Result<Vec<ArrayRef>> {
    let types: Vec<&DataType> = arrays.iter().map(|a| a.data_type()).collect();
    if types.windows(2).all(|w| w[0] == w[1]) {
        return Ok(arrays.to_vec());
    }
    let target = if types.contains(&&DataType::Utf8View) {
        DataType::Utf8View
    } else if types.contains(&&DataType::LargeUtf8) {
        DataType::LargeUtf8
    } else {
        DataType::Utf8
    };
    arrays
        .iter()
        .map(|a| match a.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                if a.data_type() != &target =>
            {
                Ok(cast(a.as_ref(), &target)?)
            }
            _ => Ok(a.clone()),
        })
        .collect()
}

/// The most string data a `Utf8` array (32-bit offsets) holds.
const MAX_UTF8_DATA: usize = i32::MAX as usize;

/// Builds a `Utf8` array from a function that writes row `i`'s string into a buffer, or returns
/// `Ok(false)` for NULL.
pub(crate) fn build_strings(
    len: usize,
    capacity: usize,
    mut f: impl FnMut(usize, &mut String) -> Result<bool>,
) -> Result<StringArray> {
    let mut builder = StringBuilder::with_capacity(len, capacity.min(MAX_UTF8_DATA));
    let mut buf = String::new();
    let mut total = 0usize;
    for i in 0..len {
        buf.clear();
        if f(i, &mut buf)? {
            total += buf.len();
            if total > MAX_UTF8_DATA {
                return Err(Error::overflow(
                    "VARCHAR",
                    "the strings of one batch exceed 2 GiB",
                ));
            }
            builder.append_value(&buf);
        } else {
            builder.append_null();
        }
    }
    Ok(builder.finish())
}

/// `left || right`: NULL if either is NULL.
pub(crate) fn concat(left: &Expr, right: &Expr, input: &Input) -> Result<ArrayRef> {
    let (l, r) = (eval(left, input)?, eval(right, input)?);
    let (l, r) = (StrArray::new(l.as_ref())?, StrArray::new(r.as_ref())?);
    let out = build_strings(l.len(), l.data_len() + r.data_len(), |i, buf| {
        match (l.get(i), r.get(i)) {
            (Some(a), Some(b)) => {
                buf.push_str(a);
                buf.push_str(b);
                Ok(true)
            }
            _ => Ok(false),
        }
    })?;
    Ok(Arc::new(out))
}

/// `LENGTH(s)` in characters.
pub(crate) fn length(arg: &ArrayRef) -> Result<ArrayRef> {
    let s = StrArray::new(arg.as_ref())?;
    let mut values = vec![0i32; s.len()];
    for (i, v) in values.iter_mut().enumerate() {
        if s.is_valid(i) {
            let text = s.value(i);
            let chars = if text.is_ascii() {
                text.len()
            } else {
                text.chars().count()
            };
            *v = i32::try_from(chars).map_err(|_| {
                Error::overflow("INTEGER", format!("length of a {chars}-character string"))
            })?;
        }
    }
    Ok(Arc::new(Int32Array::new(values.into(), s.nulls().cloned())))
}

/// `UPPER(s)` or `LOWER(s)`.
pub(crate) fn change_case(arg: &ArrayRef, upper: bool) -> Result<ArrayRef> {
    let s = StrArray::new(arg.as_ref())?;
    let out = build_strings(s.len(), s.data_len(), |i, buf| {
        let Some(text) = s.get(i) else {
            return Ok(false);
        };
        match (text.is_ascii(), upper) {
            (true, true) => buf.extend(text.bytes().map(|b| b.to_ascii_uppercase() as char)),
            (true, false) => buf.extend(text.bytes().map(|b| b.to_ascii_lowercase() as char)),
            (false, true) => buf.push_str(&text.to_uppercase()),
            (false, false) => buf.push_str(&text.to_lowercase()),
        }
        Ok(true)
    })?;
    Ok(Arc::new(out))
}

/// `REPLACE(s, from, to)` per row ([`crate::ir::scalar::replace_into`]); NULL where any is.
pub(crate) fn replace(arg: &ArrayRef, from: &ArrayRef, to: &ArrayRef) -> Result<ArrayRef> {
    let s = StrArray::new(arg.as_ref())?;
    let from = StrArray::new(from.as_ref())?;
    let to = StrArray::new(to.as_ref())?;
    let out = build_strings(s.len(), s.data_len(), |i, buf| {
        let (Some(text), Some(f), Some(t)) = (s.get(i), from.get(i), to.get(i)) else {
            return Ok(false);
        };
        crate::ir::scalar::replace_into(text, f, t, buf);
        Ok(true)
    })?;
    Ok(Arc::new(out))
}

/// The error of `LPAD`/`RPAD` past [`crate::ir::scalar::MAX_PAD_CHARS`] (PostgreSQL's).
pub(crate) const PAD_TOO_LONG: &str = "requested length too large";

/// `LPAD`/`RPAD(s, n, fill)` per row ([`crate::ir::scalar::pad_into`]); NULL where any is.
pub(crate) fn pad(s: &Expr, n: &Expr, fill: &Expr, left: bool, input: &Input) -> Result<ArrayRef> {
    use arrow::datatypes::Int32Type;
    let text = eval(s, input)?;
    let s = StrArray::new(text.as_ref())?;
    let fill = eval(fill, input)?;
    let fill = StrArray::new(fill.as_ref())?;
    let n = Operand::<Int32Type>::eval(n, input)?;
    let count = |i: usize| -> Option<i64> {
        match &n {
            Operand::Array(a) => a.is_valid(i).then(|| i64::from(a.value(i))),
            Operand::Const(c) => Some(i64::from(*c)),
            Operand::Null => None,
        }
    };
    let out = build_strings(s.len(), s.data_len(), |i, buf| {
        let (Some(text), Some(k), Some(f)) = (s.get(i), count(i), fill.get(i)) else {
            return Ok(false);
        };
        if k > crate::ir::scalar::MAX_PAD_CHARS {
            return Err(Error::InvalidArgument {
                message: PAD_TOO_LONG.into(),
            });
        }
        crate::ir::scalar::pad_into(text, k, f, left, buf);
        Ok(true)
    })?;
    Ok(Arc::new(out))
}

/// `STRPOS(s, sub)` per row ([`crate::ir::scalar::strpos`]); NULL where either is NULL.
pub(crate) fn strpos(arg: &ArrayRef, sub: &ArrayRef) -> Result<ArrayRef> {
    let s = StrArray::new(arg.as_ref())?;
    let sub = StrArray::new(sub.as_ref())?;
    let out: arrow::array::Int32Array = (0..s.len())
        .map(|i| match (s.get(i), sub.get(i)) {
            // A string of at most 2^31 bytes: its positions fit an INTEGER.
            (Some(t), Some(p)) => {
                Some(crate::ir::scalar::strpos(t.as_bytes(), p.as_bytes()) as i32)
            }
            _ => None,
        })
        .collect();
    Ok(Arc::new(out))
}

/// `TRIM`: each string without its leading (`leading`) and trailing (`trailing`) characters
/// that occur in the row's `chars`; NULL where either is NULL.
pub(crate) fn trim(
    arg: &ArrayRef,
    chars: &ArrayRef,
    leading: bool,
    trailing: bool,
) -> Result<ArrayRef> {
    let s = StrArray::new(arg.as_ref())?;
    let set = StrArray::new(chars.as_ref())?;
    let out = build_strings(s.len(), s.data_len(), |i, buf| {
        let (Some(text), Some(set)) = (s.get(i), set.get(i)) else {
            return Ok(false);
        };
        let remove = |c: char| set.contains(c);
        let mut t = text;
        if leading {
            t = t.trim_start_matches(remove);
        }
        if trailing {
            t = t.trim_end_matches(remove);
        }
        buf.push_str(t);
        Ok(true)
    })?;
    Ok(Arc::new(out))
}

/// `SUBSTRING(s, start [, len])` with PostgreSQL's rules, in characters: the result is the
/// characters at 1-based positions `[start, start + len)` ∩ `[1, length]`; without `len`, from
/// `max(start, 1)` to the end. A negative `len` is [`Error::InvalidArgument`].
pub(crate) fn substring(args: &[Expr], input: &Input) -> Result<ArrayRef> {
    let (text, start, count) = match args {
        [t, s] => (t, s, None),
        [t, s, c] => (t, s, Some(c)),
        _ => {
            return Err(Error::internal(
                "SUBSTRING with a wrong number of arguments",
            ))
        }
    };
    let text = eval(text, input)?;
    let s = StrArray::new(text.as_ref())?;
    let start = Operand::<Int64Type>::eval(start, input)?;
    let count = match count {
        Some(c) => Some(Operand::<Int64Type>::eval(c, input)?),
        None => None,
    };
    let start = int64_values(&start, s.len())?;
    let count = count.map(|c| int64_values(&c, s.len())).transpose()?;
    let out = build_strings(s.len(), s.data_len(), |i, buf| {
        let (Some(text), Some(from)) = (s.get(i), start.get(i)) else {
            return Ok(false);
        };
        let end = match &count {
            Some(c) => match c.get(i) {
                None => return Ok(false),
                Some(len) if len < 0 => {
                    return Err(Error::InvalidArgument {
                        message: "negative substring length not allowed".into(),
                    })
                }
                Some(len) => Some(from.saturating_add(len)),
            },
            None => None,
        };
        buf.push_str(substring_chars(text, from, end));
        Ok(true)
    })?;
    Ok(Arc::new(out))
}

/// The characters of `text` at 1-based positions `[from, end)` (to the end when `end` is
/// `None`), clipped to the string.
pub(crate) fn substring_chars(text: &str, from: i64, end: Option<i64>) -> &str {
    let first = from.max(1);
    let last = end.unwrap_or(i64::MAX);
    if last <= first {
        return "";
    }
    // Byte offsets of the first and one-past-last chosen characters.
    let byte_at = |position: i64| -> usize {
        // `position` is 1-based and at least 1.
        let skip = usize::try_from(position - 1).unwrap_or(usize::MAX);
        if text.is_ascii() {
            return skip.min(text.len());
        }
        text.char_indices()
            .nth(skip)
            .map_or(text.len(), |(offset, _)| offset)
    };
    let begin = byte_at(first);
    let finish = if last == i64::MAX {
        text.len()
    } else {
        byte_at(last)
    };
    &text[begin..finish.max(begin)]
}

/// A nullable `BIGINT` operand read row by row.
enum Int64Values {
    Array(Int64Array),
    Const(Option<i64>),
}

impl Int64Values {
    fn get(&self, i: usize) -> Option<i64> {
        match self {
            Int64Values::Array(a) => a.is_valid(i).then(|| a.value(i)),
            Int64Values::Const(v) => *v,
        }
    }
}

fn int64_values(op: &Operand<Int64Type>, len: usize) -> Result<Int64Values> {
    Ok(match op {
        Operand::Array(a) if a.len() == len => Int64Values::Array(a.clone()),
        Operand::Array(_) => return Err(Error::internal("SUBSTRING argument of a wrong length")),
        Operand::Const(v) => Int64Values::Const(Some(*v)),
        Operand::Null => Int64Values::Const(None),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::ir::{BinaryOp, Func, SqlType};

    #[test]
    fn substring_follows_postgres() {
        let sub = |text, start: i64, len: Option<i64>| {
            substring_chars(text, start, len.map(|l| start + l)).to_string()
        };
        assert_eq!(sub("hello", 0, Some(3)), "he");
        assert_eq!(sub("hello", -5, None), "hello");
        assert_eq!(sub("hello", 2, Some(3)), "ell");
        assert_eq!(sub("hello", 2, None), "ello");
        assert_eq!(sub("hello", 10, Some(3)), "");
        assert_eq!(sub("hello", -5, Some(3)), "");
        assert_eq!(sub("hello", -1, Some(3)), "h");
        assert_eq!(sub("hello", 3, Some(100)), "llo");
        assert_eq!(sub("héllo", 2, Some(2)), "él");
        assert_eq!(sub("héllo", 1, Some(0)), "");
        assert_eq!(sub("日本語", 3, None), "語");
        assert_eq!(sub("日本語", 0, Some(2)), "日");
    }

    #[test]
    fn substring_over_arrays_and_errors() {
        let (s, batch) = one_column(Arc::new(StringViewArray::from(vec![
            Some("hello"),
            None,
            Some("日本語"),
        ])));
        let e = Expr::func(Func::Substring, vec![s.clone(), lit_i64(2), lit_i64(2)]).unwrap();
        assert_eq!(
            strings(&eval_on(&e, &batch).unwrap()),
            vec![Some("el".into()), None, Some("本語".into())]
        );
        let neg = Expr::func(Func::Substring, vec![s.clone(), lit_i64(1), lit_i64(-1)]).unwrap();
        let err = eval_on(&neg, &batch).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid argument: negative substring length not allowed"
        );
        // Not raised where the string is NULL.
        let only_null = eval_on(&neg, &batch.slice(1, 1)).unwrap();
        assert_eq!(only_null.null_count(), 1);
        let huge = Expr::func(
            Func::Substring,
            vec![s, lit_i64(i64::MAX), lit_i64(i64::MAX)],
        )
        .unwrap();
        assert_eq!(
            strings(&eval_on(&huge, &batch).unwrap()),
            vec![Some("".into()), None, Some("".into())]
        );
    }

    #[test]
    fn length_upper_lower_concat() {
        let (s, batch) = one_column(Arc::new(LargeStringArray::from(vec![
            Some("Straße"),
            None,
            Some("abc"),
        ])));
        let len = Expr::func(Func::Length, vec![s.clone()]).unwrap();
        assert_int32(&eval_on(&len, &batch).unwrap(), &[Some(6), None, Some(3)]);
        let up = Expr::func(Func::Upper, vec![s.clone()]).unwrap();
        assert_eq!(
            strings(&eval_on(&up, &batch).unwrap()),
            vec![Some("STRASSE".into()), None, Some("ABC".into())]
        );
        let low = Expr::func(Func::Lower, vec![lit_str("ÀB")]).unwrap();
        assert_eq!(
            strings(&eval_on(&low, &batch).unwrap())[0],
            Some("àb".into())
        );
        let cat = bin(BinaryOp::Concat, s.clone(), lit_str("!"));
        assert_eq!(
            strings(&eval_on(&cat, &batch).unwrap()),
            vec![Some("Straße!".into()), None, Some("abc!".into())]
        );
        let null = bin(BinaryOp::Concat, s, Expr::null(SqlType::Utf8));
        assert_eq!(eval_on(&null, &batch).unwrap().null_count(), 3);
    }

    #[test]
    fn dictionary_and_sliced_inputs() {
        use arrow::array::DictionaryArray;
        use arrow::datatypes::Int16Type;
        let dict: DictionaryArray<Int16Type> = vec![Some("ab"), None, Some("ab"), Some("çd")]
            .into_iter()
            .collect();
        let (s, batch) = one_column(Arc::new(dict));
        let batch = batch.slice(1, 3);
        let up = Expr::func(Func::Upper, vec![s.clone()]).unwrap();
        assert_eq!(
            strings(&eval_on(&up, &batch).unwrap()),
            vec![None, Some("AB".into()), Some("ÇD".into())]
        );
        let cat = bin(BinaryOp::Concat, s.clone(), s.clone());
        assert_eq!(
            strings(&eval_on(&cat, &batch).unwrap()),
            vec![None, Some("abab".into()), Some("çdçd".into())]
        );
        let len = Expr::func(Func::Length, vec![s]).unwrap();
        assert_int32(&eval_on(&len, &batch).unwrap(), &[None, Some(2), Some(2)]);
    }
}
