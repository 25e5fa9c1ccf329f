//! Parquet's RLE / bit-packing hybrid encoding: definition levels and dictionary indices.
//!
//! A stream is a sequence of runs, each led by a ULEB128 header: an even header `2n` is a
//! run of `n` copies of one value stored in `ceil(width / 8)` little-endian bytes; an odd
//! header `2g + 1` is `8g` values bit-packed, least significant bit first, in `g * width`
//! bytes. [`Rle`] reads such a stream from a byte slice it does not own (the caller's page
//! buffer), a batch of values at a time; a run may span batches.

/// Why a stream could not be read: the page is corrupt.
pub type Corrupt = &'static str;

/// Values unpacked at a time when gathering dictionary entries.
const CHUNK: usize = 256;

/// A reader of one RLE / bit-packed stream of `width`-bit values (`width` ≤ 32) in
/// `buf[pos..end]`, where `buf` is passed to every call.
#[derive(Debug)]
pub struct Rle {
    pos: usize,
    end: usize,
    width: u32,
    run: Run,
}

#[derive(Debug)]
enum Run {
    /// No run started (or the last one is used up).
    None,
    /// `left` more copies of `value`.
    Repeat { value: u32, left: usize },
    /// Bit-packed values in `buf[start..]`: `next` is the index of the next value, `len`
    /// the number of values the run holds (those past the buffer's end excluded).
    Packed {
        start: usize,
        next: usize,
        len: usize,
    },
}

impl Rle {
    /// A reader of `buf[pos..end]` holding `width`-bit values.
    pub fn new(pos: usize, end: usize, width: u32) -> Result<Rle, Corrupt> {
        if width > 32 {
            return Err("a bit width above 32");
        }
        Ok(Rle {
            pos,
            end,
            width,
            run: Run::None,
        })
    }

