//! The pages of a column chunk, one after another ([`Pages`]): the dictionary page, then data
//! pages whose definition levels and values (PLAIN, or dictionary indices) the column decoders
//! read; and [`ColumnDecoder`], what every column decoder does.

use super::chunk::{Chunk, Codec};
use super::rle::Rle;
use super::Failure;
use crate::error::Result;
use crate::exec::predicate::Condition;
use crate::exec::shared_file::SharedFile;
use arrow::array::{ArrayRef, BooleanArray};
use arrow::buffer::{BooleanBuffer, Buffer};
use bytes::Bytes;
use parquet::basic::{Compression, Encoding};
use parquet::column::page::Page;
use parquet::column::page::PageReader;
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::serialized_reader::SerializedPageReader;
use std::cell::RefCell;
use std::sync::Arc;

/// How the values of the current data page are encoded.
pub(super) enum Values {
    /// Plain values from this byte position on.
    Plain(usize),
    /// Dictionary indices.
    Dict(Rle),
    /// The page holds no values (all NULL).
    Empty,
}

/// What [`Pages::step`] found.
pub(super) enum Step {
    /// A dictionary page of `count` plain values.
    Dictionary { data: Vec<u8>, count: usize },
    /// The next `k` rows, all in the current data page (`new_page`: its first rows).
    Rows { k: usize, new_page: bool },
}

/// What [`Pages::next`] found.
pub(super) enum PageKind {
    /// A dictionary page of `count` plain values.
    Dictionary { data: Vec<u8>, count: usize },
    /// A data page, set up for reading.
    Data,
}

/// The pages of one column chunk, read one after another.
pub(super) struct Pages {
    pub(super) reader: SerializedPageReader<Chunk>,
    pub(super) codec: Codec,
    /// Whether the column is optional (definition levels of 1 bit).
    pub(super) nullable: bool,
    /// Whether plain data pages go into a buffer of their own (string views point into them).
    pub(super) share_plain: bool,
    /// Whether the dictionary page goes into a spare buffer ([`spare_buffer`]), which its
    /// reader copies and hands back ([`recycle`]), or a buffer of its own (string views point
    /// into it).
    pub(super) dictionary_in_spare: bool,
    /// The current data page (definition levels, then values), decompressed; its length only
    /// grows, `len` is the page's.
    pub(super) buf: Vec<u8>,
    pub(super) len: usize,
    /// The current page's bytes when they are shared with the arrays built from them.
    pub(super) shared: Option<Buffer>,
    pub(super) levels: Option<Rle>,
    pub(super) values: Values,
    /// Levels (rows) left in the current page.
    pub(super) left: usize,
    /// Whether no row of the current data page has been handed out yet.
    pub(super) fresh: bool,
    /// A buffer for unpacked levels.
    pub(super) scratch: Vec<u32>,
}

