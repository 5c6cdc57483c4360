//! Decoding one JSON message with serde, checking each field as it is read.
//!
//! Every value is read with `deserialize_any` and our own visitor, so that every wrong
//! type, bad value or limit gets a reason naming the field, with producer text escaped
//! and cut short (serde's stock messages quote producer strings whole), and so that
//! serde_json attaches the line and column to it.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::escape::quote;
use super::fields::{At, Field, Raw};
use super::{Message, Severity};
use crate::config::Limits;

/// Decodes `text`, which must hold exactly one message object and nothing else.
/// The uid is left empty when the producer gave none.
pub(super) fn decode(text: &str, limits: &Limits) -> Result<Message, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let message = Seed::<Message>::new(At::Top, limits).deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(message)
}

/// Where a value is and the limits it is held to.
#[derive(Clone, Copy)]
struct Cx<'a> {
    at: At,
    limits: &'a Limits,
}

impl Cx<'_> {
    fn invalid<E: de::Error>(&self, why: impl fmt::Display) -> E {
        match self.at {
            At::Top => E::custom(why),
            at => E::custom(format_args!("{at}: {why}")),
        }
    }

    fn wrong<E: de::Error>(&self, expected: &str, got: impl fmt::Display) -> E {
        self.invalid(format_args!("expected {expected}, got {got}"))
    }

    fn check_len<E: de::Error>(&self, text: &str) -> Result<(), E> {
        let max = self.limits.max_string_bytes;
        if text.len() > max {
            return Err(self.invalid(format_args!(
                "string is {} bytes long, more than the limit of {max} bytes",
                text.len()
            )));
        }
        Ok(())
    }
}

/// A type a JSON value can become; each method refuses the JSON types it does not take.
trait FromJson: Sized {
    /// What the value must be, as a reason says it.
    const EXPECTED: &'static str;

    fn from_null<E: de::Error>(cx: &Cx) -> Result<Self, E> {
        Err(cx.wrong(Self::EXPECTED, "null"))
    }

    fn from_int<E: de::Error>(value: i128, cx: &Cx) -> Result<Self, E> {
        Err(cx.wrong(Self::EXPECTED, format_args!("integer {value}")))
    }

    fn from_str<E: de::Error>(text: &str, cx: &Cx) -> Result<Self, E> {
        Err(cx.wrong(Self::EXPECTED, format_args!("string {}", quote(text))))
    }

    fn from_seq<'de, A: SeqAccess<'de>>(_seq: A, cx: &Cx) -> Result<Self, A::Error> {
        Err(cx.wrong(Self::EXPECTED, "an array"))
    }

    fn from_map<'de, A: MapAccess<'de>>(_map: A, cx: &Cx) -> Result<Self, A::Error> {
        Err(cx.wrong(Self::EXPECTED, "an object"))
    }
}

/// Optional fields: null is the same as absent.
impl<T: FromJson> FromJson for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;

    fn from_null<E: de::Error>(_cx: &Cx) -> Result<Self, E> {
        Ok(None)
    }

    fn from_int<E: de::Error>(value: i128, cx: &Cx) -> Result<Self, E> {
        T::from_int(value, cx).map(Some)
    }

    fn from_str<E: de::Error>(text: &str, cx: &Cx) -> Result<Self, E> {
        T::from_str(text, cx).map(Some)
    }

    fn from_seq<'de, A: SeqAccess<'de>>(seq: A, cx: &Cx) -> Result<Self, A::Error> {
        T::from_seq(seq, cx).map(Some)
    }

    fn from_map<'de, A: MapAccess<'de>>(map: A, cx: &Cx) -> Result<Self, A::Error> {
        T::from_map(map, cx).map(Some)
    }
}

impl FromJson for String {
    const EXPECTED: &'static str = "a string";

    fn from_str<E: de::Error>(text: &str, cx: &Cx) -> Result<Self, E> {
        cx.check_len(text)?;
        if let At::Field(field) = cx.at {
            field.check_text(text).map_err(|why| cx.invalid(why))?;
        }
        Ok(text.to_owned())
    }
}

impl FromJson for i64 {
    const EXPECTED: &'static str = "an integer";

    fn from_int<E: de::Error>(value: i128, cx: &Cx) -> Result<Self, E> {
        i64::try_from(value)
            .map_err(|_| cx.invalid(format_args!("integer {value} does not fit in 64 signed bits")))
    }
}

impl FromJson for Severity {
    const EXPECTED: &'static str = "one of info, warning, error";

    fn from_str<E: de::Error>(text: &str, cx: &Cx) -> Result<Self, E> {
        match text {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            _ => Err(cx.wrong(Self::EXPECTED, quote(text))),
        }
    }
}

/// `insertion_strings`.
impl FromJson for Vec<String> {
    const EXPECTED: &'static str = "an array of strings";

    fn from_seq<'de, A: SeqAccess<'de>>(mut seq: A, cx: &Cx) -> Result<Self, A::Error> {
        let At::Field(field) = cx.at else {
            return Err(cx.invalid("an array is not expected here"));
        };
        let max = cx.limits.max_insertion_strings;
        let mut items = Vec::new();
        loop {
            let seed = Seed::<String>::new(At::Item(field, items.len()), cx.limits);
            let Some(item) = seq.next_element_seed(seed)? else {
                return Ok(items);
            };
            if items.len() == max {
                return Err(cx.invalid(format_args!("more than {max} items, the limit")));
            }
            items.push(item);
        }
    }
}

