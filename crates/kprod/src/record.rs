//! One input line turned into a record: the one place that knows the line formats (plain,
//! `-K`/`-k`, `--json`, schema-encoded `--json`) and what a record may be. Pure: no
//! producer, no I/O beyond the encoder's schema look-ups, so it can be fuzzed and tested
//! on its own ([`Record::from_line`]).

use std::borrow::Cow;

use kcore::record::{parse_json_record, Loose};
use kcore::schema_registry::Encoder;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::BaseRecord;

use crate::limits;

/// How lines become records, settled before any input is read.
#[derive(Default)]
pub struct Rules {
    pub topic: String,
    /// `--json`: each line is a JSON record as kcons prints it.
    pub json: bool,
    /// `-K`: split a plain line into key and value at the first delimiter.
    pub key_delimiter: Option<String>,
    /// `-k`: the same key for every plain line.
    pub key: Option<String>,
    /// `-H`, added after a record's own headers.
    pub fixed_headers: Vec<(String, Vec<u8>)>,
    /// `-Z`: an empty value is null.
    pub null_empty: bool,
    pub ignore_partition: bool,
    pub ignore_timestamp: bool,
    /// The topic's partitions: a record's own partition must be one of them.
    pub partitions: usize,
    /// The topic's `max.message.bytes`, when records are held to it here.
    pub record_limit: Option<usize>,
    /// `--commit-group`: every record needs its source position.
    pub source_position: bool,
}

/// One record's parts, borrowed from the input line where they can be.
pub struct Record<'a> {
    pub key: Option<Cow<'a, [u8]>>,
    pub value: Option<Cow<'a, [u8]>>,
    pub partition: Option<i32>,
    pub timestamp: Option<i64>,
    pub headers: Option<OwnedHeaders>,
    /// `--commit-group`: (topic, partition, offset) of the source record, as kcons
    /// printed them.
    pub position: Option<(String, i32, i64)>,
}

/// A `--json` record's own `topic`, `partition` and `offset`, whatever `--ignore-partition` says.
#[derive(Default)]
pub struct Source<'a> {
    pub topic: Loose<'a>,
    pub partition: Option<i32>,
    pub offset: Loose<'a>,
}

impl<'a> Record<'a> {
    /// The record a line stands for, or why the line is bad input.
    pub fn from_line(
        line: &'a [u8],
        rules: &'a Rules,
        encoder: Option<&Encoder>,
    ) -> Result<Record<'a>, String> {
        let record = if rules.json {
            json_record(line, rules, encoder)?
        } else {
            plain_record(line, rules)
        };
        complete(record, rules)
    }

    /// The record to hand to librdkafka (its headers taken from here), its opaque being
    /// the input line number; `-p` (`fixed_partition`) wins over the record's own partition.
    pub fn to_send<'r>(
        &'r mut self,
        topic: &'r str,
        line_no: u64,
        fixed_partition: Option<i32>,
    ) -> BaseRecord<'r, [u8], [u8], usize> {
        let mut record: BaseRecord<'r, [u8], [u8], usize> =
            BaseRecord::with_opaque_to(topic, line_no as usize);
        record.headers = self.headers.take();
        record.key = self.key.as_deref();
        record.payload = self.value.as_deref();
        record.partition = fixed_partition.or(self.partition);
        record.timestamp = self.timestamp;
        record
    }
}

/// The record with the `-H` headers added and `-Z` applied, or why the topic would refuse
/// it (larger than its `max.message.bytes`).
fn complete<'a>(mut record: Record<'a>, rules: &Rules) -> Result<Record<'a>, String> {
    record.headers = match (record.headers.take(), rules.fixed_headers.is_empty()) {
        (Some(headers), _) => Some(with_fixed_headers(headers, &rules.fixed_headers)),
        (None, false) => Some(with_fixed_headers(
            OwnedHeaders::new(),
            &rules.fixed_headers,
        )),
        (None, true) => None,
    };
    if rules.null_empty && record.value.as_deref().is_some_and(<[u8]>::is_empty) {
        record.value = None;
    }
    if let Some(limit) = rules.record_limit {
        let header_sizes = record
            .headers
            .iter()
            .flat_map(|h| h.iter())
            .map(|h| (h.key, h.value.map_or(0, <[u8]>::len)));
        let size = limits::record_batch_bytes(
            record.key.as_deref().map_or(0, <[u8]>::len),
            record.value.as_deref().map_or(0, <[u8]>::len),
            header_sizes,
        );
        if size > limit {
            return Err(format!(
                "record too large: about {size} bytes with its framing, topic '{}' takes at most {limit} (max.message.bytes)",
                rules.topic
            ));
        }
    }
    Ok(record)
}