    /// Starts the next run.
    fn next_run(&mut self, buf: &[u8]) -> Result<(), Corrupt> {
        let mut header = 0u64;
        let mut shift = 0;
        loop {
            if self.pos >= self.end || shift > 35 {
                return Err("a run header past the end of its data");
            }
            let b = buf[self.pos];
            self.pos += 1;
            header |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        let count = (header >> 1) as usize;
        if header & 1 == 0 {
            let bytes = self.width.div_ceil(8) as usize;
            if self.end - self.pos < bytes {
                return Err("a repeated value past the end of its data");
            }
            let mut value = 0u32;
            for (i, b) in buf[self.pos..self.pos + bytes].iter().enumerate() {
                value |= u32::from(*b) << (8 * i);
            }
            self.pos += bytes;
            self.run = Run::Repeat { value, left: count };
        } else {
            let bytes = count.saturating_mul(self.width as usize);
            let held = bytes.min(self.end - self.pos);
            let len = if self.width == 0 {
                count.saturating_mul(8)
            } else {
                held * 8 / self.width as usize
            };
            self.run = Run::Packed {
                start: self.pos,
                next: 0,
                len,
            };
            self.pos += held;
        }
        Ok(())
    }

    /// Appends the next `n` values to `out`.
    pub fn read(&mut self, buf: &[u8], n: usize, out: &mut Vec<u32>) -> Result<(), Corrupt> {
        let mut left = n;
        while left > 0 {
            match &mut self.run {
                Run::None => self.next_run(buf)?,
                Run::Repeat { value, left: run } => {
                    let k = left.min(*run);
                    out.extend(std::iter::repeat_n(*value, k));
                    *run -= k;
                    left -= k;
                    if *run == 0 {
                        self.run = Run::None;
                    }
                }
                Run::Packed { start, next, len } => {
                    let k = left.min(*len - *next);
                    let from = out.len();
                    out.resize(from + k, 0);
                    unpack(&buf[*start..self.end], self.width, *next, &mut out[from..]);
                    *next += k;
                    left -= k;
                    if *next == *len {
                        self.run = Run::None;
                    }
                }
            }
        }
        Ok(())
    }

    /// Appends the entries of `dict` that the next `n` values index to `out`.
    pub fn gather<T: Copy>(
        &mut self,
        buf: &[u8],
        n: usize,
        dict: &[T],
        out: &mut Vec<T>,
    ) -> Result<(), Corrupt> {
        const OUT_OF_RANGE: Corrupt = "a dictionary index past the dictionary's end";
        let mut left = n;
        let mut indices = [0u32; CHUNK];
        out.reserve(n);
        while left > 0 {
            match &mut self.run {
                Run::None => self.next_run(buf)?,
                Run::Repeat { value, left: run } => {
                    let k = left.min(*run);
                    let entry = *dict.get(*value as usize).ok_or(OUT_OF_RANGE)?;
                    out.extend(std::iter::repeat_n(entry, k));
                    *run -= k;
                    left -= k;
                    if *run == 0 {
                        self.run = Run::None;
                    }
                }
                Run::Packed { start, next, len } => {
                    let k = left.min(*len - *next).min(CHUNK);
                    let indices = &mut indices[..k];
                    unpack(&buf[*start..self.end], self.width, *next, indices);
                    let max = indices.iter().fold(0, |m, &i| m.max(i));
                    if max as usize >= dict.len() {
                        return Err(OUT_OF_RANGE);
                    }
                    // SAFETY: every index is below `dict.len()` (checked just above).
                    out.extend(
                        indices
                            .iter()
                            .map(|&i| unsafe { *dict.get_unchecked(i as usize) }),
                    );
                    *next += k;
                    left -= k;
                    if *next == *len {
                        self.run = Run::None;
                    }
                }
            }
        }
        Ok(())
    }

    /// Appends to `out` the entries of `dict` that the values `selected` (ascending, each
    /// `base + i` for `i` below `n`) among the next `n` index, and moves past all `n`.
    pub fn gather_selected<T: Copy>(
        &mut self,
        buf: &[u8],
        n: usize,
        base: usize,
        selected: &[usize],
        dict: &[T],
        out: &mut Vec<T>,
    ) -> Result<(), Corrupt> {
        self.walk_selected(buf, n, base, selected, |index, copies| {
            let entry = *dict
                .get(index as usize)
                .ok_or("a dictionary index past the dictionary's end")?;
            out.extend(std::iter::repeat_n(entry, copies));
            Ok(())
        })
    }

    /// Appends to `out` the values `selected` (ascending, each `base + i` for `i` below `n`)
    /// among the next `n`, and moves past all `n`.
    pub fn read_selected(
        &mut self,
        buf: &[u8],
        n: usize,
        base: usize,
        selected: &[usize],
        out: &mut Vec<u32>,
    ) -> Result<(), Corrupt> {
        self.walk_selected(buf, n, base, selected, |index, copies| {
            out.extend(std::iter::repeat_n(index, copies));
            Ok(())
        })
    }

    /// Calls `emit(value, copies)` for the values `selected` (ascending, each `base + i` for
    /// `i` below `n`) among the next `n`, in order (a run of one value selected `copies`
    /// times at once), and moves past all `n`.
    fn walk_selected(
        &mut self,
        buf: &[u8],
        n: usize,
        base: usize,
        selected: &[usize],
        mut emit: impl FnMut(u32, usize) -> Result<(), Corrupt>,
    ) -> Result<(), Corrupt> {
        let mut done = 0;
        let mut s = 0;
        while done < n {
            match &mut self.run {
                Run::None => self.next_run(buf)?,
                Run::Repeat { value, left: run } => {
                    let k = (n - done).min(*run);
                    let end = base + done + k;
                    let from = s;
                    while s < selected.len() && selected[s] < end {
                        s += 1;
                    }
                    if s > from {
                        emit(*value, s - from)?;
                    }
                    *run -= k;
                    done += k;
                    if *run == 0 {
                        self.run = Run::None;
                    }
                }
                Run::Packed { start, next, len } => {
                    let k = (n - done).min(*len - *next);
                    let first = base + done;
                    let packed = &buf[*start..self.end];
                    while s < selected.len() && selected[s] < first + k {
                        emit(
                            unpack_one(packed, self.width, *next + selected[s] - first),
                            1,
                        )?;
                        s += 1;
                    }
                    *next += k;
                    done += k;
                    if *next == *len {
                        self.run = Run::None;
                    }
                }
            }
        }
        Ok(())
    }

    /// Appends the next `n` values to `out` as bytes (for definition levels of at most 8
    /// bits); returns how many of them equal `value`.
    pub fn read_levels(
        &mut self,
        buf: &[u8],
        n: usize,
        value: u32,
        out: &mut Vec<u8>,
        scratch: &mut Vec<u32>,
    ) -> Result<usize, Corrupt> {
        scratch.clear();
        self.read(buf, n, scratch)?;
        let mut count = 0;
        out.extend(scratch.iter().map(|&l| {
            count += usize::from(l == value);
            l as u8
        }));
        Ok(count)
    }
}

/// Unpacks `out.len()` values of `width` bits, from value number `first` on, from `packed`
/// (values past its end read as zero bits: the caller bounds `first + out.len()`).
fn unpack(packed: &[u8], width: u32, first: usize, out: &mut [u32]) {
    macro_rules! by_width {
        ($($w:literal)*) => {
            match width {
                $($w => unpack_width::<$w>(packed, first, out),)*
                _ => out.fill(0),
            }
        };
    }
    by_width!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
        30 31 32)
}

