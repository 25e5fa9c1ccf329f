//! The decoder of fixed-width columns (`Int32`, `Date32`, `Int64`, `Decimal64`, `Float32`,
//! `Float64`, and `Decimal128` stored as `INT64`): PLAIN values or dictionary indices gathered
//! into one buffer per batch.

use super::pages::{
    check_entries, filtered, in_page, recycle, Bits, ColumnDecoder, Pages, Step, Values,
};
use super::Failure;
use crate::error::Result;
use crate::exec::predicate::Condition;
use arrow::array::{make_array, ArrayRef, BooleanArray};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer};
use arrow::datatypes::DataType;

/// A fixed-width value as stored (little-endian) and in an Arrow buffer.
pub(super) trait Word: Copy + Default + Send + arrow::datatypes::ArrowNativeType {
    /// Its size as stored in the file (an `i128` is stored in 8 bytes).
    const SIZE: usize;
    fn from_le(bytes: &[u8]) -> Self;
}

impl Word for u32 {
    const SIZE: usize = 4;
    fn from_le(bytes: &[u8]) -> u32 {
        u32::from_le_bytes(bytes.try_into().unwrap_or_default())
    }
}

impl Word for u64 {
    const SIZE: usize = 8;
    fn from_le(bytes: &[u8]) -> u64 {
        u64::from_le_bytes(bytes.try_into().unwrap_or_default())
    }
}

/// A `Decimal128` stored as `INT64`: sign-extended.
impl Word for i128 {
    const SIZE: usize = 8;
    fn from_le(bytes: &[u8]) -> i128 {
        i128::from(i64::from_le_bytes(bytes.try_into().unwrap_or_default()))
    }
}

/// Appends `count` plain values from `bytes[*pos..]` to `out`.
pub(super) fn plain_words<T: Word>(
    bytes: &[u8],
    pos: &mut usize,
    count: usize,
    out: &mut Vec<T>,
) -> Result<(), Failure> {
    let len = count * T::SIZE;
    let values = bytes
        .get(*pos..*pos + len)
        .ok_or_else(|| Failure::Corrupt("values past the page's end".into()))?;
    out.extend(values.chunks_exact(T::SIZE).map(T::from_le));
    *pos += len;
    Ok(())
}

/// Spreads the `valid` values at the end of `out` over the last `levels.len()` places
/// (where `levels` is 1), filling the others with `fill`.
pub(super) fn spread<T: Copy>(out: &mut Vec<T>, levels: &[u8], valid: usize, fill: T) {
    let start = out.len() - valid;
    out.resize(start + levels.len(), fill);
    let mut next = start + valid;
    for (i, &level) in levels.iter().enumerate().rev() {
        if level != 0 {
            next -= 1;
            out[start + i] = out[next];
        } else {
            out[start + i] = fill;
        }
    }
}

/// The validity of a batch from its levels, or `None` when every row is valid.
pub(super) fn nulls(levels: &[u8], valid: usize) -> Option<NullBuffer> {
    (valid < levels.len()).then(|| {
        NullBuffer::new(BooleanBuffer::collect_bool(levels.len(), |i| {
            levels[i] != 0
        }))
    })
}

/// A column of 4- or 8-byte values.
pub(super) struct Words<T: Word> {
    pub(super) pages: Pages,
    pub(super) target: DataType,
    pub(super) dict: Vec<T>,
    pub(super) levels: Vec<u8>,
    /// Which entries of `dict` meet the condition the scan checks on this column (a column
    /// has one), once it has been asked; cleared with each new dictionary.
    met: Option<Vec<bool>>,
    /// Dictionary indices of the rows being read.
    indices: Vec<u32>,
}

impl<T: Word> Words<T> {
    pub(super) fn new(mut pages: Pages, target: &DataType) -> Words<T> {
        pages.dictionary_in_spare = true;
        Words {
            pages,
            target: target.clone(),
            dict: vec![],
            levels: vec![],
            met: None,
            indices: vec![],
        }
    }

    /// Appends the current page's next `count` values to `out`.
    pub(super) fn values(&mut self, count: usize, out: &mut Vec<T>) -> Result<(), Failure> {
        let (bytes, _, values) = self.pages.parts();
        match values {
            Values::Plain(pos) => plain_words(bytes, pos, count, out),
            Values::Dict(rle) => Ok(rle.gather(bytes, count, &self.dict, out)?),
            Values::Empty if count == 0 => Ok(()),
            Values::Empty => Err(Failure::Corrupt(
                "a page with fewer values than rows".into(),
            )),
        }
    }
}

impl<T: Word> ColumnDecoder for Words<T> {
    fn pages(&mut self) -> &mut Pages {
        &mut self.pages
    }

    fn read(&mut self, n: usize) -> Result<ArrayRef, Failure> {
        let mut out: Vec<T> = Vec::with_capacity(n);
        self.levels.clear();
        let mut valid = 0;
        while let Some(step) = self.pages.step(n - out.len())? {
            let Some(k) = self.rows(step)? else {
                continue;
            };
            let from = self.levels.len();
            let v = self.pages.validity(k, &mut self.levels)?;
            self.values(v, &mut out)?;
            if v < k {
                spread(&mut out, &self.levels[from..], v, T::default());
            }
            valid += v;
        }
        let nulls = if self.pages.nullable {
            nulls(&self.levels, valid)
        } else {
            None
        };
        self.array(out, nulls)
    }

