//! Protobuf wire bytes straight to canonical JSON, without building a message first, for
//! the shape most topics hold: a proto3 message of scalars, strings, bytes, enums and
//! nested messages of the same kind, its fields written once each in field-number order
//! (as every protobuf library writes them). kcons reads many small records, and building a
//! `DynamicMessage` for each, then serializing it, costs several times the reading.
//!
//! Anything else (lists, maps, well-known types, proto2, a field out of order or repeated,
//! bytes that do not decode) makes [`write`] answer `false` with `out` untouched; the
//! general path in `protobuf.rs` (prost-reflect) then decodes the record, reports its
//! errors and prints what this module would not. Both paths print the same text for every
//! message this one accepts: the JSON values are written by serde_json's serializer, as
//! prost-reflect's serde support writes them, and the tests compare the two on random
//! messages.

use std::cell::RefCell;
use std::rc::Rc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use prost_reflect::{Kind, MessageDescriptor, Syntax};
use serde::Serializer as _;

use crate::record::write_int;

/// Append `message`'s JSON to `out` and answer true, or answer false (nothing appended)
/// when the message needs the general path.
pub fn write(descriptor: &MessageDescriptor, message: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(plan) = plan_for(descriptor) else {
        return false;
    };
    let start = out.len();
    if plan.write_message(0, message, out).is_none() {
        out.truncate(start);
        return false;
    }
    true
}

thread_local! {
    /// The plans made this run, by message type (a run meets a few types, each many times).
    static PLANS: RefCell<Vec<(MessageDescriptor, Option<Rc<Plan>>)>> = const { RefCell::new(Vec::new()) };
}

fn plan_for(descriptor: &MessageDescriptor) -> Option<Rc<Plan>> {
    PLANS.with(|plans| {
        let mut plans = plans.borrow_mut();
        if let Some((_, plan)) = plans.iter().find(|(d, _)| d == descriptor) {
            return plan.clone();
        }
        let plan = Plan::new(descriptor).map(Rc::new);
        plans.push((descriptor.clone(), plan.clone()));
        plan
    })
}

/// A message type and the message types of its fields, ready to print: the root is
/// `messages[0]`.
struct Plan {
    messages: Vec<MessagePlan>,
}

struct MessagePlan {
    /// Sorted by field number.
    fields: Vec<FieldPlan>,
}

struct FieldPlan {
    number: u32,
    /// `"jsonName":`, escaped once.
    name: Vec<u8>,
    /// Printed even at its default value when present (a message, a oneof member, an
    /// `optional` field); a field without presence at its default is left out.
    presence: bool,
    kind: FieldKind,
}

enum FieldKind {
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
    Float,
    Double,
    String,
    Bytes,
    /// Value names by number.
    Enum(Vec<(i32, String)>),
    /// The index of its plan in `Plan::messages`.
    Message(usize),
    /// A list, a map, a group or a well-known type: the general path prints it.
    Other,
}

impl Plan {
    /// None for a message type this module leaves to the general path as a whole.
    fn new(root: &MessageDescriptor) -> Option<Plan> {
        let mut types = vec![root.clone()];
        let mut messages = Vec::new();
        while messages.len() < types.len() {
            let message = types[messages.len()].clone();
            if message.parent_file().syntax() != Syntax::Proto3 {
                return None;
            }
            let mut fields: Vec<FieldPlan> = message
                .fields()
                .map(|field| {
                    let kind = if field.is_list() || field.is_map() || field.is_group() {
                        FieldKind::Other
                    } else {
                        field_kind(field.kind(), &mut types)
                    };
                    let mut name = Vec::new();
                    write_json_str(&mut name, field.json_name());
                    name.push(b':');
                    FieldPlan {
                        number: field.number(),
                        name,
                        presence: field.supports_presence(),
                        kind,
                    }
                })
                .collect();
            fields.sort_by_key(|field| field.number);
            messages.push(MessagePlan { fields });
        }
        Some(Plan { messages })
    }

    /// Print one message as a JSON object; None when it needs the general path.
    fn write_message(&self, index: usize, mut bytes: &[u8], out: &mut Vec<u8>) -> Option<()> {
        let fields = &self.messages[index].fields;
        out.push(b'{');
        let mut first = true;
        let mut next_field = 0;
        while !bytes.is_empty() {
            let key = read_varint(&mut bytes)?;
            let number = u32::try_from(key >> 3).ok().filter(|n| *n > 0)?;
            let wire_type = (key & 7) as u8;
            let value = read_value(&mut bytes, wire_type)?;
            // Fields must come once each, in number order; an unknown one is skipped.
            let Some(at) = fields[next_field..].iter().position(|f| f.number >= number) else {
                if fields.iter().any(|f| f.number == number) {
                    return None;
                }
                continue;
            };
            let field = &fields[next_field + at];
            if field.number != number {
                if fields[..next_field].iter().any(|f| f.number == number) {
                    return None;
                }
                continue;
            }
            next_field += at + 1;
            let start = out.len();
            if !first {
                out.push(b',');
            }
            out.extend_from_slice(&field.name);
            let printed = self.write_value(field, value, out)?;
            if printed {
                first = false;
            } else {
                out.truncate(start);
            }
        }
        out.push(b'}');
        Some(())
    }

