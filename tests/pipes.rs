//! Round trips through the pipes (kcons | kprod) and interoperability with kcat,
//! a client that is not ours, in both directions.

use std::collections::BTreeMap;
use std::time::Duration;

use kpipes_e2e::*;

fn kcat(args: &[&str], input: impl Into<Vec<u8>>) -> Ran {
    run(kpipes_e2e::kcat()
        .arg("-b")
        .arg(brokers())
        .args(args)
        .write_stdin(input.into())
        .timeout(Duration::from_secs(60)))
}

/// Bytes of one of several shapes: text, multi-byte text, random bytes (rarely UTF-8), empty.
fn some_bytes(rng: &mut Rng) -> Vec<u8> {
    match rng.below(5) {
        0 => format!("text-{}", rng.below(1000)).into_bytes(),
        1 => "é☃\u{1F980} \"quoted\"\n\t\\".as_bytes().to_vec(),
        2 => Vec::new(),
        3 => vec![0xc3, 0x28, 0x00, 0xff],
        _ => rng.bytes(64),
    }
}

/// Bytes as `kprod --json` input: a string when UTF-8 (sometimes base64 anyway), else base64.
fn as_input(rng: &mut Rng, bytes: Option<&[u8]>) -> Value {
    match bytes {
        Some(b) if rng.below(3) == 0 => json!({"base64": base64(b)}),
        other => encoded(other),
    }
}

