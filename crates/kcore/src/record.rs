//! The JSON record format: what kcons prints and `kprod --json` reads. A public
//! contract, documented in README.md ("The record format").
//!
//! ```json
//! {"topic":"t","partition":0,"offset":42,"timestamp":1700000000000,"key":null,"value":"hello","headers":[{"key":"h","value":"v"}]}
//! ```
//!
//! Bytes (keys, values, header values) are a JSON string when they are valid
//! UTF-8, `null` when absent, and otherwise `{"base64":"..."}` (standard alphabet,
//! padded). A string is therefore always literal text and an object always
//! encoded bytes: the encoding is lossless and never ambiguous.

use std::borrow::Cow;
use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

/// Append `bytes` as a JSON value: string, `null`, or `{"base64":"..."}`.
pub fn write_bytes(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => out.extend_from_slice(b"null"),
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => write_str(out, text),
            Err(_) => {
                out.extend_from_slice(b"{\"base64\":\"");
                write_base64(out, bytes);
                out.extend_from_slice(b"\"}");
            }
        },
    }
}

/// Append the standard base64 of `bytes`, encoding straight into the output buffer.
fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    let len = base64::encoded_len(bytes.len(), true).expect("base64 length fits usize");
    out.resize(start + len, 0);
    let written = BASE64
        .encode_slice(bytes, &mut out[start..])
        .expect("buffer sized by encoded_len");
    out.truncate(start + written);
}

/// Append a JSON string literal (quoted and escaped).
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    // serde_json's escaper is fast and exact; writing to a Vec cannot fail.
    serde_json::to_writer(&mut *out, text).expect("writing to a Vec");
}

pub fn write_int(out: &mut Vec<u8>, value: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// One record as kcons prints it, appended to `out` with its newline.
/// `topic_json` is the topic already encoded as a JSON string (it repeats on every line).
#[allow(clippy::too_many_arguments)]
pub fn write_record<'h>(
    out: &mut Vec<u8>,
    topic_json: &[u8],
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: impl IntoIterator<Item = (&'h str, Option<&'h [u8]>)>,
) {
    write_record_head(out, topic_json, partition, offset, timestamp);
    out.extend_from_slice(b"\"key\":");
    write_bytes(out, key);
    out.extend_from_slice(b",\"value\":");
    write_bytes(out, value);
    out.push(b',');
    write_record_tail(out, headers);
}

/// A record's start, up to where its key goes: `{"topic":..,"partition":..,"offset":..,"timestamp":..,`.
pub fn write_record_head(
    out: &mut Vec<u8>,
    topic_json: &[u8],
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
) {
    out.extend_from_slice(b"{\"topic\":");
    out.extend_from_slice(topic_json);
    out.extend_from_slice(b",\"partition\":");
    write_int(out, partition);
    out.extend_from_slice(b",\"offset\":");
    write_int(out, offset);
    out.extend_from_slice(b",\"timestamp\":");
    match timestamp {
        Some(ms) => write_int(out, ms),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b',');
}

/// A record's end after its key and value: `"headers":[...]}` and the newline.
pub fn write_record_tail<'h>(
    out: &mut Vec<u8>,
    headers: impl IntoIterator<Item = (&'h str, Option<&'h [u8]>)>,
) {
    out.extend_from_slice(b"\"headers\":[");
    for (index, (name, value)) in headers.into_iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        write_str(out, name);
        out.extend_from_slice(b",\"value\":");
        write_bytes(out, value);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}\n");
}

/// Bytes as read from JSON: `None` for `null`, borrowed from the line where possible.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Bytes<'a>(pub Option<Cow<'a, [u8]>>);

impl Bytes<'_> {
    pub fn as_deref(&self) -> Option<&[u8]> {
        self.0.as_deref()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BytesVisitor)
    }
}

struct BytesVisitor;

const EXPECTED_BYTES: &str = "a string, null, or {\"base64\": \"...\"}";

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Bytes<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED_BYTES)
    }
    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Bytes(Some(Cow::Borrowed(text.as_bytes()))))
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Bytes(Some(Cow::Owned(text.as_bytes().to_vec()))))
    }
    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Bytes(Some(Cow::Owned(text.into_bytes()))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Bytes(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Bytes(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut decoded = None;
        while let Some(name) = map.next_key::<Cow<'de, str>>()? {
            if name != "base64" || decoded.is_some() {
                return Err(de::Error::custom(format!(
                    "unexpected field `{name}` in an encoded value (expected only \"base64\")"
                )));
            }
            let text: Cow<'de, str> = map.next_value()?;
            let bytes = BASE64
                .decode(text.as_bytes())
                .map_err(|err| de::Error::custom(format!("undecodable base64 ({err})")))?;
            decoded = Some(bytes);
        }
        decoded
            .map(|bytes| Bytes(Some(Cow::Owned(bytes))))
            .ok_or_else(|| de::Error::custom("an encoded value needs a \"base64\" field"))
    }
}