/// Value number `index` of `width` bits (≤ 32) in `packed` (bits past its end read as
/// zero): one 8-byte load, a shift and a mask, where [`unpack`] would unpack its group of 8.
#[inline]
fn unpack_one(packed: &[u8], width: u32, index: usize) -> u32 {
    let bit = index * width as usize;
    let at = bit / 8;
    let mut window = [0u8; 8];
    match packed.get(at..at + 8) {
        Some(bytes) => window.copy_from_slice(bytes),
        None => {
            let have = packed.len().saturating_sub(at);
            if have > 0 {
                window[..have].copy_from_slice(&packed[at..]);
            }
        }
    }
    // At most 7 + 32 bits of the window are read.
    let mask = (1u64 << width) - 1;
    ((u64::from_le_bytes(window) >> (bit % 8)) & mask) as u32
}

/// [`unpack`] for one width: whole groups of 8 values (`W` bytes) straight into `out`, a group
/// cut by the start or end of `out` through a buffer.
fn unpack_width<const W: usize>(packed: &[u8], first: usize, out: &mut [u32]) {
    let mut group = [0u32; 8];
    let mut done = 0;
    let mut value = first;
    while done < out.len() {
        let within = value % 8;
        let take = (8 - within).min(out.len() - done);
        let at = value / 8 * W;
        if take == 8 {
            unpack_group::<W>(packed, at, &mut out[done..done + 8]);
        } else {
            unpack_group::<W>(packed, at, &mut group);
            out[done..done + take].copy_from_slice(&group[within..within + take]);
        }
        done += take;
        value += take;
    }
}

