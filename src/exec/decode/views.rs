//! The decoder of string and binary columns into views (`Utf8View`, `BinaryView`): short values
//! inline, longer ones pointing into the pages' decompressed bytes, which the batch keeps.

use super::pages::{check_entries, filtered, in_page, Bits, ColumnDecoder, Pages, Step, Values};
use super::words::{nulls, spread};
use super::Failure;
use crate::error::Result;
use crate::exec::predicate::Condition;
use arrow::array::builder::make_view;
use arrow::array::{ArrayRef, BinaryViewArray, BooleanArray, StringViewArray};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, ScalarBuffer};
use std::sync::Arc;

/// A `BYTE_ARRAY` column read as string or binary views.
pub(super) struct Views {
    pub(super) pages: Pages,
    pub(super) utf8: bool,
    /// The dictionary's bytes and a view of each entry into them (buffer 0 of every batch).
    pub(super) dict: Option<(Buffer, Vec<u128>)>,
    pub(super) levels: Vec<u8>,
    /// The data buffers of the batch being built, and the index among them of the current
    /// plain page's bytes.
    pub(super) buffers: Vec<Buffer>,
    pub(super) page_buffer: Option<u32>,
    /// Each dictionary entry's number, and whether it meets the condition a prefilter checks
    /// on this column (computed once per dictionary, on first use).
    pub(super) ids: Vec<u32>,
    pub(super) met: Option<Vec<bool>>,
}

impl Views {
    pub(super) fn new(mut pages: Pages, utf8: bool) -> Views {
        pages.share_plain = true;
        Views {
            pages,
            utf8,
            dict: None,
            levels: vec![],
            buffers: vec![],
            page_buffer: None,
            ids: vec![],
            met: None,
        }
    }

    /// Reads a dictionary of `count` plain byte arrays.
    pub(super) fn dictionary(&mut self, data: Vec<u8>, count: usize) -> Result<(), Failure> {
        let data = Buffer::from_vec(data);
        let mut views = Vec::with_capacity(count);
        let mut pos = 0;
        plain_views(data.as_slice(), &mut pos, count, 0, self.utf8, &mut views)?;
        if !self.buffers.is_empty() {
            return Err(Failure::Corrupt(
                "a dictionary page after data pages".into(),
            ));
        }
        self.buffers.push(data.clone());
        self.ids = (0..views.len() as u32).collect();
        self.met = None;
        self.dict = Some((data, views));
        Ok(())
    }

    /// Appends the current page's next `count` values to `out`.
    pub(super) fn values(&mut self, count: usize, out: &mut Vec<u128>) -> Result<(), Failure> {
        if let (Values::Plain(_), None) = (&self.pages.values, self.page_buffer) {
            let shared = self
                .pages
                .shared
                .clone()
                .ok_or_else(|| Failure::Corrupt("a plain page without its bytes".into()))?;
            self.page_buffer = Some(self.buffers.len() as u32);
            self.buffers.push(shared);
        }
        let (bytes, _, values) = self.pages.parts();
        match values {
            Values::Plain(pos) => {
                let block = self.page_buffer.unwrap_or_default();
                plain_views(bytes, pos, count, block, self.utf8, out)
            }
            Values::Dict(rle) => {
                let dict = self.dict.as_ref().map(|(_, v)| v.as_slice()).unwrap_or(&[]);
                Ok(rle.gather(bytes, count, dict, out)?)
            }
            Values::Empty if count == 0 => Ok(()),
            Values::Empty => Err(Failure::Corrupt(
                "a page with fewer values than rows".into(),
            )),
        }
    }
}

