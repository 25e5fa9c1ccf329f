//! Optimization levels and random well-typed predicates against the interpreter.

use super::*;

#[test]
fn every_opt_level_agrees_and_ir_is_kept() {
    let e = bin(
        BinaryOp::And,
        cmp(BinaryOp::Gt, col(4), lit(Scalar::Decimal(0), dec(15, 2))),
        cmp(BinaryOp::Lt, col(5), lit(Scalar::Date(9131), SqlType::Date)),
    );
    for level in 0..=3 {
        let kernel = FilterKernel::compile(&e, level).unwrap();
        assert!(kernel.ir_before().contains("define void @qjit_filter"));
        assert!(kernel.ir_after().contains("define void @qjit_filter"));
        assert!(kernel.ir_before().contains("target-cpu"));
        agree_on(&e, &kernel, &batch());
    }
    assert!(FilterKernel::compile(&e, 4).is_err());
}

/// A tiny deterministic generator of well-typed expressions over the test batch.
struct Gen {
    state: u64,
}

impl Gen {
    fn next(&mut self) -> u64 {
        self.state = self
            .state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.state >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn literal(&mut self, ty: SqlType) -> Expr {
        if self.below(8) == 0 {
            return Expr::null(ty);
        }
        let v = match ty {
            SqlType::Boolean => Scalar::Boolean(self.below(2) == 0),
            SqlType::Int32 => Scalar::Int(
                [0, 1, -1, 2, 7, i32::MIN as i64, i32::MAX as i64, 100][self.below(8) as usize],
            ),
            SqlType::Int64 => {
                Scalar::Int([0, 1, -1, 3, i64::MIN, i64::MAX][self.below(6) as usize])
            }
            SqlType::Int16 => Scalar::Int([0, 1, -1, 300, i16::MIN as i64][self.below(5) as usize]),
            SqlType::UInt8 => Scalar::UInt([0, 1, 3, 255][self.below(4) as usize]),
            SqlType::UInt64 => Scalar::UInt([0, 1, 5, u64::MAX][self.below(4) as usize]),
            SqlType::Float64 => Scalar::Float(
                [0.0, -0.0, 1.5, f64::NAN, -2.5, f64::INFINITY][self.below(6) as usize],
            ),
            SqlType::Float32 => Scalar::Float([0.0, -0.0, 0.5, f64::NAN][self.below(4) as usize]),
            SqlType::Date => Scalar::Date([8766, 9131, -1, i32::MAX][self.below(4) as usize]),
            SqlType::Decimal { precision, .. } => {
                let max = 10i128.pow(precision as u32) - 1;
                Scalar::Decimal([0, 5, -5, max, -max, 100][self.below(6) as usize])
            }
            SqlType::Utf8 => {
                let i = self.below((STRINGS.len() + CASE_STRINGS.len()) as u64) as usize;
                let s = STRINGS
                    .iter()
                    .chain(&CASE_STRINGS)
                    .nth(i)
                    .copied()
                    .flatten();
                Scalar::Utf8(s.unwrap_or("abc").into())
            }
            _ => Scalar::Null,
        };
        lit(v, ty)
    }

    /// A column type, `VARCHAR` included.
    fn any_type(&mut self) -> SqlType {
        match TYPES.get(self.below(TYPES.len() as u64 + 2) as usize) {
            Some(&t) => t,
            None => SqlType::Utf8,
        }
    }

    /// An expression of type `ty`.
    fn expr(&mut self, ty: SqlType, depth: u32) -> Expr {
        let columns: Vec<usize> = if ty == SqlType::Utf8 {
            string_columns().collect()
        } else {
            (0..TYPES.len()).filter(|&i| TYPES[i] == ty).collect()
        };
        if depth == 0 || self.below(4) == 0 {
            return if !columns.is_empty() && self.below(3) != 0 {
                col(columns[self.below(columns.len() as u64) as usize])
            } else {
                self.literal(ty)
            };
        }
        let d = depth - 1;
        match ty {
            SqlType::Boolean => self.boolean(d),
            SqlType::Date => match self.below(3) {
                0 => {
                    let n = self.expr(SqlType::Int32, d);
                    Expr::func(Func::DateAddDays, vec![self.expr(SqlType::Date, d), n]).unwrap()
                }
                1 => {
                    let n = self.expr(SqlType::Int32, d);
                    Expr::func(Func::DateAddMonths, vec![self.expr(SqlType::Date, d), n]).unwrap()
                }
                _ => col(5),
            },
            SqlType::Decimal { .. } => self.decimal(ty, d),
            t if t.is_integer() || t.is_float() => self.number(t, d),
            SqlType::Utf8 => match self.below(5) {
                0 => {
                    let c = self.boolean(d);
                    let v = self.expr(ty, d);
                    Expr::case(vec![(c, v)], Some(self.expr(ty, d)), ty).unwrap()
                }
                1 => {
                    let f = [Func::Upper, Func::Lower][self.below(2) as usize];
                    Expr::func(f, vec![self.expr(ty, d)]).unwrap()
                }
                2 => bin(BinaryOp::Concat, self.expr(ty, d), self.expr(ty, d)),
                3 => {
                    let from = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10][self.below(11) as usize];
                    Expr::cast(self.expr(TYPES[from], d), SqlType::Utf8).unwrap()
                }
                _ => self.expr(ty, 0),
            },
            _ => self.literal(ty),
        }
    }