    /// Print a field's value; Some(false) when it is at its default and has no presence
    /// (left out, as the general path leaves it out).
    fn write_value(&self, field: &FieldPlan, value: WireValue, out: &mut Vec<u8>) -> Option<bool> {
        use FieldKind as K;
        use WireValue as W;
        let default = match (&field.kind, value) {
            (K::Int32, W::Varint(v)) => write_number(out, v as i32),
            (K::Uint32, W::Varint(v)) => write_number(out, v as u32),
            (K::Sint32, W::Varint(v)) => write_number(out, zigzag32(v as u32)),
            (K::Int64, W::Varint(v)) => write_quoted(out, v as i64),
            (K::Uint64, W::Varint(v)) => write_quoted(out, v),
            (K::Sint64, W::Varint(v)) => write_quoted(out, zigzag64(v)),
            (K::Fixed32, W::Fixed32(v)) => write_number(out, v),
            (K::Sfixed32, W::Fixed32(v)) => write_number(out, v as i32),
            (K::Fixed64, W::Fixed64(v)) => write_quoted(out, v),
            (K::Sfixed64, W::Fixed64(v)) => write_quoted(out, v as i64),
            (K::Bool, W::Varint(v)) => {
                out.extend_from_slice(if v != 0 { b"true" } else { b"false" });
                v == 0
            }
            (K::Float, W::Fixed32(v)) => write_float(out, f32::from_bits(v).into(), true),
            (K::Double, W::Fixed64(v)) => write_float(out, f64::from_bits(v), false),
            (K::String, W::Bytes(bytes)) => {
                write_json_str(out, std::str::from_utf8(bytes).ok()?);
                bytes.is_empty()
            }
            (K::Bytes, W::Bytes(bytes)) => {
                out.push(b'"');
                let start = out.len();
                out.resize(start + base64::encoded_len(bytes.len(), true)?, 0);
                STANDARD.encode_slice(bytes, &mut out[start..]).ok()?;
                out.push(b'"');
                bytes.is_empty()
            }
            (K::Enum(names), W::Varint(v)) => {
                let number = v as i32;
                match names.iter().find(|(n, _)| *n == number) {
                    Some((_, name)) => write_json_str(out, name),
                    None => {
                        write_number(out, number);
                    }
                }
                number == 0
            }
            (K::Message(index), W::Bytes(bytes)) => {
                self.write_message(*index, bytes, out)?;
                false
            }
            _ => return None,
        };
        Some(field.presence || !default)
    }
}

/// The plan kind of a singular field, adding a message type to `types` when first met.
fn field_kind(kind: Kind, types: &mut Vec<MessageDescriptor>) -> FieldKind {
    match kind {
        Kind::Double => FieldKind::Double,
        Kind::Float => FieldKind::Float,
        Kind::Int32 => FieldKind::Int32,
        Kind::Int64 => FieldKind::Int64,
        Kind::Uint32 => FieldKind::Uint32,
        Kind::Uint64 => FieldKind::Uint64,
        Kind::Sint32 => FieldKind::Sint32,
        Kind::Sint64 => FieldKind::Sint64,
        Kind::Fixed32 => FieldKind::Fixed32,
        Kind::Fixed64 => FieldKind::Fixed64,
        Kind::Sfixed32 => FieldKind::Sfixed32,
        Kind::Sfixed64 => FieldKind::Sfixed64,
        Kind::Bool => FieldKind::Bool,
        Kind::String => FieldKind::String,
        Kind::Bytes => FieldKind::Bytes,
        // NullValue prints as null, not by name: left to the general path.
        Kind::Enum(e) if e.full_name() == "google.protobuf.NullValue" => FieldKind::Other,
        Kind::Enum(e) => FieldKind::Enum(
            e.values()
                .map(|v| (v.number(), v.name().to_string()))
                .collect(),
        ),
        // The well-known types have JSON forms of their own.
        Kind::Message(m) if m.full_name().starts_with("google.protobuf.") => FieldKind::Other,
        Kind::Message(m) => match types.iter().position(|t| *t == m) {
            Some(index) => FieldKind::Message(index),
            None => {
                types.push(m);
                FieldKind::Message(types.len() - 1)
            }
        },
    }
}