/// Appends views of `count` plain byte arrays in `bytes[*pos..]` (data buffer `block`).
pub(super) fn plain_views(
    bytes: &[u8],
    pos: &mut usize,
    count: usize,
    block: u32,
    utf8: bool,
    out: &mut Vec<u128>,
) -> Result<(), Failure> {
    let past_end = || Failure::Corrupt("a string past the page's end".into());
    if u32::try_from(bytes.len()).is_err() {
        return Err(Failure::Corrupt("a page of more than 4 GiB".into()));
    }
    out.reserve(count);
    let first = *pos;
    let mut p = first;
    // Whether every value starts and ends on what is a character boundary if the values and
    // their length prefixes together are UTF-8 (a byte that is not a continuation byte).
    let mut boundaries = true;
    let boundary = |at: usize| bytes.get(at).is_none_or(|&b| (b as i8) >= -0x40);
    for _ in 0..count {
        let header = bytes.get(p..p + 4).ok_or_else(past_end)?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let start = p + 4;
        let end = start
            .checked_add(len)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(past_end)?;
        out.push(make_view(&bytes[start..end], block, start as u32));
        boundaries &= boundary(start) & boundary(end);
        p = end;
    }
    *pos = p;
    if !utf8 {
        return Ok(());
    }
    // The values and their prefixes checked as one text (UTF-8 whenever every length is below
    // 128): with every value on character boundaries, each value is UTF-8 too. Otherwise each
    // value is checked alone.
    if boundaries && std::str::from_utf8(&bytes[first..p]).is_ok() {
        return Ok(());
    }
    let mut p = first;
    for _ in 0..count {
        let len = u32::from_le_bytes([bytes[p], bytes[p + 1], bytes[p + 2], bytes[p + 3]]) as usize;
        if std::str::from_utf8(&bytes[p + 4..p + 4 + len]).is_err() {
            return Err(Failure::NotUtf8);
        }
        p += 4 + len;
    }
    Ok(())
}

impl ColumnDecoder for Views {
    fn pages(&mut self) -> &mut Pages {
        &mut self.pages
    }

    fn read(&mut self, n: usize) -> Result<ArrayRef, Failure> {
        let mut out: Vec<u128> = Vec::with_capacity(n);
        self.start_batch();
        let mut valid = 0;
        while let Some(step) = self.pages.step(n - out.len())? {
            let Some(k) = self.rows(step)? else {
                continue;
            };
            let from = self.levels.len();
            let v = self.pages.validity(k, &mut self.levels)?;
            self.values(v, &mut out)?;
            if v < k {
                spread(&mut out, &self.levels[from..], v, 0);
            }
            valid += v;
        }
        let nulls = if self.pages.nullable {
            nulls(&self.levels, valid)
        } else {
            None
        };
        Ok(self.array(out, nulls))
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
        let mut out: Vec<u128> = Vec::with_capacity(selected.len());
        let mut page = vec![];
        self.start_batch();
        let mut done = 0;
        let mut s = 0;
        while let Some(step) = self.pages.step(n - done)? {
            let Some(k) = self.rows(step)? else {
                continue;
            };
            let part = in_page(selected, &mut s, done, k);
            if let Values::Dict(_) = self.pages.values {
                let dict = self.dict.as_ref().map(|(_, v)| v.as_slice()).unwrap_or(&[]);
                let (bytes, _, values) = self.pages.parts();
                if let Values::Dict(rle) = values {
                    rle.gather_selected(bytes, k, done, part, dict, &mut out)?;
                }
            } else {
                // Plain values are parsed one after another: all of them, keeping some.
                page.clear();
                self.values(k, &mut page)?;
                out.extend(part.iter().map(|&i| page[i - done]));
            }
            done += k;
        }
        Ok(self.array(out, None))
    }

