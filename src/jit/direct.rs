//! The direct index of an aggregation state: integer group keys of small domains (Q15's
//! supplier numbers, years, flags) mapped to their group by one array read instead of a hash
//! and a probe (see [`KeyLayout::direct_index`] for what the kernel computes).
//!
//! In: the key records of the groups the kernel found. Out: each key's range (base, span,
//! multiplier words for [`AggArgs`](crate::codegen::AggArgs)`::direct_keys`) and the index
//! itself, `group + 1` per code, which the kernel fills as it finds groups in the hash table.
//!
//! The index is a cache: the kernel writes an entry only with the group the hash table gave for
//! that very key, so any ranges are correct, and a key out of range costs only the table's
//! lookup. The ranges follow the data: after each batch, [`DirectIndex::tune`] looks at the
//! groups that batch created, and when a key's values left its range it widens the range (by a
//! quarter on each side, so that a few new values do not move it every batch) and starts an
//! empty index. Values too far apart for the bound turn the index off for the rest of the
//! state, and (through [`DirectHint`]) for the states after it. Past [`DIRECT_ENTRIES`] groups no index can help and tuning stops.

use crate::codegen::{KeyKind, KeyLayout, DIRECT_KEY_WORDS};

/// The most entries an index takes (4 bytes each): 256 KiB, within a core's L2 cache. (1 MiB
/// measured no better on 200,000 part keys: most rows of a morsel are new groups there.)
pub const DIRECT_ENTRIES: usize = 1 << 16;

/// Each key's range of a direct index, as first and last ordinal (`None`: no value has an entry).
pub(super) type DirectRanges = Vec<Option<(u64, u64)>>;

/// What a state's direct index found, for a later state of the same kernel to start from.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum DirectHint {
    /// Nothing yet (no direct index, or no value with a range yet).
    #[default]
    Unknown,
    /// The keys' ranges.
    Ranges(DirectRanges),
    /// The keys' values spread too wide for an index: later states do without one.
    Off,
}

impl DirectHint {
    /// Takes in another state's: too wide anywhere stays too wide; else the latest ranges.
    pub(super) fn absorb(&mut self, other: DirectHint) {
        match (&self, other) {
            (DirectHint::Off, _) | (_, DirectHint::Unknown) => {}
            (_, other) => *self = other,
        }
    }
}

/// A state's direct index and its keys' ranges.
#[derive(Debug)]
pub(super) struct DirectIndex {
    kinds: Vec<KeyKind>,
    /// `group + 1` per code, 0 where not known yet.
    entries: Vec<u32>,
    /// Whether any key has a range (1 or 0), then base, span, multiplier per key, as the
    /// kernel reads them, then the kernel's flag: a key was out of range (1 or 0).
    words: Vec<u64>,
    /// Each key's range in ordinals ([`KeyLayout::direct_ordinal`]): first and last.
    ranges: Vec<Option<(u64, u64)>>,
    /// The values each key took among the groups seen, as ordinals: least and greatest.
    observed: Vec<Option<(u64, u64)>>,
    /// Groups whose keys were looked at.
    seen: usize,
    /// Too many groups for an index: no more tuning.
    off: bool,
}

impl DirectIndex {
    /// An index with empty ranges (only a row whose keys are all NULL has an entry), for keys
    /// of `layout`; `None` if the layout has no direct index.
    pub(super) fn new(layout: &KeyLayout) -> Option<DirectIndex> {
        if !layout.direct_index() {
            return None;
        }
        let n = layout.kinds.len();
        let mut index = DirectIndex {
            kinds: layout.kinds.clone(),
            entries: vec![],
            words: vec![0; 2 + n * DIRECT_KEY_WORDS],
            ranges: vec![None; n],
            observed: vec![None; n],
            seen: 0,
            off: false,
        };
        index.apply(&vec![None; n]);
        Some(index)
    }

    /// Starts from what another state of the same keys found (before any batch): its ranges
    /// with an empty index, or no index if its keys spread too wide.
    pub(super) fn start_with(&mut self, hint: &DirectHint) {
        match hint {
            DirectHint::Ranges(ranges) if ranges.len() == self.kinds.len() => self.apply(ranges),
            DirectHint::Off => self.turn_off(),
            _ => {}
        }
    }

    /// What this index found, for later states.
    pub(super) fn hint(&self) -> DirectHint {
        if self.off {
            DirectHint::Off
        } else if self.ranges.iter().any(Option::is_some) {
            DirectHint::Ranges(self.ranges.clone())
        } else {
            DirectHint::Unknown
        }
    }