impl Pages {
    /// Reads `chunk` (one read call) and prepares to read its pages.
    pub(super) fn open(
        file: &SharedFile,
        chunk: &ColumnChunkMetaData,
        rows: usize,
    ) -> Result<Pages, Failure> {
        let (start, len) = chunk.byte_range();
        let len = usize::try_from(len).map_err(|e| Failure::Corrupt(e.to_string()))?;
        let bytes = file.read_vec_at(len, start).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                Failure::Corrupt("the column chunk lies past the end of the file".into())
            }
            _ => Failure::Io(e),
        })?;
        let codec = match chunk.compression() {
            Compression::UNCOMPRESSED => Codec::None,
            Compression::SNAPPY => Codec::Snappy(snap::raw::Decoder::new()),
            Compression::ZSTD(_) => Codec::Zstd,
            other => return Err(Failure::Corrupt(format!("unexpected codec {other}"))),
        };
        // The page reader hands over the pages as stored: this module decompresses them.
        let stored = chunk
            .clone()
            .into_builder()
            .set_compression(Compression::UNCOMPRESSED)
            .build()?;
        let chunk = Arc::new(Chunk {
            start,
            bytes: Bytes::from(bytes),
        });
        let reader = SerializedPageReader::new(chunk, &stored, rows, None)?;
        Ok(Pages {
            reader,
            codec,
            nullable: stored.column_descr().max_def_level() == 1,
            share_plain: false,
            dictionary_in_spare: false,
            buf: spare_buffer(),
            len: 0,
            shared: None,
            levels: None,
            values: Values::Empty,
            left: 0,
            fresh: false,
            scratch: vec![],
        })
    }

    /// The next step of reading `want` more rows (`None` once `want` is 0): a dictionary
    /// page, or the next rows of the current data page, counted as read.
    pub(super) fn step(&mut self, want: usize) -> Result<Option<Step>, Failure> {
        if want == 0 {
            return Ok(None);
        }
        while self.left == 0 {
            if let PageKind::Dictionary { data, count } = self.next()? {
                return Ok(Some(Step::Dictionary { data, count }));
            }
        }
        let k = want.min(self.left);
        self.left -= k;
        let new_page = std::mem::take(&mut self.fresh);
        Ok(Some(Step::Rows { k, new_page }))
    }

    /// Skips whole data pages, unread, while the current page is read to its end and the next
    /// is a data page of at most `rows` rows; returns the rows skipped. A dictionary page is
    /// never skipped (the pages after it need it): it stops there.
    pub(super) fn skip_pages(&mut self, rows: usize) -> Result<usize, Failure> {
        let mut skipped = 0;
        while self.left == 0 {
            let Some(next) = self.reader.peek_next_page()? else {
                break;
            };
            // A flat column's page has as many levels as rows.
            let page_rows = match (next.is_dict, next.num_rows.or(next.num_levels)) {
                (false, Some(n)) if n <= rows - skipped => n,
                _ => break,
            };
            self.reader.skip_next_page()?;
            skipped += page_rows;
        }
        Ok(skipped)
    }

    /// The current page's bytes, its definition levels and its values.
    pub(super) fn parts(&mut self) -> (&[u8], &mut Option<Rle>, &mut Values) {
        let bytes = match &self.shared {
            Some(b) => b.as_slice(),
            None => &self.buf[..self.len],
        };
        (bytes, &mut self.levels, &mut self.values)
    }

    /// Appends the next `k` rows' validity (1 valid, 0 NULL) to `out`; returns how many are
    /// valid. Every row is valid in a required column.
    pub(super) fn validity(&mut self, k: usize, out: &mut Vec<u8>) -> Result<usize, Failure> {
        if !self.nullable {
            return Ok(k);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let (bytes, levels, _) = self.parts();
        let levels = levels
            .as_mut()
            .ok_or_else(|| Failure::Corrupt("a page without definition levels".into()))?;
        let valid = levels.read_levels(bytes, k, 1, out, &mut scratch);
        self.scratch = scratch;
        Ok(valid?)
    }

    /// Reads the next page: a dictionary page is returned, a data page is set up for reading.
    pub(super) fn next(&mut self) -> Result<PageKind, Failure> {
        let page = self.reader.get_next_page()?.ok_or_else(|| {
            Failure::Corrupt("the column chunk ends before its row group's last row".into())
        })?;
        self.shared = None;
        self.levels = None;
        match page {
            Page::DictionaryPage {
                buf,
                num_values,
                encoding,
                ..
            } => {
                if !matches!(encoding, Encoding::PLAIN | Encoding::PLAIN_DICTIONARY) {
                    return Err(Failure::Corrupt(format!("a dictionary page in {encoding}")));
                }
                let mut data = if self.dictionary_in_spare {
                    spare_buffer()
                } else {
                    vec![]
                };
                let end = self.codec.decompress(&buf, &mut data, 0)?;
                data.truncate(end);
                Ok(PageKind::Dictionary {
                    data,
                    count: num_values as usize,
                })
            }
            Page::DataPage {
                buf,
                num_values,
                encoding,
                def_level_encoding,
                ..
            } => {
                let end = self.fill(&buf, 0, 0, encoding)?;
                let mut pos = 0;
                if self.nullable {
                    if def_level_encoding != Encoding::RLE {
                        return Err(Failure::Corrupt(format!(
                            "definition levels in {def_level_encoding}"
                        )));
                    }
                    let (bytes, levels, _) = self.parts();
                    let header: [u8; 4] = bytes
                        .get(..4)
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| Failure::Corrupt("a page shorter than its levels".into()))?;
                    let len = u32::from_le_bytes(header) as usize;
                    if 4 + len > end {
                        return Err(Failure::Corrupt("levels past the page's end".into()));
                    }
                    *levels = Some(Rle::new(4, 4 + len, 1)?);
                    pos = 4 + len;
                }
                self.start_values(encoding, pos, end, num_values as usize)
            }
            Page::DataPageV2 {
                buf,
                num_values,
                encoding,
                def_levels_byte_len,
                rep_levels_byte_len,
                is_compressed,
                ..
            } => {
                if rep_levels_byte_len != 0 {
                    return Err(Failure::Corrupt(
                        "repetition levels in a flat column".into(),
                    ));
                }
                let levels = def_levels_byte_len as usize;
                if levels > buf.len() {
                    return Err(Failure::Corrupt("levels past the page's end".into()));
                }
                let end = if is_compressed {
                    self.fill(&buf, levels, levels, encoding)?
                } else {
                    let mut codec = Codec::None;
                    std::mem::swap(&mut codec, &mut self.codec);
                    let end = self.fill(&buf, levels, levels, encoding);
                    std::mem::swap(&mut codec, &mut self.codec);
                    end?
                };
                if self.nullable {
                    self.levels = Some(Rle::new(0, levels, 1)?);
                }
                self.start_values(encoding, levels, end, num_values as usize)
            }
        }
    }

    /// Puts a data page's bytes in place: `page[..head]` as stored (levels of a v2 page),
    /// then `page[from..]` decompressed; returns their length.
    pub(super) fn fill(
        &mut self,
        page: &[u8],
        head: usize,
        from: usize,
        encoding: Encoding,
    ) -> Result<usize, Failure> {
        let shared = self.share_plain && encoding == Encoding::PLAIN;
        let mut fresh = vec![];
        let out = if shared { &mut fresh } else { &mut self.buf };
        if out.len() < head {
            out.resize(head, 0);
        }
        out[..head].copy_from_slice(&page[..head]);
        let end = self.codec.decompress(&page[from..], out, head)?;
        if shared {
            fresh.truncate(end);
            self.shared = Some(Buffer::from_vec(fresh));
        } else {
            self.len = end;
        }
        Ok(end)
    }

    /// Sets up the values of a data page of `count` levels, in `encoding` from `pos` to `end`.
    pub(super) fn start_values(
        &mut self,
        encoding: Encoding,
        pos: usize,
        end: usize,
        count: usize,
    ) -> Result<PageKind, Failure> {
        self.values = match encoding {
            _ if pos >= end => Values::Empty,
            Encoding::PLAIN => Values::Plain(pos),
            Encoding::PLAIN_DICTIONARY | Encoding::RLE_DICTIONARY => {
                let (bytes, ..) = self.parts();
                let width = u32::from(bytes[pos]);
                Values::Dict(Rle::new(pos + 1, end, width)?)
            }
            other => return Err(Failure::Corrupt(format!("values in {other}"))),
        };
        self.left = count;
        self.fresh = true;
        Ok(PageKind::Data)
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self.buf));
    }
}