#[test]
fn json_round_trip_is_lossless() {
    needs_cluster!();
    let mut rng = Rng::seeded();
    let a = create_topic(4, &[]);
    let b = create_topic(4, &[]);
    let mut input = String::new();
    // Per partition, the records as kcons must show them (without topic and offset), in order.
    let mut expected: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    let count = 300;
    for i in 0..count {
        let partition = rng.below(4) as i64;
        let key = (rng.below(5) != 0).then(|| some_bytes(&mut rng));
        let value = (rng.below(8) != 0).then(|| some_bytes(&mut rng));
        let timestamp =
            (rng.below(4) != 0).then(|| 1_500_000_000_000 + rng.below(100_000_000_000) as i64);
        let mut headers_in = Vec::new();
        let mut headers_out = Vec::new();
        for _ in 0..rng.below(5) {
            let name = ["h", "dup", "x-ü", ""][rng.below(4) as usize];
            let v = (rng.below(4) != 0).then(|| some_bytes(&mut rng));
            headers_in.push(json!({"key": name, "value": as_input(&mut rng, v.as_deref())}));
            headers_out.push(json!({"key": name, "value": encoded(v.as_deref())}));
        }
        let mut line =
            json!({"value": as_input(&mut rng, value.as_deref()), "partition": partition});
        if key.is_some() || rng.below(2) == 0 {
            line["key"] = as_input(&mut rng, key.as_deref());
        }
        if let Some(ts) = timestamp {
            line["timestamp"] = json!(ts);
        }
        if !headers_in.is_empty() || rng.below(2) == 0 {
            line["headers"] = json!(headers_in);
        }
        input.push_str(&line.to_string());
        input.push('\n');
        expected.entry(partition).or_default().push(json!({
            "partition": partition,
            "timestamp": timestamp.map_or(Value::Null, |t| json!(t)),
            "key": encoded(key.as_deref()),
            "value": encoded(value.as_deref()),
            "headers": headers_out,
            "line": i + 1,
        }));
    }
    let reports = kprod(&["--json", &a], input).success().json_lines();
    assert_eq!(reports.len(), count);

    let first = run(tool("kcons").args([&a, "-e"])).success();
    let in_a = by_position(first.json_lines());
    assert_eq!(in_a.len(), count);
    // What kcons shows is what was written: per partition in input order, at the reported offsets.
    let reported: BTreeMap<i64, (i64, i64)> = reports
        .iter()
        .map(|r| {
            (
                r["line"].as_i64().unwrap(),
                (
                    r["partition"].as_i64().unwrap(),
                    r["offset"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    for (partition, wanted) in &expected {
        let got: Vec<&Value> = in_a
            .iter()
            .filter(|r| r["partition"] == json!(partition))
            .collect();
        assert_eq!(got.len(), wanted.len(), "partition {partition}");
        for (offset, (got, want)) in got.iter().zip(wanted).enumerate() {
            let line = want["line"].as_i64().unwrap();
            assert_eq!(
                reported[&line],
                (*partition, offset as i64),
                "line {line}'s report"
            );
            let mut want = want.clone();
            want.as_object_mut().unwrap().remove("line");
            let mut got = content(got);
            if want["timestamp"].is_null() {
                // The producer's clock: any time, but a time.
                assert!(got["timestamp"].as_i64().is_some_and(|t| t > 0), "{got}");
                got["timestamp"] = Value::Null;
            }
            assert_eq!(
                got, want,
                "partition {partition} offset {offset} (input line {line})"
            );
        }
    }

    // kcons a | kprod --json b: the same records, down to partitions and offsets.
    kprod(&["--json", "-q", &b], first.output.stdout.clone()).success();
    let in_b = by_position(kcons_e(&[&b]));
    assert_eq!(in_b.len(), count);
    for (x, y) in in_a.iter().zip(&in_b) {
        assert_eq!(y["topic"], json!(b));
        assert_eq!(x["offset"], y["offset"]);
        assert_eq!(content(x), content(y));
    }
}

#[test]
fn values_pipe_into_line_mode() {
    needs_cluster!();
    let a = create_topic(1, &[]);
    let b = create_topic(1, &[]);
    kprod(&["-q", &a], "one\n\nthree\n").success();
    let out = run(tool("kcons").args([&a, "-e", "--values"])).success();
    kprod(&["-q", &b], out.output.stdout.clone()).success();
    assert_eq!(
        values(&records(&b)),
        vec![json!("one"), json!(""), json!("three")]
    );
}

#[test]
fn kcat_writes_kcons_reads() {
    needs_cluster!();
    let topic = create_topic(3, &[]);
    let mut input = b"k1:v1\nk2:with:colons\nk3:".to_vec();
    input.extend_from_slice(&[0xff, 0xfe, b'\n']);
    kcat(
        &[
            "-P", "-t", &topic, "-K:", "-H", "a=b", "-H", "a=c", "-H", "n=", "-p", "1",
        ],
        input,
    )
    .success();
    let got = records(&topic);
    let headers =
        json!([{"key": "a", "value": "b"}, {"key": "a", "value": "c"}, {"key": "n", "value": ""}]);
    let shown: Vec<Value> = got
        .iter()
        .map(|r| {
            json!([
                r["partition"],
                r["offset"],
                r["key"],
                r["value"],
                r["headers"]
            ])
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            json!([1, 0, "k1", "v1", headers]),
            json!([1, 1, "k2", "with:colons", headers]),
            json!([1, 2, "k3", {"base64": "//4="}, headers]),
        ]
    );
}

#[test]
fn kprod_writes_kcat_reads() {
    needs_cluster!();
    let topic = create_topic(3, &[]);
    kprod(
        &[
            "-q", "-K", ":", "-H", "x=1", "-H", "y=2", "-H", "x=3", "-p", "2", &topic,
        ],
        "k1:v1\nno key\n:empty key\n",
    )
    .success();
    kprod(
        &["-q", "--json", &topic],
        "{\"key\":\"j\",\"value\":null,\"partition\":0,\"timestamp\":1600000000000}\n",
    )
    .success();
    let out = kcat(&["-C", "-e", "-J", "-t", &topic], "").success();
    let mut got: Vec<Value> = out
        .stdout()
        .lines()
        .map(|l| {
            let r: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("kcat -J line ({e}): {l}"));
            json!([
                r["partition"],
                r["offset"],
                r["key"],
                r["payload"],
                r.get("headers").cloned().unwrap_or(Value::Null)
            ])
        })
        .collect();
    got.sort_by_key(|r| (r[0].as_i64(), r[1].as_i64()));
    let headers = json!(["x", "1", "y", "2", "x", "3"]);
    assert_eq!(
        got,
        vec![
            json!([0, 0, "j", null, null]),
            json!([2, 0, "k1", "v1", headers]),
            json!([2, 1, null, "no key", headers]),
            json!([2, 2, "", "empty key", headers]),
        ]
    );
    let ts = kcat(&["-C", "-e", "-J", "-t", &topic, "-p", "0"], "")
        .success()
        .stdout();
    let ts: Value = serde_json::from_str(ts.lines().next().unwrap()).unwrap();
    assert_eq!(ts["ts"], json!(1_600_000_000_000i64), "{ts}");
}

/// Kafka's Java client's murmur2 (org.apache.kafka.common.utils.Utils.murmur2).
fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes(chunk.try_into().unwrap());
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() == 3 {
        h ^= (tail[2] as u32) << 16;
    }
    if tail.len() >= 2 {
        h ^= (tail[1] as u32) << 8;
    }
    if !tail.is_empty() {
        h ^= tail[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

#[test]
fn keyed_records_land_where_the_java_client_puts_them() {
    needs_cluster!();
    let ours = create_topic(6, &[]);
    let theirs = create_topic(6, &[]);
    let input: String = (0..60).map(|i| format!("key-{i}:v{i}\n")).collect();
    kprod(&["-q", "-K", ":", &ours], input.clone()).success();
    kcat(
        &[
            "-P",
            "-t",
            &theirs,
            "-K:",
            "-X",
            "partitioner=murmur2_random",
        ],
        input,
    )
    .success();
    let placement = |topic: &str| -> BTreeMap<String, i64> {
        records(topic)
            .iter()
            .map(|r| {
                (
                    r["key"].as_str().unwrap().to_string(),
                    r["partition"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let ours = placement(&ours);
    assert_eq!(ours.len(), 60);
    for (key, partition) in &ours {
        assert_eq!(
            *partition,
            ((murmur2(key.as_bytes()) & 0x7fff_ffff) % 6) as i64,
            "key {key}"
        );
    }
    assert_eq!(
        ours,
        placement(&theirs),
        "kcat with the Java client's partitioner agrees"
    );
}
