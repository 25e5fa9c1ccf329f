//! Aggregation inside a kernel: group keys → group id through a hash table the kernel reads and
//! inserts into, and accumulator updates.
//!
//! In: the lowered group keys and aggregate arguments of one selected row, and the table and
//! accumulator pointers (see [`crate::codegen::AggArgs`]). Out: the row's group id (`i64`) and
//! the updated accumulators (an exact sum wraps and counts its wraps, see
//! [`SlotKind::ExactSum`]).
//!
//! A group's key record is [`KeyLayout::words`] `u64` words: word 0 holds a bit per NULL key,
//! then each key's words ([`KeyKind::words`]): integers, dates and booleans widened to 64 bits,
//! floats as the bits of their canonical value (`-0` is `0`, every NaN the same NaN, as the
//! interpreter groups them), decimals as two words (low, high), strings as their address and
//! length or in a view's form (see [`KeyKind::Utf8View`]; the executor copies the bytes of new
//! groups' strings before the batch goes away). A NULL key's words are 0. The table is open
//! addressing with linear probing: `slots[h & mask]` holds `group + 1`, or 0 for an empty slot;
//! `hashes[group]` keeps each group's hash so that a probe compares keys only on equal hashes and
//! the executor can grow the table without the keys. The executor guarantees room for one new
//! group per row before each call.
//!
//! Keys that are all integers (dates, booleans) first look in the state's direct index
//! ([`KeyLayout::direct_index`]): each key's value minus a base, below a span, makes a code, and
//! the codes one entry, `group + 1`, filled here after a lookup found the group. With ranges set
//! by the executor from the groups found so far, a `GROUP BY` of supplier numbers or days costs
//! a few instructions per row, and nothing more than a test when the index has no ranges.
//!
//! A row then looks in a per-batch cache of recent keys (their raw words: equal raw views of
//! one batch are equal strings), which serves every row of a `GROUP BY` with few groups. On a
//! miss, keys of integer words hash and probe in inline code; keys with strings call the
//! runtime's lookup ([`RuntimeFn::GroupFind`]) with the row's probe record, since byte loops
//! for hashing and comparing cost several milliseconds of compile time per key and little at
//! run time out of line.

use inkwell::module::Linkage;
use inkwell::values::{
    BasicMetadataValueEnum, BasicValue, BasicValueEnum, FloatValue, IntValue, PointerValue,
};
use inkwell::{AddressSpace, FloatPredicate, IntPredicate};

use super::{Lowered, Lowerer, R};
use crate::codegen::runtime::{ProbeKind, RuntimeFn};
use crate::codegen::{not_compiled, KeyKind, KeyLayout, SlotKind, VectorType, DIRECT_KEY_WORDS};
use crate::error::Error;
use crate::ir::{BinaryOp, Expr, SqlType};

/// The multiplier of the hash (from FxHash).
const HASH_K: u64 = 0x517c_c1b7_2722_0a95;

/// Entries of the per-batch cache of recent keys (a power of two): enough for every group of
/// a low-cardinality `GROUP BY` (Q1 has 4), so that such keys skip the hash table.
pub(in crate::internals::codegen) const RECENT_KEYS: u64 = 64;

/// The rotation between two words folded into the recent-key cache's hash: odd, so that no
/// two of the first 64 words line up.
const RECENT_ROTATION: u64 = 23;

/// The hash table of the kernel, as the update function sees it.
pub(in crate::internals::codegen) struct TableParams<'ctx> {
    /// `i64*`: the number of groups (read, and incremented by an insert).
    pub groups: PointerValue<'ctx>,
    /// `u32*`: the slots.
    pub slots: PointerValue<'ctx>,
    /// `i64`: the number of slots minus one (a power of two minus one).
    pub mask: IntValue<'ctx>,
    /// `u64*`: each group's hash.
    pub hashes: PointerValue<'ctx>,
    /// `u64*`: each group's key record.
    pub keys: PointerValue<'ctx>,
    /// `u64*`: [`RECENT_KEYS`] entries of a group + 1 (0: empty), NULL mask and key words:
    /// recent keys of this batch, which skip the hash table.
    pub last: PointerValue<'ctx>,
    /// `u32*`: the direct index, `group + 1` per code of a small-domain key (0: not known yet);
    /// read only when [`KeyLayout::direct_index`].
    pub direct: PointerValue<'ctx>,
    /// `u64*`: 1 if the direct index has ranges (else 0), then [`DIRECT_KEY_WORDS`] words per
    /// key (base, span, multiplier) that map a row's keys to a code of the direct index, then
    /// a flag the kernel sets to 1 when a row's key is out of range.
    pub direct_keys: PointerValue<'ctx>,
}

/// One key's input to the direct index: its word (0 for NULL) and its validity.
struct DirectInput<'ctx> {
    value: IntValue<'ctx>,
    valid: IntValue<'ctx>,
}

/// The direct-index lookup of a row, emitted before the recent-key cache.
struct DirectProbe<'ctx> {
    /// `i1`: every key's code is in its range (the row has an entry).
    in_range: IntValue<'ctx>,
    /// The row's entry of the direct index (meaningful only `in_range`).
    entry: PointerValue<'ctx>,
    /// Where a known entry's group id arrives, and that id.
    hit: (inkwell::basic_block::BasicBlock<'ctx>, IntValue<'ctx>),
    /// The block that joins every path to the group id.
    done: inkwell::basic_block::BasicBlock<'ctx>,
}