/// Split a plain line into key and value as the flags say.
fn plain_record<'a>(line: &'a [u8], rules: &'a Rules) -> Record<'a> {
    let (key, value): (Option<Cow<'a, [u8]>>, &'a [u8]) = match &rules.key_delimiter {
        Some(delim) => match memchr::memmem::find(line, delim.as_bytes()) {
            Some(at) => (Some(Cow::Borrowed(&line[..at])), &line[at + delim.len()..]),
            None => (None, line),
        },
        None => (
            rules.key.as_deref().map(|k| Cow::Borrowed(k.as_bytes())),
            line,
        ),
    };
    Record {
        key,
        value: Some(Cow::Borrowed(value)),
        partition: None,
        timestamp: None,
        headers: None,
        position: None,
    }
}

/// What a `--json` line that is not a record is told (a JSON document meant as the value).
pub const NOT_A_RECORD: &str = "--json reads records as kcons prints them \
({\"key\":...,\"value\":\"...\"}); to send each line (a JSON document) as the value, leave out --json";

/// Whether a line's error is a partition the topic does not have (counted, and told
/// once: see [`crate::reports::Tally::bad_line`]).
pub fn is_no_such_partition(why: &str) -> bool {
    why.starts_with("partition ") && why.contains(" is out of range: ")
}

/// Decode a `--json` line, or say what is wrong with it.
fn json_record<'a>(
    line: &'a [u8],
    rules: &Rules,
    encoder: Option<&Encoder>,
) -> Result<Record<'a>, String> {
    let record = match encoder {
        Some(encoder) => encoder.parse_record(line)?,
        None => parse_json_record(line).map_err(|why| {
            // A JSON document meant as the value, not a record as kcons prints it.
            if why.starts_with("invalid JSON") {
                why
            } else {
                format!("{why}: {NOT_A_RECORD}")
            }
        })?,
    };
    let partition = if rules.ignore_partition {
        None
    } else {
        record.partition
    };
    if let Some(why) =
        partition.and_then(|p| kcore::metadata::partition_out_of_range(p, rules.partitions, None))
    {
        return Err(why);
    }
    let position = if rules.source_position {
        let source = Source {
            topic: record.topic,
            partition: record.partition,
            offset: record.offset,
        };
        let (topic, partition, offset) = source_position(&source)?;
        Some((topic.to_string(), partition, offset))
    } else {
        None
    };
    let headers = record.headers.map(|list| {
        list.iter()
            .fold(OwnedHeaders::new_with_capacity(list.len()), |headers, h| {
                headers.insert(Header {
                    key: &h.key,
                    value: h.value.as_deref(),
                })
            })
    });
    Ok(Record {
        key: record.key.0,
        value: record.value.0,
        partition,
        timestamp: if rules.ignore_timestamp {
            None
        } else {
            record.timestamp
        },
        headers,
        position,
    })
}

/// Headers from the record (or none) followed by the `-H` ones.
fn with_fixed_headers(headers: OwnedHeaders, fixed: &[(String, Vec<u8>)]) -> OwnedHeaders {
    fixed.iter().fold(headers, |headers, (name, value)| {
        headers.insert(Header {
            key: name,
            value: Some(value.as_slice()),
        })
    })
}

