//! `arg [NOT] IN (items)`.
//!
//! In: the argument and the items (already of the argument's type). Out: the [`Lowered`]
//! result. A short list, or items that are not constants, become one comparison per item,
//! branch-free, which vectorizes. A long list of constants would make the IR (and LLVM's
//! optimization time) grow with its length, so its values are sorted and deduplicated into a
//! constant table in the module, and each row runs a branch-free binary search over it:
//! `ceil(log2 n)` loads and comparisons, with the code size independent of `n`.

use inkwell::module::Linkage;
use inkwell::values::{BasicValueEnum, IntValue, PointerValue};
use inkwell::AddressSpace;

use super::{Lowered, Lowerer, R};
use crate::ir::{BinaryOp, Expr, Scalar, SqlType};

/// Lists with more distinct constant items than this are searched in a table; shorter ones are
/// compared item by item.
pub(super) const IN_TABLE_MIN: usize = 12;

/// The sorted, distinct constants of a long `IN` list, in the argument's order.
enum Table {
    /// Integers, decimals and dates (as their integer value).
    Ints(Vec<i128>),
    Floats(Vec<f64>),
    Strings(Vec<String>),
}

impl Table {
    /// The table of the non-NULL literal items of type `ty`, or `None` if the type has none.
    fn new(ty: SqlType, items: &[&Scalar]) -> Option<Table> {
        match ty {
            SqlType::Utf8 => {
                let mut v: Vec<String> = items
                    .iter()
                    .filter_map(|s| match s {
                        Scalar::Utf8(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                v.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
                v.dedup();
                (v.len() == items.len()).then_some(Table::Strings(v))
            }
            SqlType::Float32 | SqlType::Float64 => {
                let mut v: Vec<f64> = items
                    .iter()
                    .filter_map(|s| match s {
                        // As the kernel holds it: rounded to REAL for a REAL argument.
                        Scalar::Float(f) if ty == SqlType::Float32 => Some(*f as f32 as f64),
                        Scalar::Float(f) => Some(*f),
                        _ => None,
                    })
                    .collect();
                if v.len() != items.len() {
                    return None;
                }
                // SQL order: -0 = 0, NaN equals itself and is greater than every number.
                v.sort_unstable_by(|a, b| sql_float_order(*a, *b));
                v.dedup_by(|a, b| sql_float_order(*a, *b).is_eq());
                Some(Table::Floats(v))
            }
            SqlType::Boolean | SqlType::Null => None,
            _ => {
                let mut v: Vec<i128> = items
                    .iter()
                    .filter_map(|s| match s {
                        Scalar::Int(i) => Some(*i as i128),
                        Scalar::UInt(u) => Some(*u as i128),
                        Scalar::Decimal(d) => Some(*d),
                        Scalar::Date(d) => Some(*d as i128),
                        _ => None,
                    })
                    .collect();
                v.sort_unstable();
                v.dedup();
                (v.len() == items.len()).then_some(Table::Ints(v))
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Table::Ints(v) => v.len(),
            Table::Floats(v) => v.len(),
            Table::Strings(v) => v.len(),
        }
    }
}

/// The SQL order of floats (see [`Lowerer::float_lt`]).
fn sql_float_order(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// A table in the module, read one entry at a time.
enum Global<'ctx> {
    /// An array of the argument's LLVM type.
    Values(PointerValue<'ctx>),
    /// `n + 1` byte offsets into one blob of the strings' bytes.
    Strings {
        offsets: PointerValue<'ctx>,
        bytes: PointerValue<'ctx>,
    },
}

impl<'ctx> Lowerer<'_, 'ctx> {
    /// `arg [NOT] IN (items)`: TRUE where some item equals `arg`; else NULL where `arg` or some
    /// item is NULL, else FALSE (the Kleene OR of the equalities, as the interpreter computes
    /// it). The interpreter evaluates the argument and then every item over the whole batch, so
    /// every item's errors count (constants have none, so searching them in a table instead
    /// changes nothing).
    pub(super) fn in_list(&mut self, arg: &Expr, list: &[Expr], negated: bool) -> R<Lowered<'ctx>> {
        let b = self.b;
        let a = self.lower(arg)?;
        let mut found = self.bool_const(false);
        let mut some_null = self.bool_const(false);
        let mut err = a.err;

        // The non-NULL constants go to a table if there are many of them.
        let constants: Vec<&Scalar> = list
            .iter()
            .filter_map(|item| match item {
                Expr::Literal(lit) if !lit.value.is_null() && lit.ty == arg.ty() => {
                    Some(&lit.value)
                }
                _ => None,
            })
            .collect();
        let table = (constants.len() > IN_TABLE_MIN)
            .then(|| Table::new(arg.ty(), &constants))
            .flatten();
        if let Some(table) = &table {
            found = self.search(arg.ty(), table, a.value)?;
        }

        for item in list {
            // A constant NULL item compares with nothing.
            if matches!(item, Expr::Literal(lit) if lit.value.is_null()) {
                some_null = self.bool_const(true);
                continue;
            }
            if table.is_some() && matches!(item, Expr::Literal(lit) if lit.ty == arg.ty()) {
                continue;
            }
            let v = self.lower(item)?;
            let on_view = match item {
                Expr::Literal(lit) => match &lit.value {
                    Scalar::Utf8(s) => self.view_eq_constant(arg, s)?,
                    _ => None,
                },
                _ => None,
            };
            let eq = match on_view {
                Some(eq) => eq,
                None => self.compare(BinaryOp::Eq, arg.ty(), a.value, v.value)?,
            };
            let hit = b.build_and(eq, v.valid, "in_hit")?;
            found = b.build_or(found, hit, "found")?;
            let null = b.build_not(v.valid, "item_null")?;
            some_null = b.build_or(some_null, null, "some_null")?;
            err = self.first_error(err, v.err)?;
        }
        // A value that matched nothing is NULL if some item is.
        let decided = b.build_or(found, b.build_not(some_null, "no_null")?, "in_decided")?;
        let valid = b.build_and(a.valid, decided, "in_valid")?;
        let value = if negated {
            b.build_not(found, "not_in")?
        } else {
            found
        };
        Ok(Lowered {
            value: value.into(),
            valid,
            err,
        })
    }

    /// `x` is in the (sorted, non-empty) `table`: a binary search unrolled into
    /// `ceil(log2 n)` steps of load, compare and select, then one equality test.
    fn search(&self, ty: SqlType, table: &Table, x: BasicValueEnum<'ctx>) -> R<IntValue<'ctx>> {
        let b = self.b;
        let i64t = self.ctx.i64_type();
        let global = self.table_global(ty, table)?;
        let mut lo = i64t.const_zero();
        let mut len = table.len() as u64;
        // Invariant: if `x` is in the table, it is in `[lo, lo + len)`, or `x` < every entry.
        while len > 1 {
            let half = len / 2;
            let mid = b.build_int_add(lo, i64t.const_int(half, false), "in_mid")?;
            let v = self.table_entry(ty, &global, mid)?;
            let le = self.compare(BinaryOp::LtEq, ty, v, x)?;
            lo = b.build_select(le, mid, lo, "in_lo")?.into_int_value();
            len -= half;
        }
        let v = self.table_entry(ty, &global, lo)?;
        self.compare(BinaryOp::Eq, ty, v, x)
    }

    /// The table as private constant globals.
    fn table_global(&self, ty: SqlType, table: &Table) -> R<Global<'ctx>> {
        let constant = |value: &dyn inkwell::values::BasicValue<'ctx>, name: &str| {
            let value = value.as_basic_value_enum();
            let g = self
                .module
                .add_global(value.get_type(), Some(AddressSpace::default()), name);
            g.set_initializer(&value);
            g.set_constant(true);
            g.set_linkage(Linkage::Private);
            g.set_unnamed_addr(true);
            g.as_pointer_value()
        };
        Ok(match table {
            Table::Ints(v) => {
                let t = self.llvm_type(ty)?.into_int_type();
                let values: Vec<IntValue> = if ty.is_decimal() {
                    v.iter().map(|&x| self.const_i128(x)).collect()
                } else {
                    v.iter().map(|&x| t.const_int(x as u64, x < 0)).collect()
                };
                Global::Values(constant(&t.const_array(&values), "qjit_in_table"))
            }
            Table::Floats(v) => {
                let t = self.llvm_type(ty)?.into_float_type();
                let values: Vec<_> = v.iter().map(|&x| t.const_float(x)).collect();
                Global::Values(constant(&t.const_array(&values), "qjit_in_table"))
            }
            Table::Strings(v) => {
                let i64t = self.ctx.i64_type();
                let mut offsets = Vec::with_capacity(v.len() + 1);
                let mut bytes = Vec::new();
                offsets.push(i64t.const_zero());
                for s in v {
                    bytes.extend_from_slice(s.as_bytes());
                    offsets.push(i64t.const_int(bytes.len() as u64, false));
                }
                Global::Strings {
                    offsets: constant(&i64t.const_array(&offsets), "qjit_in_offsets"),
                    bytes: constant(&self.ctx.const_string(&bytes, false), "qjit_in_bytes"),
                }
            }
        })
    }

    /// Entry `i` (`< n`) of a table, as a value of the argument's type.
    fn table_entry(
        &self,
        ty: SqlType,
        global: &Global<'ctx>,
        i: IntValue<'ctx>,
    ) -> R<BasicValueEnum<'ctx>> {
        let b = self.b;
        match global {
            Global::Values(p) => {
                let t = self.llvm_type(ty)?;
                // SAFETY (of the generated code): the search keeps `i` below the table's length.
                let at = unsafe { b.build_in_bounds_gep(t, *p, &[i], "in_at")? };
                Ok(b.build_load(t, at, "in_entry")?)
            }
            Global::Strings { offsets, bytes } => {
                let i64t = self.ctx.i64_type();
                let next = b.build_int_add(i, i64t.const_int(1, false), "in_next")?;
                // SAFETY (of the generated code): `i + 1 <= n`, and there are `n + 1` offsets.
                let (start, end) = unsafe {
                    (
                        b.build_in_bounds_gep(i64t, *offsets, &[i], "in_start_at")?,
                        b.build_in_bounds_gep(i64t, *offsets, &[next], "in_end_at")?,
                    )
                };
                let start = b.build_load(i64t, start, "in_start")?.into_int_value();
                let end = b.build_load(i64t, end, "in_end")?.into_int_value();
                let len = b.build_int_sub(end, start, "in_len")?;
                // SAFETY (of the generated code): offsets lie within the blob.
                let p = unsafe {
                    b.build_in_bounds_gep(self.ctx.i8_type(), *bytes, &[start], "in_bytes")?
                };
                self.make_string(p, len)
            }
        }
    }
}