/// One key word of the current row.
enum Word<'ctx> {
    Int(IntValue<'ctx>),
    /// A string's address and length (0 for NULL).
    Str(PointerValue<'ctx>, IntValue<'ctx>),
    /// A `Utf8View` column's raw view (zero for NULL) and its array of data buffers.
    View(IntValue<'ctx>, IntValue<'ctx>, PointerValue<'ctx>),
}

impl KeyKind {
    /// The kind of key for a SQL type, or why it cannot be a compiled group key.
    pub fn of(ty: SqlType) -> R<KeyKind> {
        Ok(match ty {
            SqlType::Null | SqlType::Boolean => KeyKind::Bool,
            t if t.is_signed_integer() || t == SqlType::Date || t.is_timestamp() => KeyKind::Signed,
            t if t.is_unsigned_integer() => KeyKind::Unsigned,
            SqlType::Float32 => KeyKind::Float32,
            SqlType::Float64 => KeyKind::Float64,
            SqlType::Decimal { .. } => KeyKind::Decimal,
            SqlType::Utf8 => KeyKind::Utf8,
            other => return not_compiled(format!("GROUP BY a {other} key is not compiled yet")),
        })
    }

    /// How the runtime's group lookup reads and stores a key of this kind.
    fn probe_kind(self) -> ProbeKind {
        match self {
            KeyKind::Bool
            | KeyKind::Signed
            | KeyKind::Unsigned
            | KeyKind::Float32
            | KeyKind::Float64 => ProbeKind::Word,
            KeyKind::Decimal => ProbeKind::TwoWords,
            KeyKind::Utf8 => ProbeKind::Utf8,
            KeyKind::Utf8View => ProbeKind::Utf8View,
        }
    }
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// The group id (`i64`) of the current row's `keys` (lowered, of layout `layout`), inserting
    /// a new group if the key is new. Emits a probe loop; the builder ends in the block where
    /// the id is known.
    pub(in crate::internals::codegen) fn group_id(
        &mut self,
        keys: &[(&Expr, Option<&Lowered<'ctx>>)],
        layout: &KeyLayout,
        t: &TableParams<'ctx>,
    ) -> R<IntValue<'ctx>> {
        let (b, ctx) = (self.b, self.ctx);
        let i32t = ctx.i32_type();
        let i64t = ctx.i64_type();
        let ptr_t = ctx.ptr_type(AddressSpace::default());
        if keys.len() != layout.kinds.len() || keys.len() > 64 {
            return Err(Error::internal("group keys do not match their layout").into());
        }
        // The words of the probe and the NULL mask. A `Utf8View` column key is read as its raw
        // view: the recent keys compare it, the runtime's lookup finds the bytes.
        let mut nulls = i64t.const_zero();
        let mut words: Vec<Word<'ctx>> = vec![];
        let mut direct: Vec<DirectInput<'ctx>> = vec![];
        for (k, ((expr, key), kind)) in keys.iter().zip(&layout.kinds).enumerate() {
            if *kind == KeyKind::Utf8View {
                let valid = self.column_valid(expr)?;
                let (raw0, raw1) = self.view_raw(expr, valid)?;
                let invalid = b.build_not(valid, "key_null")?;
                let bit = b.build_int_z_extend(invalid, i64t, "key_null64")?;
                let bit =
                    b.build_left_shift(bit, i64t.const_int(k as u64, false), "key_null_bit")?;
                nulls = b.build_or(nulls, bit, "nulls")?;
                words.push(Word::View(raw0, raw1, self.column_params(expr)?.data));
                continue;
            }
            let key = key.ok_or_else(|| Error::internal("a group key was not lowered"))?;
            let invalid = b.build_not(key.valid, "key_null")?;
            let bit = b.build_int_z_extend(invalid, i64t, "key_null64")?;
            let bit = b.build_left_shift(bit, i64t.const_int(k as u64, false), "key_null_bit")?;
            nulls = b.build_or(nulls, bit, "nulls")?;
            let valid_or_zero = |w: IntValue<'ctx>| -> R<IntValue<'ctx>> {
                Ok(b.build_select(key.valid, w, i64t.const_zero(), "key_word")?
                    .into_int_value())
            };
            match kind {
                KeyKind::Bool | KeyKind::Unsigned => {
                    let w = b.build_int_z_extend_or_bit_cast(
                        key.value.into_int_value(),
                        i64t,
                        "key_u",
                    )?;
                    let w = valid_or_zero(w)?;
                    words.push(Word::Int(w));
                    direct.push(DirectInput {
                        value: w,
                        valid: key.valid,
                    });
                }
                KeyKind::Signed => {
                    let w = b.build_int_s_extend_or_bit_cast(
                        key.value.into_int_value(),
                        i64t,
                        "key_s",
                    )?;
                    let w = valid_or_zero(w)?;
                    words.push(Word::Int(w));
                    direct.push(DirectInput {
                        value: w,
                        valid: key.valid,
                    });
                }
                KeyKind::Float32 => {
                    let v = self.canonical_float(key.value.into_float_value())?;
                    let bits = b.build_bit_cast(v, i32t, "key_f32_bits")?.into_int_value();
                    let w = b.build_int_z_extend(bits, i64t, "key_f32")?;
                    words.push(Word::Int(valid_or_zero(w)?));
                }
                KeyKind::Float64 => {
                    let v = self.canonical_float(key.value.into_float_value())?;
                    let w = b.build_bit_cast(v, i64t, "key_f64")?.into_int_value();
                    words.push(Word::Int(valid_or_zero(w)?));
                }
                KeyKind::Decimal => {
                    let v = key.value.into_int_value();
                    let lo = b.build_int_truncate(v, i64t, "key_lo")?;
                    let hi = b.build_right_shift(
                        v,
                        ctx.i128_type().const_int(64, false),
                        false,
                        "key_hi128",
                    )?;
                    let hi = b.build_int_truncate(hi, i64t, "key_hi")?;
                    words.push(Word::Int(valid_or_zero(lo)?));
                    words.push(Word::Int(valid_or_zero(hi)?));
                }
                KeyKind::Utf8View => {
                    return Err(Error::internal("a view key out of place").into());
                }
                KeyKind::Utf8 => {
                    let (p, len) = self.string_parts(key.value)?;
                    let len = valid_or_zero(len)?;
                    let p = b
                        .build_select(key.valid, p, ptr_t.const_null(), "key_ptr")?
                        .into_pointer_value();
                    words.push(Word::Str(p, len));
                }
            }
        }
        let stride = layout.words();
        // Keys of small domains first look in the direct index.
        let probe = match layout.direct_index() && direct.len() == keys.len() {
            true => Some(self.direct_probe(&direct, t)?),
            false => None,
        };

        // A recent key: the same words (an address and length, or a view, equal to the stored
        // ones are the same string) are the same group. The cache starts empty in every batch.
        // Each word of the row's key, and those its hash folds in: a view only its first word
        // (length and prefix), which tells apart the keys of a low-cardinality `GROUP BY`; the
        // compare of the entry checks the second.
        let mut flat: Vec<IntValue<'ctx>> = vec![];
        let mut hashed: Vec<IntValue<'ctx>> = vec![];
        for w in &words {
            match w {
                Word::Int(v) => {
                    flat.push(*v);
                    hashed.push(*v);
                }
                Word::Str(p, len) => {
                    let addr = b.build_ptr_to_int(*p, i64t, "addr")?;
                    flat.extend([addr, *len]);
                    hashed.extend([addr, *len]);
                }
                // Raw: the cache lives for one batch, whose views point into its own buffers.
                Word::View(raw0, raw1, _) => {
                    flat.extend([*raw0, *raw1]);
                    hashed.push(*raw0);
                }
            }
        }
        // The entry of a small direct-mapped cache of recent keys (per batch): the words folded
        // with rotations (distinct keys seldom fold alike; a collision only costs a probe of the
        // table), one multiply, and the top bits pick one of RECENT_KEYS entries of
        // `stride + 1` words.
        let mut x = nulls;
        for w in &hashed {
            x = b.build_xor(self.rotate_left(x, RECENT_ROTATION)?, *w, "recent_x")?;
        }
        let x = b.build_xor(
            x,
            b.build_right_shift(x, i64t.const_int(29, false), false, "recent_s")?,
            "recent_mix",
        )?;
        let x = b.build_int_mul(x, i64t.const_int(HASH_K, false), "recent_m2")?;
        let shift = 64 - RECENT_KEYS.trailing_zeros() as u64;
        let entry = b.build_right_shift(x, i64t.const_int(shift, false), false, "recent_entry")?;
        let entry_at =
            b.build_int_mul(entry, i64t.const_int(stride as u64 + 1, false), "recent_at")?;
        let last_word = |n: usize| -> R<PointerValue<'ctx>> {
            let at = b.build_int_add(entry_at, i64t.const_int(n as u64, false), "recent_w")?;
            // SAFETY (of the generated code): `last` has RECENT_KEYS entries of `stride + 1`
            // words.
            Ok(unsafe { b.build_in_bounds_gep(i64t, t.last, &[at], "last")? })
        };
        let cached = b
            .build_load(i64t, last_word(0)?, "last_group")?
            .into_int_value();
        let mut same =
            b.build_int_compare(IntPredicate::NE, cached, i64t.const_zero(), "cached")?;
        // Without nullable keys every entry's mask is 0: a filled one needs no compare of it
        // (an empty one has group 0).
        let constant_nulls = nulls.is_const();
        for (n, v) in std::iter::once(nulls)
            .chain(flat.iter().copied())
            .enumerate()
            .filter(|(n, _)| *n > 0 || !constant_nulls)
        {
            let old = b
                .build_load(i64t, last_word(n + 1)?, "last_word")?
                .into_int_value();
            let eq = b.build_int_compare(IntPredicate::EQ, old, v, "same_last")?;
            same = b.build_and(same, eq, "same_run")?;
        }
        let f = self.current_function()?;
        let hit = ctx.append_basic_block(f, "last_hit");
        let miss = ctx.append_basic_block(f, "last_miss");
        let known = ctx.append_basic_block(f, "group_known");
        b.build_conditional_branch(same, hit, miss)?;
        b.position_at_end(hit);
        let hit_gid = b.build_int_sub(cached, i64t.const_int(1, false), "hit_gid")?;
        b.build_unconditional_branch(known)?;
        b.position_at_end(miss);
        let strings = words.iter().any(|w| !matches!(w, Word::Int(..)));
        let idv = if strings {
            self.find_out_of_line(nulls, &words, layout, t)?
        } else {
            let ints: Vec<IntValue<'ctx>> = words
                .iter()
                .map(|w| match w {
                    Word::Int(v) => Ok(*v),
                    _ => Err(Error::internal("a string key word inline")),
                })
                .collect::<Result<_, _>>()?;
            self.find_inline(nulls, &ints, stride, t)?
        };
        b.build_store(
            last_word(0)?,
            b.build_int_add(idv, i64t.const_int(1, false), "last_id")?,
        )?;
        for (n, v) in std::iter::once(nulls)
            .chain(flat.iter().copied())
            .enumerate()
        {
            b.build_store(last_word(n + 1)?, v)?;
        }
        let found = self.current_block()?;
        b.build_unconditional_branch(known)?;
        b.position_at_end(known);
        let group = b.build_phi(i64t, "group_id")?;
        group.add_incoming(&[(&hit_gid, hit), (&idv, found)]);
        let group = group.as_basic_value().into_int_value();
        let Some(probe) = probe else {
            return Ok(group);
        };
        // A key found past the direct index enters it, when it has an entry.
        let fill = ctx.append_basic_block(f, "direct_fill");
        b.build_conditional_branch(probe.in_range, fill, probe.done)?;
        b.position_at_end(fill);
        let id1 = b.build_int_add(group, i64t.const_int(1, false), "direct_id")?;
        let id1 = b.build_int_truncate(id1, i32t, "direct_id32")?;
        b.build_store(probe.entry, id1)?;
        b.build_unconditional_branch(probe.done)?;
        b.position_at_end(probe.done);
        let id = b.build_phi(i64t, "group_id")?;
        id.add_incoming(&[(&group, known), (&group, fill), (&probe.hit.1, probe.hit.0)]);
        Ok(id.as_basic_value().into_int_value())
    }

    /// The direct index's lookup of a row's keys (`inputs`, one per key): each key's code is
    /// `value - base` when that is below the key's span, `span` for NULL; the entry is at the sum of the codes times the keys' multipliers. A known entry
    /// is the group; otherwise (or out of range) the builder ends in the block where the
    /// recent-key cache and the table take over, and the caller fills the entry.
    fn direct_probe(
        &mut self,
        inputs: &[DirectInput<'ctx>],
        t: &TableParams<'ctx>,
    ) -> R<DirectProbe<'ctx>> {
        let (b, ctx) = (self.b, self.ctx);
        let i32t = ctx.i32_type();
        let i64t = ctx.i64_type();
        let word = |n: usize| -> R<IntValue<'ctx>> {
            // SAFETY (of the generated code): `direct_keys` has a word, then DIRECT_KEY_WORDS
            // words per key.
            let p = unsafe {
                b.build_in_bounds_gep(
                    i64t,
                    t.direct_keys,
                    &[i64t.const_int(n as u64, false)],
                    "dk",
                )?
            };
            let v = self.load_aligned(i64t.into(), p, 8, "direct_key")?;
            // The words change only between batches: hoisted out of the row loop.
            if let Some(inst) = v.as_instruction_value() {
                let kind = ctx.get_kind_id("invariant.load");
                inst.set_metadata(ctx.metadata_node(&[]), kind)
                    .map_err(|e| Error::internal(format!("direct index load: {e}")))?;
            }
            Ok(v.into_int_value())
        };
        let f = self.current_function()?;
        let codes = ctx.append_basic_block(f, "direct_codes");
        let look = ctx.append_basic_block(f, "direct_look");
        let hit = ctx.append_basic_block(f, "direct_hit");
        let past = ctx.append_basic_block(f, "direct_past");
        let done = ctx.append_basic_block(f, "direct_done");
        // An index without ranges (keys of a domain too wide) costs a test of its first word.
        let start = self.current_block()?;
        let on = word(0)?;
        let on = b.build_int_compare(IntPredicate::NE, on, i64t.const_zero(), "direct_on")?;
        b.build_conditional_branch(on, codes, past)?;
        b.position_at_end(codes);
        let mut in_range = ctx.bool_type().const_int(1, false);
        let mut at = i64t.const_zero();
        for (k, input) in inputs.iter().enumerate() {
            let base = word(1 + k * DIRECT_KEY_WORDS)?;
            let span = word(1 + k * DIRECT_KEY_WORDS + 1)?;
            let mult = word(1 + k * DIRECT_KEY_WORDS + 2)?;
            let code = b.build_int_sub(input.value, base, "direct_code")?;
            let fits = b.build_int_compare(IntPredicate::ULT, code, span, "direct_fits")?;
            let code = b
                .build_select(input.valid, code, span, "direct_code")?
                .into_int_value();
            let null = b.build_not(input.valid, "direct_null")?;
            let fits = b.build_or(fits, null, "direct_fits")?;
            in_range = b.build_and(in_range, fits, "direct_in")?;
            let part = b.build_int_mul(code, mult, "direct_part")?;
            at = b.build_int_add(at, part, "direct_at")?;
        }
        // SAFETY (of the generated code): read and written only when every code is in range,
        // and then `at` is below the index's length (the product of `span + 1`).
        let entry = unsafe { b.build_gep(i32t, t.direct, &[at], "direct_entry")? };
        let out = ctx.append_basic_block(f, "direct_out");
        b.build_conditional_branch(in_range, look, out)?;
        // A key out of its range: the executor looks at this batch's new groups.
        b.position_at_end(out);
        let n = 1 + inputs.len() * DIRECT_KEY_WORDS;
        // SAFETY (of the generated code): the word after the keys' words is the out-of-range
        // flag (never loaded here, so the loads above stay invariant).
        let flag = unsafe {
            b.build_in_bounds_gep(
                i64t,
                t.direct_keys,
                &[i64t.const_int(n as u64, false)],
                "out",
            )?
        };
        b.build_store(flag, i64t.const_int(1, false))?;
        b.build_unconditional_branch(past)?;
        b.position_at_end(look);
        let known = b.build_load(i32t, entry, "direct_group")?.into_int_value();
        let is_known =
            b.build_int_compare(IntPredicate::NE, known, i32t.const_zero(), "direct_known")?;
        b.build_conditional_branch(is_known, hit, past)?;
        b.position_at_end(hit);
        let known = b.build_int_z_extend(known, i64t, "direct_group64")?;
        let gid = b.build_int_sub(known, i64t.const_int(1, false), "direct_gid")?;
        b.build_unconditional_branch(done)?;
        b.position_at_end(past);
        // Whether the row has an entry to fill, and where: none past an index without ranges.
        let fill = b.build_phi(ctx.bool_type(), "direct_fill_in")?;
        let bool_t = ctx.bool_type();
        fill.add_incoming(&[
            (&bool_t.const_zero(), start),
            (&bool_t.const_zero(), out),
            (&bool_t.const_int(1, false), look),
        ]);
        let at = b.build_phi(t.direct.get_type(), "direct_fill_at")?;
        at.add_incoming(&[(&t.direct, start), (&entry, out), (&entry, look)]);
        Ok(DirectProbe {
            in_range: fill.as_basic_value().into_int_value(),
            entry: at.as_basic_value().into_pointer_value(),
            hit: (hit, gid),
            done,
        })
    }

    /// The group id of a key of integer words (`words`, after the NULL mask `nulls`) found in
    /// or inserted into the table by inline code: the hash, then the probe loop. The builder
    /// ends in the block where the id is known.
    fn find_inline(
        &mut self,
        nulls: IntValue<'ctx>,
        words: &[IntValue<'ctx>],
        stride: usize,
        t: &TableParams<'ctx>,
    ) -> R<IntValue<'ctx>> {
        let (b, ctx) = (self.b, self.ctx);
        let i32t = ctx.i32_type();
        let i64t = ctx.i64_type();
        let mut h = self.mix(i64t.const_int(0x243f_6a88_85a3_08d3, false), nulls)?;
        for w in words {
            h = self.mix(h, *w)?;
        }
        let h = self.finish_hash(h)?;

        let f = self.current_function()?;
        let pre = self.current_block()?;
        let probe = ctx.append_basic_block(f, "probe");
        let check = ctx.append_basic_block(f, "probe_check");
        let compare = ctx.append_basic_block(f, "probe_compare");
        let next = ctx.append_basic_block(f, "probe_next");
        let insert = ctx.append_basic_block(f, "probe_insert");
        let found = ctx.append_basic_block(f, "probe_found");
        let start = b.build_and(h, t.mask, "slot0")?;
        b.build_unconditional_branch(probe)?;

        b.position_at_end(probe);
        let pos = b.build_phi(i64t, "slot_pos")?;
        let posv = pos.as_basic_value().into_int_value();
        // SAFETY (of the generated code): `pos <= mask`, and `slots` has `mask + 1` entries.
        let slot_ptr = unsafe { b.build_in_bounds_gep(i32t, t.slots, &[posv], "slot_ptr")? };
        let slot = b.build_load(i32t, slot_ptr, "slot")?.into_int_value();
        let empty = b.build_int_compare(IntPredicate::EQ, slot, i32t.const_zero(), "empty")?;
        b.build_conditional_branch(empty, insert, check)?;

        b.position_at_end(check);
        let slot64 = b.build_int_z_extend(slot, i64t, "slot64")?;
        let gid = b.build_int_sub(slot64, i64t.const_int(1, false), "gid")?;
        // SAFETY (of the generated code): every group has a hash and a record.
        let hp = unsafe { b.build_in_bounds_gep(i64t, t.hashes, &[gid], "hash_ptr")? };
        let stored = b.build_load(i64t, hp, "stored_hash")?.into_int_value();
        let same = b.build_int_compare(IntPredicate::EQ, stored, h, "same_hash")?;
        b.build_conditional_branch(same, compare, next)?;

        b.position_at_end(compare);
        let record = self.record_ptr(t.keys, gid, stride)?;
        let mut equal = {
            let stored = self.load_word(record, 0)?;
            b.build_int_compare(IntPredicate::EQ, stored, nulls, "same_nulls")?
        };
        for (at, w) in words.iter().enumerate() {
            let stored = self.load_word(record, at + 1)?;
            let same = b.build_int_compare(IntPredicate::EQ, stored, *w, "same_word")?;
            equal = b.build_and(equal, same, "same_key")?;
        }
        b.build_conditional_branch(equal, found, next)?;

        b.position_at_end(next);
        let pos2 = b.build_int_add(posv, i64t.const_int(1, false), "slot_next")?;
        let pos2 = b.build_and(pos2, t.mask, "slot_wrap")?;
        b.build_unconditional_branch(probe)?;
        pos.add_incoming(&[(&start, pre), (&pos2, next)]);

        b.position_at_end(insert);
        let new_gid = b.build_load(i64t, t.groups, "new_gid")?.into_int_value();
        let count = b.build_int_add(new_gid, i64t.const_int(1, false), "groups1")?;
        b.build_store(t.groups, count)?;
        let id32 = b.build_int_truncate(count, i32t, "slot_value")?;
        b.build_store(slot_ptr, id32)?;
        // SAFETY (of the generated code): the executor made room for one new group per row.
        let hp = unsafe { b.build_in_bounds_gep(i64t, t.hashes, &[new_gid], "new_hash_ptr")? };
        b.build_store(hp, h)?;
        let record = self.record_ptr(t.keys, new_gid, stride)?;
        self.store_word(record, 0, nulls)?;
        for (at, w) in words.iter().enumerate() {
            self.store_word(record, at + 1, *w)?;
        }
        b.build_unconditional_branch(found)?;

        b.position_at_end(found);
        let id = b.build_phi(i64t, "group")?;
        id.add_incoming(&[(&gid, compare), (&new_gid, insert)]);
        Ok(id.as_basic_value().into_int_value())
    }

    /// The group id of a key with strings, from the runtime's lookup
    /// ([`RuntimeFn::GroupFind`]): the row's probe record written to a stack slot (the NULL
    /// mask, integer words, a computed string's address and length, a view column's raw view
    /// and data buffers, see [`ProbeKind`]), the key kinds a constant of the module.
    fn find_out_of_line(
        &mut self,
        nulls: IntValue<'ctx>,
        words: &[Word<'ctx>],
        layout: &KeyLayout,
        t: &TableParams<'ctx>,
    ) -> R<IntValue<'ctx>> {
        let (b, ctx) = (self.b, self.ctx);
        let i64t = ctx.i64_type();
        let i8t = ctx.i8_type();
        let words_len = 1 + layout
            .kinds
            .iter()
            .map(|k| k.probe_kind().probe_words())
            .sum::<usize>();
        let record = self.entry_slot(i64t.array_type(words_len as u32).into(), "probe")?;
        self.store_word(record, 0, nulls)?;
        let mut at = 1;
        for w in words {
            match w {
                Word::Int(v) => {
                    self.store_word(record, at, *v)?;
                    at += 1;
                }
                Word::Str(p, len) => {
                    let addr = b.build_ptr_to_int(*p, i64t, "key_addr")?;
                    self.store_word(record, at, addr)?;
                    self.store_word(record, at + 1, *len)?;
                    at += 2;
                }
                Word::View(raw0, raw1, data) => {
                    let data = b.build_ptr_to_int(*data, i64t, "view_data")?;
                    self.store_word(record, at, *raw0)?;
                    self.store_word(record, at + 1, *raw1)?;
                    self.store_word(record, at + 2, data)?;
                    at += 3;
                }
            }
        }
        if at != words_len {
            return Err(Error::internal("a probe record does not match its layout").into());
        }
        let codes: Vec<IntValue<'ctx>> = layout
            .kinds
            .iter()
            .map(|k| i8t.const_int(k.probe_kind() as u64, false))
            .collect();
        let kinds = i8t.const_array(&codes);
        let global = self.module.add_global(
            kinds.get_type(),
            Some(AddressSpace::default()),
            "qjit_key_kinds",
        );
        global.set_initializer(&kinds);
        global.set_constant(true);
        global.set_linkage(Linkage::Private);
        global.set_unnamed_addr(true);
        let find = self.runtime_fn(RuntimeFn::GroupFind);
        let args: [BasicMetadataValueEnum<'ctx>; 8] = [
            t.groups.into(),
            t.slots.into(),
            t.mask.into(),
            t.hashes.into(),
            t.keys.into(),
            record.into(),
            global.as_pointer_value().into(),
            i64t.const_int(layout.kinds.len() as u64, false).into(),
        ];
        Ok(b.build_call(find, &args, "group_find")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| Error::internal("qjit_rt_group_find returns nothing"))?
            .into_int_value())
    }

    /// The slot of a column key (see [`Lowerer::column_valid`]).
    fn column_slot(&self, expr: &Expr) -> R<usize> {
        let Expr::Column(c) = expr else {
            return Err(Error::internal("a view key that is not a column").into());
        };
        Ok(*self
            .slot_of
            .get(&c.index)
            .ok_or_else(|| Error::internal(format!("column {} has no slot", c.index)))?)
    }

    /// The kernel parameters of a column key's column.
    fn column_params(&self, expr: &Expr) -> R<&super::ColumnParams<'ctx>> {
        Ok(&self.cols[self.column_slot(expr)?])
    }

    /// The validity of a column key (`true` for a column that cannot be NULL).
    pub(in crate::internals::codegen) fn column_valid(&self, expr: &Expr) -> R<IntValue<'ctx>> {
        let slot = self.column_slot(expr)?;
        if !self.slots[slot].nullable {
            return Ok(self.bool_const(true));
        }
        let p = &self.cols[slot];
        let vidx = self.b.build_int_add(p.validity_offset, self.row, "vidx")?;
        self.read_bit(p.validity, vidx, Some(p.validity_mask))
    }

    /// The raw 16-byte view of a `Utf8View` column key as two words (zero where NULL).
    pub(in crate::internals::codegen) fn view_raw(
        &self,
        expr: &Expr,
        valid: IntValue<'ctx>,
    ) -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
        let (b, ctx) = (self.b, self.ctx);
        let i8t = ctx.i8_type();
        let i64t = ctx.i64_type();
        let p = self.column_params(expr)?;
        let idx = b.build_int_add(p.offset, self.row, "view_idx")?;
        // SAFETY (of the generated code): every row has a 16-byte view. Indexed as `i128`s so
        // that LLVM moves `values + offset` out of the row loop.
        let view = unsafe { b.build_in_bounds_gep(ctx.i128_type(), p.values, &[idx], "key_view")? };
        // SAFETY (of the generated code): bytes 8..16 of the view.
        let view_hi = unsafe {
            b.build_in_bounds_gep(i8t, view, &[i64t.const_int(8, false)], "key_view_hi")?
        };
        let load = |ptr: PointerValue<'ctx>, name: &str| -> R<IntValue<'ctx>> {
            let v = b.build_load(i64t, ptr, name)?;
            if let Some(inst) = v.as_instruction_value() {
                inst.set_alignment(8)
                    .map_err(|e| Error::internal(format!("load alignment: {e}")))?;
            }
            Ok(v.into_int_value())
        };
        let zero = i64t.const_zero();
        let raw0 = load(view, "view_w0")?;
        let raw1 = load(view_hi, "view_w1")?;
        Ok((
            b.build_select(valid, raw0, zero, "w0v")?.into_int_value(),
            b.build_select(valid, raw1, zero, "w1v")?.into_int_value(),
        ))
    }

    /// Updates a slot's part of a group's record in the kernel's table on the stack
    /// (`aggregate::local`) at `p`, an `i64`: a count ([`SlotKind::Rows`],
    /// [`SlotKind::Count`]), or a partial exact sum of values of at most 64 bits. Such a sum
    /// adds with one overflow test; a row whose addition overflows moves the exact value of
    /// the partial sum and its addend into the `i128` of its state vector (`total`, at
    /// `group`: no wrap check, as in [`Lowerer::accumulate`]) and leaves the partial sum 0.
    pub(in crate::internals::codegen) fn accumulate_local(
        &mut self,
        kind: SlotKind,
        arg: Option<(&Lowered<'ctx>, SqlType, bool)>,
        p: PointerValue<'ctx>,
        (total, group): (PointerValue<'ctx>, IntValue<'ctx>),
    ) -> R<()> {
        let (b, ctx) = (self.b, self.ctx);
        let i64t = ctx.i64_type();
        let i128t = ctx.i128_type();
        let count_up = |by: IntValue<'ctx>| -> R<()> {
            let c = b.build_load(i64t, p, "local_count")?.into_int_value();
            b.build_store(p, b.build_int_add(c, by, "local_count2")?)?;
            Ok(())
        };
        match (kind, arg) {
            (SlotKind::Rows, _) => count_up(i64t.const_int(1, false)),
            (SlotKind::Count, Some((a, _, _))) => {
                count_up(b.build_int_z_extend(a.valid, i64t, "valid64")?)
            }
            (SlotKind::ExactSum, Some((a, ty, true))) => {
                let v = self.widen_i128(a.value, ty)?;
                let v = b
                    .build_select(a.valid, v, i128t.const_zero(), "addend")?
                    .into_int_value();
                let v = b.build_int_truncate(v, i64t, "addend64")?;
                // One `add` to memory and a jump on overflow: the sum's only use is the store,
                // and the cold path reads it back (volatile, so that nothing forwards the
                // stored value there) and subtracts the addend to get the sum before.
                let s = b.build_load(i64t, p, "local_sum")?.into_int_value();
                let (s2, o) = self.with_overflow("sadd", s, v)?;
                b.build_store(p, s2)?;
                let o = self.unlikely(o)?;
                let f = self.current_function()?;
                let spill = ctx.append_basic_block(f, "local_spill");
                let done = ctx.append_basic_block(f, "local_added");
                b.build_conditional_branch(o, spill, done)?;
                b.position_at_end(spill);
                let wrapped = b.build_load(i64t, p, "local_wrapped")?;
                wrapped
                    .as_instruction_value()
                    .ok_or_else(|| Error::internal("a load that is not an instruction"))?
                    .set_volatile(true)
                    .map_err(|e| Error::internal(format!("volatile load: {e}")))?;
                let before = b.build_int_sub(wrapped.into_int_value(), v, "local_before")?;
                let exact = b.build_int_add(
                    b.build_int_s_extend(before, i128t, "local_sum128")?,
                    b.build_int_s_extend(v, i128t, "addend128")?,
                    "local_exact",
                )?;
                // SAFETY (of the generated code): every vector has an entry per group.
                let q = unsafe { b.build_in_bounds_gep(i128t, total, &[group], "spill_ptr")? };
                let t = b.build_load(i128t, q, "spill_total")?.into_int_value();
                b.build_store(q, b.build_int_add(t, exact, "spill_total2")?)?;
                b.build_store(p, i64t.const_zero())?;
                b.build_unconditional_branch(done)?;
                b.position_at_end(done);
                Ok(())
            }
            _ => Err(Error::internal("a slot that the local table cannot keep").into()),
        }
    }

    /// Updates one state slot at `group` with the row's argument (none for
    /// [`SlotKind::Rows`]), its type, and whether its value has at most 64 bits (then an exact
    /// sum is added without a wrap check: with fewer than 2^62 rows in a state, which starts at
    /// zero, its `i128` cannot wrap; else a wrap counts in the slot's wraps, see
    /// [`SlotKind::ExactSum`]); `vectors` are the slot's state vectors
    /// ([`SlotKind::vectors`]).
    pub(in crate::internals::codegen) fn accumulate(
        &mut self,
        kind: SlotKind,
        arg: Option<(&Lowered<'ctx>, SqlType, bool)>,
        vectors: &[PointerValue<'ctx>],
        group: IntValue<'ctx>,
        (log, log_len, slot): (PointerValue<'ctx>, PointerValue<'ctx>, u64),
    ) -> R<()> {
        let (b, ctx) = (self.b, self.ctx);
        let i8t = ctx.i8_type();
        let i64t = ctx.i64_type();
        let i128t = ctx.i128_type();
        let f64t = ctx.f64_type();
        let at = |n: usize, ty: VectorType| -> R<PointerValue<'ctx>> {
            let base = *vectors
                .get(n)
                .ok_or_else(|| Error::internal("an accumulator without its state"))?;
            let t: inkwell::types::BasicTypeEnum = match ty {
                VectorType::I64 => i64t.into(),
                VectorType::I128 => i128t.into(),
                VectorType::F64 => f64t.into(),
                VectorType::U8 => i8t.into(),
            };
            // SAFETY (of the generated code): every vector has an entry per group.
            Ok(unsafe { b.build_in_bounds_gep(t, base, &[group], "acc_ptr")? })
        };
        let count_up = |n: usize, by: IntValue<'ctx>| -> R<()> {
            let p = at(n, VectorType::I64)?;
            let c = b.build_load(i64t, p, "count")?.into_int_value();
            let c2 = b.build_int_add(c, by, "count2")?;
            b.build_store(p, c2)?;
            Ok(())
        };
        if kind == SlotKind::Rows {
            return count_up(0, i64t.const_int(1, false));
        }
        let Some((a, ty, word)) = arg else {
            return Err(Error::internal("an aggregate without its argument").into());
        };
        let valid64 = b.build_int_z_extend(a.valid, i64t, "valid64")?;
        match kind {
            SlotKind::Rows => Ok(()),
            SlotKind::Count => count_up(0, valid64),
            SlotKind::ExactSum => {
                let v = self.widen_i128(a.value, ty)?;
                let p = at(0, VectorType::I128)?;
                let s = b.build_load(i128t, p, "sum")?.into_int_value();
                let v = b
                    .build_select(a.valid, v, i128t.const_zero(), "addend")?
                    .into_int_value();
                if word {
                    b.build_store(p, b.build_int_add(s, v, "sum2")?)?;
                    return Ok(());
                }
                let (s2, o) = self.with_overflow("sadd", s, v)?;
                b.build_store(p, s2)?;
                // (A NULL's addend, 0, does not wrap.)
                let sign = wrap_sign(ctx, b, v)?;
                // Only rows that wrap enter the block that counts it.
                let function = b
                    .get_insert_block()
                    .and_then(|bb| bb.get_parent())
                    .ok_or_else(|| Error::internal("an exact sum outside a function"))?;
                let wrapped = ctx.append_basic_block(function, "sum_wrapped");
                let added = ctx.append_basic_block(function, "sum_added");
                b.build_conditional_branch(o, wrapped, added)?;
                b.position_at_end(wrapped);
                count_up(1, sign)?;
                b.build_unconditional_branch(added)?;
                b.position_at_end(added);
                Ok(())
            }
            SlotKind::FloatSum => {
                let v = self.widen_f64(a.value.into_float_value())?;
                let p = at(0, VectorType::F64)?;
                let s = b.build_load(f64t, p, "fsum")?.into_float_value();
                let s2 = b.build_float_add(s, v, "fsum2")?;
                let s3 = b.build_select(a.valid, s2, s, "fsum3")?;
                b.build_store(p, s3)?;
                Ok(())
            }
            SlotKind::MinMaxInt { max } => {
                let v = self.widen_i128(a.value, ty)?;
                let p = at(0, VectorType::I128)?;
                let cur = b.build_load(i128t, p, "extreme")?.into_int_value();
                let (x, y) = if max { (cur, v) } else { (v, cur) };
                let better = b.build_int_compare(IntPredicate::SLT, x, y, "better")?;
                self.store_extreme(
                    p,
                    cur.into(),
                    v.into(),
                    better,
                    a.valid,
                    at(1, VectorType::U8)?,
                )?;
                Ok(())
            }
            SlotKind::MinMaxFloat { max } => {
                let v = self.widen_f64(a.value.into_float_value())?;
                let v = self.canonical_float(v)?;
                let p = at(0, VectorType::F64)?;
                let cur = b.build_load(f64t, p, "fextreme")?.into_float_value();
                let better = if max {
                    self.float_lt(cur, v)?
                } else {
                    self.float_lt(v, cur)?
                };
                self.store_extreme(
                    p,
                    cur.into(),
                    v.into(),
                    better,
                    a.valid,
                    at(1, VectorType::U8)?,
                )?;
                Ok(())
            }
            SlotKind::MinMaxStr { max } => {
                let ptr_t = ctx.ptr_type(AddressSpace::default());
                let (vp, vl) = self.string_parts(a.value)?;
                let pp = at(0, VectorType::I64)?;
                let lp = at(1, VectorType::I64)?;
                let hp = at(2, VectorType::U8)?;
                let dp = at(3, VectorType::U8)?;
                let cur_addr = b.build_load(i64t, pp, "cur_addr")?.into_int_value();
                let cur_len = b.build_load(i64t, lp, "cur_len")?.into_int_value();
                let has = b.build_load(i8t, hp, "has")?.into_int_value();
                let dirty = b.build_load(i8t, dp, "dirty")?.into_int_value();
                let cur_ptr = b.build_int_to_ptr(cur_addr, ptr_t, "cur_ptr")?;
                // Without a value yet the current string is empty: compare nothing.
                let first =
                    b.build_int_compare(IntPredicate::EQ, has, i8t.const_zero(), "first")?;
                let cl = b
                    .build_select(first, i64t.const_zero(), cur_len, "cmp_cur_len")?
                    .into_int_value();
                let cmp = self.string_compare(
                    if max { BinaryOp::Gt } else { BinaryOp::Lt },
                    self.make_string(vp, vl)?,
                    self.make_string(cur_ptr, cl)?,
                )?;
                let take = b.build_or(first, cmp, "take")?;
                let take = b.build_and(take, a.valid, "take_valid")?;
                let addr = b.build_ptr_to_int(vp, i64t, "addr")?;
                b.build_store(pp, b.build_select(take, addr, cur_addr, "addr2")?)?;
                b.build_store(lp, b.build_select(take, vl, cur_len, "len2")?)?;
                let valid8 = b.build_int_z_extend(a.valid, i8t, "valid8")?;
                b.build_store(hp, b.build_or(has, valid8, "has2")?)?;
                // The first take of the batch logs the group; the entry past the end is
                // scratch (the log has room for one more).
                let clean =
                    b.build_int_compare(IntPredicate::EQ, dirty, i8t.const_zero(), "clean")?;
                let log_it = b.build_and(take, clean, "log_it")?;
                let n = b.build_load(i64t, log_len, "log_n")?.into_int_value();
                // SAFETY (of the generated code): the log has room for every row and slot.
                let ep = unsafe { b.build_in_bounds_gep(i64t, log, &[n], "log_ptr")? };
                let entry = b.build_or(
                    b.build_left_shift(
                        i64t.const_int(slot, false),
                        i64t.const_int(32, false),
                        "slot_hi",
                    )?,
                    group,
                    "log_entry",
                )?;
                b.build_store(ep, entry)?;
                let n2 =
                    b.build_int_add(n, b.build_int_z_extend(log_it, i64t, "log_inc")?, "log_n2")?;
                b.build_store(log_len, n2)?;
                let take8 = b.build_int_z_extend(take, i8t, "take8")?;
                b.build_store(dp, b.build_or(dirty, take8, "dirty2")?)?;
                Ok(())
            }
            SlotKind::MinMaxBool { max } => {
                let v = b.build_int_z_extend(a.value.into_int_value(), i8t, "bool8")?;
                let p = at(0, VectorType::U8)?;
                let cur = b.build_load(i8t, p, "bextreme")?.into_int_value();
                let better = if max {
                    b.build_int_compare(IntPredicate::UGT, v, cur, "better")?
                } else {
                    b.build_int_compare(IntPredicate::ULT, v, cur, "better")?
                };
                self.store_extreme(
                    p,
                    cur.into(),
                    v.into(),
                    better,
                    a.valid,
                    at(1, VectorType::U8)?,
                )?;
                Ok(())
            }
        }
    }

    /// `MIN`/`MAX`: stores `v` where the row is valid and there is no value yet or `v` is
    /// better; sets the has-value flag where the row is valid.
    fn store_extreme(
        &self,
        p: PointerValue<'ctx>,
        cur: BasicValueEnum<'ctx>,
        v: BasicValueEnum<'ctx>,
        better: IntValue<'ctx>,
        valid: IntValue<'ctx>,
        has_ptr: PointerValue<'ctx>,
    ) -> R<()> {
        let b = self.b;
        let i8t = self.ctx.i8_type();
        let has = b.build_load(i8t, has_ptr, "has")?.into_int_value();
        let first = b.build_int_compare(IntPredicate::EQ, has, i8t.const_zero(), "first")?;
        let take = b.build_or(first, better, "take")?;
        let take = b.build_and(take, valid, "take_valid")?;
        let new = b.build_select(take, v, cur, "extreme2")?;
        b.build_store(p, new)?;
        let valid8 = b.build_int_z_extend(valid, i8t, "valid8")?;
        let has2 = b.build_or(has, valid8, "has2")?;
        b.build_store(has_ptr, has2)?;
        Ok(())
    }

    /// An integer, date or decimal value as an `i128` (unsigned types zero-extended).
    fn widen_i128(&self, v: BasicValueEnum<'ctx>, ty: SqlType) -> R<IntValue<'ctx>> {
        let i128t = self.ctx.i128_type();
        let v = v.into_int_value();
        Ok(if ty.is_unsigned_integer() || ty == SqlType::Boolean {
            self.b.build_int_z_extend_or_bit_cast(v, i128t, "wide")?
        } else {
            self.b.build_int_s_extend_or_bit_cast(v, i128t, "wide")?
        })
    }

    fn widen_f64(&self, v: FloatValue<'ctx>) -> R<FloatValue<'ctx>> {
        let f64t = self.ctx.f64_type();
        Ok(if v.get_type() == f64t {
            v
        } else {
            self.b.build_float_ext(v, f64t, "wide_f")?
        })
    }

    /// The canonical value of a float: `-0` becomes `0`, every NaN the quiet NaN.
    fn canonical_float(&self, v: FloatValue<'ctx>) -> R<FloatValue<'ctx>> {
        let b = self.b;
        let t = v.get_type();
        let nan = b.build_float_compare(FloatPredicate::UNO, v, v, "is_nan")?;
        let plus0 = b.build_float_add(v, t.const_float(0.0), "plus_zero")?;
        Ok(
            b.build_select(nan, t.const_float(f64::NAN), plus0, "canonical")?
                .into_float_value(),
        )
    }

    fn mix(&self, h: IntValue<'ctx>, w: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let b = self.b;
        let i64t = self.ctx.i64_type();
        let x = b.build_xor(self.rotate_left(h, 5)?, w, "mix_xor")?;
        Ok(b.build_int_mul(x, i64t.const_int(HASH_K, false), "mix")?)
    }

    /// `x` rotated left by `k` (0 < `k` < 64) bits, an `i64`.
    fn rotate_left(&self, x: IntValue<'ctx>, k: u64) -> R<IntValue<'ctx>> {
        let b = self.b;
        let i64t = self.ctx.i64_type();
        Ok(b.build_or(
            b.build_left_shift(x, i64t.const_int(k, false), "rotl_hi")?,
            b.build_right_shift(x, i64t.const_int(64 - k, false), false, "rotl_lo")?,
            "rotl",
        )?)
    }

    /// A final avalanche, so that the low bits (the slot) depend on every bit.
    fn finish_hash(&self, h: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let b = self.b;
        let i64t = self.ctx.i64_type();
        let x = b.build_xor(
            h,
            b.build_right_shift(h, i64t.const_int(33, false), false, "fh1")?,
            "fx1",
        )?;
        let x = b.build_int_mul(x, i64t.const_int(0xff51_afd7_ed55_8ccd, false), "fm")?;
        Ok(b.build_xor(
            x,
            b.build_right_shift(x, i64t.const_int(33, false), false, "fh2")?,
            "hash",
        )?)
    }

    fn record_ptr(
        &self,
        keys: PointerValue<'ctx>,
        group: IntValue<'ctx>,
        stride: usize,
    ) -> R<PointerValue<'ctx>> {
        let i64t = self.ctx.i64_type();
        let at = self
            .b
            .build_int_mul(group, i64t.const_int(stride as u64, false), "record_at")?;
        // SAFETY (of the generated code): every group has a record of `stride` words.
        Ok(unsafe { self.b.build_in_bounds_gep(i64t, keys, &[at], "record")? })
    }

    fn load_word(&self, record: PointerValue<'ctx>, n: usize) -> R<IntValue<'ctx>> {
        let i64t = self.ctx.i64_type();
        // SAFETY (of the generated code): `n` is below the record's stride.
        let p = unsafe {
            self.b
                .build_in_bounds_gep(i64t, record, &[i64t.const_int(n as u64, false)], "word")?
        };
        Ok(self.b.build_load(i64t, p, "stored_word")?.into_int_value())
    }

    fn store_word(&self, record: PointerValue<'ctx>, n: usize, v: IntValue<'ctx>) -> R<()> {
        let i64t = self.ctx.i64_type();
        // SAFETY (of the generated code): `n` is below the record's stride.
        let p = unsafe {
            self.b
                .build_in_bounds_gep(i64t, record, &[i64t.const_int(n as u64, false)], "word")?
        };
        self.b.build_store(p, v)?;
        Ok(())
    }

    fn current_function(&self) -> R<inkwell::values::FunctionValue<'ctx>> {
        Ok(self
            .current_block()?
            .get_parent()
            .ok_or_else(|| Error::internal("a block outside a function"))?)
    }

    fn current_block(&self) -> R<inkwell::basic_block::BasicBlock<'ctx>> {
        Ok(self
            .b
            .get_insert_block()
            .ok_or_else(|| Error::internal("the builder lost its block"))?)
    }
}

/// The wrap of an exact sum that overflowed adding `addend` (`i128`), as an `i64`: -1 for a
/// negative addend (the sum passed `i128::MIN`), +1 for a positive one (see
/// [`SlotKind::ExactSum`]).
pub(in crate::internals::codegen) fn wrap_sign<'ctx>(
    ctx: &'ctx inkwell::context::Context,
    b: &inkwell::builder::Builder<'ctx>,
    addend: IntValue<'ctx>,
) -> R<IntValue<'ctx>> {
    let i64t = ctx.i64_type();
    let zero = addend.get_type().const_zero();
    let negative = b.build_int_compare(IntPredicate::SLT, addend, zero, "negative")?;
    Ok(b.build_select(
        negative,
        i64t.const_all_ones(),
        i64t.const_int(1, false),
        "wrap_sign",
    )?
    .into_int_value())
}