thread_local! {
    /// Page buffers of the column chunks this thread has read, for its next ones: a buffer
    /// grown to a page's size once is neither allocated nor zero-filled again for each chunk.
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// How many spare buffers a thread keeps, and the largest it keeps.
const SPARES: usize = 8;
const LARGEST_SPARE: usize = 8 << 20;

/// An empty buffer, with room from an earlier page if this thread has one spare.
pub(super) fn spare_buffer() -> Vec<u8> {
    SPARE
        .with(|spare| spare.borrow_mut().pop())
        .unwrap_or_default()
}

/// Keeps `buf` (its bytes are not cleared) for this thread's next [`spare_buffer`].
pub(super) fn recycle(buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > LARGEST_SPARE {
        return;
    }
    SPARE.with(|spare| {
        let mut spare = spare.borrow_mut();
        if spare.len() < SPARES {
            spare.push(buf);
        }
    });
}

/// Decodes one column, a batch of rows at a time.
pub(super) trait ColumnDecoder: Send {
    /// The next `n` rows of the column.
    fn read(&mut self, n: usize) -> Result<ArrayRef, Failure>;

    /// The pages it reads.
    fn pages(&mut self) -> &mut Pages;

    /// Passes over the next `n` rows: whole data pages unread ([`Pages::skip_pages`]), the
    /// rows of a page it starts or ends in decoded and dropped (after the dictionary page, which
    /// it reads).
    fn skip(&mut self, mut n: usize) -> Result<(), Failure> {
        while n > 0 {
            n -= self.pages().skip_pages(n)?;
            if n == 0 {
                break;
            }
            // One row reads the next page in (and the dictionary before it); then the rest of
            // the page, or of the rows to skip.
            let k = match self.pages().left {
                0 => 1,
                left => left.min(n),
            };
            self.read(k)?;
            n -= k;
        }
        Ok(())
    }

    /// The rows `selected` (ascending, below `n`; the TRUE rows of `mask`) of the next `n`.
    fn read_selected(
        &mut self,
        n: usize,
        selected: &[usize],
        mask: &BooleanArray,
    ) -> Result<ArrayRef, Failure> {
        let _ = selected;
        filtered(self.read(n)?, mask)
    }

    /// The values that meet `condition` of the next `n` rows (of those `selected`, if
    /// given), and which of the rows read met it.
    fn read_meeting(
        &mut self,
        n: usize,
        selected: Option<&(Vec<usize>, BooleanArray)>,
        condition: &Condition,
    ) -> Result<(ArrayRef, BooleanBuffer), Failure> {
        self.read_then_check(n, selected, condition)
    }

    /// [`ColumnDecoder::read_meeting`] by reading the rows, then checking them all.
    fn read_then_check(
        &mut self,
        n: usize,
        selected: Option<&(Vec<usize>, BooleanArray)>,
        condition: &Condition,
    ) -> Result<(ArrayRef, BooleanBuffer), Failure> {
        let whole = match selected {
            Some((rows, mask)) => self.read_selected(n, rows, mask)?,
            None => self.read(n)?,
        };
        meeting(whole, condition)
    }
}

/// The rows of `selected` (a batch's rows, ascending) on the page of the batch's rows
/// `done..done + k`, from `selected[*next]` on; moves `*next` past them. A decoder that reads
/// some rows of a batch calls it once per page, in order.
pub(super) fn in_page<'a>(
    selected: &'a [usize],
    next: &mut usize,
    done: usize,
    k: usize,
) -> &'a [usize] {
    let from = (*next).min(selected.len());
    let end = from + selected[from..].partition_point(|&i| i < done + k);
    *next = end;
    &selected[from..end]
}