/// A header as read from JSON.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct Header<'a> {
    #[serde(borrow)]
    pub key: Cow<'a, str>,
    #[serde(default, borrow)]
    pub value: Bytes<'a>,
}

/// A field kpipes reads only in some modes: `topic` and `offset`, the record's source
/// position in kcons output, which only `kprod --commit-group` uses. Any JSON value is
/// accepted (elsewhere they are ignored, whatever they hold); it is kept when it has the
/// type the field needs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum Loose<'a> {
    #[default]
    Absent,
    Text(Cow<'a, str>),
    Int(i64),
    /// null, or a value of another type.
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Loose::Text(Cow::Borrowed(text)))
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Loose::Text(Cow::Owned(text.to_string())))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Loose::Int(n))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(n).map_or(Loose::Other, Loose::Int))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }
}

/// One line of `kprod --json` input. `topic` and `offset` (present in kcons output)
/// are accepted whatever they hold and used only by `kprod --commit-group`; unknown
/// fields are ignored, so `jq` may add its own.
#[derive(Debug, Deserialize)]
pub struct JsonRecord<'a> {
    #[serde(default)]
    pub partition: Option<i32>,
    #[serde(default)]
    pub timestamp: Option<i64>,
    #[serde(default, borrow)]
    pub key: Bytes<'a>,
    #[serde(borrow)]
    pub value: Bytes<'a>,
    #[serde(default, borrow)]
    pub headers: Option<Vec<Header<'a>>>,
    #[serde(default, borrow)]
    pub topic: Loose<'a>,
    #[serde(default)]
    pub offset: Loose<'a>,
}

/// Parse one input line; the error says what is wrong in words a user can act on.
pub fn parse_json_record(line: &[u8]) -> Result<JsonRecord<'_>, String> {
    check_object(line)?;
    let record: JsonRecord<'_> = serde_json::from_slice(line).map_err(describe_json_error)?;
    check_fields(&record)?;
    Ok(record)
}

/// A line that is not a JSON object, said so (serde would also accept a struct written as
/// an array; a record is an object).
pub fn check_object(line: &[u8]) -> Result<(), String> {
    match line.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(()),
        None => Err("empty line (expected a JSON object such as {\"value\":\"hello\"})".into()),
        Some(_) if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok() => {
            Err("expected a JSON object such as {\"value\":\"hello\"}".into())
        }
        Some(_) => Ok(()),
    }
}

/// serde_json's error in a user's words, with the column but without "line 1".
pub fn describe_json_error(err: serde_json::Error) -> String {
    let text = match err.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("invalid JSON: {err}")
        }
        _ => err.to_string(),
    };
    // serde_json appends "at line 1 column N"; the line number is ours to give.
    match text.rsplit_once(" at line 1 column ") {
        Some((what, column)) => format!("{what} (column {column})"),
        None => text,
    }
}

