//! SQL types of the typed plan, and their mapping to and from Arrow.
//!
//! A [`SqlType`] is a *logical* type: every Arrow string representation (`Utf8`, `LargeUtf8`,
//! `Utf8View`, a dictionary of any of them) is the one SQL type [`SqlType::Utf8`]. Column references keep
//! the physical Arrow type next to it ([`crate::ir::ColumnRef::data_type`]) so that evaluators can
//! read the buffers directly.

use std::fmt;

use arrow::datatypes::DataType;

/// The largest decimal precision a column may be stored with as Arrow `Decimal64` (8-byte
/// values) instead of `Decimal128`: the storage of a column, not its SQL type. Both engines
/// compute with every decimal as an `i128` (the interpreter widens such a column as it reads
/// it, a kernel as it loads each value), and results are `Decimal128`. Parquet files store
/// decimals of up to 18 digits as `INT32` or `INT64`; qjit reads them as `Decimal64`.
pub const DECIMAL64_PRECISION: u8 = 18;

/// The largest decimal precision (Arrow `Decimal128`).
pub const MAX_DECIMAL_PRECISION: u8 = 38;

/// A logical SQL type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "ballista", derive(serde::Serialize, serde::Deserialize))]
pub enum SqlType {
    /// The type of a bare `NULL` literal that nothing gave a type to. Its only value is NULL.
    Null,
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
    Float64,
    /// An exact decimal: `precision` significant digits (1..=38), `scale` of them after the point
    /// (0..=precision). Values are `i128` holding `value * 10^scale`.
    Decimal {
        precision: u8,
        scale: u8,
    },
    /// Days since 1970-01-01 (Arrow `Date32`).
    Date,
    /// A UTF-8 string in any of Arrow's string layouts.
    Utf8,
    /// A point in time as a count of `unit`s since 1970-01-01 00:00:00 (Arrow
    /// `Timestamp(unit, tz)`). `zoned` is PostgreSQL's `timestamptz`: an instant, stored as UTC
    /// (any Arrow zone), shown in the session zone; without it, a wall-clock time in no zone.
    Timestamp {
        unit: TimeUnit,
        zoned: bool,
    },
    /// PostgreSQL's `interval`: months, days and nanoseconds, each kept apart (Arrow
    /// `Interval(MonthDayNano)`).
    Interval,
    /// A column of a type qjit does not compute on ([`SqlType::passthrough`]): it can be
    /// selected (its values pass through as they are, in their own Arrow type: see
    /// [`crate::ir::ColumnRef::data_type`]), tested with `IS NULL` and counted; any other
    /// operation on it is refused when the query is bound.
    Other(OtherType),
}

/// The kinds of [`SqlType::Other`] columns, as messages name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "ballista", derive(serde::Serialize, serde::Deserialize))]
pub enum OtherType {
    /// `Date64` (milliseconds).
    Date64,
    /// `Time32`, `Time64`.
    Time,
    Duration,
    /// `Binary`, `LargeBinary`, `BinaryView`, `FixedSizeBinary`.
    Bytes,
    Float16,
    /// Lists of every layout.
    List,
    Struct,
    Map,
    /// Anything else (unions, dictionaries of other values, `Decimal256`, other intervals, …).
    Other,
}

/// The unit of a [`SqlType::Timestamp`]'s values, as Arrow's `TimeUnit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "ballista", derive(serde::Serialize, serde::Deserialize))]
pub enum TimeUnit {
    Second,
    Millisecond,
    Microsecond,
    Nanosecond,
}

impl TimeUnit {
    /// How many units make a second.
    pub fn per_second(self) -> i64 {
        match self {
            TimeUnit::Second => 1,
            TimeUnit::Millisecond => 1_000,
            TimeUnit::Microsecond => 1_000_000,
            TimeUnit::Nanosecond => 1_000_000_000,
        }
    }

    /// How many units make a day.
    pub fn per_day(self) -> i64 {
        86_400 * self.per_second()
    }

    /// How many nanoseconds one unit is.
    pub fn nanos(self) -> i64 {
        1_000_000_000 / self.per_second()
    }

