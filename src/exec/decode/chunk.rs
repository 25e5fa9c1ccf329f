//! Reading a column chunk: its bytes in one read ([`Chunk`], which the parquet crate's page
//! reader parses), how its values are stored in memory ([`Kind`]), and decompressing its pages
//! ([`Codec`]).

use std::io::Read;

use super::Failure;
use crate::error::Result;
use arrow::datatypes::DataType;
use bytes::Buf;
use bytes::Bytes;
use parquet::basic::{Compression, Encoding, Type as PhysicalType};
use parquet::errors::ParquetError;
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::reader::{ChunkReader, Length};

/// How a column this module decodes is stored in memory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Kind {
    /// 4-byte values (`INT32` as `Int32`/`Date32`, `FLOAT` as `Float32`).
    Word4,
    /// 8-byte values (`INT64` as `Int64`/`Decimal64`, `DOUBLE` as `Float64`).
    Word8,
    /// `INT64` values widened to 16 bytes (`Decimal128`, as DataFusion reads a decimal of up
    /// to 18 digits).
    Wide8,
    /// `BYTE_ARRAY` as `Utf8View` (`utf8`) or `BinaryView`.
    View { utf8: bool },
}

impl Kind {
    /// How `chunk`, read as `target`, is decoded here, or `None` if arrow-rs decodes it.
    pub(super) fn of(chunk: &ColumnChunkMetaData, target: &DataType) -> Option<Kind> {
        let descr = chunk.column_descr();
        if descr.max_rep_level() != 0 || descr.max_def_level() > 1 {
            return None;
        }
        let codec_ok = matches!(
            chunk.compression(),
            Compression::UNCOMPRESSED | Compression::SNAPPY | Compression::ZSTD(_)
        );
        let encodings_ok = chunk.encodings().all(|e| {
            matches!(
                e,
                Encoding::PLAIN
                    | Encoding::PLAIN_DICTIONARY
                    | Encoding::RLE_DICTIONARY
                    | Encoding::RLE
            )
        });
        if !codec_ok || !encodings_ok {
            return None;
        }
        match (descr.physical_type(), target) {
            (PhysicalType::INT32, DataType::Int32 | DataType::Date32)
            | (PhysicalType::FLOAT, DataType::Float32) => Some(Kind::Word4),
            (PhysicalType::INT64, DataType::Int64 | DataType::Decimal64(..))
            | (PhysicalType::DOUBLE, DataType::Float64) => Some(Kind::Word8),
            (PhysicalType::INT64, DataType::Decimal128(..)) => Some(Kind::Wide8),
            (PhysicalType::BYTE_ARRAY, DataType::Utf8View) => Some(Kind::View { utf8: true }),
            (PhysicalType::BYTE_ARRAY, DataType::BinaryView) => Some(Kind::View { utf8: false }),
            _ => None,
        }
    }
}

/// A column chunk read into memory, seen by [`SerializedPageReader`] at its file offsets.
pub(super) struct Chunk {
    pub(super) start: u64,
    pub(super) bytes: Bytes,
}

impl Chunk {
    pub(super) fn slice(&self, start: u64, len: Option<usize>) -> parquet::errors::Result<Bytes> {
        let from = start
            .checked_sub(self.start)
            .and_then(|o| usize::try_from(o).ok())
            .filter(|&o| o <= self.bytes.len())
            .ok_or_else(|| ParquetError::EOF("a page outside its column chunk".into()))?;
        let to = match len {
            Some(len) => from
                .checked_add(len)
                .filter(|&to| to <= self.bytes.len())
                .ok_or_else(|| ParquetError::EOF("a page past its column chunk's end".into()))?,
            None => self.bytes.len(),
        };
        Ok(self.bytes.slice(from..to))
    }
}

impl Length for Chunk {
    fn len(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }
}

impl ChunkReader for Chunk {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(self.slice(start, None)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.slice(start, Some(length))
    }
}

/// A page codec.
pub(super) enum Codec {
    None,
    Snappy(snap::raw::Decoder),
    Zstd,
}

impl Codec {
    /// Decompresses `input` into `out[at..]` (growing `out`, never shrinking it, so a reused
    /// buffer is not zero-filled again); returns the end of the decompressed bytes.
    pub(super) fn decompress(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        at: usize,
    ) -> Result<usize, Failure> {
        let corrupt = |e: &dyn std::fmt::Display| Failure::Corrupt(format!("a page: {e}"));
        let grow = |out: &mut Vec<u8>, end: usize| {
            if out.len() < end {
                out.resize(end, 0);
            }
        };
        match self {
            Codec::None => {
                grow(out, at + input.len());
                out[at..at + input.len()].copy_from_slice(input);
                Ok(at + input.len())
            }
            Codec::Snappy(decoder) => {
                let len = snap::raw::decompress_len(input).map_err(|e| corrupt(&e))?;
                grow(out, at + len);
                let n = decoder
                    .decompress(input, &mut out[at..at + len])
                    .map_err(|e| corrupt(&e))?;
                Ok(at + n)
            }
            Codec::Zstd => match zstd::zstd_safe::get_frame_content_size(input) {
                Ok(Some(len)) => {
                    let len = usize::try_from(len).map_err(|e| corrupt(&e))?;
                    grow(out, at + len);
                    let n = zstd::bulk::decompress_to_buffer(input, &mut out[at..at + len])
                        .map_err(|e| corrupt(&e))?;
                    Ok(at + n)
                }
                _ => {
                    let mut decoder =
                        zstd::stream::read::Decoder::with_buffer(input).map_err(|e| corrupt(&e))?;
                    let mut end = at;
                    loop {
                        if out.len() - end < 64 * 1024 {
                            let room = out.len().max(64 * 1024);
                            out.resize(end + room, 0);
                        }
                        let n = decoder.read(&mut out[end..]).map_err(|e| corrupt(&e))?;
                        if n == 0 {
                            return Ok(end);
                        }
                        end += n;
                    }
                }
            },
        }
    }
}