/// What the source fields of a `--commit-group` record must be; the position, or what is wrong.
pub fn source_position<'s>(source: &'s Source<'_>) -> Result<(&'s str, i32, i64), String> {
    let topic = match &source.topic {
        Loose::Text(topic) if !topic.is_empty() => Some(topic.as_ref()),
        _ => None,
    };
    let offset = match source.offset {
        Loose::Int(offset) if offset >= 0 => Some(offset),
        _ => None,
    };
    match (topic, source.partition, offset) {
        (Some(topic), Some(partition), Some(offset)) => Ok((topic, partition, offset)),
        (topic, partition, offset) => {
            let missing: Vec<&str> = [
                ("\"topic\" (a string)", topic.is_none()),
                ("\"partition\"", partition.is_none()),
                ("\"offset\" (an integer, 0 or more)", offset.is_none()),
            ]
            .iter()
            .filter(|(_, missing)| *missing)
            .map(|(name, _)| *name)
            .collect();
            Err(format!(
                "no source position: --commit-group needs each record's \"topic\", \"partition\" \
                 and \"offset\" as kcons prints them (missing or wrong: {}); nothing is committed for this line",
                missing.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_position_needs_topic_partition_and_offset() {
        let full = Source {
            topic: Loose::Text(Cow::Borrowed("a")),
            partition: Some(2),
            offset: Loose::Int(41),
        };
        assert_eq!(source_position(&full), Ok(("a", 2, 41)));
        let none = Source::default();
        let why = source_position(&none).unwrap_err();
        assert!(
            why.contains("\"topic\" (a string), \"partition\", \"offset\""),
            "{why}"
        );
        let wrong = Source {
            topic: Loose::Text(Cow::Borrowed("")),
            partition: Some(0),
            offset: Loose::Int(-1),
        };
        let why = source_position(&wrong).unwrap_err();
        assert!(
            why.contains(
                "(missing or wrong: \"topic\" (a string), \"offset\" (an integer, 0 or more))"
            ),
            "{why}"
        );
    }

    fn rules() -> Rules {
        Rules {
            topic: "t".into(),
            partitions: 3,
            ..Rules::default()
        }
    }

    #[test]
    fn a_plain_line_is_split_at_the_first_delimiter_or_keyed_by_k() {
        let split = Rules {
            key_delimiter: Some("::".into()),
            ..rules()
        };
        let record = Record::from_line(b"a::b::c", &split, None).unwrap();
        assert_eq!(record.key.as_deref(), Some(&b"a"[..]));
        assert_eq!(record.value.as_deref(), Some(&b"b::c"[..]));
        let record = Record::from_line(b"no delimiter", &split, None).unwrap();
        assert_eq!(record.key, None);
        assert_eq!(record.value.as_deref(), Some(&b"no delimiter"[..]));
        let keyed = Rules {
            key: Some("k".into()),
            ..rules()
        };
        let record = Record::from_line(b"a::b", &keyed, None).unwrap();
        assert_eq!(record.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(record.value.as_deref(), Some(&b"a::b"[..]));
    }

    #[test]
    fn flags_shape_the_record_and_the_topic_bounds_it() {
        let json = Rules {
            json: true,
            ..rules()
        };
        let why = Record::from_line(br#"{"partition":3,"value":"v"}"#, &json, None).err();
        assert_eq!(
            why.as_deref(),
            Some("partition 3 is out of range: the topic has 3 partition(s), 0-2")
        );
        let ignoring = Rules {
            ignore_partition: true,
            ignore_timestamp: true,
            ..json
        };
        let record = Record::from_line(
            br#"{"partition":3,"timestamp":5,"value":""}"#,
            &ignoring,
            None,
        )
        .unwrap();
        assert_eq!((record.partition, record.timestamp), (None, None));
        assert_eq!(record.value.as_deref(), Some(&b""[..]));
        let tombstones = Rules {
            null_empty: true,
            fixed_headers: vec![("h".into(), b"v".to_vec())],
            ..rules()
        };
        let record = Record::from_line(b"", &tombstones, None).unwrap();
        assert_eq!(record.value, None);
        let headers = record.headers.expect("the -H header");
        assert_eq!((headers.count(), headers.get(0).key), (1, "h"));
        let limited = Rules {
            record_limit: Some(100),
            ..rules()
        };
        assert!(Record::from_line(&[b'x'; 3], &limited, None).is_ok());
        let why = Record::from_line(&[b'x'; 4], &limited, None).err().unwrap();
        assert!(
            why.starts_with("record too large: about 101 bytes"),
            "{why}"
        );
    }

    #[test]
    fn commit_group_records_carry_their_source_position() {
        let group = Rules {
            json: true,
            source_position: true,
            ignore_partition: true,
            ..rules()
        };
        let line = br#"{"topic":"a","partition":7,"offset":41,"value":"v"}"#;
        let record = Record::from_line(line, &group, None).unwrap();
        assert_eq!(record.position, Some(("a".to_string(), 7, 41)));
        // --ignore-partition: the source partition is the source topic's, not one of this one's.
        assert_eq!(record.partition, None);
        let why = Record::from_line(br#"{"value":"v"}"#, &group, None).err();
        assert!(why.unwrap().starts_with("no source position"));
    }
}
