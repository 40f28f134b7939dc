//! Typed validation in one pass over the payload: the caller's `T` is deserialised while the
//! registered claims and the member names are collected, instead of a scan of the payload
//! followed by a second parse into `T`.
//!
//! The one pass only ever *accepts* what the two passes accept, with the same `T`: whenever it
//! cannot be sure, it gives up (`None`) and the two-pass path decides, verdict and error. What
//! makes it as strict as the scan ([`crate::registered::Registered::from_json`]):
//! - every value `T` ignores is read with [`Skip`] (through `deserialize_any`, so serde_json's
//!   recursion limit and its string and number checks apply), never with serde_json's
//!   `ignore_value`, which neither limits nesting nor checks UTF-8 or numbers; [`Strict`] wraps
//!   every deserializer `T` sees, at every depth, to make sure of that;
//! - byte strings (which serde_json hands over without checking UTF-8) and serde_json's private
//!   types (`RawValue`) give up;
//! - a registered claim (`exp`, `nbf`, `iat`, `iss`, `aud`, `azp`) is read once into a
//!   [`Captured`] value for the policy, and `T` is deserialised from it with the calls serde_json
//!   would make on the text; only scalars and arrays of scalars are taken this way, anything
//!   else gives up;
//! - duplicate member names give up; serde_json itself refuses trailing bytes and non-objects.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use crate::captured::{Captured, give_up};
use crate::jws::{Name, Skip, all_distinct};
use crate::registered::Registered;
use serde::de::value::{MapAccessDeserializer, StrDeserializer};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use smallvec::SmallVec;

/// Where a registered claim's value goes in [`Members`] (the order of [`Members::registered`]).
/// Every registered name has three bytes: compared as one array, not string by string.
fn registered_index(name: &str) -> Option<usize> {
    let &[a, b, c] = name.as_bytes() else {
        return None;
    };
    match [a, b, c] {
        [b'e', b'x', b'p'] => Some(0),
        [b'n', b'b', b'f'] => Some(1),
        [b'i', b'a', b't'] => Some(2),
        [b'i', b's', b's'] => Some(3),
        [b'a', b'u', b'd'] => Some(4),
        [b'a', b'z', b'p'] => Some(5),
        _ => None,
    }
}

/// The member names of a payload, inline up to 16 (an ordinary access token's count).
type Names<'a> = SmallVec<[Cow<'a, str>; 16]>;

/// What one pass noted besides `T`: kept by the caller, so that only `T` moves.
#[derive(Default)]
pub(crate) struct Members<'a> {
    /// The registered claims' values, by [`registered_index`].
    values: [Option<Captured<'a>>; 6],
    /// Every member name; sorted and unique once [`one_pass`] has accepted the payload.
    pub names: Names<'a>,
}

impl Members<'_> {
    /// The registered claims, as the policy reads them.
    pub fn registered(&self) -> Registered<'_> {
        let of = |i: usize| self.values[i].as_ref().map(Captured::claim_value);
        Registered {
            exp: of(0),
            nbf: of(1),
            iat: of(2),
            iss: of(3),
            aud: of(4),
            azp: of(5),
        }
    }
}

/// `payload` as `T`, with its registered claims and names noted in `members`, in one pass; or
/// `None` when only the two-pass path can decide (the payload is malformed, does not fit `T`,
/// or is outside what the one pass takes).
pub(crate) fn one_pass<'a, T: DeserializeOwned>(
    payload: &'a [u8],
    members: &mut Members<'a>,
) -> Option<T> {
    // One UTF-8 check of the whole payload instead of one per string: reading from a `str`,
    // serde_json checks no string again (it does each one when reading bytes). A payload that is
    // not UTF-8 is refused by the two-pass path, which says why.
    let text = std::str::from_utf8(payload).ok()?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = deserializer
        .deserialize_map(Top(members, PhantomData))
        .ok()?;
    deserializer.end().ok()?;
    if !all_distinct(&mut members.names) {
        return None;
    }
    Some(value)
}

/// The payload object: hands its members to `T` through [`Tee`].
struct Top<'m, 'de, T>(&'m mut Members<'de>, PhantomData<T>);

impl<'de, T: DeserializeOwned> Visitor<'de> for Top<'_, 'de, T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<T, A::Error> {
        let mut tee = Tee {
            access,
            members: self.0,
            pending: None,
        };
        T::deserialize(MapAccessDeserializer::new(&mut tee))
    }
}