    /// Dictionary-encoded pages check the condition once per dictionary entry and then look
    /// each row's entry up; plain pages check the rows' values.
    fn read_meeting(
        &mut self,
        n: usize,
        selected: Option<&(Vec<usize>, BooleanArray)>,
        condition: &Condition,
    ) -> Result<(ArrayRef, BooleanBuffer), Failure> {
        if self.pages.nullable || !self.utf8 {
            return self.read_then_check(n, selected, condition);
        }
        let mut out: Vec<u128> = vec![];
        let mut met = Bits::new(selected.map_or(n, |(rows, _)| rows.len()));
        let mut indices: Vec<u32> = vec![];
        let mut page = vec![];
        self.start_batch();
        let mut done = 0;
        let mut s = 0;
        while let Some(step) = self.pages.step(n - done)? {
            let Some(k) = self.rows(step)? else {
                continue;
            };
            let part = selected.map(|(rows, _)| in_page(rows, &mut s, done, k));
            if let Values::Dict(_) = self.pages.values {
                let Some((data, views)) = &self.dict else {
                    return Err(Failure::Corrupt(
                        "dictionary indices without a dictionary".into(),
                    ));
                };
                if self.met.is_none() {
                    let buffers: Arc<[Buffer]> = Arc::new([data.clone()]);
                    // SAFETY: the dictionary's views were made by `make_view` from its bytes
                    // (buffer 0), checked to be UTF-8 (string conditions are only on text).
                    let entries = unsafe {
                        StringViewArray::new_unchecked(views.clone().into(), buffers, None)
                    };
                    let entries_met = condition
                        .mask(&entries)
                        .map_err(|e| Failure::Corrupt(e.to_string()))?;
                    self.met = Some(entries_met.iter().collect());
                }
                let entries_met = self.met.as_deref().unwrap_or(&[]);
                indices.clear();
                let (bytes, _, values) = self.pages.parts();
                if let Values::Dict(rle) = values {
                    match part {
                        Some(part) => {
                            rle.gather_selected(bytes, k, done, part, &self.ids, &mut indices)?
                        }
                        None => rle.gather(bytes, k, &self.ids, &mut indices)?,
                    }
                }
                let entries_met = &entries_met[..entries_met.len().min(views.len())];
                check_entries(&indices, entries_met, &mut met, |i| out.push(views[i]))?;
            } else {
                page.clear();
                self.values(k, &mut page)?;
                let rows: Vec<u128> = match part {
                    Some(part) => part.iter().map(|&i| page[i - done]).collect(),
                    None => page.clone(),
                };
                let buffers: Arc<[Buffer]> = self.buffers.clone().into();
                // SAFETY: the views were made by `make_view` from this batch's buffers (the
                // plain page's was added by `values`), checked to be UTF-8.
                let checked =
                    unsafe { StringViewArray::new_unchecked(rows.clone().into(), buffers, None) };
                let rows_met = condition
                    .mask(&checked)
                    .map_err(|e| Failure::Corrupt(e.to_string()))?;
                met.append(&rows_met);
                out.extend(rows_met.set_indices().map(|j| rows[j]));
            }
            done += k;
        }
        Ok((self.array(out, None), met.finish()))
    }
}

impl Views {
    /// Takes a dictionary page, or returns the number of rows to read of a data page (whose
    /// plain bytes, on its first rows, are not among this batch's buffers yet).
    pub(super) fn rows(&mut self, step: Step) -> Result<Option<usize>, Failure> {
        match step {
            Step::Dictionary { data, count } => {
                self.dictionary(data, count)?;
                Ok(None)
            }
            Step::Rows { k, new_page } => {
                if new_page {
                    self.page_buffer = None;
                }
                Ok(Some(k))
            }
        }
    }

    /// Starts the data buffers of a new batch: the dictionary's (if any) at index 0.
    pub(super) fn start_batch(&mut self) {
        self.levels.clear();
        self.buffers.clear();
        self.page_buffer = None;
        if let Some((data, _)) = &self.dict {
            self.buffers.push(data.clone());
        }
    }

    /// The array of `out`, views into this batch's data buffers, and `nulls`.
    pub(super) fn array(&mut self, out: Vec<u128>, nulls: Option<NullBuffer>) -> ArrayRef {
        let views = ScalarBuffer::from(out);
        let buffers: Arc<[Buffer]> = std::mem::take(&mut self.buffers).into();
        // SAFETY: every view was made by `make_view` from bytes of the buffer it names (the
        // dictionary's at index 0, each plain page's at the index it was given), and those
        // bytes were checked to be UTF-8 when `utf8`.
        if self.utf8 {
            Arc::new(unsafe { StringViewArray::new_unchecked(views, buffers, nulls) })
        } else {
            Arc::new(unsafe { BinaryViewArray::new_unchecked(views, buffers, nulls) })
        }
    }
}