#[derive(Clone, Copy)]
enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

fn read_value<'a>(bytes: &mut &'a [u8], wire_type: u8) -> Option<WireValue<'a>> {
    match wire_type {
        0 => read_varint(bytes).map(WireValue::Varint),
        1 => take::<8>(bytes).map(|b| WireValue::Fixed64(u64::from_le_bytes(b))),
        2 => {
            let len = usize::try_from(read_varint(bytes)?).ok()?;
            if len > bytes.len() {
                return None;
            }
            let (value, rest) = bytes.split_at(len);
            *bytes = rest;
            Some(WireValue::Bytes(value))
        }
        5 => take::<4>(bytes).map(|b| WireValue::Fixed32(u32::from_le_bytes(b))),
        // Groups (3, 4) and anything else: the general path.
        _ => None,
    }
}

fn take<const N: usize>(bytes: &mut &[u8]) -> Option<[u8; N]> {
    let (value, rest) = bytes.split_first_chunk::<N>()?;
    *bytes = rest;
    Some(*value)
}

/// A base-128 varint of at most 10 bytes, the 10th holding only the 64th bit.
fn read_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        if i == 9 && byte > 1 {
            return None;
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Some(value);
        }
    }
    None
}

fn zigzag32(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

fn zigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A 32-bit number as a JSON number; true when it is 0 (the default).
fn write_number<N: serde::Serialize + Default + PartialEq>(out: &mut Vec<u8>, n: N) -> bool {
    // Writing to a Vec cannot fail.
    let _ = n.serialize(&mut serde_json::Serializer::new(out));
    n == N::default()
}

/// A 64-bit number as a JSON string (the canonical mapping); true when it is 0.
fn write_quoted<N: itoa::Integer + Default + PartialEq>(out: &mut Vec<u8>, n: N) -> bool {
    out.push(b'"');
    write_int(out, n);
    out.push(b'"');
    n == N::default()
}

/// A float or double as a JSON number, or "NaN"/"Infinity"/"-Infinity"; true when it is
/// zero (either sign: the default compares equal to both).
fn write_float(out: &mut Vec<u8>, v: f64, single: bool) -> bool {
    let mut json = serde_json::Serializer::new(out);
    let _ = if v.is_nan() {
        json.serialize_str("NaN")
    } else if v.is_infinite() {
        json.serialize_str(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else if single {
        json.serialize_f32(v as f32)
    } else {
        json.serialize_f64(v)
    };
    v == 0.0
}

fn write_json_str(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::Serializer::new(out).serialize_str(s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;
    use prost_reflect::{DynamicMessage, SerializeOptions, Value};

    const PROTO: &str = r#"
        syntax = "proto3";
        package t;
        enum Color { RED = 0; GREEN = 1; BLUE = 2; }
        message Inner { string label = 1; sint64 delta = 2; Inner next = 3; }
        message All {
          double d = 1; float f = 2; int32 i32 = 3; int64 i64 = 4; uint32 u32 = 5;
          uint64 u64 = 6; sint32 s32 = 7; sint64 s64 = 8; fixed32 fx32 = 9; fixed64 fx64 = 10;
          sfixed32 sf32 = 11; sfixed64 sf64 = 12; bool b = 13; string s = 14; bytes by = 15;
          Color color = 16; Inner inner = 17; optional int32 opt = 18;
          oneof choice { string name = 19; int64 number = 20; }
          repeated int32 list = 21; map<string, int32> counts = 22;
          string snake_case_name = 23;
        }
    "#;

    fn all_type() -> MessageDescriptor {
        let schema = crate::protobuf::ProtobufSchema::from_registry(PROTO, &Default::default());
        schema.unwrap().message_named(Some("t.All")).unwrap()
    }

    fn general(descriptor: &MessageDescriptor, bytes: &[u8]) -> String {
        let message = DynamicMessage::decode(descriptor.clone(), bytes).unwrap();
        let mut out = Vec::new();
        message
            .serialize_with_options(
                &mut serde_json::Serializer::new(&mut out),
                &SerializeOptions::new(),
            )
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    fn fast(descriptor: &MessageDescriptor, bytes: &[u8]) -> Option<String> {
        let mut out = b"prefix".to_vec();
        if !write(descriptor, bytes, &mut out) {
            assert_eq!(out, b"prefix", "a refusal leaves out as it was");
            return None;
        }
        Some(String::from_utf8(out[6..].to_vec()).unwrap())
    }

    use crate::random::Seeded as Random;

    fn random_value(kind: &Kind, r: &mut Random, depth: u32) -> Value {
        let special = [
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            0.1,
        ];
        let zero_often = |r: &mut Random| if r.pick_u64(4) == 0 { 0 } else { r.next() };
        match kind {
            Kind::Double => Value::F64(match r.pick_u64(3) {
                0 => special[r.pick_u64(special.len() as u64) as usize],
                _ => f64::from_bits(r.next()),
            }),
            Kind::Float => Value::F32(match r.pick_u64(3) {
                0 => special[r.pick_u64(special.len() as u64) as usize] as f32,
                _ => f32::from_bits(r.next() as u32),
            }),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(zero_often(r) as i32),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(zero_often(r) as i64),
            Kind::Uint32 | Kind::Fixed32 => Value::U32(zero_often(r) as u32),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(zero_often(r)),
            Kind::Bool => Value::Bool(r.pick_u64(2) == 0),
            Kind::String => {
                let pool = ["", "a", "é\"\\\n\u{1}", "日本", "x y"];
                Value::String(
                    pool[r.pick_u64(pool.len() as u64) as usize].repeat(r.pick_u64(3) as usize),
                )
            }
            Kind::Bytes => {
                let len = r.pick_u64(6) as usize;
                Value::Bytes((0..len).map(|_| r.next() as u8).collect::<Vec<_>>().into())
            }
            Kind::Enum(_) => Value::EnumNumber(r.pick_u64(5) as i32),
            Kind::Message(m) => Value::Message(random_message(m, r, depth + 1)),
        }
    }

    fn random_message(
        descriptor: &MessageDescriptor,
        r: &mut Random,
        depth: u32,
    ) -> DynamicMessage {
        let mut message = DynamicMessage::new(descriptor.clone());
        for field in descriptor.fields() {
            if r.pick_u64(3) == 0
                || field.is_map()
                || (depth > 2 && matches!(field.kind(), Kind::Message(_)))
            {
                continue;
            }
            let value = if field.is_list() {
                Value::List(
                    (0..r.pick_u64(3))
                        .map(|_| random_value(&field.kind(), r, depth))
                        .collect(),
                )
            } else {
                random_value(&field.kind(), r, depth)
            };
            message.set_field(&field, value);
        }
        message
    }

    #[test]
    fn prints_what_the_general_path_prints_for_random_messages() {
        let descriptor = all_type();
        let mut r = Random::new(0x9e37_79b9_7f4a_7c15);
        let mut fast_ones = 0;
        for _ in 0..5000 {
            let bytes = random_message(&descriptor, &mut r, 0).encode_to_vec();
            if let Some(text) = fast(&descriptor, &bytes) {
                assert_eq!(text, general(&descriptor, &bytes), "bytes {bytes:?}");
                fast_ones += 1;
            }
        }
        // Lists and maps send a third of them to the general path; the rest must stay fast.
        assert!(
            fast_ones > 1000,
            "only {fast_ones} of 5000 took the fast path"
        );
    }

    #[test]
    fn a_common_record_takes_the_fast_path() {
        let descriptor = all_type();
        let mut message = DynamicMessage::new(descriptor.clone());
        message.set_field_by_name("i64", Value::I64(-7));
        message.set_field_by_name("s", Value::String("user-1".into()));
        message.set_field_by_name("color", Value::EnumNumber(2));
        message.set_field_by_name("opt", Value::I32(0));
        message.set_field_by_name("snake_case_name", Value::String("x".into()));
        let bytes = message.encode_to_vec();
        assert_eq!(
            fast(&descriptor, &bytes).as_deref(),
            Some(r#"{"i64":"-7","s":"user-1","color":"BLUE","opt":0,"snakeCaseName":"x"}"#)
        );
        assert_eq!(fast(&descriptor, &[]).as_deref(), Some("{}"));
    }

    #[test]
    fn leaves_to_the_general_path_what_it_does_not_print_the_same() {
        let descriptor = all_type();
        // Field 3 twice (the last one wins), fields out of order, a list, a group, bytes
        // cut short, a string that is not UTF-8, a varint of 11 bytes.
        let cases: [&[u8]; 7] = [
            &[24, 1, 24, 2],
            &[32, 1, 24, 2],
            &[168, 1, 5],
            &[27, 28],
            &[114, 5, b'a'],
            &[114, 1, 0xff],
            &[
                24, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1,
            ],
        ];
        for bytes in cases {
            assert_eq!(fast(&descriptor, bytes), None, "bytes {bytes:?}");
        }
        // An unknown field is skipped, as the general path skips it.
        let unknown = [24, 1, 200, 62, 9];
        assert_eq!(
            fast(&descriptor, &unknown).unwrap(),
            general(&descriptor, &unknown)
        );
    }
}