/// `attributes`: integer attribute ids (JSON object keys are strings) to text.
impl FromJson for BTreeMap<i64, String> {
    const EXPECTED: &'static str = "an object mapping attribute ids to strings";

    fn from_map<'de, A: MapAccess<'de>>(mut map: A, cx: &Cx) -> Result<Self, A::Error> {
        let max = cx.limits.max_attributes;
        let mut attributes = BTreeMap::new();
        while let Some(id) = map.next_key_seed(AttributeId(*cx))? {
            if attributes.contains_key(&id) {
                return Err(cx.invalid(format_args!("attribute {id} appears twice")));
            }
            if attributes.len() == max {
                return Err(cx.invalid(format_args!("more than {max} attributes, the limit")));
            }
            let text = map.next_value_seed(Seed::<String>::new(At::Attribute(id), cx.limits))?;
            attributes.insert(id, text);
        }
        Ok(attributes)
    }
}

/// The message object: each key must name a field, each field at most once.
impl FromJson for Message {
    const EXPECTED: &'static str = "a JSON object";

    fn from_map<'de, A: MapAccess<'de>>(mut map: A, cx: &Cx) -> Result<Self, A::Error> {
        let mut raw = Raw::default();
        while let Some(field) = map.next_key_seed(FieldName)? {
            if raw.seen & field.bit() != 0 {
                return Err(cx.invalid(format_args!("field \"{}\" appears twice", field.name())));
            }
            raw.seen |= field.bit();
            read_field(&mut map, field, &mut raw, cx.limits)?;
        }
        raw.finish().map_err(|why| cx.invalid(why))
    }
}

fn read_field<'de, A: MapAccess<'de>>(
    map: &mut A,
    field: Field,
    raw: &mut Raw,
    limits: &Limits,
) -> Result<(), A::Error> {
    fn seed<T: FromJson>(field: Field, limits: &Limits) -> Seed<'_, T> {
        Seed::new(At::Field(field), limits)
    }
    match field {
        Field::Uid => raw.uid = map.next_value_seed(seed(field, limits))?,
        Field::MessageId => raw.message_id = Some(map.next_value_seed(seed(field, limits))?),
        Field::Severity => raw.severity = Some(map.next_value_seed(seed(field, limits))?),
        Field::Component => raw.component = Some(map.next_value_seed(seed(field, limits))?),
        Field::Machine => raw.machine = Some(map.next_value_seed(seed(field, limits))?),
        Field::Site => raw.site = Some(map.next_value_seed(seed(field, limits))?),
        Field::Time => raw.time = Some(map.next_value_seed(seed(field, limits))?),
        Field::Module => raw.module = map.next_value_seed(seed(field, limits))?,
        Field::ReportType => raw.report_type = map.next_value_seed(seed(field, limits))?,
        Field::ProcessId => raw.process_id = map.next_value_seed(seed(field, limits))?,
        Field::ThreadId => raw.thread_id = map.next_value_seed(seed(field, limits))?,
        Field::Win32Error => raw.win32_error = map.next_value_seed(seed(field, limits))?,
        Field::InsertionStrings => raw.insertion_strings = map.next_value_seed(seed(field, limits))?,
        Field::Attributes => raw.attributes = map.next_value_seed(seed(field, limits))?,
    }
    Ok(())
}

/// Reads one value as `T`, through `T`'s `FromJson` methods.
struct Seed<'a, T> {
    cx: Cx<'a>,
    into: PhantomData<T>,
}

impl<'a, T> Seed<'a, T> {
    fn new(at: At, limits: &'a Limits) -> Self {
        Seed {
            cx: Cx { at, limits },
            into: PhantomData,
        }
    }
}

impl<'de, T: FromJson> DeserializeSeed<'de> for Seed<'_, T> {
    type Value = T;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, T: FromJson> Visitor<'de> for Seed<'_, T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTED)
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        T::from_null(&self.cx)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<T, E> {
        Err(self.cx.wrong(T::EXPECTED, format_args!("boolean {value}")))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
        T::from_int(i128::from(value), &self.cx)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
        T::from_int(i128::from(value), &self.cx)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<T, E> {
        Err(self.cx.wrong(T::EXPECTED, format_args!("number {value:?}")))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        T::from_str(text, &self.cx)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::from_seq(seq, &self.cx)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::from_map(map, &self.cx)
    }
}

/// A key of the message object.
struct FieldName;

impl<'de> DeserializeSeed<'de> for FieldName {
    type Value = Field;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Field, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for FieldName {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
        Field::from_name(name).ok_or_else(|| E::custom(Field::unknown(name)))
    }
}

/// A key of the `attributes` object: an attribute id, written as a string.
struct AttributeId<'a>(Cx<'a>);

impl<'de> DeserializeSeed<'de> for AttributeId<'_> {
    type Value = i64;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<i64, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for AttributeId<'_> {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an attribute id")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<i64, E> {
        key.parse::<i64>().map_err(|_| {
            self.0
                .invalid(format_args!("key {} is not an integer attribute id", quote(key)))
        })
    }
}