/// The payload's members as `T` reads them, noting every name and the registered claims.
struct Tee<'m, 'de, A> {
    access: A,
    members: &'m mut Members<'de>,
    /// The registered claim whose value comes next.
    pending: Option<usize>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Tee<'_, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(Name(name)) = self.access.next_key::<Name<'de>>()? else {
            return Ok(None);
        };
        self.pending = registered_index(&name);
        let key = seed.deserialize(Strict(StrDeserializer::<A::Error>::new(&name)))?;
        self.members.names.push(name);
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        let Some(index) = self.pending.take() else {
            return self.access.next_value_seed(StrictSeed(seed));
        };
        let value: Captured<'de> = self.access.next_value()?;
        let typed = seed.deserialize(value.deserializer::<A::Error>())?;
        self.members.values[index] = Some(value);
        Ok(typed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.access.size_hint()
    }
}

/// A deserializer whose ignored values are read with [`Skip`], at every depth.
struct Strict<D>(D);

macro_rules! forward_deserialize {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(StrictVisitor(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward_deserialize!(
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_option deserialize_unit deserialize_seq
        deserialize_map deserialize_identifier
    );

    fn deserialize_bytes<V: Visitor<'de>>(self, _: V) -> Result<V::Value, D::Error> {
        Err(give_up())
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, _: V) -> Result<V::Value, D::Error> {
        Err(give_up())
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(Ignore(visitor))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, StrictVisitor(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        if name.starts_with("$serde_json") {
            return Err(give_up());
        }
        self.0
            .deserialize_newtype_struct(name, StrictVisitor(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, StrictVisitor(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_tuple_struct(name, len, StrictVisitor(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        if name.starts_with("$serde_json") {
            return Err(give_up());
        }
        self.0
            .deserialize_struct(name, fields, StrictVisitor(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_enum(name, variants, StrictVisitor(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// A visitor whose nested deserializers, sequences, maps and enums stay [`Strict`].
struct StrictVisitor<V>(V);

macro_rules! forward_visit {
    ($($method:ident: $ty:ty)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.0.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for StrictVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }

    forward_visit!(
        visit_bool: bool visit_i8: i8 visit_i16: i16 visit_i32: i32 visit_i64: i64
        visit_i128: i128 visit_u8: u8 visit_u16: u16 visit_u32: u32 visit_u64: u64
        visit_u128: u128 visit_f32: f32 visit_f64: f64 visit_char: char visit_str: &str
        visit_borrowed_str: &'de str visit_string: String
    );

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<V::Value, E> {
        Err(give_up())
    }

    fn visit_borrowed_bytes<E: de::Error>(self, _: &'de [u8]) -> Result<V::Value, E> {
        Err(give_up())
    }

    fn visit_byte_buf<E: de::Error>(self, _: Vec<u8>) -> Result<V::Value, E> {
        Err(give_up())
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(Strict(deserializer))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        self.0.visit_newtype_struct(Strict(deserializer))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(StrictAccess(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(StrictAccess(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(StrictAccess(data))
    }
}

/// A sequence, map, enum or variant whose elements are read through [`Strict`].
struct StrictAccess<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for StrictAccess<A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        self.0.next_element_seed(StrictSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for StrictAccess<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(StrictSeed(seed))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(StrictSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for StrictAccess<A> {
    type Error = A::Error;
    type Variant = StrictAccess<A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let (value, variant) = self.0.variant_seed(StrictSeed(seed))?;
        Ok((value, StrictAccess(variant)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for StrictAccess<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        self.0.newtype_variant_seed(StrictSeed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, StrictVisitor(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, StrictVisitor(visitor))
    }
}

/// A seed whose deserializer is [`Strict`].
struct StrictSeed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for StrictSeed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Strict(deserializer))
    }
}

/// What `deserialize_ignored_any` becomes: the value read and checked with [`Skip`], then the
/// caller's visitor told "unit", as serde_json does after skipping a value.
struct Ignore<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for Ignore<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<V::Value, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        self.0.visit_unit()
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<V::Value, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        self.0.visit_unit()
    }
}

#[cfg(test)]
#[path = "one_pass_tests.rs"]
mod tests;
