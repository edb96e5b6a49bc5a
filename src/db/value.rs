//! The values statements take and return, the same for every backend.

/// A parameter or column value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// SQL `NULL`.
    Null,
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// A boolean (SQLite keeps it as 0 or 1).
    Bool(bool),
    /// Text.
    Text(&'a str),
    /// Bytes.
    Bytes(&'a [u8]),
}

/// What can be bound to a statement's parameter.
pub trait Param {
    /// The value to bind.
    fn value(&self) -> Value<'_>;
}

impl<T: Param + ?Sized> Param for &T {
    fn value(&self) -> Value<'_> {
        (**self).value()
    }
}

impl<T: Param> Param for Option<T> {
    fn value(&self) -> Value<'_> {
        self.as_ref().map_or(Value::Null, Param::value)
    }
}

impl Param for i64 {
    fn value(&self) -> Value<'_> {
        Value::Int(*self)
    }
}

impl Param for i32 {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl Param for u32 {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl Param for f64 {
    fn value(&self) -> Value<'_> {
        Value::Real(*self)
    }
}

impl Param for bool {
    fn value(&self) -> Value<'_> {
        Value::Bool(*self)
    }
}

impl Param for str {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl Param for String {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl Param for [u8] {
    fn value(&self) -> Value<'_> {
        Value::Bytes(self)
    }
}

impl Param for Vec<u8> {
    fn value(&self) -> Value<'_> {
        Value::Bytes(self)
    }
}

/// What a column can be read as.
pub trait FromColumn: Sized {
    /// The column's value as `Self`, if it converts.
    fn from_column(value: Value<'_>) -> Option<Self>;
}

impl<T: FromColumn> FromColumn for Option<T> {
    fn from_column(value: Value<'_>) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            v => T::from_column(v).map(Some),
        }
    }
}

impl FromColumn for i64 {
    fn from_column(value: Value<'_>) -> Option<Self> {
        match value {
            Value::Int(i) => Some(i),
            Value::Bool(b) => Some(i64::from(b)),
            _ => None,
        }
    }
}

impl FromColumn for i32 {
    fn from_column(value: Value<'_>) -> Option<Self> {
        i64::from_column(value).and_then(|i| i32::try_from(i).ok())
    }
}

impl FromColumn for f64 {
    fn from_column(value: Value<'_>) -> Option<Self> {
        match value {
            Value::Real(f) => Some(f),
            // Integers up to 2^53 convert exactly; larger ones round, as in SQL.
            #[allow(clippy::cast_precision_loss)]
            Value::Int(i) => Some(i as f64),
            _ => None,
        }
    }
}

impl FromColumn for bool {
    fn from_column(value: Value<'_>) -> Option<Self> {
        match value {
            Value::Bool(b) => Some(b),
            Value::Int(i) => Some(i != 0),
            _ => None,
        }
    }
}

impl FromColumn for String {
    fn from_column(value: Value<'_>) -> Option<Self> {
        match value {
            Value::Text(s) => Some(s.to_owned()),
            _ => None,
        }
    }
}

impl FromColumn for Vec<u8> {
    fn from_column(value: Value<'_>) -> Option<Self> {
        match value {
            Value::Bytes(b) => Some(b.to_vec()),
            Value::Text(s) => Some(s.as_bytes().to_vec()),
            _ => None,
        }
    }
}