/// For rows of a dictionary-encoded page, given their dictionary `indices` and which entries
/// met a condition (`entries_met`): appends to `met` whether each row met it, and calls
/// `keep(index)` for each row that did, in order. An index past `entries_met` is corrupt.
pub(super) fn check_entries(
    indices: &[u32],
    entries_met: &[bool],
    met: &mut Bits,
    mut keep: impl FnMut(usize),
) -> Result<(), Failure> {
    let past = indices.iter().fold(0, |m, &i| m.max(i)) as usize;
    if !indices.is_empty() && past >= entries_met.len() {
        return Err(Failure::Corrupt(
            "a dictionary index past the dictionary's end".into(),
        ));
    }
    // 64 rows to a word: which met the condition, then the entries of those.
    for chunk in indices.chunks(64) {
        let word = chunk.iter().enumerate().fold(0u64, |word, (j, &i)| {
            // SAFETY: every index is below `entries_met.len()` (checked above).
            let entry_met = unsafe { *entries_met.get_unchecked(i as usize) };
            word | (u64::from(entry_met) << j)
        });
        met.push_word(word, chunk.len());
        let mut rest = word;
        while rest != 0 {
            keep(chunk[rest.trailing_zeros() as usize] as usize);
            rest &= rest - 1;
        }
    }
    Ok(())
}

