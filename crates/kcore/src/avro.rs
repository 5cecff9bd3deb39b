//! Avro values as JSON lines, both ways: what kcons prints for a record decoded with a
//! schema from the registry, and what `kprod --json` encodes with one. The binary codec is
//! the `apache-avro` crate's; this module only maps its values to JSON and back, following
//! the Avro specification's JSON encoding, so that a decoded record encodes back to the
//! same bytes. Documented in README.md ("Schema Registry"):
//!
//! - a union's non-null value is wrapped in an object naming its branch, `{"string": "x"}`,
//!   `{"com.example.Address": {...}}` (a logical type is named by its underlying type:
//!   `{"long": 1700000000000}`); `null` is bare. On input a bare value is also accepted for
//!   a union: the first branch that takes it is used;
//! - `bytes` and `fixed` are strings whose characters U+0000-U+00FF are the bytes;
//! - `decimal` (and `big-decimal`) is a string holding the exact number, `"-12.30"` (the
//!   specification's bytes would be unreadable); `uuid` its canonical string; `date`,
//!   `time-*`, `timestamp-*` and `local-timestamp-*` their number; `duration` an object
//!   `{"months","days","millis"}`;
//! - a float or double that is not finite is the string `"NaN"`, `"Infinity"` or `"-Infinity"`;
//! - a map's keys are printed sorted (Avro maps have no order).

use std::collections::HashMap;
use std::io::Write;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::schema::{
    DecimalSchema, InnerDecimalSchema, Name, RecordSchema, ResolvedSchema, Schema, UuidSchema,
};
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::{Days, Decimal, Duration, Millis, Months};
use num_bigint::BigInt;
use serde_json::Value as Json;

use crate::avro_json::AvroPlan;
use crate::record::{write_int, write_str};

/// One parsed Avro schema, ready to decode and encode many records.
pub struct AvroCodec {
    schema: &'static Schema,
    names: HashMap<Name, &'static Schema>,
    reader: GenericDatumReader<'static>,
    writer: GenericDatumWriter<'static>,
    /// Decodes the common shapes without building a `Value` (none while being made).
    fast: Option<AvroPlan>,
}

impl AvroCodec {
    /// Parse a schema (its JSON text, as the registry stores it).
    pub fn parse(text: &str) -> Result<AvroCodec, String> {
        let schema = Schema::parse_str(text).map_err(|err| format!("not an Avro schema: {err}"))?;
        // A run keeps each schema it meets until it exits (one per schema id), and the
        // readers and writers borrow it: leaking it is what that lifetime is.
        let schema: &'static Schema = Box::leak(Box::new(schema));
        let bad = |err: apache_avro::Error| format!("unusable Avro schema: {err}");
        let resolved = ResolvedSchema::try_from(schema).map_err(bad)?;
        let names = resolved
            .get_names()
            .iter()
            .map(|(name, schema)| (name.clone(), *schema))
            .collect();
        let reader = GenericDatumReader::builder(schema).build().map_err(bad)?;
        let writer = GenericDatumWriter::builder(schema).build().map_err(bad)?;
        let mut codec = AvroCodec {
            schema,
            names,
            reader,
            writer,
            fast: None,
        };
        let fast = AvroPlan::new(schema, &codec.names, &|branch| codec.branch_name(branch));
        codec.fast = Some(fast);
        Ok(codec)
    }

    /// Decode one body (the bytes after the wire format's 5-byte header) and append its
    /// JSON to `out`; on error `out` is left as it was.
    pub fn decode_json(&self, body: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        if self.fast.as_ref().is_some_and(|fast| fast.write(body, out)) {
            return Ok(());
        }
        self.decode_json_generally(body, out)
    }

    /// Decode through apache-avro's `Value`: every schema, and the reasons a body does not
    /// decode.
    fn decode_json_generally(&self, body: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let mut rest = body;
        let value = self
            .reader
            .read_value(&mut rest)
            .map_err(|err| format!("the body does not decode with its schema: {err}"))?;
        if !rest.is_empty() {
            return Err(format!(
                "{} byte(s) left over after the value: the body is not in its schema's encoding",
                rest.len()
            ));
        }
        let start = out.len();
        self.write(&value, self.schema, out).inspect_err(|_| {
            out.truncate(start);
        })
    }

