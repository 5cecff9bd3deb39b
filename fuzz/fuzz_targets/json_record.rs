//! The JSON record parser (`kprod --json`, kcore::record::parse_json_record) on any
//! bytes: it never panics, and whatever it accepts, kcons's encoder writes out in a
//! form that parses back to the same record and re-encodes to the same bytes.
//! Arbitrary bytes as a value also survive encoding and parsing unchanged.
#![no_main]

use kcore::record::{parse_json_record, write_bytes, write_record, write_str, JsonRecord};
use libfuzzer_sys::fuzz_target;

/// The record as kcons prints it (partition 0 when the input named none, offset 0).
fn encode(record: &JsonRecord<'_>) -> Vec<u8> {
    let mut topic = Vec::new();
    write_str(&mut topic, "t");
    let headers: Vec<(&str, Option<&[u8]>)> = record
        .headers
        .iter()
        .flatten()
        .map(|h| (h.key.as_ref(), h.value.as_deref()))
        .collect();
    let mut line = Vec::new();
    write_record(
        &mut line,
        &topic,
        record.partition.unwrap_or(0),
        0,
        record.timestamp,
        record.key.as_deref(),
        record.value.as_deref(),
        headers,
    );
    line
}

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = parse_json_record(data) {
        let line = encode(&record);
        let body = line
            .strip_suffix(b"\n")
            .expect("a record line ends with a newline");
        let again = parse_json_record(body).unwrap_or_else(|e| {
            panic!(
                "kcons's encoding of an accepted record does not parse: {e}\n{}",
                String::from_utf8_lossy(body)
            )
        });
        assert_eq!(again.key, record.key);
        assert_eq!(again.value, record.value);
        assert_eq!(again.timestamp, record.timestamp);
        assert_eq!(again.partition, Some(record.partition.unwrap_or(0)));
        assert_eq!(
            again.headers.as_deref().unwrap_or_default(),
            record.headers.as_deref().unwrap_or_default()
        );
        assert_eq!(encode(&again), line, "re-encoding is not stable");
    }

    // Any bytes as a value: written as kcons writes them, read back identical.
    let mut line = b"{\"value\":".to_vec();
    write_bytes(&mut line, Some(data));
    line.push(b'}');
    let record = parse_json_record(&line).expect("an encoded value parses");
    assert_eq!(record.value.as_deref(), Some(data));
});