/// A bitmap built 64 bits at a time, of a length known in advance.
pub(super) struct Bits {
    words: Vec<u64>,
    len: usize,
    capacity: usize,
}

impl Bits {
    pub(super) fn new(capacity: usize) -> Bits {
        Bits {
            words: vec![0; capacity.div_ceil(64)],
            len: 0,
            capacity,
        }
    }

    /// Appends the low `count` (≤ 64) bits of `word`, whose higher bits are zero.
    pub(super) fn push_word(&mut self, word: u64, count: usize) {
        if count == 0 {
            return;
        }
        let at = self.len / 64;
        let shift = self.len % 64;
        self.words[at] |= word << shift;
        if shift > 0 && shift + count > 64 {
            self.words[at + 1] |= word >> (64 - shift);
        }
        self.len += count;
    }

    /// Appends the bits of `buffer`.
    pub(super) fn append(&mut self, buffer: &BooleanBuffer) {
        let words = buffer.inner().bit_chunks(buffer.offset(), buffer.len());
        for word in words.iter() {
            self.push_word(word, 64);
        }
        self.push_word(words.remainder_bits(), words.remainder_len());
    }

    pub(super) fn finish(self) -> BooleanBuffer {
        debug_assert_eq!(self.len, self.capacity);
        BooleanBuffer::new(Buffer::from_vec(self.words), 0, self.len)
    }
}

/// The values of `whole` that meet `condition`, and which did.
pub(super) fn meeting(
    whole: ArrayRef,
    condition: &Condition,
) -> Result<(ArrayRef, BooleanBuffer), Failure> {
    let met = condition
        .mask(whole.as_ref())
        .map_err(|e| Failure::Corrupt(e.to_string()))?;
    let kept = filtered(whole, &BooleanArray::new(met.clone(), None))?;
    Ok((kept, met))
}

/// The rows of `whole` that `mask` keeps.
pub(super) fn filtered(whole: ArrayRef, mask: &BooleanArray) -> Result<ArrayRef, Failure> {
    arrow::compute::filter(&whole, mask).map_err(|e| Failure::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::Bits;

    #[test]
    fn bits_append_words_of_any_length_across_word_boundaries() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // Lengths 0..=64 in a varying order, then one that ends the bitmap on a word
        // boundary, where an empty word is appended last.
        let mut counts: Vec<usize> = (0..200).map(|i| (i * 37 + i / 7) % 65).collect();
        counts.push(64 - counts.iter().sum::<usize>() % 64);
        let total = counts.iter().sum();
        let mut bits = Bits::new(total);
        let mut expected = vec![];
        for &count in &counts {
            let mask = if count == 64 {
                u64::MAX
            } else {
                (1 << count) - 1
            };
            let word = next() & mask;
            bits.push_word(word, count);
            expected.extend((0..count).map(|j| word >> j & 1 == 1));
        }
        bits.push_word(0, 0);
        let got: Vec<bool> = bits.finish().iter().collect();
        assert_eq!(got, expected);
    }
}
