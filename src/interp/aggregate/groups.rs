//! Group keys → dense group ids.
//!
//! In: the evaluated key columns of a batch. Out: one group id (`u32`, `0..num_groups`) per row,
//! ids given in first-seen order. Key columns are encoded with arrow-row's [`RowConverter`]
//! into comparable byte strings (NULL is a value like any other, so NULLs group together); a hash
//! table of group ids, hashed and compared by those bytes, finds each row's group. The bytes of
//! each group are kept once, in group order (the table holds only ids), and decoded back into
//! key columns by [`GroupTable::finish`]. Merging a compiled aggregation's partial states goes
//! through here too, once per group of each morsel: for TPC-H Q15 (10,000 groups) the old map of
//! owned keys, with a `memcmp` call per comparison, took a quarter of the query.

use std::hash::Hasher;

use hashbrown::HashTable;

use arrow::array::{Array, ArrayRef};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, SortField};

use super::super::hash::FxHasher;
use super::super::input::row_index;
use crate::error::{Error, Result};

/// The distinct keys seen so far and their ids.
#[derive(Debug)]
pub(crate) struct GroupTable {
    converter: RowConverter,
    /// The physical type of each key column as the converter encodes it.
    types: Vec<DataType>,
    /// The group ids, by the hash of their encoded keys.
    ids: HashTable<u32>,
    /// Each group's hash: the table grows without hashing the keys again, and a probe compares
    /// the bytes of equal hashes only.
    hashes: Vec<u64>,
    /// The encoded key of group `g` is `keys[ends[g - 1]..ends[g]]` (from 0 for `g = 0`).
    keys: Vec<u8>,
    ends: Vec<usize>,
}

impl GroupTable {
    /// A table for keys of the given physical types.
    pub fn new(types: Vec<DataType>) -> Result<GroupTable> {
        let fields = types.iter().map(|t| SortField::new(t.clone())).collect();
        Ok(GroupTable {
            converter: RowConverter::new(fields)?,
            types,
            ids: HashTable::new(),
            hashes: vec![],
            keys: vec![],
            ends: vec![],
        })
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The bytes the table takes: the hash table (an id and a control byte per bucket), each
    /// group's hash, the keys in group order and their ends.
    pub fn memory_bytes(&self) -> usize {
        let entry = std::mem::size_of::<u32>() + 1;
        self.ids.capacity() * entry
            + self.hashes.capacity() * std::mem::size_of::<u64>()
            + self.keys.capacity()
            + self.ends.capacity() * std::mem::size_of::<usize>()
    }

    /// The encoded key of group `g`.
    fn key(&self, g: usize) -> &[u8] {
        key_of(&self.keys, &self.ends, g)
    }

    /// The id of an encoded key, adding a new group if it is new.
    fn intern(&mut self, key: &[u8]) -> Result<u32> {
        let mut hasher = FxHasher::default();
        hasher.write(key);
        let hash = hasher.finish();
        let GroupTable {
            ids,
            hashes,
            keys,
            ends,
            ..
        } = self;
        let found = ids.find(hash, |&g| {
            hashes[g as usize] == hash && same_bytes(key_of(keys, ends, g as usize), key)
        });
        if let Some(&id) = found {
            return Ok(id);
        }
        let id = row_index(ends.len())?;
        keys.extend_from_slice(key);
        ends.push(keys.len());
        hashes.push(hash);
        ids.insert_unique(hash, id, |&g| hashes[g as usize]);
        Ok(id)
    }

    /// The group id of every row of the key `columns` (all of one length).
    pub fn group_ids(&mut self, columns: &[ArrayRef]) -> Result<Vec<u32>> {
        let columns = columns
            .iter()
            .zip(&self.types)
            .map(|(c, t)| {
                if c.data_type() == t {
                    Ok(c.clone())
                } else {
                    Ok(cast(c.as_ref(), t)?)
                }
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        if columns.len() != self.types.len() {
            return Err(Error::internal("group key column count changed"));
        }
        let columns: Vec<ArrayRef> = columns
            .iter()
            .map(crate::interp::canonical_floats)
            .collect();
        let rows = self.converter.convert_columns(&columns)?;
        let mut ids = Vec::with_capacity(rows.num_rows());
        // Runs of equal keys are common (sorted or clustered input): compare with the previous
        // row before hashing.
        let mut previous: Option<(&[u8], u32)> = None;
        for row in rows.iter() {
            let bytes = row.data();
            let id = match previous {
                Some((p, id)) if p == bytes => id,
                _ => self.intern(bytes)?,
            };
            previous = Some((bytes, id));
            ids.push(id);
        }
        Ok(ids)
    }

    /// Adds the groups of `other` (built for the same key types): returns, for each of `other`'s
    /// groups in order, its id in `self`.
    pub fn merge(&mut self, other: &GroupTable) -> Result<Vec<u32>> {
        if other.types != self.types {
            return Err(Error::internal(
                "merging group tables of different key types",
            ));
        }
        (0..other.len())
            .map(|g| self.intern(other.key(g)))
            .collect()
    }

    /// The key columns, one value per group in id order, in the converter's types.
    pub fn finish(&self) -> Result<Vec<ArrayRef>> {
        let parser = self.converter.parser();
        let rows = (0..self.len()).map(|g| parser.parse(self.key(g)));
        Ok(self.converter.convert_rows(rows)?)
    }
}

/// The encoded key of group `g` in `keys` ending at `ends`.
fn key_of<'a>(keys: &'a [u8], ends: &[usize], g: usize) -> &'a [u8] {
    let start = if g == 0 { 0 } else { ends[g - 1] };
    &keys[start..ends[g]]
}

/// Whether two encoded keys are equal. Keys are short (a fixed-width key encodes in 2 to 17
/// bytes): up to 16 bytes compare as two words, without a call to `memcmp`.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    };
    match n {
        0..=7 => {
            let (mut x, mut y) = ([0u8; 8], [0u8; 8]);
            x[..n].copy_from_slice(a);
            y[..n].copy_from_slice(b);
            x == y
        }
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int32Array, StringArray};

    use super::*;

    #[test]
    fn keys_of_every_length_compare_by_all_their_bytes() {
        let keys: Vec<Vec<u8>> = (0..40usize)
            .flat_map(|n| {
                let base: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37)).collect();
                // The key, and the same length differing only in its first, middle or last byte.
                let mut variants = vec![base.clone()];
                for at in [0, n / 2, n.saturating_sub(1)] {
                    if at < n {
                        let mut v = base.clone();
                        v[at] ^= 0x80;
                        variants.push(v);
                    }
                }
                variants
            })
            .collect();
        for a in &keys {
            for b in &keys {
                assert_eq!(same_bytes(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn ids_in_first_seen_order_with_null_keys() {
        let mut t = GroupTable::new(vec![DataType::Utf8, DataType::Int32]).unwrap();
        let a: ArrayRef = Arc::new(StringArray::from(vec![Some("x"), None, Some("x"), None]));
        let b: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), Some(2), Some(1), Some(2)]));
        assert_eq!(t.group_ids(&[a, b]).unwrap(), vec![0, 1, 0, 1]);
        let keys = t.finish().unwrap();
        assert_eq!(keys[0].len(), 2);
        assert_eq!(keys[0].null_count(), 1);
    }
}