    fn number(&mut self, ty: SqlType, d: u32) -> Expr {
        use BinaryOp::*;
        match self.below(7) {
            0 | 1 => {
                let op = [Add, Sub, Mul, Div, Mod][self.below(5) as usize];
                bin(op, self.expr(ty, d), self.expr(ty, d))
            }
            2 => Expr::unary(UnaryOp::Neg, self.expr(ty, d)).unwrap(),
            3 if self.below(2) == 0 => {
                let digits = [-2, -1, 0, 1, 3][self.below(5) as usize];
                Expr::func(Func::Round { digits }, vec![self.expr(ty, d)]).unwrap()
            }
            3 => Expr::func(Func::Abs, vec![self.expr(ty, d)]).unwrap(),
            4 => {
                let from = [
                    SqlType::Int32,
                    SqlType::Int64,
                    SqlType::UInt8,
                    SqlType::Int16,
                    SqlType::Float64,
                    SqlType::Float32,
                    SqlType::Boolean,
                    dec(15, 2),
                    SqlType::Utf8,
                ][self.below(9) as usize];
                let skip = from == SqlType::Boolean && !ty.is_integer();
                if from == ty || skip {
                    return self.expr(ty, d);
                }
                Expr::cast(self.expr(from, d), ty).unwrap()
            }
            5 => {
                let c = self.boolean(d);
                let else_ = if self.below(2) == 0 {
                    Some(self.expr(ty, d))
                } else {
                    None
                };
                Expr::case(vec![(c, self.expr(ty, d))], else_, ty).unwrap()
            }
            _ if ty == SqlType::Int32 && self.below(2) == 0 => Expr::func(
                Func::DateDiffDays,
                vec![self.expr(SqlType::Date, d), self.expr(SqlType::Date, d)],
            )
            .unwrap(),
            _ if ty == SqlType::Int32 => {
                use crate::ir::DatePart::*;
                let part = [Year, Month, Day][self.below(3) as usize];
                Expr::func(Func::Extract(part), vec![self.expr(SqlType::Date, d)]).unwrap()
            }
            _ => self.expr(ty, d),
        }
    }

