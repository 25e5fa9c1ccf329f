//! The entry function of an aggregation kernel, `qjit_aggregate(cols, len, state, status)`:
//! the state's pointers loaded once, without keys the accumulators of the batch in registers,
//! the loop over words and selected rows that calls the update row function, and the reports
//! (hand-back, failure) with the state written back as the module docs of
//! `aggregate` say.

use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::types::BasicTypeEnum;
use inkwell::values::{BasicMetadataValueEnum, IntValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};

use super::dense::{dense_word, DensePlan};
use super::grouped::{group_ids, takes_word, GroupedWord};
use super::lanes::{lanes_word, LanesPlan, LanesWord};
use super::layout::{AggregateLayout, SlotKind, VectorType};
use super::local::{flush_function, LocalTable};
use super::prefetch::{prefetch_row, AHEAD_WORDS, SPARSE_SELECTED};
use super::sums::{PassSums, SumsPlan};
use crate::codegen::skeleton::{
    column_args, for_each_selected, intrinsic, param, selection_word, store_status, FailExit, Words,
};
use crate::codegen::{CodegenError, STATUS_FALLBACK};
use crate::error::Error;

/// Builds `qjit_aggregate(cols, len, state, status)`. `scratch`: the update row function
/// builds strings; `falls_back`: it may hand a row back. `sparse`: the columns (slot, bytes per
/// row) that only the update reads, whose selected rows are prefetched (see [`AHEAD_WORDS`]).
/// `grouped`: the key code and group row functions of keys whose words find their groups
/// first (see `grouped`); `lanes`: with them, the row function that computes a word's
/// arguments in lanes, which the update then reads (see `lanes`); `sums`: with them, the row
/// function whose parts a word's passes sum and fold (see `sums`).
#[allow(clippy::too_many_arguments)]
pub(super) fn build_entry<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    b: &inkwell::builder::Builder<'ctx>,
    entry_fn: inkwell::values::FunctionValue<'ctx>,
    filter_fn: Option<inkwell::values::FunctionValue<'ctx>>,
    update_fn: inkwell::values::FunctionValue<'ctx>,
    ncols: usize,
    layout: &AggregateLayout,
    (scratch, falls_back): (bool, bool),
    sparse: &[(usize, u64)],
    local_table: Option<&LocalTable>,
    dense: Option<(inkwell::values::FunctionValue<'ctx>, &DensePlan)>,
    grouped: Option<(
        inkwell::values::FunctionValue<'ctx>,
        inkwell::values::FunctionValue<'ctx>,
    )>,
    lanes: Option<(inkwell::values::FunctionValue<'ctx>, &LanesPlan)>,
    sums: Option<(inkwell::values::FunctionValue<'ctx>, &SumsPlan)>,
) -> Result<(), CodegenError> {
    let i64t = ctx.i64_type();
    let ptr = ctx.ptr_type(AddressSpace::default());
    let state_ty = ctx.struct_type(
        &[
            ptr.into(),
            ptr.into(),
            i64t.into(),
            ptr.into(),
            ptr.into(),
            i64t.into(),
            ptr.into(),
            i64t.into(),
            ptr.into(),
            i64t.into(),
            ptr.into(),
            ptr.into(),
        ],
        false,
    );
    let status_ty = ctx.struct_type(&[i64t.into(), i64t.into()], false);
    let cols = param(entry_fn, 0)?.into_pointer_value();
    let len = param(entry_fn, 1)?.into_int_value();
    let state = param(entry_fn, 2)?.into_pointer_value();
    let status = param(entry_fn, 3)?.into_pointer_value();
    let entry = ctx.append_basic_block(entry_fn, "entry");
    b.position_at_end(entry);
    let args = column_args(ctx, module, b, cols, ncols)?;
    let field = |n: u32, t: BasicTypeEnum<'ctx>, name: &str| -> Result<_, CodegenError> {
        let p = b.build_struct_gep(state_ty, state, n, name)?;
        Ok(b.build_load(t, p, name)?)
    };
    let vectors_ptr = field(0, ptr.into(), "vectors")?.into_pointer_value();
    let slots = field(1, ptr.into(), "slots")?;
    let mask = field(2, i64t.into(), "slot_mask")?;
    let hashes = field(3, ptr.into(), "hashes")?;
    let keys = field(4, ptr.into(), "keys")?;
    let groups0 = field(5, i64t.into(), "groups")?;
    let groups = b.build_alloca(i64t, "groups_slot")?;
    b.build_store(groups, groups0)?;
    let log = field(6, ptr.into(), "log")?;
    let log_len0 = field(7, i64t.into(), "log_len")?;
    let log_len = b.build_alloca(i64t, "log_len_slot")?;
    b.build_store(log_len, log_len0)?;
    // The scratch area and the bytes of each row's part.
    let scratch = if scratch {
        Some((
            field(8, ptr.into(), "scratch")?.into_pointer_value(),
            field(9, i64t.into(), "scratch_row")?.into_int_value(),
        ))
    } else {
        None
    };
    let direct = field(10, ptr.into(), "direct")?;
    let direct_keys = field(11, ptr.into(), "direct_keys")?;
    // Recent groups and keys (none yet: addresses of an earlier batch may repeat).
    let last_words = (layout.keys.as_ref().map_or(0, |k| k.words()) + 1) as u64
        * crate::codegen::lower::RECENT_KEYS;
    let last_t = i64t.array_type(last_words as u32);
    let last = b.build_alloca(last_t, "last_key")?;
    // Empty entries: one memset of the whole cache (a store per entry costs the backend more).
    b.build_memset(
        last,
        8,
        ctx.i8_type().const_zero(),
        i64t.const_int(last_words * 8, false),
    )?;

    // A word's key codes and group ids (see `grouped`).
    let word_groups = match grouped {
        Some(_) => Some(GroupedWord::alloca(ctx, b)?),
        None => None,
    };
    let lane_word = match lanes {
        Some((_, plan)) => Some(LanesWord::alloca(ctx, b, plan)?),
        None => None,
    };

    // The table of the first groups (see `local`), empty at the start of every batch.
    let local_ptr = match local_table {
        Some(t) => {
            let table =
                b.build_alloca(ctx.i8_type().array_type(t.bytes() as u32), "local_table")?;
            table
                .as_instruction()
                .ok_or_else(|| Error::internal("an alloca that is not an instruction"))?
                .set_alignment(16)
                .map_err(|e| Error::internal(format!("alloca alignment: {e}")))?;
            b.build_memset(
                table,
                16,
                ctx.i8_type().const_zero(),
                i64t.const_int(t.bytes(), false),
            )?;
            table
        }
        None => ptr.const_null(),
    };

    let flush_fn = local_table
        .map(|t| flush_function(ctx, module, t, layout))
        .transpose()?;

    // The state vectors: without keys, local copies of group 0 that stay in registers.
    let mut globals: Vec<PointerValue> = vec![];
    for v in 0..layout.vectors.len() {
        // SAFETY (of the generated code): `vectors` has one pointer per state vector.
        let p = unsafe {
            b.build_in_bounds_gep(ptr, vectors_ptr, &[i64t.const_int(v as u64, false)], "vp")?
        };
        globals.push(b.build_load(ptr, p, "vector")?.into_pointer_value());
    }
    let keyed = layout.keys.is_some();
    let mut locals: Vec<PointerValue> = vec![];
    if !keyed {
        for slot in &layout.slots {
            for (n, vt) in slot.kind.vectors().iter().enumerate() {
                let v = slot.first_vector + n;
                let t = vector_type(ctx, *vt);
                let local = b.build_alloca(t, "local_acc")?;
                // Extremes continue from group 0's value; sums and counts are the batch's.
                let init = if slot.kind.is_extreme() {
                    b.build_load(t, globals[v], "acc0")?
                } else {
                    t.const_zero()
                };
                b.build_store(local, init)?;
                locals.push(local);
            }
        }
    }
    let vector_args: &[PointerValue] = if keyed { &globals } else { &locals };

    // The arguments of the update and group row functions for row `i`, group `gid`.
    let row_args = |i: IntValue<'ctx>,
                    gid: IntValue<'ctx>,
                    lane: Option<(PointerValue<'ctx>, IntValue<'ctx>)>|
     -> Result<Vec<BasicMetadataValueEnum<'ctx>>, CodegenError> {
        let (lane_values, lanes_on) = lane.unwrap_or((ptr.const_null(), i64t.const_zero()));
        let (row_scratch, row_bytes) = match scratch {
            Some((base, row_bytes)) => {
                let at = b.build_int_mul(i, row_bytes, "scratch_at")?;
                // SAFETY (of the generated code): the area has `row_bytes` bytes per row; not
                // `inbounds` because a dangling base with 0 bytes per row is allowed.
                let p = unsafe { b.build_gep(ctx.i8_type(), base, &[at], "row_scratch")? };
                (p, row_bytes)
            }
            None => (ptr.const_null(), i64t.const_zero()),
        };
        let mut a: Vec<BasicMetadataValueEnum> = vec![
            i.into(),
            groups.into(),
            slots.into(),
            mask.into(),
            hashes.into(),
            keys.into(),
            log.into(),
            log_len.into(),
            last.into(),
            row_scratch.into(),
            row_bytes.into(),
            direct.into(),
            direct_keys.into(),
            local_ptr.into(),
            gid.into(),
            lane_values.into(),
            lanes_on.into(),
        ];
        a.extend(vector_args.iter().map(|p| BasicMetadataValueEnum::from(*p)));
        a.extend(args.iter().copied());
        Ok(a)
    };
    let call_at = |f: inkwell::values::FunctionValue<'ctx>,
                   i: IntValue<'ctx>,
                   gid: IntValue<'ctx>,
                   lane: Option<(PointerValue<'ctx>, IntValue<'ctx>)>,
                   name: &str|
     -> Result<IntValue<'ctx>, CodegenError> {
        Ok(b.build_call(f, &row_args(i, gid, lane)?, name)?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| Error::internal("a row function returns nothing"))?
            .into_int_value())
    };
    let call = |f, i, gid, name: &str| call_at(f, i, gid, None, name);
    let no_gid = i64t.const_zero();
    let ctpop = intrinsic(module, "llvm.ctpop", i64t.into())?;

    // The group count and the length of the string log, back into the state, and the table
    // of the first groups into their vectors.
    let write_back = || -> Result<(), CodegenError> {
        let g = b.build_load(i64t, groups, "groups_end")?;
        if let Some(f) = flush_fn {
            b.build_call(
                f,
                &[local_ptr.into(), vectors_ptr.into(), g.into()],
                "flush_table",
            )?;
        }
        let pg = b.build_struct_gep(state_ty, state, 5, "groups_ptr")?;
        b.build_store(pg, g)?;
        let l = b.build_load(i64t, log_len, "log_len_end")?;
        let pl = b.build_struct_gep(state_ty, state, 7, "log_len_ptr")?;
        b.build_store(pl, l)?;
        Ok(())
    };

    // Failure: (code, row) into the status.
    let fail = FailExit::new(ctx, b, entry_fn)?;
    let (code, mut row) = fail.values();
    if falls_back {
        // A hand-back keeps the state (see the module docs).
        let handed_back = b.build_int_compare(
            IntPredicate::EQ,
            code,
            i64t.const_int(STATUS_FALLBACK, false),
            "handed_back",
        )?;
        if keyed {
            write_back()?;
        } else {
            row = b
                .build_select(handed_back, i64t.const_zero(), row, "resume_row")?
                .into_int_value();
        }
    }
    store_status(ctx, b, status, code, row)?;
    b.build_return(None)?;
    b.position_at_end(entry);

    // The updates of a word's selected rows (`full`: it has 64 rows); without keys, a word
    // that selects many may take the dense loop instead (see `dense`).
    let update_word = |selected: IntValue<'ctx>,
                       base: IntValue<'ctx>,
                       full: IntValue<'ctx>|
     -> Result<(), CodegenError> {
        let dense_after = match dense.filter(|_| !keyed) {
            Some((f, plan)) => Some(dense_word(
                ctx,
                module,
                b,
                entry_fn,
                (f, plan, layout),
                (selected, base, full),
                &args,
                &locals,
            )?),
            None => None,
        };
        if let (Some((code_fn, group_fn)), Some(word)) = (grouped, &word_groups) {
            let lookup = |i: IntValue<'ctx>| call(group_fn, i, no_gid, "group");
            let take = takes_word(ctx, module, b, selected, full)?;
            // A word that finds its groups a group at a time computes its arguments in lanes,
            // and its rows read them unless one needs the row path (see `lanes`).
            let lanes_on = match (lanes, &lane_word) {
                (Some((lanes_fn, _)), Some(lw)) => Some((
                    lw,
                    lanes_word(
                        ctx,
                        b,
                        entry_fn,
                        (lanes_fn, lw),
                        (selected, base, take),
                        &args,
                    )?,
                )),
                _ => None,
            };
            // Its passes sum their rows where none can fail (see `sums`).
            let pass_sums = match (sums, local_table) {
                (Some((row_fn, plan)), Some(table)) => Some(PassSums {
                    row_fn,
                    plan,
                    on: match lanes_on {
                        Some((_, on)) => on,
                        None => b.build_int_z_extend(take, i64t, "sums_on")?,
                    },
                    lanes: lanes_on.map(|(lw, _)| lw),
                    table,
                    local: local_ptr,
                    vectors: &globals,
                    layout,
                }),
                _ => None,
            };
            let folded = group_ids(
                ctx,
                module,
                b,
                entry_fn,
                code_fn,
                word,
                (selected, base, take),
                &args,
                &lookup,
                pass_sums.as_ref(),
            )?;
            let rest = b.build_and(selected, b.build_not(folded, "unfolded")?, "rest")?;
            let gid_of = |i: IntValue<'ctx>| -> Result<IntValue<'ctx>, CodegenError> {
                let j = b.build_int_sub(i, base, "word_j")?;
                let at = word.at(ctx, b, word.gids, j, "word_gid_at")?;
                Ok(b.build_load(i64t, at, "word_gid")?.into_int_value())
            };
            for_each_selected(
                ctx,
                module,
                b,
                entry_fn,
                (rest, base),
                &[],
                &fail,
                "word",
                |i, _| {
                    let lane = match lanes_on {
                        Some((lw, on)) => {
                            let j = b.build_int_sub(i, base, "lane_row")?;
                            Some((lw.at(ctx, b, j)?, on))
                        }
                        None => None,
                    };
                    Ok((call_at(update_fn, i, gid_of(i)?, lane, "update")?, vec![]))
                },
            )?;
        } else {
            for_each_selected(
                ctx,
                module,
                b,
                entry_fn,
                (selected, base),
                &[],
                &fail,
                "word",
                |i, _| Ok((call(update_fn, i, no_gid, "update")?, vec![])),
            )?;
        }
        if let Some(after) = dense_after {
            b.build_unconditional_branch(after)?;
            b.position_at_end(after);
        }
        Ok(())
    };

    if sparse.is_empty() {
        // Every word, the last one possibly partial: its selection, then the update of each
        // selected row (one copy of the row functions).
        let word = Words::begin(ctx, b, entry_fn, len, &[])?;
        let selected = selection_word(
            ctx,
            b,
            entry_fn,
            filter_fn,
            &args,
            (word.base, word.count, word.full),
            &fail,
            "word",
        )?;
        update_word(selected, word.base, word.full)?;
        word.end(ctx, b, &[])?;
    } else {
        // The selection runs `AHEAD_WORDS` words ahead of the updates (see `prefetch`): step
        // `t` selects word `t` into a ring of words and prefetches its rows of the sparse
        // columns if it selects few, then updates the rows of word `t - AHEAD_WORDS`. A
        // failure of the filter ahead fails the batch as it would have a few words later (the
        // executor then asks the interpreter for the batch's error); a hand-back at a row still
        // leaves the state with exactly the selected rows before it. The ring holds the words
        // from `t - AHEAD_WORDS` (read after word `t` is written) to `t`.
        const RING: u64 = 2 * AHEAD_WORDS;
        let ahead = i64t.const_int(AHEAD_WORDS, false);
        let ring_t = i64t.array_type(RING as u32);
        let ring = b.build_alloca(ring_t, "ring")?;
        let len_ahead =
            b.build_int_add(len, i64t.const_int(AHEAD_WORDS * 64, false), "len_ahead")?;
        let step = Words::begin(ctx, b, entry_fn, len_ahead, &[])?;
        let slot_of = |w: IntValue<'ctx>, name: &str| -> Result<PointerValue<'ctx>, CodegenError> {
            let at = b.build_and(w, i64t.const_int(RING - 1, false), name)?;
            // SAFETY (of the generated code): `at` < RING, the ring's length.
            Ok(unsafe { b.build_in_bounds_gep(i64t, ring, &[at], name)? })
        };
        let lead = ctx.append_basic_block(entry_fn, "lead");
        let lead_sparse = ctx.append_basic_block(entry_fn, "lead_sparse");
        let lag_test = ctx.append_basic_block(entry_fn, "lag_test");
        let lag = ctx.append_basic_block(entry_fn, "lag");
        let latch = ctx.append_basic_block(entry_fn, "step_done");
        let leads = b.build_int_compare(IntPredicate::ULT, step.base, len, "leads")?;
        b.build_conditional_branch(leads, lead, lag_test)?;

        b.position_at_end(lead);
        let rest = b.build_int_sub(len, step.base, "lead_rest")?;
        let sixty_four = i64t.const_int(64, false);
        let full = b.build_int_compare(IntPredicate::UGE, rest, sixty_four, "lead_full")?;
        let count = b
            .build_select(full, sixty_four, rest, "lead_count")?
            .into_int_value();
        let selected = selection_word(
            ctx,
            b,
            entry_fn,
            filter_fn,
            &args,
            (step.base, count, full),
            &fail,
            "word",
        )?;
        b.build_store(slot_of(step.index, "lead_slot")?, selected)?;
        let n = b
            .build_call(ctpop, &[selected.into()], "selected")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| Error::internal("ctpop returns nothing"))?
            .into_int_value();
        let few = b.build_int_compare(
            IntPredicate::ULT,
            n,
            i64t.const_int(SPARSE_SELECTED, false),
            "sparse_word",
        )?;
        b.build_conditional_branch(few, lead_sparse, lag_test)?;

        b.position_at_end(lead_sparse);
        for_each_selected(
            ctx,
            module,
            b,
            entry_fn,
            (selected, step.base),
            &[],
            &fail,
            "prefetch",
            |i, _| {
                prefetch_row(ctx, module, b, &args, sparse, i)?;
                Ok((ctx.i32_type().const_zero(), vec![]))
            },
        )?;
        b.build_unconditional_branch(lag_test)?;

        b.position_at_end(lag_test);
        let lags = b.build_int_compare(IntPredicate::UGE, step.index, ahead, "lags")?;
        b.build_conditional_branch(lags, lag, latch)?;

        b.position_at_end(lag);
        let w = b.build_int_sub(step.index, ahead, "lag_word")?;
        let base = b.build_left_shift(w, i64t.const_int(6, false), "lag_base")?;
        let word = b
            .build_load(i64t, slot_of(w, "lag_slot")?, "lag_selected")?
            .into_int_value();
        let end = b.build_int_add(base, sixty_four, "lag_end")?;
        let full = b.build_int_compare(IntPredicate::ULE, end, len, "lag_full")?;
        update_word(word, base, full)?;
        b.build_unconditional_branch(latch)?;

        b.position_at_end(latch);
        step.end(ctx, b, &[])?;
    }

    // Write back the group count and, without keys, fold the batch into group 0.
    write_back()?;
    if !keyed {
        for slot in &layout.slots {
            let at = slot.first_vector;
            match slot.kind {
                SlotKind::ExactSum => {
                    // The batch's sum into the total, wrapping, and its wraps with the total's
                    // (see `SlotKind::ExactSum`).
                    let (i128t, f) = (ctx.i128_type(), intrinsic_sadd(module, ctx)?);
                    let total = b.build_load(i128t, globals[at], "total")?.into_int_value();
                    let local = b.build_load(i128t, locals[at], "local")?.into_int_value();
                    let r = b
                        .build_call(f, &[total.into(), local.into()], "merge")?
                        .try_as_basic_value()
                        .basic()
                        .ok_or_else(|| Error::internal("sadd returns nothing"))?
                        .into_struct_value();
                    let merged = b.build_extract_value(r, 0, "merged")?;
                    let o = b.build_extract_value(r, 1, "merge_o")?.into_int_value();
                    b.build_store(globals[at], merged)?;
                    let sign = crate::codegen::lower::wrap_sign(ctx, b, local)?;
                    let wrap = b
                        .build_select(o, sign, i64t.const_zero(), "wrap")?
                        .into_int_value();
                    let total_w = b.build_load(i64t, globals[at + 1], "total_wraps")?;
                    let local_w = b.build_load(i64t, locals[at + 1], "local_wraps")?;
                    let w = b.build_int_add(
                        total_w.into_int_value(),
                        local_w.into_int_value(),
                        "wraps",
                    )?;
                    b.build_store(globals[at + 1], b.build_int_add(w, wrap, "wraps2")?)?;
                }
                kind => {
                    for (k, vt) in kind.vectors().iter().enumerate() {
                        let v = at + k;
                        let t = vector_type(ctx, *vt);
                        let local = b.build_load(t, locals[v], "local")?;
                        let merged = match kind {
                            kind if kind.is_extreme() => local,
                            SlotKind::FloatSum => {
                                let total =
                                    b.build_load(t, globals[v], "total")?.into_float_value();
                                b.build_float_add(total, local.into_float_value(), "total2")?
                                    .into()
                            }
                            _ => {
                                let total = b.build_load(t, globals[v], "total")?.into_int_value();
                                b.build_int_add(total, local.into_int_value(), "total2")?
                                    .into()
                            }
                        };
                        b.build_store(globals[v], merged)?;
                    }
                }
            }
        }
    }
    let pc = b.build_struct_gep(status_ty, status, 0, "status_code_ptr")?;
    b.build_store(pc, i64t.const_zero())?;
    b.build_return(None)?;
    Ok(())
}

/// `llvm.sadd.with.overflow.i128`.
fn intrinsic_sadd<'ctx>(
    module: &Module<'ctx>,
    ctx: &'ctx Context,
) -> Result<inkwell::values::FunctionValue<'ctx>, CodegenError> {
    inkwell::intrinsics::Intrinsic::find("llvm.sadd.with.overflow")
        .and_then(|i| i.get_declaration(module, &[ctx.i128_type().into()]))
        .ok_or_else(|| Error::internal("LLVM has no sadd.with.overflow").into())
}

fn vector_type<'ctx>(ctx: &'ctx Context, v: VectorType) -> BasicTypeEnum<'ctx> {
    match v {
        VectorType::I64 => ctx.i64_type().into(),
        VectorType::I128 => ctx.i128_type().into(),
        VectorType::F64 => ctx.f64_type().into(),
        VectorType::U8 => ctx.i8_type().into(),
    }
}