    /// Encode a JSON value (the Avro JSON mapping above) to the schema's binary encoding.
    /// The error names the field that does not match, e.g. `field amount: expected a long, got "x"`.
    pub fn encode_json(&self, json: &Json) -> Result<Vec<u8>, String> {
        let mut path = String::new();
        let value =
            self.to_value(json, self.schema, &mut path)
                .map_err(|why| match path.is_empty() {
                    true => why,
                    false => format!("field {path}: {why}"),
                })?;
        let mut out = Vec::new();
        self.writer
            .write_value_ref(&mut out, &value)
            .map_err(|err| format!("does not match the schema: {err}"))?;
        Ok(out)
    }

    /// The schema a reference names (named types are defined once, then referred to).
    fn resolve<'s>(&'s self, schema: &'s Schema) -> Result<&'s Schema, String> {
        match schema {
            Schema::Ref { name } => self
                .names
                .get(name)
                .copied()
                .ok_or_else(|| format!("the schema refers to an unknown type {name}")),
            other => Ok(other),
        }
    }

    fn write(&self, value: &Value, schema: &Schema, out: &mut Vec<u8>) -> Result<(), String> {
        let schema = self.resolve(schema)?;
        match (value, schema) {
            // apache-avro gives Null for a value cut short by the body's end (not only for
            // the null type): that is a body this schema did not write.
            (Value::Null, Schema::Null) => out.extend_from_slice(b"null"),
            (Value::Null, _) => {
                return Err(
                    "the body ends before its value does: not this schema's encoding".into(),
                )
            }
            (Value::Boolean(b), _) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            (Value::Int(n) | Value::Date(n) | Value::TimeMillis(n), _) => write_int(out, *n),
            (
                Value::Long(n)
                | Value::TimeMicros(n)
                | Value::TimestampMillis(n)
                | Value::TimestampMicros(n)
                | Value::TimestampNanos(n)
                | Value::LocalTimestampMillis(n)
                | Value::LocalTimestampMicros(n)
                | Value::LocalTimestampNanos(n),
                _,
            ) => write_int(out, *n),
            (Value::Float(x), _) => write_float(out, f64::from(*x), |out| {
                serde_json::to_writer(out, x).expect("writing to a Vec")
            }),
            (Value::Double(x), _) => write_float(out, *x, |out| {
                serde_json::to_writer(out, x).expect("writing to a Vec")
            }),
            (Value::Bytes(bytes) | Value::Fixed(_, bytes), _) => write_str(out, &latin1(bytes)),
            (Value::String(text) | Value::Enum(_, text), _) => write_str(out, text),
            (Value::Uuid(uuid), _) => write_str(out, &uuid.to_string()),
            (Value::Decimal(decimal), Schema::Decimal(DecimalSchema { scale, .. })) => {
                let unscaled = BigInt::from(decimal.clone());
                write_str(out, &with_scale(&unscaled.to_string(), *scale));
            }
            (Value::BigDecimal(decimal), _) => write_str(out, &decimal.to_string()),
            (Value::Duration(duration), _) => {
                let (months, days, millis): (u32, u32, u32) = (
                    duration.months().into(),
                    duration.days().into(),
                    duration.millis().into(),
                );
                let _ = write!(
                    out,
                    "{{\"months\":{months},\"days\":{days},\"millis\":{millis}}}"
                );
            }
            (Value::Union(index, inner), Schema::Union(union)) => {
                let branch = union
                    .variants()
                    .get(*index as usize)
                    .ok_or_else(|| format!("union branch {index} is not in the schema"))?;
                if matches!(**inner, Value::Null) {
                    out.extend_from_slice(b"null");
                } else {
                    out.push(b'{');
                    write_str(out, &self.branch_name(branch));
                    out.push(b':');
                    self.write(inner, branch, out)?;
                    out.push(b'}');
                }
            }
            (Value::Array(items), Schema::Array(array)) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.write(item, &array.items, out)?;
                }
                out.push(b']');
            }
            (Value::Map(entries), Schema::Map(map)) => {
                let mut keys: Vec<&String> = entries.keys().collect();
                keys.sort();
                out.push(b'{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, key);
                    out.push(b':');
                    self.write(&entries[key], &map.types, out)?;
                }
                out.push(b'}');
            }
            (
                Value::Record(fields),
                Schema::Record(RecordSchema {
                    fields: schemas, ..
                }),
            ) => {
                out.push(b'{');
                for (i, ((name, value), field)) in fields.iter().zip(schemas).enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, name);
                    out.push(b':');
                    self.write(value, &field.schema, out)?;
                }
                out.push(b'}');
            }
            (value, schema) => {
                return Err(format!(
                    "decoded a {} where the schema has {}",
                    kind_of(value),
                    self.branch_name(schema)
                ))
            }
        }
        Ok(())
    }

    /// The name the JSON encoding gives a union branch.
    fn branch_name(&self, schema: &Schema) -> String {
        match schema {
            Schema::Null => "null".into(),
            Schema::Boolean => "boolean".into(),
            Schema::Int | Schema::Date | Schema::TimeMillis => "int".into(),
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => "long".into(),
            Schema::Float => "float".into(),
            Schema::Double => "double".into(),
            Schema::Bytes | Schema::BigDecimal => "bytes".into(),
            Schema::String => "string".into(),
            Schema::Array(_) => "array".into(),
            Schema::Map(_) => "map".into(),
            Schema::Union(_) => "union".into(),
            Schema::Record(record) => record.name.fullname(None),
            Schema::Enum(e) => e.name.fullname(None),
            Schema::Fixed(fixed) | Schema::Duration(fixed) => fixed.name.fullname(None),
            Schema::Decimal(DecimalSchema { inner, .. }) => match inner {
                InnerDecimalSchema::Bytes => "bytes".into(),
                InnerDecimalSchema::Fixed(fixed) => fixed.name.fullname(None),
            },
            Schema::Uuid(uuid) => match uuid {
                UuidSchema::String => "string".into(),
                UuidSchema::Bytes => "bytes".into(),
                UuidSchema::Fixed(fixed) => fixed.name.fullname(None),
            },
            Schema::Ref { name } => name.fullname(None),
        }
    }

    /// A JSON value as an Avro value of `schema`; `path` says where a mismatch is.
    fn to_value(&self, json: &Json, schema: &Schema, path: &mut String) -> Result<Value, String> {
        let schema = self.resolve(schema)?;
        let wrong = |what: &str| format!("expected {what}, got {}", show(json));
        Ok(match schema {
            Schema::Null => match json {
                Json::Null => Value::Null,
                _ => return Err(wrong("null")),
            },
            Schema::Boolean => Value::Boolean(json.as_bool().ok_or_else(|| wrong("a boolean"))?),
            Schema::Int => Value::Int(int(json).ok_or_else(|| wrong("an int"))?),
            Schema::Date => Value::Date(int(json).ok_or_else(|| wrong("a date (days, an int)"))?),
            Schema::TimeMillis => Value::TimeMillis(int(json).ok_or_else(|| wrong("an int"))?),
            Schema::Long => Value::Long(json.as_i64().ok_or_else(|| wrong("a long"))?),
            Schema::TimeMicros => Value::TimeMicros(json.as_i64().ok_or_else(|| wrong("a long"))?),
            Schema::TimestampMillis => {
                Value::TimestampMillis(json.as_i64().ok_or_else(|| wrong("a long"))?)
            }
            Schema::TimestampMicros => {
                Value::TimestampMicros(json.as_i64().ok_or_else(|| wrong("a long"))?)
            }
            Schema::TimestampNanos => {
                Value::TimestampNanos(json.as_i64().ok_or_else(|| wrong("a long"))?)
            }
            Schema::LocalTimestampMillis => {
                Value::LocalTimestampMillis(json.as_i64().ok_or_else(|| wrong("a long"))?)
            }
            Schema::LocalTimestampMicros => {
                Value::LocalTimestampMicros(json.as_i64().ok_or_else(|| wrong("a long"))?)
            }
            Schema::LocalTimestampNanos => {
                Value::LocalTimestampNanos(json.as_i64().ok_or_else(|| wrong("a long"))?)
            }
            Schema::Float => Value::Float(float(json).ok_or_else(|| wrong("a float"))? as f32),
            Schema::Double => Value::Double(float(json).ok_or_else(|| wrong("a double"))?),
            Schema::Bytes => Value::Bytes(
                bytes(json).ok_or_else(|| wrong("bytes (a string of characters U+0000-U+00FF)"))?,
            ),
            Schema::String => {
                Value::String(json.as_str().ok_or_else(|| wrong("a string"))?.to_string())
            }
            Schema::Fixed(fixed) => {
                let bytes = bytes(json)
                    .filter(|b| b.len() == fixed.size)
                    .ok_or_else(|| {
                        wrong(&format!(
                            "{} bytes (a string of {} characters U+0000-U+00FF)",
                            fixed.size, fixed.size
                        ))
                    })?;
                Value::Fixed(fixed.size, bytes)
            }
            Schema::Enum(e) => {
                let symbol = json.as_str().ok_or_else(|| wrong("an enum symbol"))?;
                let index = e.symbols.iter().position(|s| s == symbol).ok_or_else(|| {
                    wrong(&format!("one of the symbols {}", e.symbols.join(", ")))
                })?;
                Value::Enum(index as u32, symbol.to_string())
            }
            Schema::Uuid(_) => {
                let text = json.as_str().ok_or_else(|| wrong("a uuid string"))?;
                Value::Uuid(uuid::Uuid::parse_str(text).map_err(|_| wrong("a uuid"))?)
            }
            Schema::Decimal(DecimalSchema {
                precision, scale, ..
            }) => {
                let unscaled = unscale(json, *precision, *scale).map_err(|why| wrong(&why))?;
                Value::Decimal(Decimal::from(unscaled.to_signed_bytes_be()))
            }
            Schema::BigDecimal => {
                let text = decimal_text(json).ok_or_else(|| wrong("a decimal string"))?;
                Value::BigDecimal(text.parse().map_err(|_| wrong("a decimal number"))?)
            }
            Schema::Duration(_) => {
                let part = |name: &str| {
                    json.get(name)
                        .and_then(Json::as_u64)
                        .and_then(|n| u32::try_from(n).ok())
                };
                match (part("months"), part("days"), part("millis")) {
                    (Some(m), Some(d), Some(ms)) => Value::Duration(Duration::new(
                        Months::new(m),
                        Days::new(d),
                        Millis::new(ms),
                    )),
                    _ => return Err(wrong("a duration {\"months\",\"days\",\"millis\"}")),
                }
            }
            Schema::Array(array) => {
                let items = json.as_array().ok_or_else(|| wrong("an array"))?;
                let mut values = Vec::with_capacity(items.len());
                let base = path.len();
                for (i, item) in items.iter().enumerate() {
                    path.push_str(&format!("[{i}]"));
                    values.push(self.to_value(item, &array.items, path)?);
                    path.truncate(base);
                }
                Value::Array(values)
            }
            Schema::Map(map) => {
                let entries = json.as_object().ok_or_else(|| wrong("an object (a map)"))?;
                let mut values = HashMap::with_capacity(entries.len());
                let base = path.len();
                for (key, item) in entries {
                    path.push_str(&format!("[{}]", Json::String(key.clone())));
                    values.insert(key.clone(), self.to_value(item, &map.types, path)?);
                    path.truncate(base);
                }
                Value::Map(values)
            }
            Schema::Record(record) => {
                let object = json
                    .as_object()
                    .ok_or_else(|| wrong(&format!("an object (record {})", record.name)))?;
                if let Some(unknown) = object
                    .keys()
                    .find(|key| !record.fields.iter().any(|f| &f.name == *key))
                {
                    push_field(path, unknown);
                    return Err(format!("not in record {}", record.name));
                }
                let mut fields = Vec::with_capacity(record.fields.len());
                let base = path.len();
                for field in &record.fields {
                    push_field(path, &field.name);
                    let value = match (object.get(&field.name), &field.default) {
                        (Some(value), _) => self.to_value(value, &field.schema, path)?,
                        (None, Some(default)) => self.to_value(default, &field.schema, path)?,
                        (None, None) => return Err("missing (it has no default)".into()),
                    };
                    path.truncate(base);
                    fields.push((field.name.clone(), value));
                }
                Value::Record(fields)
            }
            Schema::Union(union) => {
                let variants = union.variants();
                if json.is_null() {
                    let index = variants
                        .iter()
                        .position(|v| matches!(v, Schema::Null))
                        .ok_or_else(|| wrong("a non-null value"))?;
                    return Ok(Value::Union(index as u32, Box::new(Value::Null)));
                }
                // The specification's form: {"branch name": value}.
                if let Some((name, inner)) = json
                    .as_object()
                    .filter(|o| o.len() == 1)
                    .and_then(|o| o.iter().next())
                {
                    if let Some(index) = variants.iter().position(|v| self.branch_name(v) == *name)
                    {
                        let value = self.to_value(inner, &variants[index], path)?;
                        return Ok(Value::Union(index as u32, Box::new(value)));
                    }
                }
                // A bare value: the first branch that takes it.
                for (index, variant) in variants.iter().enumerate() {
                    if matches!(variant, Schema::Null) {
                        continue;
                    }
                    let base = path.len();
                    if let Ok(value) = self.to_value(json, variant, path) {
                        return Ok(Value::Union(index as u32, Box::new(value)));
                    }
                    path.truncate(base);
                }
                let names: Vec<String> = variants.iter().map(|v| self.branch_name(v)).collect();
                return Err(wrong(&format!("one of {}", names.join(", "))));
            }
            Schema::Ref { .. } => unreachable!("resolved above"),
        })
    }
}