    /// No index from now on: the keys spread too wide for one.
    fn turn_off(&mut self) {
        self.off = true;
        self.apply(&vec![None; self.kinds.len()]);
        self.entries.shrink_to_fit();
    }

    /// The index and the keys' words for the kernel's arguments.
    pub(super) fn args(&mut self) -> (*mut u32, *mut u64) {
        (self.entries.as_mut_ptr(), self.words.as_mut_ptr())
    }

    /// The bytes it takes.
    pub(super) fn memory_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<u32>()
            + (self.words.capacity() + 4 * self.ranges.capacity()) * std::mem::size_of::<u64>()
    }

    /// Looks at the keys of the groups found since the last call (`records`: every group's key
    /// record, `stride` words each; `groups` groups in all) and moves the ranges if the keys
    /// left them (see the module docs).
    pub(super) fn tune(&mut self, records: &[u64], stride: usize, groups: usize) {
        if self.off || groups <= self.seen {
            return;
        }
        // With ranges, the new groups lie in them unless the kernel met a key outside.
        let flag = self.words.len() - 1;
        let out = std::mem::take(&mut self.words[flag]) != 0;
        if self.words[0] != 0 && !out {
            self.seen = groups;
            return;
        }
        if groups > DIRECT_ENTRIES {
            self.turn_off();
            return;
        }
        for record in records[self.seen * stride..groups * stride].chunks_exact(stride) {
            let mut at = 1;
            for (k, kind) in self.kinds.iter().enumerate() {
                let null = record[0] >> k & 1 == 1;
                if let Some(o) = (!null)
                    .then(|| KeyLayout::direct_ordinal(*kind, &record[at..]))
                    .flatten()
                {
                    let seen = self.observed[k].get_or_insert((o, o));
                    *seen = (seen.0.min(o), seen.1.max(o));
                }
                at += kind.words();
            }
        }
        self.seen = groups;
        let inside = self
            .observed
            .iter()
            .zip(&self.ranges)
            .all(|(o, r)| match (o, r) {
                (None, _) => true,
                (Some((lo, hi)), Some((first, last))) => first <= lo && hi <= last,
                (Some(_), None) => false,
            });
        if inside {
            return;
        }
        // Ranges only grow: values already too far apart never fit.
        if entries(&self.observed) > DIRECT_ENTRIES as u128 {
            self.turn_off();
            return;
        }
        for slack in [4, 0] {
            let ranges: Vec<Option<(u64, u64)>> = self
                .observed
                .iter()
                .map(|o| {
                    o.map(|(lo, hi)| {
                        let widen = (hi - lo).checked_div(slack).map_or(0, |w| w + 1);
                        (lo.saturating_sub(widen), hi.saturating_add(widen))
                    })
                })
                .collect();
            if entries(&ranges) <= DIRECT_ENTRIES as u128 {
                self.apply(&ranges);
                return;
            }
        }
    }

    /// Sets the ranges and starts an empty index of their size.
    fn apply(&mut self, ranges: &[Option<(u64, u64)>]) {
        let mut mult: u64 = 1;
        for (k, (range, kind)) in ranges.iter().zip(&self.kinds).enumerate() {
            let (base, span) = match range {
                Some((first, last)) => (KeyLayout::from_ordinal(*kind, *first), last - first + 1),
                None => (0, 0),
            };
            self.words[1 + k * DIRECT_KEY_WORDS..1 + (k + 1) * DIRECT_KEY_WORDS]
                .copy_from_slice(&[base, span, mult]);
            mult *= span + 1;
        }
        self.words[0] = ranges.iter().any(Option::is_some) as u64;
        self.ranges = ranges.to_vec();
        self.entries.clear();
        self.entries.resize(mult as usize, 0);
    }
}