    /// The digits after the point a unit gives a second (0, 3, 6, 9), PostgreSQL's precision
    /// `p` of `TIMESTAMP(p)`.
    pub fn digits(self) -> u32 {
        match self {
            TimeUnit::Second => 0,
            TimeUnit::Millisecond => 3,
            TimeUnit::Microsecond => 6,
            TimeUnit::Nanosecond => 9,
        }
    }

    /// The coarsest unit that holds `p` digits after the point (`TIMESTAMP(p)`).
    pub fn for_digits(p: u64) -> TimeUnit {
        match p {
            0 => TimeUnit::Second,
            1..=3 => TimeUnit::Millisecond,
            4..=6 => TimeUnit::Microsecond,
            _ => TimeUnit::Nanosecond,
        }
    }

    pub fn from_arrow(unit: arrow::datatypes::TimeUnit) -> TimeUnit {
        match unit {
            arrow::datatypes::TimeUnit::Second => TimeUnit::Second,
            arrow::datatypes::TimeUnit::Millisecond => TimeUnit::Millisecond,
            arrow::datatypes::TimeUnit::Microsecond => TimeUnit::Microsecond,
            arrow::datatypes::TimeUnit::Nanosecond => TimeUnit::Nanosecond,
        }
    }

    pub fn to_arrow(self) -> arrow::datatypes::TimeUnit {
        match self {
            TimeUnit::Second => arrow::datatypes::TimeUnit::Second,
            TimeUnit::Millisecond => arrow::datatypes::TimeUnit::Millisecond,
            TimeUnit::Microsecond => arrow::datatypes::TimeUnit::Microsecond,
            TimeUnit::Nanosecond => arrow::datatypes::TimeUnit::Nanosecond,
        }
    }
}

/// The zone qjit writes on the Arrow type of a `TIMESTAMP WITH TIME ZONE` it produces.
pub const UTC: &str = "UTC";