    fn decimal(&mut self, ty: SqlType, d: u32) -> Expr {
        use BinaryOp::*;
        let Some((p, s)) = ty.decimal_parts() else {
            return self.literal(ty);
        };
        let source = [dec(15, 2), dec(38, 0), dec(5, 3)][self.below(3) as usize];
        let e = match self.below(4) {
            0 => {
                let op = [Add, Sub, Mul, Div, Mod][self.below(5) as usize];
                let l = self.expr(source, d);
                let rt = [dec(15, 2), dec(3, 0)][self.below(2) as usize];
                let r = self.expr(rt, d);
                if op == Mul
                    && !crate::ir::decimal_product_fits(
                        l.ty().decimal_parts().unwrap(),
                        r.ty().decimal_parts().unwrap(),
                    )
                {
                    return self.literal(ty);
                }
                bin(op, l, r)
            }
            1 => Expr::unary(UnaryOp::Neg, self.expr(source, d)).unwrap(),
            2 if self.below(2) == 0 => {
                let from = [SqlType::Float64, SqlType::Float32][self.below(2) as usize];
                Expr::cast(self.expr(from, d), dec(12, 2)).unwrap()
            }
            2 => Expr::cast(self.expr(SqlType::Int32, d), dec(12, 2)).unwrap(),
            _ => self.expr(source, 0),
        };
        // Bring it to `ty`, through the widest type of the scale or directly (rounding).
        if self.below(2) == 0 {
            return Expr::cast(e, ty).unwrap_or_else(|_| self.literal(ty));
        }
        match e.ty().decimal_parts() {
            Some((_, es)) if es <= s => Expr::cast(e, dec(p.max(38), s))
                .and_then(|e| Expr::cast(e, ty))
                .unwrap_or_else(|_| self.literal(ty)),
            _ => self.literal(ty),
        }
    }

    fn boolean(&mut self, d: u32) -> Expr {
        use BinaryOp::*;
        match self.below(7) {
            0 | 1 => {
                let ty = self.any_type();
                let op = [Eq, NotEq, Lt, LtEq, Gt, GtEq][self.below(6) as usize];
                cmp(op, self.expr(ty, d), self.expr(ty, d))
            }
            2 => {
                let op = [And, Or][self.below(2) as usize];
                bin(
                    op,
                    self.expr(SqlType::Boolean, d),
                    self.expr(SqlType::Boolean, d),
                )
            }
            3 => Expr::unary(UnaryOp::Not, self.expr(SqlType::Boolean, d)).unwrap(),
            4 => {
                let ty = self.any_type();
                if self.below(2) == 0 {
                    Expr::is_null(self.expr(ty, d), self.below(2) == 0)
                } else {
                    let items = (0..1 + self.below(3))
                        .map(|_| {
                            if self.below(3) == 0 {
                                self.expr(ty, d)
                            } else {
                                self.literal(ty)
                            }
                        })
                        .collect();
                    Expr::in_list(self.expr(ty, d), items, self.below(2) == 0).unwrap()
                }
            }
            5 => {
                let c = self.expr(SqlType::Boolean, d);
                let v = self.expr(SqlType::Boolean, d);
                let e = self.expr(SqlType::Boolean, d);
                Expr::case(vec![(c, v)], Some(e), SqlType::Boolean).unwrap()
            }
            _ => {
                let patterns = [
                    "%",
                    "abc",
                    "ab%",
                    "%bc",
                    "%b%",
                    "日本%",
                    "%本%",
                    "%語",
                    "exactly12%",
                    "%bytez",
                    "%\\%%",
                    "",
                    "a_c",
                    "%_本%",
                    "_",
                    "a%b%",
                    "%e",
                    "AIR%",
                    "%Mail",
                    "_K%",
                ];
                let p = patterns[self.below(patterns.len() as u64) as usize];
                let s = self.expr(SqlType::Utf8, d);
                let ilike = self.below(3) == 0;
                Expr::like(s, p.into(), Some('\\'), ilike, self.below(2) == 0).unwrap()
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_predicates_agree_with_the_interpreter(seed in any::<u64>(), level in 0u8..=3) {
        let mut g = Gen { state: seed };
        let e = g.boolean(3);
        match FilterKernel::compile(&e, level) {
            Ok(kernel) => {
                for b in [batch(), ascii_batch(), unicode_batch()] {
                    for (offset, len) in [(0, ROWS), (3, 130), (70, 9)] {
                        agree_on(&e, &kernel, &b.slice(offset, len));
                    }
                }
            }
            Err(CodegenError::NotCompiled(_)) => {}
            Err(other) => panic!("{e}: {other:?}"),
        }
    }
}