/// Unpacks the 8 values of `W` bits at `packed[at..at + W]` into `out` (8 long).
#[inline(always)]
fn unpack_group<const W: usize>(packed: &[u8], at: usize, out: &mut [u32]) {
    let mask = if W == 32 {
        u64::from(u32::MAX)
    } else {
        (1u64 << W) - 1
    };
    let mut padded = [0u8; 40];
    let src: &[u8] = match packed.get(at..at + W + 8) {
        Some(src) => src,
        None => {
            let have = packed.len().saturating_sub(at).min(W);
            if have > 0 {
                padded[..have].copy_from_slice(&packed[at..at + have]);
            }
            &padded[..W + 8]
        }
    };
    for (j, o) in out.iter_mut().enumerate().take(8) {
        let bit = j * W;
        let window: [u8; 8] = src[bit / 8..bit / 8 + 8].try_into().unwrap_or([0; 8]);
        *o = ((u64::from_le_bytes(window) >> (bit % 8)) & mask) as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes `values` as runs: `(true, values)` bit-packed (padded to a multiple of 8),
    /// `(false, [v; n])` repeated.
    fn encode(width: u32, runs: &[(bool, Vec<u32>)]) -> Vec<u8> {
        let mut out = vec![];
        let varint = |out: &mut Vec<u8>, mut v: u64| loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        };
        for (packed, values) in runs {
            if *packed {
                let groups = values.len().div_ceil(8);
                varint(&mut out, (groups as u64) << 1 | 1);
                let mut bits = vec![0u8; groups * width as usize];
                for (i, v) in values.iter().enumerate() {
                    for b in 0..width as usize {
                        if v >> b & 1 == 1 {
                            let bit = i * width as usize + b;
                            bits[bit / 8] |= 1 << (bit % 8);
                        }
                    }
                }
                out.extend(bits);
            } else {
                varint(&mut out, (values.len() as u64) << 1);
                let v = values[0];
                out.extend(&v.to_le_bytes()[..width.div_ceil(8) as usize]);
            }
        }
        out
    }

    fn decode_in_steps(buf: &[u8], width: u32, n: usize, step: usize) -> Vec<u32> {
        let mut rle = Rle::new(0, buf.len(), width).unwrap();
        let mut out = vec![];
        while out.len() < n {
            let k = step.min(n - out.len());
            rle.read(buf, k, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn runs_of_every_width_read_in_any_steps() {
        for width in 0..=32u32 {
            let max = if width == 32 {
                u32::MAX
            } else {
                (1u32 << width) - 1
            };
            let packed: Vec<u32> = (0..77u32)
                .map(|i| i.wrapping_mul(2_654_435_761) & max)
                .collect();
            let mut expected = packed[..72].to_vec();
            expected.extend(std::iter::repeat_n(max, 300));
            expected.extend(&packed[..5]);
            let runs = [
                (true, packed[..72].to_vec()),
                (false, vec![max; 300]),
                (true, packed[..5].to_vec()),
            ];
            let buf = encode(width, &runs);
            for step in [1, 3, 8, 64, 1000] {
                assert_eq!(
                    decode_in_steps(&buf, width, expected.len(), step),
                    expected,
                    "width {width}, step {step}"
                );
            }
        }
    }

    #[test]
    fn one_value_unpacks_as_its_group_does_up_to_the_buffers_end() {
        for width in 0..=32u32 {
            // 3 groups of 8 values, then 3 bytes of a group cut short.
            let len = 3 * width as usize + 3;
            let packed: Vec<u8> = (0..len)
                .map(|i| (i as u8).wrapping_mul(151) ^ 0x5a)
                .collect();
            let mut all = vec![0u32; 32];
            unpack(&packed, width, 0, &mut all);
            for (index, &value) in all.iter().enumerate() {
                assert_eq!(
                    unpack_one(&packed, width, index),
                    value,
                    "width {width}, value {index}"
                );
            }
        }
    }

    #[test]
    fn dictionary_gathers_and_rejects_indices_past_its_end() {
        let dict = [10i64, 20, 30];
        let buf = encode(
            2,
            &[(true, vec![0, 1, 2, 1, 0, 2, 2, 1]), (false, vec![2; 5])],
        );
        let mut rle = Rle::new(0, buf.len(), 2).unwrap();
        let mut out = vec![];
        rle.gather(&buf, 13, &dict, &mut out).unwrap();
        assert_eq!(out, [10, 20, 30, 20, 10, 30, 30, 20, 30, 30, 30, 30, 30]);

        let buf = encode(2, &[(true, vec![0, 3])]);
        let mut rle = Rle::new(0, buf.len(), 2).unwrap();
        assert!(rle.gather(&buf, 2, &dict, &mut vec![]).is_err());
        let buf = encode(2, &[(false, vec![3; 4])]);
        let mut rle = Rle::new(0, buf.len(), 2).unwrap();
        assert!(rle.gather(&buf, 4, &dict, &mut vec![]).is_err());
    }

    #[test]
    fn selected_entries_are_gathered_across_runs_and_calls() {
        let dict: Vec<u64> = (0..50).map(|i| i * 10).collect();
        let packed: Vec<u32> = (0..40).map(|i| (i * 7) % 50).collect();
        let buf = encode(
            6,
            &[
                (true, packed.clone()),
                (false, vec![49; 30]),
                (true, packed.clone()),
            ],
        );
        let all: Vec<u32> = packed
            .iter()
            .chain(&[49; 30])
            .chain(&packed)
            .copied()
            .collect();
        for step in [1, 7, 40, 110] {
            let mut rle = Rle::new(0, buf.len(), 6).unwrap();
            let mut indices_rle = Rle::new(0, buf.len(), 6).unwrap();
            let mut out = vec![];
            let mut indices = vec![];
            let mut expected = vec![];
            let mut base = 0;
            while base < all.len() {
                let n = step.min(all.len() - base);
                // Every third row from an offset that changes with the call.
                let selected: Vec<usize> =
                    (base..base + n).filter(|i| (i + base) % 3 == 0).collect();
                expected.extend(selected.iter().map(|&i| all[i]));
                rle.gather_selected(&buf, n, base, &selected, &dict, &mut out)
                    .unwrap();
                indices_rle
                    .read_selected(&buf, n, base, &selected, &mut indices)
                    .unwrap();
                base += n;
            }
            assert_eq!(indices, expected, "step {step}");
            let entries: Vec<u64> = expected.iter().map(|&i| dict[i as usize]).collect();
            assert_eq!(out, entries, "step {step}");
        }
    }

    #[test]
    fn streams_cut_short_are_errors_not_reads_past_the_end() {
        let buf = encode(5, &[(true, (0..16).collect())]);
        // The run's header promises 16 values; only 8 are there.
        let short = &buf[..1 + 5];
        let mut rle = Rle::new(0, short.len(), 5).unwrap();
        let mut out = vec![];
        rle.read(short, 8, &mut out).unwrap();
        assert_eq!(out, (0..8).collect::<Vec<_>>());
        assert!(rle.read(short, 1, &mut out).is_err());
        // A repeated run whose value is missing, a header that never ends.
        assert!(Rle::new(0, 1, 16)
            .unwrap()
            .read(&[8], 1, &mut vec![])
            .is_err());
        assert!(Rle::new(0, 2, 8)
            .unwrap()
            .read(&[0x80, 0x80], 1, &mut vec![])
            .is_err());
        assert!(Rle::new(0, 0, 33).is_err());
    }
}