impl SqlType {
    /// The SQL type of an Arrow type, or `None` if qjit does not support it.
    pub fn from_arrow(dt: &DataType) -> Option<SqlType> {
        Some(match dt {
            DataType::Null => SqlType::Null,
            DataType::Boolean => SqlType::Boolean,
            DataType::Int8 => SqlType::Int8,
            DataType::Int16 => SqlType::Int16,
            DataType::Int32 => SqlType::Int32,
            DataType::Int64 => SqlType::Int64,
            DataType::UInt8 => SqlType::UInt8,
            DataType::UInt16 => SqlType::UInt16,
            DataType::UInt32 => SqlType::UInt32,
            DataType::UInt64 => SqlType::UInt64,
            DataType::Float32 => SqlType::Float32,
            DataType::Float64 => SqlType::Float64,
            DataType::Decimal128(p, s) if *s >= 0 && (*s as u8) <= *p && *p >= 1 => {
                SqlType::Decimal {
                    precision: *p,
                    scale: *s as u8,
                }
            }
            // The same values in 8 bytes (see [`DECIMAL64_PRECISION`]).
            DataType::Decimal64(p, s)
                if *s >= 0 && (*s as u8) <= *p && *p >= 1 && *p <= DECIMAL64_PRECISION =>
            {
                SqlType::Decimal {
                    precision: *p,
                    scale: *s as u8,
                }
            }
            DataType::Date32 => SqlType::Date,
            DataType::Timestamp(unit, tz) => SqlType::Timestamp {
                unit: TimeUnit::from_arrow(*unit),
                zoned: tz.is_some(),
            },
            DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano) => SqlType::Interval,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => SqlType::Utf8,
            DataType::Dictionary(key, value)
                if key.is_dictionary_key_type()
                    && matches!(
                        value.as_ref(),
                        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                    ) =>
            {
                SqlType::Utf8
            }
            _ => return None,
        })
    }

    /// The pass-through type of a column whose Arrow type qjit does not compute on
    /// ([`SqlType::Other`]); `None` for the types [`SqlType::from_arrow`] takes.
    pub fn passthrough(dt: &DataType) -> Option<SqlType> {
        if SqlType::from_arrow(dt).is_some() {
            return None;
        }
        Some(SqlType::Other(match dt {
            DataType::Date64 => OtherType::Date64,
            DataType::Time32(_) | DataType::Time64(_) => OtherType::Time,
            DataType::Duration(_) => OtherType::Duration,
            DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_) => OtherType::Bytes,
            DataType::Float16 => OtherType::Float16,
            DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(..)
            | DataType::ListView(_)
            | DataType::LargeListView(_) => OtherType::List,
            DataType::Struct(_) => OtherType::Struct,
            DataType::Map(..) => OtherType::Map,
            _ => OtherType::Other,
        }))
    }

    /// Whether the type is a pass-through [`SqlType::Other`].
    pub fn is_other(self) -> bool {
        matches!(self, SqlType::Other(_))
    }

    /// The Arrow type that qjit produces for values of this type. A pass-through type has
    /// none of its own (its values keep their column's type): `Null`, which no value of it
    /// takes (the binder lets such a type reach nothing that makes values).
    pub fn to_arrow(self) -> DataType {
        match self {
            SqlType::Null => DataType::Null,
            SqlType::Boolean => DataType::Boolean,
            SqlType::Int8 => DataType::Int8,
            SqlType::Int16 => DataType::Int16,
            SqlType::Int32 => DataType::Int32,
            SqlType::Int64 => DataType::Int64,
            SqlType::UInt8 => DataType::UInt8,
            SqlType::UInt16 => DataType::UInt16,
            SqlType::UInt32 => DataType::UInt32,
            SqlType::UInt64 => DataType::UInt64,
            SqlType::Float32 => DataType::Float32,
            SqlType::Float64 => DataType::Float64,
            SqlType::Decimal { precision, scale } => DataType::Decimal128(precision, scale as i8),
            SqlType::Date => DataType::Date32,
            SqlType::Utf8 => DataType::Utf8,
            SqlType::Timestamp { unit, zoned } => {
                DataType::Timestamp(unit.to_arrow(), zoned.then(|| UTC.into()))
            }
            SqlType::Interval => DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano),
            SqlType::Other(_) => DataType::Null,
        }
    }

    /// A decimal type, with the precision capped at 38 and the scale at the precision.
    pub fn decimal(precision: u32, scale: u32) -> SqlType {
        let precision = precision.clamp(1, MAX_DECIMAL_PRECISION as u32) as u8;
        let scale = scale.min(precision as u32) as u8;
        SqlType::Decimal { precision, scale }
    }

    pub fn is_signed_integer(self) -> bool {
        matches!(
            self,
            SqlType::Int8 | SqlType::Int16 | SqlType::Int32 | SqlType::Int64
        )
    }

    pub fn is_unsigned_integer(self) -> bool {
        matches!(
            self,
            SqlType::UInt8 | SqlType::UInt16 | SqlType::UInt32 | SqlType::UInt64
        )
    }

    pub fn is_integer(self) -> bool {
        self.is_signed_integer() || self.is_unsigned_integer()
    }

    pub fn is_float(self) -> bool {
        matches!(self, SqlType::Float32 | SqlType::Float64)
    }

    pub fn is_decimal(self) -> bool {
        matches!(self, SqlType::Decimal { .. })
    }

    /// Integer, float or decimal.
    pub fn is_numeric(self) -> bool {
        self.is_integer() || self.is_float() || self.is_decimal()
    }

    /// The width in bits of an integer type.
    pub fn integer_bits(self) -> Option<u32> {
        Some(match self {
            SqlType::Int8 | SqlType::UInt8 => 8,
            SqlType::Int16 | SqlType::UInt16 => 16,
            SqlType::Int32 | SqlType::UInt32 => 32,
            SqlType::Int64 | SqlType::UInt64 => 64,
            _ => return None,
        })
    }

    /// The decimal type that holds every value of an integer type exactly
    /// (`INTEGER` → `DECIMAL(10,0)`), or the type itself for a decimal.
    pub fn as_decimal(self) -> Option<SqlType> {
        let precision = match self {
            SqlType::Decimal { .. } => return Some(self),
            SqlType::Int8 | SqlType::UInt8 => 3,
            SqlType::Int16 | SqlType::UInt16 => 5,
            SqlType::Int32 | SqlType::UInt32 => 10,
            SqlType::Int64 => 19,
            SqlType::UInt64 => 20,
            _ => return None,
        };
        Some(SqlType::Decimal {
            precision,
            scale: 0,
        })
    }

    /// `TIMESTAMP`: microseconds without a zone, PostgreSQL's.
    pub fn timestamp() -> SqlType {
        SqlType::Timestamp {
            unit: TimeUnit::Microsecond,
            zoned: false,
        }
    }

    /// Whether the type is a `TIMESTAMP`, with or without a zone.
    pub fn is_timestamp(self) -> bool {
        matches!(self, SqlType::Timestamp { .. })
    }

    /// The unit of a timestamp type.
    pub fn time_unit(self) -> Option<TimeUnit> {
        match self {
            SqlType::Timestamp { unit, .. } => Some(unit),
            _ => None,
        }
    }

    /// Precision and scale of a decimal type.
    pub fn decimal_parts(self) -> Option<(u8, u8)> {
        match self {
            SqlType::Decimal { precision, scale } => Some((precision, scale)),
            _ => None,
        }
    }
}

