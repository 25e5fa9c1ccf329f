//! [`RuntimeFn::GroupFind`](crate::codegen::runtime::RuntimeFn::GroupFind): the group lookup
//! of aggregation kernels whose keys include strings.
//!
//! In: the kernel's hash table (as [`crate::codegen::AggArgs`] describes it, with room for one
//! more group) and a row's probe record. Out: the row's group id; a new key becomes a new group
//! (its hash, key record and slot written, the group count raised). The table is the one the
//! kernel's inline code reads for keys without strings (`codegen::lower::group`): open
//! addressing with linear probing, `slots[h & mask]` holding `group + 1`. Hashes only need to
//! agree within one table, and a table with string keys is only ever filled here.
//!
//! Key records are the kernel's ([`crate::codegen::KeyKind`]): a `Utf8` key is its address and
//! length, a `Utf8View` key the view form (strings of up to 12 bytes as length and bytes, longer
//! ones as length and 4-byte prefix, then the address). NULL keys are all-zero words, told apart
//! from the empty string by the record's NULL-mask word.

use std::hash::Hasher;

use crate::codegen::runtime::ProbeKind;
use crate::interp::hash::FxHasher;

/// The most words a key record has: the NULL mask and two words for each of at most 64 keys.
const MAX_WORDS: usize = 1 + 2 * 64;

/// `len` bytes at `addr`.
///
/// # Safety
/// `addr` points to `len` readable bytes that live for `'a` (any value when `len` is 0).
unsafe fn bytes<'a>(addr: u64, len: u64) -> &'a [u8] {
    if len == 0 {
        return &[];
    }
    // SAFETY: the caller's promise.
    unsafe { std::slice::from_raw_parts(addr as *const u8, len as usize) }
}

/// The key words of a view (its two words `raw`, whose buffer and offset index the column's
/// data buffers at `data`): for a string of up to 12 bytes the view with the bytes past the end
/// zeroed, for a longer one its first word (length and prefix) and the address of its bytes.
///
/// # Safety
/// `raw` is a valid view of a column whose buffer addresses are at `data`, or all zero.
unsafe fn view_key(raw: [u64; 2], data: u64) -> (u64, u64) {
    let len = raw[0] & 0xffff_ffff;
    if len <= 12 {
        let low_bits = |n: u64| if n >= 64 { u64::MAX } else { (1 << n) - 1 };
        return (
            raw[0] & low_bits(32 + 8 * len.min(4)),
            raw[1] & low_bits(8 * len.saturating_sub(4)),
        );
    }
    let (buffer, offset) = (raw[1] & 0xffff_ffff, raw[1] >> 32);
    // SAFETY: a valid long view names one of the column's buffers and a range inside it.
    let addr = unsafe {
        let base = *(data as *const *const u8).add(buffer as usize);
        base.add(offset as usize) as u64
    };
    (raw[0], addr)
}

