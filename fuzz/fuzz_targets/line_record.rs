//! kprod's line-to-record step (kprod::record::Record::from_line) on any bytes, under
//! rules picked by the first byte (plain or --json, -K, -k, -H, -Z, the ignore flags,
//! a record size limit, --commit-group): it never panics; an accepted record is within
//! the limit, and a plain line's key and value are the line's own bytes.
#![no_main]

use kprod::record::{Record, Rules};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, line)) = data.split_first() else {
        return;
    };
    let bit = |n: u8| flags & (1 << n) != 0;
    let rules = Rules {
        topic: "t".into(),
        json: bit(0),
        key_delimiter: (bit(1) && !bit(0)).then(|| ":".into()),
        key: (bit(2) && !bit(1) && !bit(0)).then(|| "k".into()),
        fixed_headers: if bit(3) {
            vec![("h".into(), b"v".to_vec())]
        } else {
            Vec::new()
        },
        null_empty: bit(4),
        ignore_partition: bit(5),
        ignore_timestamp: bit(5),
        partitions: 3,
        record_limit: bit(6).then_some(200),
        source_position: bit(7) && bit(0),
    };
    let Ok(record) = Record::from_line(line, &rules, None) else {
        return;
    };
    let key = record.key.as_deref().map_or(0, <[u8]>::len);
    let value = record.value.as_deref().map_or(0, <[u8]>::len);
    if rules.record_limit.is_some() {
        assert!(key + value <= 200, "a record over the limit was accepted");
    }
    if !rules.json {
        assert!(key + value <= line.len() || rules.key.is_some());
        assert!(record.partition.is_none() && record.position.is_none());
    } else if let Some(p) = record.partition {
        assert!(
            (0..3).contains(&p),
            "partition {p} accepted for a topic of 3"
        );
    }
    assert_eq!(record.position.is_some(), rules.source_position);
});
