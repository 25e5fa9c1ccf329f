//! Group keys → dense group ids.
//!
//! In: the evaluated key columns of a batch. Out: one group id (`u32`, `0..num_groups`) per row,
//! ids given in first-seen order. Key columns are encoded with arrow-row's [`RowConverter`]
//! into comparable byte strings (NULL is a value like any other, so NULLs group together); a hash
//! map from those bytes to ids finds each row's group. The bytes of each group are kept in group
//! order and decoded back into key columns by [`GroupTable::finish`].

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, SortField};

use super::super::hash::FxBuildHasher;
use super::super::input::row_index;
use crate::error::{Error, Result};

/// The distinct keys seen so far and their ids.
#[derive(Debug)]
pub(crate) struct GroupTable {
    converter: RowConverter,
    /// The physical type of each key column as the converter encodes it.
    types: Vec<DataType>,
    ids: HashMap<Box<[u8]>, u32, FxBuildHasher>,
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
            ids: HashMap::default(),
            keys: vec![],
            ends: vec![],
        })
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The bytes the table takes: the hash map (an owned copy of each key, its id and a control
    /// byte per bucket), the keys in group order and their ends.
    pub fn memory_bytes(&self) -> usize {
        let entry = std::mem::size_of::<(Box<[u8]>, u32)>() + 1;
        self.ids.capacity() * entry
            + self.keys.len()
            + self.keys.capacity()
            + self.ends.capacity() * std::mem::size_of::<usize>()
    }

    /// The encoded key of group `g`.
    fn key(&self, g: usize) -> &[u8] {
        let start = if g == 0 { 0 } else { self.ends[g - 1] };
        &self.keys[start..self.ends[g]]
    }

    /// The id of an encoded key, adding a new group if it is new.
    fn intern(&mut self, key: &[u8]) -> Result<u32> {
        if let Some(&id) = self.ids.get(key) {
            return Ok(id);
        }
        let id = row_index(self.ends.len())?;
        self.ids.insert(key.into(), id);
        self.keys.extend_from_slice(key);
        self.ends.push(self.keys.len());
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int32Array, StringArray};

    use super::*;

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