/// The checks of a parsed record's fields that JSON types alone do not make.
pub fn check_fields(record: &JsonRecord<'_>) -> Result<(), String> {
    if let Some(partition) = record.partition {
        if partition < 0 {
            return Err(format!("partition must be 0 or more, got {partition}"));
        }
    }
    if let Some(timestamp) = record.timestamp {
        if timestamp < 0 {
            return Err(format!(
                "timestamp must be milliseconds since the epoch (0 or more), got {timestamp}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(bytes: Option<&[u8]>) -> String {
        let mut out = Vec::new();
        write_bytes(&mut out, bytes);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn bytes_encoding() {
        assert_eq!(encode(None), "null");
        assert_eq!(encode(Some(b"hi \"x\"\n")), r#""hi \"x\"\n""#);
        assert_eq!(encode(Some(&[0xff, 0x00, 0x01])), r#"{"base64":"/wAB"}"#);
        assert_eq!(encode(Some(b"")), r#""""#);
    }

    #[test]
    fn record_line_round_trips() {
        let mut out = Vec::new();
        let mut topic = Vec::new();
        write_str(&mut topic, "t");
        let headers: Vec<(&str, Option<&[u8]>)> =
            vec![("a", Some(b"1")), ("a", None), ("b", Some(&[0xfe]))];
        write_record(
            &mut out,
            &topic,
            3,
            42,
            Some(1700),
            None,
            Some(&[0xc3, 0x28]),
            headers,
        );
        let line = String::from_utf8(out.clone()).unwrap();
        assert_eq!(
            line,
            "{\"topic\":\"t\",\"partition\":3,\"offset\":42,\"timestamp\":1700,\"key\":null,\"value\":{\"base64\":\"wyg=\"},\
             \"headers\":[{\"key\":\"a\",\"value\":\"1\"},{\"key\":\"a\",\"value\":null},{\"key\":\"b\",\"value\":{\"base64\":\"/g==\"}}]}\n"
        );
        let parsed = parse_json_record(line.trim_end().as_bytes()).unwrap();
        assert_eq!(parsed.partition, Some(3));
        assert_eq!(parsed.timestamp, Some(1700));
        assert_eq!(parsed.key.as_deref(), None);
        assert_eq!(parsed.value.as_deref(), Some(&[0xc3, 0x28][..]));
        let headers = parsed.headers.unwrap();
        assert_eq!(headers.len(), 3);
        assert_eq!(headers[1].key, "a");
        assert_eq!(headers[1].value.as_deref(), None);
        assert_eq!(headers[2].value.as_deref(), Some(&[0xfe][..]));
    }

    #[test]
    fn smallest_line() {
        let record = parse_json_record(br#"{"value":"hello"}"#).unwrap();
        assert_eq!(record.value.as_deref(), Some(&b"hello"[..]));
        assert_eq!(record.key.as_deref(), None);
        assert!(record.headers.is_none());
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let record = parse_json_record(br#"{"value":"a\u00e9\n","key":"k"}"#).unwrap();
        assert_eq!(record.value.as_deref(), Some("aé\n".as_bytes()));
    }

    #[test]
    fn bad_lines_say_why() {
        assert!(parse_json_record(b"{").unwrap_err().contains("EOF"));
        assert!(parse_json_record(b"not json")
            .unwrap_err()
            .contains("expected"));
        assert!(parse_json_record(br#"{"key":"k"}"#)
            .unwrap_err()
            .contains("missing field `value`"));
        assert!(parse_json_record(br#"{"value":5}"#)
            .unwrap_err()
            .contains("invalid type"));
        assert!(parse_json_record(br#"{"value":{"base64":"!!"}}"#)
            .unwrap_err()
            .contains("base64"));
        assert!(parse_json_record(br#"{"value":{"hex":"00"}}"#)
            .unwrap_err()
            .contains("hex"));
        assert!(parse_json_record(br#"{"value":"v","partition":-1}"#)
            .unwrap_err()
            .contains("partition"));
        assert!(parse_json_record(br#"{"value":"v","partition":"1"}"#)
            .unwrap_err()
            .contains("invalid type"));
        assert!(parse_json_record(br#"{"value":"v","headers":{"a":"b"}}"#)
            .unwrap_err()
            .contains("invalid type"));
        assert!(parse_json_record(br#"{"value":"v","value":"w"}"#)
            .unwrap_err()
            .contains("duplicate"));
        assert!(parse_json_record(br#"[1]"#)
            .unwrap_err()
            .contains("expected a JSON object"));
        assert!(parse_json_record(b"  ").unwrap_err().contains("empty line"));
    }

    #[test]
    fn unknown_and_kcons_fields_are_ignored() {
        let record =
            parse_json_record(br#"{"topic":"x","offset":9,"extra":[1],"value":null}"#).unwrap();
        assert_eq!(record.value.as_deref(), None);
        assert_eq!(record.topic, Loose::Text(Cow::Borrowed("x")));
        assert_eq!(record.offset, Loose::Int(9));
    }

    #[test]
    fn source_fields_of_any_type_are_accepted() {
        for (topic, offset) in [
            (r#"5"#, r#""9""#),
            (r#"null"#, r#"null"#),
            (r#"{"a":[1,{"b":2}]}"#, r#"[1,2]"#),
            (r#"true"#, r#"1.5"#),
            (r#""a\u00e9""#, r#"18446744073709551615"#),
        ] {
            let line = format!(r#"{{"topic":{topic},"offset":{offset},"value":"v"}}"#);
            let record = parse_json_record(line.as_bytes()).unwrap();
            assert_eq!(record.value.as_deref(), Some(&b"v"[..]), "{line}");
            assert!(!matches!(record.offset, Loose::Int(_)), "{line}");
        }
        let record = parse_json_record(br#"{"value":"v"}"#).unwrap();
        assert_eq!(
            (record.topic, record.offset),
            (Loose::Absent, Loose::Absent)
        );
    }
}