/// [`RuntimeFn::GroupFind`](crate::codegen::runtime::RuntimeFn::GroupFind).
///
/// # Safety
/// `groups`, `slots` (`mask + 1` entries, a power of two, fewer groups than slots), `hashes` and
/// `keys` are an aggregation kernel's table with room for one more group, whose key records
/// have the words of `kinds`; `kinds` holds `nkeys` (at most 64) [`ProbeKind`] bytes; `probe`
/// holds a probe record of those kinds, whose strings are readable. A wrong kind byte returns
/// `u64::MAX` (a code generator bug, never input), which the kernel does not produce.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe extern "C" fn qjit_rt_group_find(
    groups: *mut u64,
    slots: *mut u32,
    mask: u64,
    hashes: *mut u64,
    keys: *mut u64,
    probe: *const u64,
    kinds: *const u8,
    nkeys: u64,
) -> u64 {
    // SAFETY: `nkeys` kind bytes (the caller's promise).
    let kind_bytes = unsafe { std::slice::from_raw_parts(kinds, nkeys as usize) };
    let mut kinds = [ProbeKind::Word; 64];
    let (mut probe_len, mut stride) = (1, 1);
    for (k, &byte) in kind_bytes.iter().enumerate() {
        match (ProbeKind::from_byte(byte), kinds.get_mut(k)) {
            (Some(kind), Some(slot)) => {
                *slot = kind;
                probe_len += kind.probe_words();
                stride += kind.record_words();
            }
            _ => return u64::MAX,
        }
    }
    let kinds = &kinds[..kind_bytes.len()];
    // SAFETY: a probe record of `probe_len` words.
    let probe = unsafe { std::slice::from_raw_parts(probe, probe_len) };

    // The row's key record and hash: strings hash their length and bytes, except short views,
    // which hash (and compare) as their two words.
    let mut record = [0u64; MAX_WORDS];
    let mut hasher = FxHasher::default();
    record[0] = probe[0];
    hasher.write_u64(probe[0]);
    let (mut at, mut to) = (1, 1);
    for &kind in kinds {
        let words = &probe[at..at + kind.probe_words()];
        match kind {
            ProbeKind::Word | ProbeKind::TwoWords => {
                for &w in words {
                    hasher.write_u64(w);
                }
                record[to..to + words.len()].copy_from_slice(words);
            }
            ProbeKind::Utf8 => {
                // SAFETY: the probe's strings are readable.
                let s = unsafe { bytes(words[0], words[1]) };
                hasher.write_u64(words[1]);
                hasher.write(s);
                record[to..to + 2].copy_from_slice(words);
            }
            ProbeKind::Utf8View => {
                // SAFETY: the probe holds a valid (or NULL, all-zero) view of its column.
                let (w0, w1) = unsafe { view_key([words[0], words[1]], words[2]) };
                hasher.write_u64(w0);
                let len = w0 & 0xffff_ffff;
                if len <= 12 {
                    hasher.write_u64(w1);
                } else {
                    // SAFETY: as above.
                    hasher.write(unsafe { bytes(w1, len) });
                }
                (record[to], record[to + 1]) = (w0, w1);
            }
        }
        at += kind.probe_words();
        to += kind.record_words();
    }
    let record = &record[..stride];
    let h = hasher.finish();

    // Whether the stored record `stored` is the row's key.
    let same = |stored: &[u64]| -> bool {
        if stored[0] != record[0] {
            return false;
        }
        let mut at = 1;
        for &kind in kinds {
            let (s0, s1, r0, r1) = (
                stored[at],
                stored.get(at + 1),
                record[at],
                record.get(at + 1),
            );
            let equal = match kind {
                ProbeKind::Word => s0 == r0,
                ProbeKind::TwoWords => s0 == r0 && s1 == r1,
                // SAFETY (both): a stored key's bytes live as long as its group, and the row's
                // are readable; equal lengths are checked first.
                ProbeKind::Utf8 => {
                    s1 == r1 && unsafe { bytes(s0, stored[at + 1]) == bytes(r0, record[at + 1]) }
                }
                ProbeKind::Utf8View => {
                    let len = r0 & 0xffff_ffff;
                    s0 == r0
                        && if len <= 12 {
                            s1 == r1
                        } else {
                            unsafe { bytes(stored[at + 1], len) == bytes(record[at + 1], len) }
                        }
                }
            };
            if !equal {
                return false;
            }
            at += kind.record_words();
        }
        true
    };

    let mut pos = h & mask;
    loop {
        // SAFETY: `pos <= mask`: a slot of the table.
        let slot = unsafe { *slots.add(pos as usize) };
        if slot == 0 {
            // SAFETY: the table has room for one more group: its hash, its record and the
            // count.
            unsafe {
                let group = *groups;
                *groups = group + 1;
                *slots.add(pos as usize) = (group + 1) as u32;
                *hashes.add(group as usize) = h;
                std::ptr::copy_nonoverlapping(
                    record.as_ptr(),
                    keys.add(group as usize * stride),
                    stride,
                );
                return group;
            }
        }
        let group = slot as u64 - 1;
        // SAFETY: every group below the count has a hash and a record of `stride` words.
        let (stored_hash, stored) = unsafe {
            (
                *hashes.add(group as usize),
                std::slice::from_raw_parts(keys.add(group as usize * stride), stride),
            )
        };
        if stored_hash == h && same(stored) {
            return group;
        }
        pos = (pos + 1) & mask;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of `slots` slots and room for `groups` groups of `stride` words.
    struct Table {
        groups: u64,
        slots: Vec<u32>,
        hashes: Vec<u64>,
        keys: Vec<u64>,
    }

    impl Table {
        fn new(slots: usize, groups: usize, stride: usize) -> Table {
            Table {
                groups: 0,
                slots: vec![0; slots],
                hashes: vec![0; groups],
                keys: vec![0; groups * stride],
            }
        }

        fn find(&mut self, probe: &[u64], kinds: &[ProbeKind]) -> u64 {
            let kinds: Vec<u8> = kinds.iter().map(|&k| k as u8).collect();
            // SAFETY: the table has room for every group the tests make, and their probes'
            // strings live as long as the test.
            unsafe {
                qjit_rt_group_find(
                    &mut self.groups,
                    self.slots.as_mut_ptr(),
                    self.slots.len() as u64 - 1,
                    self.hashes.as_mut_ptr(),
                    self.keys.as_mut_ptr(),
                    probe.as_ptr(),
                    kinds.as_ptr(),
                    kinds.len() as u64,
                )
            }
        }
    }

    fn string(s: &[u8]) -> [u64; 2] {
        [s.as_ptr() as u64, s.len() as u64]
    }

    /// The data buffers of a view column: their addresses, as a kernel's column argument
    /// passes them.
    struct Buffers(Vec<Vec<u8>>, Vec<*const u8>);

    impl Buffers {
        fn new(buffers: &[&[u8]]) -> Buffers {
            let owned: Vec<Vec<u8>> = buffers.iter().map(|b| b.to_vec()).collect();
            let addrs = owned.iter().map(|b| b.as_ptr()).collect();
            Buffers(owned, addrs)
        }

        /// The probe words of a view of `s`: inline (with `junk` past its end) up to 12
        /// bytes, else pointing at `offset` in buffer `buffer`, which must hold `s` there.
        fn view(&self, s: &[u8], (buffer, offset): (usize, usize), junk: u8) -> [u64; 3] {
            let mut v = [junk; 16];
            v[..4].copy_from_slice(&(s.len() as u32).to_le_bytes());
            if s.len() <= 12 {
                v[4..4 + s.len()].copy_from_slice(s);
            } else {
                assert_eq!(&self.0[buffer][offset..offset + s.len()], s);
                v[4..8].copy_from_slice(&s[..4]);
                v[8..12].copy_from_slice(&(buffer as u32).to_le_bytes());
                v[12..].copy_from_slice(&(offset as u32).to_le_bytes());
            }
            let word = |at: usize| u64::from_le_bytes(v[at..at + 8].try_into().unwrap());
            [word(0), word(8), self.1.as_ptr() as u64]
        }
    }

    #[test]
    fn strings_find_their_group_whatever_their_address() {
        let texts: Vec<&[u8]> = vec![
            b"",
            b"a",
            b"MAIL",
            b"TRUCK",
            b"twelve bytes",
            b"thirteen byte",
            b"a longer string of bytes",
        ];
        // Utf8: the same bytes at another address are the same group. Every copy is kept to
        // the end: the table holds the addresses of its groups' first keys.
        let mut t = Table::new(64, 32, 4);
        let mut copies: Vec<Vec<u8>> = vec![];
        for round in 0..2 {
            for (n, s) in texts.iter().enumerate() {
                copies.push(s.to_vec());
                let [p, l] = string(&copies[copies.len() - 1]);
                let id = t.find(&[0, n as u64, p, l], &[ProbeKind::Word, ProbeKind::Utf8]);
                assert_eq!(id, n as u64, "round {round}");
            }
        }
        // A NULL is not the empty string.
        let null = t.find(&[0b10, 0, 0, 0], &[ProbeKind::Word, ProbeKind::Utf8]);
        assert_eq!(null, texts.len() as u64);
        assert_eq!(
            t.find(&[0b10, 0, 0, 0], &[ProbeKind::Word, ProbeKind::Utf8]),
            null
        );

        // Views: long strings in two buffers at two offsets, short ones with different junk
        // past their end, are the same groups.
        let joined: Vec<u8> = texts.concat();
        let buffers = Buffers::new(&[b"xyz", &joined, &[b"--".as_slice(), &joined].concat()]);
        let mut t = Table::new(64, 32, 4);
        for (buffer, shift, junk) in [(1, 0, 0), (2, 2, 0xff)] {
            let mut offset = shift;
            for (n, s) in texts.iter().enumerate() {
                let [r0, r1, data] = buffers.view(s, (buffer, offset), junk);
                offset += s.len();
                let kinds = [ProbeKind::Word, ProbeKind::Utf8View];
                assert_eq!(t.find(&[0, n as u64, r0, r1, data], &kinds), n as u64);
            }
        }
        let kinds = [ProbeKind::Word, ProbeKind::Utf8View];
        let null = t.find(&[0b10, 0, 0, 0, 0], &kinds);
        assert_eq!(null, texts.len() as u64);
        assert_eq!(t.groups, texts.len() as u64 + 1);
    }

    #[test]
    fn long_views_equal_in_length_and_prefix_differ_in_their_bytes() {
        let buffers = Buffers::new(&[b"SHIP BY AIR, fastSHIP BY AIR, slow"]);
        let mut t = Table::new(16, 8, 3);
        let [a0, a1, d] = buffers.view(b"SHIP BY AIR, fast", (0, 0), 0);
        let [b0, b1, _] = buffers.view(b"SHIP BY AIR, slow", (0, 17), 0);
        assert_eq!(t.find(&[0, a0, a1, d], &[ProbeKind::Utf8View]), 0);
        assert_eq!(t.find(&[0, b0, b1, d], &[ProbeKind::Utf8View]), 1);
        assert_eq!(t.find(&[0, a0, a1, d], &[ProbeKind::Utf8View]), 0);
        // The record of a long string holds the address of its bytes; of a short one the view
        // without the junk past its end.
        assert_eq!(t.keys[2], buffers.1[0] as u64);
        let [s0, s1, _] = buffers.view(b"abcde", (0, 0), 0xee);
        assert_eq!(t.find(&[0, s0, s1, d], &[ProbeKind::Utf8View]), 2);
        assert_eq!(t.keys[7], 5 | u64::from(u32::from_le_bytes(*b"abcd")) << 32);
        assert_eq!(t.keys[8], u64::from(b'e'));
    }

    #[test]
    fn colliding_slots_probe_on() {
        // Four slots, three groups: keys probe past each other.
        let mut t = Table::new(4, 3, 5);
        let x = b"x".to_vec();
        let [px, lx] = string(&x);
        let kinds = [ProbeKind::TwoWords, ProbeKind::Utf8];
        assert_eq!(t.find(&[0, 1, 2, px, lx], &kinds), 0);
        assert_eq!(t.find(&[0, 1, 3, px, lx], &kinds), 1);
        assert_eq!(t.find(&[0, 2, 2, px, lx], &kinds), 2);
        assert_eq!(t.find(&[0, 1, 3, px, lx], &kinds), 1);
        assert_eq!(t.find(&[0, 2, 2, px, lx], &kinds), 2);
        assert_eq!(t.slots.iter().filter(|&&s| s != 0).count(), 3);
    }

    #[test]
    fn a_bad_kind_is_refused() {
        let mut t = Table::new(4, 1, 2);
        let kinds = [9u8];
        // SAFETY: as in `Table::find`.
        let id = unsafe {
            qjit_rt_group_find(
                &mut t.groups,
                t.slots.as_mut_ptr(),
                3,
                t.hashes.as_mut_ptr(),
                t.keys.as_mut_ptr(),
                [0u64, 0].as_ptr(),
                kinds.as_ptr(),
                1,
            )
        };
        assert_eq!(id, u64::MAX);
        assert_eq!(t.groups, 0);
    }
}