    fn read_selected(
        &mut self,
        n: usize,
        selected: &[usize],
        mask: &BooleanArray,
    ) -> Result<ArrayRef, Failure> {
        if self.pages.nullable {
            return filtered(self.read(n)?, mask);
        }
        let mut out: Vec<T> = Vec::with_capacity(selected.len());
        let mut done = 0;
        let mut s = 0;
        while let Some(step) = self.pages.step(n - done)? {
            let Some(k) = self.rows(step)? else {
                continue;
            };
            let part = in_page(selected, &mut s, done, k);
            let (bytes, _, values) = self.pages.parts();
            match values {
                Values::Plain(pos) => {
                    let page = bytes
                        .get(*pos..*pos + k * T::SIZE)
                        .ok_or_else(|| Failure::Corrupt("values past the page's end".into()))?;
                    out.extend(part.iter().map(|&i| {
                        let at = (i - done) * T::SIZE;
                        T::from_le(&page[at..at + T::SIZE])
                    }));
                    *pos += k * T::SIZE;
                }
                Values::Dict(rle) => {
                    rle.gather_selected(bytes, k, done, part, &self.dict, &mut out)?
                }
                Values::Empty => {
                    return Err(Failure::Corrupt(
                        "a page with fewer values than rows".into(),
                    ))
                }
            }
            done += k;
        }
        self.array(out, None)
    }

    /// Dictionary-encoded pages check the condition once per dictionary entry and then look
    /// up each row's index, gathering only the entries of the rows that meet it; plain pages
    /// check the rows' values. A nullable column is read whole, then checked.
    fn read_meeting(
        &mut self,
        n: usize,
        selected: Option<&(Vec<usize>, BooleanArray)>,
        condition: &Condition,
    ) -> Result<(ArrayRef, BooleanBuffer), Failure> {
        if self.pages.nullable {
            return self.read_then_check(n, selected, condition);
        }
        let rows = selected.map_or(n, |(rows, _)| rows.len());
        // Room for every row: memory past the rows kept is never touched.
        let mut out: Vec<T> = Vec::with_capacity(rows);
        let mut met = Bits::new(rows);
        let mut indices = std::mem::take(&mut self.indices);
        let mut page: Vec<T> = vec![];
        let mut done = 0;
        let mut s = 0;
        while let Some(step) = self.pages.step(n - done)? {
            let Some(k) = self.rows(step)? else {
                continue;
            };
            let part = selected.map(|(rows, _)| in_page(rows, &mut s, done, k));
            if let Values::Dict(_) = self.pages.values {
                if self.met.is_none() {
                    let entries = self.array(self.dict.clone(), None)?;
                    let entries_met = condition
                        .mask(entries.as_ref())
                        .map_err(|e| Failure::Corrupt(e.to_string()))?;
                    self.met = Some(entries_met.iter().collect());
                }
                let entries_met = self.met.as_deref().unwrap_or(&[]);
                indices.clear();
                let (bytes, _, values) = self.pages.parts();
                if let Values::Dict(rle) = values {
                    match part {
                        Some(part) => rle.read_selected(bytes, k, done, part, &mut indices)?,
                        None => rle.read(bytes, k, &mut indices)?,
                    }
                }
                let dict = &self.dict;
                let entries_met = &entries_met[..entries_met.len().min(dict.len())];
                check_entries(&indices, entries_met, &mut met, |i| out.push(dict[i]))?;
            } else {
                page.clear();
                self.values(k, &mut page)?;
                let rows: Vec<T> = match part {
                    Some(part) => part.iter().map(|&i| page[i - done]).collect(),
                    None => std::mem::take(&mut page),
                };
                let len = rows.len();
                let rows = Buffer::from_vec(rows);
                let checked = self.array_of(rows.clone(), len, None)?;
                let rows_met = condition
                    .mask(checked.as_ref())
                    .map_err(|e| Failure::Corrupt(e.to_string()))?;
                let rows: &[T] = rows.typed_data();
                out.extend(rows_met.set_indices().map(|j| rows[j]));
                met.append(&rows_met);
            }
            done += k;
        }
        self.indices = indices;
        Ok((self.array(out, None)?, met.finish()))
    }
}

impl<T: Word> Words<T> {
    /// Takes a dictionary page, or returns the number of rows to read of a data page.
    fn rows(&mut self, step: Step) -> Result<Option<usize>, Failure> {
        match step {
            Step::Dictionary { data, count } => {
                self.dictionary(data, count)?;
                Ok(None)
            }
            Step::Rows { k, .. } => Ok(Some(k)),
        }
    }

    /// Reads a dictionary of `count` plain values.
    pub(super) fn dictionary(&mut self, data: Vec<u8>, count: usize) -> Result<(), Failure> {
        self.met = None;
        self.dict.clear();
        self.dict.reserve(count);
        let read = plain_words(&data, &mut 0, count, &mut self.dict);
        recycle(data);
        read
    }

    /// The column of `values` (each row's, 0 where NULL) and `nulls`.
    pub(super) fn array(
        &self,
        values: Vec<T>,
        nulls: Option<NullBuffer>,
    ) -> Result<ArrayRef, Failure> {
        let len = values.len();
        self.array_of(Buffer::from_vec(values), len, nulls)
    }

    /// The column of the `len` values of type `T` in `values`, and `nulls`.
    fn array_of(
        &self,
        values: Buffer,
        len: usize,
        nulls: Option<NullBuffer>,
    ) -> Result<ArrayRef, Failure> {
        let data = arrow::array::ArrayData::builder(self.target.clone())
            .len(len)
            .add_buffer(values)
            .nulls(nulls)
            .build()
            .map_err(|e| Failure::Corrupt(e.to_string()))?;
        Ok(make_array(data))
    }
}
