//! Plan entries of the kernel cache on disk: what lowering a kernel found out besides its
//! machine code, so that a process that meets the same plan again loads the kernel without
//! generating code.
//!
//! ```text
//! plan key (typed plan + build + target) ─▶ plan entry ─┬─ object key ─▶ object entry (machine code)
//!                                                       └─ Lowered: error sites, scratch, outputs
//! ```
//!
//! The plan key digests the kernel's typed plan as `Debug` prints it (every type, column index,
//! nullability and constant), with everything else [`super::kernel`]'s object key digests
//! except the IR: the code generator is a function of the plan and the build, so equal plans
//! give equal IR. What the generator decides before lowering (parameters, column slots, an
//! aggregation's layout) is not stored: the hit recomputes it with the functions code
//! generation uses.
//!
//! Encoding (little-endian): the magic `QJITPLN1`, the object key (16 bytes), the scratch need
//! (2 × u64), the error sites (u32 count; each: u64 code, u8 kind, kind's text, text of the
//! operation), the projection outputs (u32 count; each: u8 tag, u64 index or text). Text is a
//! u32 length and UTF-8 bytes. The cache's own header checks the bytes; [`PlanEntry::decode`]
//! still rejects anything malformed (a miss, never a panic).

use crate::codegen::{ErrorKind, ErrorSite, ScratchNeed};
use crate::kernel_cache::CacheKey;

use super::project::Output;

const MAGIC: &[u8; 8] = b"QJITPLN1";

/// What lowering found out about a kernel besides its code.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Lowered {
    /// The operations that can fail, by code.
    pub errors: Vec<ErrorSite>,
    /// The scratch bytes a row needs.
    pub scratch: ScratchNeed,
    /// Projections: how each final expression is produced (empty for other kernels).
    pub outputs: Vec<Output>,
}

/// A plan entry: where the machine code is, and what lowering found.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PlanEntry {
    pub object: CacheKey,
    pub lowered: Lowered,
}

impl PlanEntry {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&self.object.0.to_le_bytes());
        let Lowered {
            errors,
            scratch,
            outputs,
        } = &self.lowered;
        put_u64(&mut out, scratch.per_max_len);
        put_u64(&mut out, scratch.constant);
        put_u32(&mut out, errors.len());
        for site in errors {
            put_u64(&mut out, site.code);
            let (tag, text) = match &site.kind {
                ErrorKind::DivisionByZero => (0, ""),
                ErrorKind::Overflow { ty } => (1, ty.as_str()),
                ErrorKind::InvalidArgument { message } => (2, message.as_str()),
                ErrorKind::InvalidCast { ty } => (3, ty.as_str()),
            };
            out.push(tag);
            put_text(&mut out, text);
            put_text(&mut out, &site.what);
        }
        put_u32(&mut out, outputs.len());
        for output in outputs {
            match output {
                Output::Compiled(k) => {
                    out.push(0);
                    put_u64(&mut out, *k as u64);
                }
                Output::Copied(i) => {
                    out.push(1);
                    put_u64(&mut out, *i as u64);
                }
                Output::Interpreted(why) => {
                    out.push(2);
                    put_text(&mut out, why);
                }
            }
        }
        out
    }

    /// The entry `bytes` encode, or `None` for anything else.
    pub(crate) fn decode(bytes: &[u8]) -> Option<PlanEntry> {
        let mut r = Reader(bytes);
        if r.take(MAGIC.len())? != MAGIC {
            return None;
        }
        let object = CacheKey(u128::from_le_bytes(r.take(16)?.try_into().ok()?));
        let scratch = ScratchNeed {
            per_max_len: r.u64()?,
            constant: r.u64()?,
        };
        let mut errors = vec![];
        for _ in 0..r.u32()? {
            let code = r.u64()?;
            let tag = r.u8()?;
            let text = r.text()?;
            let kind = match tag {
                0 if text.is_empty() => ErrorKind::DivisionByZero,
                1 => ErrorKind::Overflow { ty: text },
                2 => ErrorKind::InvalidArgument { message: text },
                3 => ErrorKind::InvalidCast { ty: text },
                _ => return None,
            };
            let what = r.text()?;
            errors.push(ErrorSite { code, kind, what });
        }
        let mut outputs = vec![];
        for _ in 0..r.u32()? {
            outputs.push(match r.u8()? {
                0 => Output::Compiled(usize::try_from(r.u64()?).ok()?),
                1 => Output::Copied(usize::try_from(r.u64()?).ok()?),
                2 => Output::Interpreted(r.text()?),
                _ => return None,
            });
        }
        if !r.0.is_empty() {
            return None;
        }
        Some(PlanEntry {
            object,
            lowered: Lowered {
                errors,
                scratch,
                outputs,
            },
        })
    }
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Counts and lengths: a kernel has far fewer than 2³² of anything (the plan's size is bounded).
fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    put_u32(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

/// Reads the encoding front to back; every read is checked against the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn text(&mut self) -> Option<String> {
        let n = usize::try_from(self.u32()?).ok()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> PlanEntry {
        PlanEntry {
            object: CacheKey(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210),
            lowered: Lowered {
                errors: vec![
                    ErrorSite {
                        code: 2,
                        kind: ErrorKind::DivisionByZero,
                        what: "a / b".into(),
                    },
                    ErrorSite {
                        code: 5,
                        kind: ErrorKind::Overflow {
                            ty: "BIGINT".into(),
                        },
                        what: "a * b".into(),
                    },
                    ErrorSite {
                        code: 7,
                        kind: ErrorKind::InvalidArgument {
                            message: "negative length — ü".into(),
                        },
                        what: "substring(s, 1, n)".into(),
                    },
                    ErrorSite {
                        code: 9,
                        kind: ErrorKind::InvalidCast { ty: "DATE".into() },
                        what: "CAST(s AS DATE)".into(),
                    },
                ],
                scratch: ScratchNeed {
                    per_max_len: 3,
                    constant: 17,
                },
                outputs: vec![
                    Output::Compiled(0),
                    Output::Copied(4),
                    Output::Interpreted("UPPER is not compiled".into()),
                ],
            },
        }
    }

    #[test]
    fn entries_round_trip() {
        let e = entry();
        assert_eq!(PlanEntry::decode(&e.encode()), Some(e));
        let empty = PlanEntry {
            object: CacheKey(7),
            lowered: Lowered::default(),
        };
        assert_eq!(PlanEntry::decode(&empty.encode()), Some(empty));
    }

    #[test]
    fn anything_malformed_is_rejected() {
        let bytes = entry().encode();
        // Every truncation, and one byte too many.
        for n in 0..bytes.len() {
            assert_eq!(PlanEntry::decode(&bytes[..n]), None, "truncated to {n}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(PlanEntry::decode(&longer), None);
        // Another magic (an object entry's bytes, say).
        let mut other = bytes.clone();
        other[0] = b'\x7f';
        assert_eq!(PlanEntry::decode(&other), None);
        // Every byte flipped decodes to something else or nothing, never a panic.
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0xff;
            assert_ne!(PlanEntry::decode(&flipped), Some(entry()), "byte {i}");
        }
    }
}