fn push_field(path: &mut String, name: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(name);
}

/// A float as JSON: a number, or a string for the values JSON has no number for.
pub(crate) fn write_float(out: &mut Vec<u8>, x: f64, finite: impl FnOnce(&mut Vec<u8>)) {
    if x.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        });
    } else {
        finite(out);
    }
}

fn int(json: &Json) -> Option<i32> {
    json.as_i64().and_then(|n| i32::try_from(n).ok())
}

fn float(json: &Json) -> Option<f64> {
    match json {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// Bytes as the JSON encoding writes them: one character U+0000-U+00FF per byte.
pub(crate) fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn bytes(json: &Json) -> Option<Vec<u8>> {
    json.as_str()?
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

/// `-1234` with scale 2 → `-12.34`.
fn with_scale(digits: &str, scale: usize) -> String {
    if scale == 0 {
        return digits.to_string();
    }
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", digits),
    };
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    format!("{sign}{whole}.{fraction}")
}

fn decimal_text(json: &Json) -> Option<String> {
    match json {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A decimal string (or JSON number) as its unscaled integer at `scale`, within `precision` digits.
fn unscale(json: &Json, precision: usize, scale: usize) -> Result<BigInt, String> {
    let what = format!("a decimal (precision {precision}, scale {scale}) such as \"12.34\"");
    let text = decimal_text(json).ok_or_else(|| what.clone())?;
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits_only = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) {
        return Err(what);
    }
    if fraction.len() > scale {
        return Err(format!("{what}: more than {scale} decimal places"));
    }
    let digits = format!("{whole}{fraction:0<scale$}");
    let significant = digits.trim_start_matches('0').len();
    if significant > precision {
        return Err(format!("{what}: more than {precision} digits"));
    }
    format!("{sign}{digits}").parse().map_err(|_| what)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Record(_) => "record",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Union(..) => "union",
        Value::Decimal(_) => "decimal",
        _ => "value",
    }
}

/// A JSON value shortened for an error message.
fn show(json: &Json) -> String {
    let text = json.to_string();
    if text.chars().count() <= 60 {
        text
    } else {
        format!("{}...", text.chars().take(57).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
        {"name":"id","type":"long"},
        {"name":"note","type":["null","string"],"default":null},
        {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
        {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"day","type":{"type":"int","logicalType":"date"}},
        {"name":"ref","type":{"type":"string","logicalType":"uuid"}},
        {"name":"raw","type":"bytes"},
        {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"]}},
        {"name":"tags","type":{"type":"map","values":"int"}},
        {"name":"ratio","type":"double"},
        {"name":"ship","type":["null",{"type":"record","name":"Addr","fields":[{"name":"zip","type":"int"}]}]}
    ]}"#;

    fn round_trip(codec: &AvroCodec, json: &str) -> String {
        let body = codec
            .encode_json(&serde_json::from_str(json).unwrap())
            .unwrap();
        let mut out = Vec::new();
        codec.decode_json(&body, &mut out).unwrap();
        let again = codec
            .encode_json(&serde_json::from_slice(&out).unwrap())
            .unwrap();
        assert_eq!(body, again, "the printed JSON encodes to the same bytes");
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_json_mapping_round_trips() {
        let codec = AvroCodec::parse(SCHEMA).unwrap();
        let printed = round_trip(
            &codec,
            r#"{"id":7,"note":{"string":"hi"},"price":"-12.30","at":1700000000000,"day":19000,
               "ref":"123e4567-e89b-12d3-a456-426614174000","raw":"\u0000\u00ff","kind":"B",
               "tags":{"a":1},"ratio":"NaN","ship":{"shop.Addr":{"zip":12345}}}"#,
        );
        assert_eq!(
            printed,
            r#"{"id":7,"note":{"string":"hi"},"price":"-12.30","at":1700000000000,"day":19000,"ref":"123e4567-e89b-12d3-a456-426614174000","raw":"\u0000ÿ","kind":"B","tags":{"a":1},"ratio":"NaN","ship":{"shop.Addr":{"zip":12345}}}"#
        );
    }

    #[test]
    fn bare_union_values_and_defaults_are_accepted() {
        let codec = AvroCodec::parse(SCHEMA).unwrap();
        let printed = round_trip(
            &codec,
            r#"{"id":1,"price":"0.5","at":0,"day":0,"ref":"123e4567-e89b-12d3-a456-426614174000",
               "raw":"","kind":"A","tags":{},"ratio":1.5,"ship":{"zip":1}}"#,
        );
        assert!(printed.contains(r#""note":null"#), "{printed}");
        assert!(printed.contains(r#""price":"0.50""#), "{printed}");
        assert!(
            printed.contains(r#""ship":{"shop.Addr":{"zip":1}}"#),
            "{printed}"
        );
    }

    #[test]
    fn mismatches_name_the_field() {
        let codec = AvroCodec::parse(SCHEMA).unwrap();
        let encode = |json: &str| {
            codec
                .encode_json(&serde_json::from_str(json).unwrap())
                .unwrap_err()
        };
        let good = r#""price":"1","at":0,"day":0,"ref":"123e4567-e89b-12d3-a456-426614174000","raw":"","kind":"A","tags":{},"ratio":1"#;
        assert_eq!(
            encode(&format!(r#"{{"id":"x",{good}}}"#)),
            r#"field id: expected a long, got "x""#
        );
        assert_eq!(
            encode(&format!(r#"{{"id":1,{good},"ship":{{"zip":"z"}}}}"#)),
            r#"field ship: expected one of null, shop.Addr, got {"zip":"z"}"#
        );
        assert_eq!(
            encode(&format!(r#"{{"id":1,{good},"tags":{{"a":"b"}}}}"#)),
            r#"field tags["a"]: expected an int, got "b""#
        );
        assert_eq!(
            encode(&format!(r#"{{"id":1,{good},"extra":1}}"#)),
            "field extra: not in record shop.Order"
        );
        assert_eq!(
            encode(r#"{"id":1}"#),
            "field price: missing (it has no default)"
        );
        assert!(encode(&format!(
            r#"{{"id":1,{}}}"#,
            good.replace(r#""price":"1""#, r#""price":"1.234""#)
        ))
        .contains("more than 2 decimal places"));
    }

    #[test]
    fn undecodable_bodies_are_errors() {
        let codec = AvroCodec::parse(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#,
        )
        .unwrap();
        let mut out = Vec::new();
        assert!(codec
            .decode_json(&[2, 0, 0], &mut out)
            .unwrap_err()
            .contains("left over"));
        assert!(codec.decode_json(&[], &mut out).is_err());
        assert!(out.is_empty());
        codec.decode_json(&[2], &mut out).unwrap();
        assert_eq!(out, br#"{"a":1}"#);
        // A string cut short: apache-avro yields null for it, which is no string.
        let codec = AvroCodec::parse(
            r#"{"type":"record","name":"S","fields":[{"name":"s","type":"string"}]}"#,
        )
        .unwrap();
        let mut out = Vec::new();
        assert!(codec.decode_json(&[6, b'a'], &mut out).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn map_keys_are_printed_sorted() {
        // Avro maps have no order (apache-avro keeps them in a HashMap): sorted output is
        // at least the same on every run.
        let codec = AvroCodec::parse(r#"{"type":"map","values":"int"}"#).unwrap();
        let body = codec
            .encode_json(&serde_json::json!({"b": 2, "c": 3, "a": 1}))
            .unwrap();
        let mut out = Vec::new();
        codec.decode_json(&body, &mut out).unwrap();
        assert_eq!(out, br#"{"a":1,"b":2,"c":3}"#);
    }

    #[test]
    fn scales() {
        assert_eq!(with_scale("-1234", 2), "-12.34");
        assert_eq!(with_scale("5", 3), "0.005");
        assert_eq!(with_scale("-5", 1), "-0.5");
        assert_eq!(with_scale("42", 0), "42");
    }

    use crate::random::Seeded as Random;

    /// A random value of `schema` in the JSON mapping.
    fn random_json(codec: &AvroCodec, schema: &Schema, r: &mut Random, depth: u32) -> Json {
        let schema = codec.resolve(schema).unwrap();
        let text = |r: &mut Random| {
            let pool = ["", "a", "é\"\\\n\u{1}", "日本", "x y"];
            pool[r.pick(pool.len())].repeat(r.pick(3))
        };
        let special = ["NaN", "Infinity", "-Infinity"];
        match schema {
            Schema::Null => Json::Null,
            Schema::Boolean => Json::Bool(r.pick(2) == 0),
            Schema::Int | Schema::Date => serde_json::json!(r.next() as i32 >> r.pick(32)),
            Schema::Long | Schema::TimestampMillis => {
                serde_json::json!(r.next() as i64 >> r.pick(64))
            }
            Schema::Float | Schema::Double if r.pick(5) == 0 => Json::from(special[r.pick(3)]),
            Schema::Float => serde_json::json!(f32::from_bits(r.next() as u32 & 0x7f7f_ffff)),
            Schema::Double => serde_json::json!(f64::from_bits(r.next() & 0x7fef_ffff_ffff_ffff)),
            Schema::String => Json::from(text(r)),
            Schema::Bytes => Json::from(
                (0..r.pick(5))
                    .map(|_| char::from(r.next() as u8))
                    .collect::<String>(),
            ),
            Schema::Fixed(fixed) => Json::from(
                (0..fixed.size)
                    .map(|_| char::from(r.next() as u8))
                    .collect::<String>(),
            ),
            Schema::Enum(e) => Json::from(e.symbols[r.pick(e.symbols.len())].clone()),
            Schema::Array(a) => Json::Array(
                (0..r.pick(4))
                    .map(|_| random_json(codec, &a.items, r, depth + 1))
                    .collect(),
            ),
            Schema::Map(m) => Json::Object(
                (0..r.pick(3))
                    .map(|i| (format!("k{i}"), random_json(codec, &m.types, r, depth + 1)))
                    .collect(),
            ),
            Schema::Union(u) => {
                let branches: Vec<&Schema> = u
                    .variants()
                    .iter()
                    .filter(|b| depth < 3 || matches!(b, Schema::Null))
                    .collect();
                let branch = branches[r.pick(branches.len())];
                match branch {
                    Schema::Null => Json::Null,
                    _ => {
                        serde_json::json!({ codec.branch_name(branch): random_json(codec, branch, r, depth + 1) })
                    }
                }
            }
            Schema::Record(record) => Json::Object(
                record
                    .fields
                    .iter()
                    .map(|f| (f.name.clone(), random_json(codec, &f.schema, r, depth + 1)))
                    .collect(),
            ),
            other => panic!("no random values for {other:?}"),
        }
    }

    #[test]
    fn the_fast_path_prints_what_the_general_path_prints() {
        let codec = AvroCodec::parse(r#"{"type":"record","name":"All","namespace":"t","fields":[
            {"name":"n","type":"null"}, {"name":"b","type":"boolean"}, {"name":"i","type":"int"},
            {"name":"l","type":"long"}, {"name":"f","type":"float"}, {"name":"d","type":"double"},
            {"name":"s","type":"string"}, {"name":"by","type":"bytes"},
            {"name":"fx","type":{"type":"fixed","name":"Four","size":4}},
            {"name":"e","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},
            {"name":"day","type":{"type":"int","logicalType":"date"}},
            {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
            {"name":"list","type":{"type":"array","items":["null","string","Four"]}},
            {"name":"opt","type":["null","long","string","Color"]},
            {"name":"next","type":["null","All"]},
            {"name":"inner","type":{"type":"record","name":"Inner","fields":[{"name":"x","type":"double"}]}},
            {"name":"again","type":"Inner"}
        ]}"#).unwrap();
        let mut r = Random::new(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let json = random_json(&codec, codec.schema, &mut r, 0);
            let body = codec.encode_json(&json).unwrap();
            let (mut fast, mut general) = (Vec::new(), Vec::new());
            assert!(
                codec.fast.as_ref().unwrap().write(&body, &mut fast),
                "{json}"
            );
            codec.decode_json_generally(&body, &mut general).unwrap();
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(general).unwrap()
            );
        }
        // A body cut short, a boolean that is not 0 or 1, a byte left over: the general path
        // says why.
        let body = codec
            .encode_json(&random_json(&codec, codec.schema, &mut r, 0))
            .unwrap();
        for bad in [
            &body[..body.len() - 1],
            &[0, 2][..],
            &[body.as_slice(), &[0]].concat()[..],
        ] {
            let mut out = b"x".to_vec();
            assert!(!codec.fast.as_ref().unwrap().write(bad, &mut out));
            assert_eq!(out, b"x");
            assert!(codec.decode_json(bad, &mut out).is_err());
        }
    }

    #[test]
    fn maps_and_decimals_take_the_general_path() {
        let codec = AvroCodec::parse(SCHEMA).unwrap();
        let body = codec
            .encode_json(&serde_json::from_str(r#"{"id":7,"note":null,"price":"1.00","at":1,"day":1,
               "ref":"123e4567-e89b-12d3-a456-426614174000","raw":"","kind":"A","tags":{},"ratio":0.5,"ship":null}"#).unwrap())
            .unwrap();
        assert!(!codec.fast.as_ref().unwrap().write(&body, &mut Vec::new()));
        let mut out = Vec::new();
        codec.decode_json(&body, &mut out).unwrap();
        assert!(out.starts_with(br#"{"id":7,"note":null,"price":"1.00""#));
    }
}