/// The entries of an index with `ranges`: the product over the keys of their values plus NULL.
fn entries(ranges: &[Option<(u64, u64)>]) -> u128 {
    ranges
        .iter()
        .map(|r| r.map_or(1, |(first, last)| (last - first) as u128 + 2))
        .product()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(kinds: &[KeyKind]) -> KeyLayout {
        KeyLayout {
            kinds: kinds.to_vec(),
        }
    }

    /// The key record of a group: the NULL mask, then each key's words.
    fn records(rows: &[(u64, &[u64])]) -> Vec<u64> {
        rows.iter()
            .flat_map(|(nulls, words)| std::iter::once(*nulls).chain(words.iter().copied()))
            .collect()
    }

    #[test]
    fn keys_of_strings_and_floats_have_no_index() {
        assert!(DirectIndex::new(&layout(&[KeyKind::Signed, KeyKind::Utf8])).is_none());
        assert!(DirectIndex::new(&layout(&[KeyKind::Float64])).is_none());
        assert!(DirectIndex::new(&layout(&[KeyKind::Bool, KeyKind::Utf8View])).is_none());
        assert!(DirectIndex::new(&layout(&[KeyKind::Bool, KeyKind::Signed])).is_some());
    }

    #[test]
    fn an_empty_index_has_only_the_all_null_entry() {
        let index = DirectIndex::new(&layout(&[KeyKind::Signed, KeyKind::Unsigned])).unwrap();
        assert_eq!(index.entries.len(), 1);
        assert_eq!(index.words, [0, 0, 0, 1, 0, 0, 1, 0]);
    }

    #[test]
    fn ranges_follow_the_groups_with_slack_and_order_signed_keys() {
        let kinds = [KeyKind::Signed, KeyKind::Bool];
        let mut index = DirectIndex::new(&layout(&kinds)).unwrap();
        // Groups (-3, true), (5, false), and a NULL first key.
        let recs = records(&[(0, &[(-3i64) as u64, 1]), (0, &[5, 0]), (1, &[0, 1])]);
        index.tune(&recs, 3, 3);
        // Signed: -3..=5 widened by 8 / 4 + 1 = 3 on each side: -6..=8, 15 values.
        assert_eq!(index.words[0], 1);
        assert_eq!(index.words[1], (-6i64) as u64);
        assert_eq!(index.words[2], 15);
        assert_eq!(index.words[3], 1);
        // Bool: 0..=1 widened by 1: 0 (saturated)..=2, 3 values; times 16 codes of key 0.
        assert_eq!(&index.words[4..], &[0, 3, 16, 0]);
        assert_eq!(index.entries.len(), 16 * 4);
        // A group inside the ranges keeps the index (and what the kernel stored in it).
        index.entries[7] = 1;
        let more = [recs.clone(), records(&[(0, &[7, 0])])].concat();
        index.tune(&more, 3, 4);
        assert_eq!(index.entries[7], 1);
        // One outside, which the kernel reports, moves the ranges and empties the index.
        let more = [more, records(&[(0, &[20, 0])])].concat();
        index.tune(&more, 3, 5);
        assert_eq!(
            index.words[1],
            (-6i64) as u64,
            "not reported: not looked at"
        );
        let more = [more, records(&[(0, &[21, 1])])].concat();
        index.words[7] = 1;
        index.tune(&more, 3, 6);
        assert_eq!(index.words[7], 0);
        assert_eq!(index.words[1], (-10i64) as u64);
        assert!(index.entries.iter().all(|&e| e == 0));
    }

    #[test]
    fn strings_have_no_ordinals() {
        assert_eq!(
            KeyLayout::direct_ordinal(KeyKind::Utf8View, &[1 | 0x41 << 32, 0]),
            None
        );
        assert_eq!(KeyLayout::direct_ordinal(KeyKind::Utf8, &[0, 0]), None);
        assert_eq!(KeyLayout::direct_ordinal(KeyKind::Bool, &[1]), Some(1));
    }

    #[test]
    fn a_sparse_or_huge_domain_gets_no_index() {
        let kinds = [KeyKind::Unsigned];
        let mut index = DirectIndex::new(&layout(&kinds)).unwrap();
        index.tune(&records(&[(0, &[1]), (0, &[1_000_000])]), 2, 2);
        assert_eq!(index.entries.len(), 1);
        assert_eq!(index.hint(), DirectHint::Off);
        let mut index = DirectIndex::new(&layout(&kinds)).unwrap();
        let many: Vec<u64> = (0..DIRECT_ENTRIES as u64 + 1)
            .flat_map(|g| [0, g])
            .collect();
        index.tune(&many, 2, DIRECT_ENTRIES + 1);
        assert!(index.off);
        assert_eq!(index.entries.len(), 1);
        // Off stays off, in later states too.
        let mut hint = DirectHint::Ranges(vec![Some((0, 3))]);
        hint.absorb(index.hint());
        hint.absorb(DirectHint::Ranges(vec![Some((0, 3))]));
        assert_eq!(hint, DirectHint::Off);
        let mut later = DirectIndex::new(&layout(&kinds)).unwrap();
        later.start_with(&hint);
        later.tune(&records(&[(0, &[1]), (0, &[2])]), 2, 2);
        assert_eq!((later.words[0], later.entries.len()), (0, 1));
    }
}
