//! A registered claim's value held as serde_json read it, for the one-pass typed validation
//! (`one_pass`): the policy reads it, and the caller's `T` is deserialised from it with the
//! very calls serde_json would have made on the text. Strings stay borrowed from the payload.
//!
//! Only scalars and arrays of scalars are held; for anything else, and wherever serde_json's own
//! answer is not certain to be the same (byte strings, 128-bit integers, enums, serde_json's
//! private types), deserialising gives up and the two-pass path decides.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};

use crate::registered::ClaimValue;

/// A JSON scalar or an array of scalars, exactly as serde_json's `deserialize_any` saw it.
#[derive(Debug)]
pub(crate) enum Captured<'de> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    /// Borrowed from the payload unless the string had escapes (as serde_json does).
    Str(Cow<'de, str>),
    Array(Vec<Captured<'de>>),
}

/// Gives up on the one pass (the message is never shown: the two-pass path decides).
pub(crate) fn give_up<E: de::Error>() -> E {
    E::custom("left to the two-pass path")
}

impl<'de> Captured<'de> {
    /// The value as the policy reads it: what the claim scan's `ScannedValue` gives.
    pub fn claim_value(&self) -> ClaimValue<'_> {
        match self {
            Self::U64(v) => ClaimValue::Number(*v as f64),
            Self::I64(v) => ClaimValue::Number(*v as f64),
            Self::F64(v) => ClaimValue::Number(*v),
            Self::Str(s) => ClaimValue::String(Cow::Borrowed(s)),
            Self::Array(items) => items
                .iter()
                .map(|item| match item {
                    Self::Str(s) => Some(Cow::Borrowed(&**s)),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .map_or(ClaimValue::Other, ClaimValue::Strings),
            Self::Null | Self::Bool(_) => ClaimValue::Other,
        }
    }

    /// A deserializer making the calls serde_json would make on this value's text.
    pub fn deserializer<E>(&self) -> CapturedDe<'_, 'de, E> {
        CapturedDe(self, PhantomData)
    }
}

impl<'de> Deserialize<'de> for Captured<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        CapturedSeed { in_array: false }.deserialize(deserializer)
    }
}

/// Reads a [`Captured`]; inside an array, a nested array or any object gives up.
struct CapturedSeed {
    in_array: bool,
}

impl<'de> DeserializeSeed<'de> for CapturedSeed {
    type Value = Captured<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Captured<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CapturedSeed {
    type Value = Captured<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON scalar or an array of scalars")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Captured<'de>, E> {
        Ok(Captured::Bool(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Captured<'de>, E> {
        Ok(Captured::U64(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Captured<'de>, E> {
        Ok(Captured::I64(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Captured<'de>, E> {
        Ok(Captured::F64(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Captured<'de>, E> {
        Ok(Captured::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Captured<'de>, E> {
        Ok(Captured::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Captured<'de>, E> {
        Ok(Captured::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Captured<'de>, A::Error> {
        if self.in_array {
            return Err(give_up());
        }
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(CapturedSeed { in_array: true })? {
            items.push(item);
        }
        Ok(Captured::Array(items))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Captured<'de>, A::Error> {
        Err(give_up())
    }
}

/// Deserializes a [`Captured`] value with serde_json's calls, or gives up.
pub(crate) struct CapturedDe<'a, 'de, E>(&'a Captured<'de>, PhantomData<E>);

impl<'a, 'de, E: de::Error> CapturedDe<'a, 'de, E> {
    fn scalar<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.0 {
            Captured::Null => visitor.visit_unit(),
            Captured::Bool(v) => visitor.visit_bool(*v),
            Captured::U64(v) => visitor.visit_u64(*v),
            Captured::I64(v) => visitor.visit_i64(*v),
            Captured::F64(v) => visitor.visit_f64(*v),
            Captured::Str(Cow::Borrowed(s)) => visitor.visit_borrowed_str(s),
            Captured::Str(Cow::Owned(s)) => visitor.visit_str(s),
            Captured::Array(items) => {
                let mut seq = CapturedSeq(items.iter(), PhantomData);
                let value = visitor.visit_seq(&mut seq)?;
                // serde_json refuses an array its visitor did not read to the end.
                match seq.0.next() {
                    None => Ok(value),
                    Some(_) => Err(give_up()),
                }
            }
        }
    }

    /// Visits the value when `accept` says serde_json would visit it for this call; gives up
    /// where serde_json would refuse the JSON type.
    fn when<V: Visitor<'de>>(
        self,
        accept: fn(&Captured) -> bool,
        visitor: V,
    ) -> Result<V::Value, E> {
        if accept(self.0) {
            self.scalar(visitor)
        } else {
            Err(give_up())
        }
    }
}

fn is_number(v: &Captured) -> bool {
    matches!(v, Captured::U64(_) | Captured::I64(_) | Captured::F64(_))
}

fn is_str(v: &Captured) -> bool {
    matches!(v, Captured::Str(_))
}

fn is_array(v: &Captured) -> bool {
    matches!(v, Captured::Array(_))
}

macro_rules! when {
    ($accept:ident: $($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
            self.when($accept, visitor)
        }
    )*};
}

macro_rules! refuse {
    ($($method:ident($($arg:ty),*))*) => {$(
        fn $method<V: Visitor<'de>>(self, $(_: $arg,)* _: V) -> Result<V::Value, E> {
            Err(give_up())
        }
    )*};
}

impl<'de, E: de::Error> Deserializer<'de> for CapturedDe<'_, 'de, E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        self.scalar(visitor)
    }

    when!(is_number: deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32
        deserialize_f64);
    when!(is_str: deserialize_char deserialize_str deserialize_string deserialize_identifier);
    when!(is_array: deserialize_seq);
    refuse!(deserialize_i128() deserialize_u128() deserialize_bytes() deserialize_byte_buf()
        deserialize_map() deserialize_enum(&'static str, &'static [&'static str]));

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        self.when(|v| matches!(v, Captured::Bool(_)), visitor)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        self.when(|v| matches!(v, Captured::Null), visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.0 {
            Captured::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        if name.starts_with("$serde_json") {
            return Err(give_up());
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, E> {
        self.when(is_array, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, E> {
        self.when(is_array, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, E> {
        if name.starts_with("$serde_json") {
            return Err(give_up());
        }
        self.when(is_array, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        // serde_json skips the value, then says "unit".
        visitor.visit_unit()
    }
}

/// The elements of a captured array.
struct CapturedSeq<'a, 'de, E>(std::slice::Iter<'a, Captured<'de>>, PhantomData<E>);

impl<'de, E: de::Error> SeqAccess<'de> for CapturedSeq<'_, 'de, E> {
    type Error = E;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, E> {
        match self.0.next() {
            Some(item) => seed.deserialize(item.deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}
