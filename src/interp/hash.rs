//! A fast, non-cryptographic hasher for the interpreter's hash tables (`IN` sets, group keys).
//!
//! In: bytes and integers. Out: a 64-bit hash. The mixing step is FxHash's (rustc's hasher);
//! [`Hasher::finish`] applies a final avalanche so that the low bits hashbrown uses to pick a
//! bucket depend on every input bit. Keys are data from the query's input, not from an
//! adversary, so SipHash's DoS resistance is not needed here.

use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// The 1 to 7 bytes of `rest` as a word, read with at most two loads (overlapping ones for
/// 4 bytes and more): a function of the bytes and their number, as a hash needs, without the
/// byte copy through the stack (and its stalled reload) that padding them into a word takes.
#[inline]
fn tail_word(rest: &[u8]) -> u64 {
    let n = rest.len();
    if n >= 4 {
        let lo = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as u64;
        let hi = u32::from_le_bytes([rest[n - 4], rest[n - 3], rest[n - 2], rest[n - 1]]) as u64;
        lo | hi << 32
    } else {
        // 1 to 3 bytes: the first, the middle and the last (some of them the same byte).
        rest[0] as u64 | (rest[n / 2] as u64) << 8 | (rest[n - 1] as u64) << 16
    }
}

/// FxHash with a finalizer.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            self.add(tail_word(rest) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.add(i as u64);
        self.add((i >> 64) as u64);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // MurmurHash3's fmix64.
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// The `BuildHasher` for [`FxHasher`].
pub(crate) type FxBuildHasher = BuildHasherDefault<FxHasher>;

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn low_bits_vary_with_high_input_bits() {
        let hash = |v: u64| FxBuildHasher::default().hash_one(v);
        let low: std::collections::HashSet<u64> =
            (0..64u64).map(|i| hash(i << 40) & 0xff).collect();
        assert!(low.len() > 32, "{}", low.len());
    }

    #[test]
    fn every_byte_of_a_short_string_counts() {
        let hash = |b: &[u8]| {
            let mut h = FxHasher::default();
            h.write(b);
            h.finish()
        };
        for len in 1..20 {
            let base: Vec<u8> = (0..len as u8).map(|i| b'a' + i).collect();
            for at in 0..len {
                let mut other = base.clone();
                other[at] ^= 0x20;
                assert_ne!(hash(&base), hash(&other), "length {len}, byte {at}");
            }
            assert_ne!(hash(&base), hash(&base[..len - 1]), "length {len}");
        }
    }
}