impl fmt::Display for SqlType {
    /// SQL names, as a user writes them in `CAST(x AS …)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlType::Null => f.write_str("NULL"),
            SqlType::Boolean => f.write_str("BOOLEAN"),
            SqlType::Int8 => f.write_str("TINYINT"),
            SqlType::Int16 => f.write_str("SMALLINT"),
            SqlType::Int32 => f.write_str("INTEGER"),
            SqlType::Int64 => f.write_str("BIGINT"),
            SqlType::UInt8 => f.write_str("UTINYINT"),
            SqlType::UInt16 => f.write_str("USMALLINT"),
            SqlType::UInt32 => f.write_str("UINTEGER"),
            SqlType::UInt64 => f.write_str("UBIGINT"),
            SqlType::Float32 => f.write_str("REAL"),
            SqlType::Float64 => f.write_str("DOUBLE"),
            SqlType::Decimal { precision, scale } => write!(f, "DECIMAL({precision},{scale})"),
            SqlType::Date => f.write_str("DATE"),
            SqlType::Utf8 => f.write_str("VARCHAR"),
            SqlType::Timestamp { unit, zoned } => {
                f.write_str("TIMESTAMP")?;
                if *unit != TimeUnit::Microsecond {
                    write!(f, "({})", unit.digits())?;
                }
                f.write_str(if *zoned { " WITH TIME ZONE" } else { "" })
            }
            SqlType::Interval => f.write_str("INTERVAL"),
            SqlType::Other(kind) => f.write_str(match kind {
                OtherType::Date64 => "DATE64",
                OtherType::Time => "TIME",
                OtherType::Duration => "DURATION",
                OtherType::Bytes => "BYTEA",
                OtherType::Float16 => "FLOAT16",
                OtherType::List => "LIST",
                OtherType::Struct => "STRUCT",
                OtherType::Map => "MAP",
                OtherType::Other => "an unsupported type",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn string_layouts_are_one_sql_type() {
        for dt in [
            DataType::Utf8,
            DataType::LargeUtf8,
            DataType::Utf8View,
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            // Polars' categoricals.
            DataType::Dictionary(Box::new(DataType::UInt32), Box::new(DataType::Utf8View)),
        ] {
            assert_eq!(SqlType::from_arrow(&dt), Some(SqlType::Utf8), "{dt}");
        }
    }

    #[test]
    fn unsupported_types_are_rejected() {
        assert_eq!(SqlType::from_arrow(&DataType::Decimal128(10, -2)), None);
        assert_eq!(
            SqlType::from_arrow(&DataType::List(Arc::new(arrow::datatypes::Field::new(
                "x",
                DataType::Int32,
                true
            )))),
            None
        );
    }

    #[test]
    fn decimal_is_capped() {
        assert_eq!(
            SqlType::decimal(49, 6),
            SqlType::Decimal {
                precision: 38,
                scale: 6
            }
        );
    }
}
