//! Records in the schema registry's wire format: kcons decodes them, kprod --json encodes
//! them, against the real Apicurio Registry that `scripts/test` runs beside the test cluster
//! (`kcluster up --schema-registry`), and checked against Confluent's own Python client
//! (`tests/harness/avro_client.py`), which writes and reads the wire format independently.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kpipes_e2e::*;

/// A payment with the logical types the README documents: decimal, timestamp, date, uuid,
/// bytes, a union.
const PAYMENT_V1: &str = r#"{"type":"record","name":"Payment","namespace":"bank","fields":[
  {"name":"id","type":"long"},
  {"name":"memo","type":["null","string"],"default":null},
  {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
  {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
  {"name":"day","type":{"type":"int","logicalType":"date"}},
  {"name":"ref","type":{"type":"string","logicalType":"uuid"}},
  {"name":"raw","type":"bytes"},
  {"name":"ok","type":"boolean"},
  {"name":"rate","type":"double"}]}"#;

/// Version 2 adds a field with a default (a backward-compatible change).
const USER_V1: &str =
    r#"{"type":"record","name":"User","fields":[{"name":"name","type":"string"}]}"#;
const USER_V2: &str = r#"{"type":"record","name":"User","fields":[{"name":"name","type":"string"},{"name":"age","type":"int","default":0}]}"#;

/// A schema file in a directory that lives as long as the returned guard.
fn schema_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.avsc");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// kcons with the registry: every record of the topic, decoded.
fn decoded_records(topic: &str) -> Vec<Value> {
    run(tool_with_registry("kcons").args([topic, "-e"]))
        .success()
        .json_lines()
}

#[test]
fn records_written_by_confluents_python_serializer_decode_to_the_expected_json() {
    needs_registry!();
    let topic = create_topic(1, &[]);
    let (_dir, schema) = schema_file(PAYMENT_V1);
    run(avro_client("produce", &topic, schema.to_str().unwrap()).write_stdin(concat!(
        r#"{"id": 1, "memo": "rent", "amount": Decimal("-1234.50"), "at": datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc), "day": date(2024, 1, 2), "ref": UUID("123e4567-e89b-12d3-a456-426614174000"), "raw": b"\x00\xff", "ok": True, "rate": 0.25}"#,
        "\n",
        r#"{"id": 2, "memo": None, "amount": Decimal("0.05"), "at": 0, "day": 0, "ref": "00000000-0000-0000-0000-000000000001", "raw": b"", "ok": False, "rate": -1.5}"#,
        "\n"
    )))
    .success();
    let records = decoded_records(&topic);
    assert_eq!(records.len(), 2, "{records:?}");
    let id = records[0]["value_schema_id"].as_i64().expect("a schema id");
    assert_eq!(records[1]["value_schema_id"], json!(id));
    assert_eq!(
        records[0]["value"],
        json!({"id": 1, "memo": {"string": "rent"}, "amount": "-1234.50", "at": 1_700_000_000_000i64,
               "day": 19724, "ref": "123e4567-e89b-12d3-a456-426614174000", "raw": "\u{0}\u{ff}",
               "ok": true, "rate": 0.25})
    );
    assert_eq!(
        records[1]["value"],
        json!({"id": 2, "memo": null, "amount": "0.05", "at": 0, "day": 0,
               "ref": "00000000-0000-0000-0000-000000000001", "raw": "", "ok": false, "rate": -1.5})
    );
    assert!(records
        .iter()
        .all(|r| r.get("value_decode_error").is_none() && r["key"].is_null()));
    // --values: the decoded values alone, one JSON document per line.
    let ran = run(tool_with_registry("kcons").args([&topic, "-e", "--values"])).success();
    let lines: Vec<Value> = ran
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [records[0]["value"].clone(), records[1]["value"].clone()]
    );
}

#[test]
fn records_written_by_kprod_are_read_by_confluents_python_deserializer() {
    needs_registry!();
    let topic = create_topic(1, &[]);
    let (_dir, schema) = schema_file(PAYMENT_V1);
    let input = concat!(
        r#"{"key":"k1","value":{"id":7,"memo":{"string":"café"},"amount":"12.30","at":1700000000000,"day":19724,"ref":"123e4567-e89b-12d3-a456-426614174000","raw":"\u0001\u00fe","ok":true,"rate":1e-3}}"#,
        "\n",
        // A bare union value and a default left out are accepted too.
        r#"{"value":{"id":8,"amount":"-0.5","at":0,"day":1,"ref":"00000000-0000-0000-0000-000000000002","raw":"","ok":false,"rate":2}}"#,
        "\n",
        r#"{"value":{"id":9,"memo":"bare","amount":"1","at":5,"day":2,"ref":"00000000-0000-0000-0000-000000000003","raw":"x","ok":true,"rate":0}}"#,
        "\n",
    );
    let schema_arg = schema.to_str().unwrap();
    let reports = run(tool_with_registry("kprod")
        .args(["--json", &topic, "--value-schema-file", schema_arg])
        .write_stdin(input))
    .success()
    .json_lines();
    assert_eq!(reported_lines(&reports), [1, 2, 3]);
    let ran = run(&mut avro_client("consume", &topic, "3")).success();
    let read: Vec<Value> = ran
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        read,
        [
            json!({"id": 7, "memo": "café", "amount": "12.30", "at": "2023-11-14 22:13:20+00:00",
                   "day": "2024-01-02", "ref": "123e4567-e89b-12d3-a456-426614174000",
                   "raw": "b'\\x01\\xfe'", "ok": true, "rate": 0.001}),
            json!({"id": 8, "memo": null, "amount": "-0.50", "at": "1970-01-01 00:00:00+00:00",
                   "day": "1970-01-02", "ref": "00000000-0000-0000-0000-000000000002",
                   "raw": "b''", "ok": false, "rate": 2.0}),
            json!({"id": 9, "memo": "bare", "amount": "1.00", "at": "1970-01-01 00:00:00.005000+00:00",
                   "day": "1970-01-03", "ref": "00000000-0000-0000-0000-000000000003",
                   "raw": "b'x'", "ok": true, "rate": 0.0}),
        ]
    );
    // The key was no JSON for a schema (the topic has no key subject): sent as its bytes.
    assert_eq!(records(&topic)[0]["key"], json!("k1"));
}

#[test]
fn a_reader_sees_the_records_of_two_schema_versions() {
    needs_registry!();
    let topic = create_topic(1, &[]);
    let (_d1, v1) = schema_file(USER_V1);
    let (_d2, v2) = schema_file(USER_V2);
    run(tool_with_registry("kprod")
        .args([
            "--json",
            "-q",
            &topic,
            "--value-schema-file",
            v1.to_str().unwrap(),
        ])
        .write_stdin("{\"value\":{\"name\":\"ann\"}}\n"))
    .success();
    run(tool_with_registry("kprod")
        .args([
            "--json",
            "-q",
            &topic,
            "--value-schema-file",
            v2.to_str().unwrap(),
        ])
        .write_stdin("{\"value\":{\"name\":\"bob\",\"age\":41}}\n"))
    .success();
    // Without schema flags, kprod encodes with the subject's latest version (v2).
    run(tool_with_registry("kprod")
        .args(["--json", "-q", &topic])
        .write_stdin("{\"value\":{\"name\":\"cy\"}}\n"))
    .success();
    let records = decoded_records(&topic);
    let seen: Vec<(Value, Value)> = records
        .iter()
        .map(|r| (r["value"].clone(), r["value_schema_id"].clone()))
        .collect();
    let (id1, id2) = (seen[0].1.clone(), seen[1].1.clone());
    assert_ne!(id1, id2, "two versions, two ids: {records:?}");
    assert_eq!(
        seen,
        [
            (json!({"name": "ann"}), id1),
            (json!({"name": "bob", "age": 41}), id2.clone()),
            (json!({"name": "cy", "age": 0}), id2),
        ]
    );
}

#[test]
fn an_unreachable_registry_is_one_error_line_and_exit_5_in_bounded_time() {
    needs_registry!();
    let topic = create_topic(1, &[]);
    kprod(&[&topic], "plain\n").success();
    // Nothing listens: refused at once. The password in the URL is never shown.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://user:s3cret@127.0.0.1:{closed}/apis/ccompat/v7");
    for name in ["kcons", "kprod"] {
        let mut cmd = tool(name);
        match name {
            "kcons" => cmd.args([&topic, "-e"]),
            _ => cmd
                .args(["--json", &topic])
                .write_stdin("{\"value\":\"x\"}\n"),
        };
        let started = Instant::now();
        let ran = run(cmd.args(["--schema-registry", &url]))
            .code_is(5)
            .one_error_line(name)
            .stderr_has(&format!(
                "schema registry http://127.0.0.1:{closed}/apis/ccompat/v7 cannot be reached"
            ));
        assert!(!ran.stderr().contains("s3cret"), "{}", ran.stderr());
        assert!(ran.stdout().is_empty(), "{}", ran.stdout());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
    // A registry that accepts connections but never answers: kcons gives up after --timeout.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = Instant::now();
    run(tool("kcons").args([
        &topic,
        "-e",
        "--timeout",
        "2",
        "--schema-registry",
        &format!("http://127.0.0.1:{port}"),
    ]))
    .code_is(5)
    .one_error_line("kcons")
    .stderr_has("did not answer within 2 s");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
}

#[test]
fn bytes_that_do_not_decode_are_printed_as_they_are_with_a_reason() {
    needs_registry!();
    let topic = create_topic(1, &[]);
    let (_dir, schema) = schema_file(USER_V1);
    run(tool_with_registry("kprod")
        .args([
            "--json",
            "-q",
            &topic,
            "--value-schema-file",
            schema.to_str().unwrap(),
        ])
        .write_stdin("{\"value\":{\"name\":\"ann\"}}\n"))
    .success();
    // On the same topic: plain text, binary that is not the wire format, a schema id the
    // registry does not have, and a known id with a body that is not its encoding.
    let id = decoded_records(&topic)[0]["value_schema_id"]
        .as_i64()
        .unwrap() as u32;
    let mut known_bad_body = vec![0];
    known_bad_body.extend_from_slice(&id.to_be_bytes());
    known_bad_body.extend_from_slice(&[0x06, b'a']);
    let lines = [
        json!({"value": "plain"}),
        json!({"value": encoded(Some(&[0xff, 0x00, 0x01]))}),
        json!({"value": encoded(Some(&[0, 0x7f, 0xff, 0xff, 0xfe, 2, b'x']))}),
        json!({"value": encoded(Some(&known_bad_body))}),
    ];
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    kprod(&["--json", "-q", &topic], input).success();

    let ran = run(tool_with_registry("kcons").args([&topic, "-e"]))
        .success()
        .stderr_has("kcons: warning: 4 keys or values not decoded");
    let records = ran.json_lines();
    assert_eq!(records.len(), 5, "nothing dropped: {records:?}");
    assert_eq!(records[0]["value"], json!({"name": "ann"}));
    let undecoded: Vec<(Value, String)> = records[1..]
        .iter()
        .map(|r| {
            assert!(r.get("value_schema_id").is_none(), "{r}");
            (
                r["value"].clone(),
                r["value_decode_error"]
                    .as_str()
                    .unwrap_or("(none)")
                    .to_string(),
            )
        })
        .collect();
    let not_wire = "not in the schema registry's wire format (byte 0 and a 4-byte schema id first)";
    assert_eq!(undecoded[0], (json!("plain"), not_wire.to_string()));
    assert_eq!(
        undecoded[1],
        (encoded(Some(&[0xff, 0x00, 0x01])), not_wire.to_string())
    );
    assert_eq!(
        undecoded[2].0,
        encoded(Some(&[0, 0x7f, 0xff, 0xff, 0xfe, 2, b'x']))
    );
    assert!(
        undecoded[2]
            .1
            .starts_with("schema 2147483646 is not in the registry"),
        "{}",
        undecoded[2].1
    );
    assert_eq!(undecoded[3].0, encoded(Some(&known_bad_body)));
    assert!(
        undecoded[3].1.starts_with(&format!("schema {id}: ")),
        "{}",
        undecoded[3].1
    );
    // Lossless: what was printed goes back as the same bytes.
    for (record, line) in records[1..].iter().zip(&lines) {
        assert_eq!(decoded(&record["value"]), decoded(&line["value"]));
    }
}

#[test]
fn a_value_that_does_not_match_its_schema_is_bad_input_naming_line_and_field() {
    needs_registry!();
    let topic = create_topic(1, &[]);
    let (_dir, schema) = schema_file(USER_V2);
    let input = concat!(
        "{\"value\":{\"name\":\"ann\",\"age\":1}}\n",
        "{\"value\":{\"name\":\"bob\",\"age\":\"old\"}}\n",
        "{\"value\":{\"nom\":\"cy\"}}\n",
        "{\"value\":{\"name\":\"dee\"}}\n",
    );
    let ran = run(tool_with_registry("kprod")
        .args([
            "--json",
            &topic,
            "--value-schema-file",
            schema.to_str().unwrap(),
        ])
        .write_stdin(input))
    .code_is(3);
    let id = decoded_records(&topic)[0]["value_schema_id"].clone();
    let stderr = ran.stderr();
    assert!(
        stderr.contains(&format!(
            "kprod: error: line 2: value does not match schema {id}: field age: expected an int, got \"old\""
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "kprod: error: line 3: value does not match schema {id}: field nom: not in record User"
        )),
        "{stderr}"
    );
    assert_eq!(reported_lines(&ran.json_lines()), [1, 4]);
    let names: Vec<Value> = decoded_records(&topic)
        .iter()
        .map(|r| r["value"].clone())
        .collect();
    assert_eq!(
        names,
        [
            json!({"name": "ann", "age": 1}),
            json!({"name": "dee", "age": 0})
        ]
    );
}

#[test]
fn a_copy_through_kcons_and_kprod_keeps_every_byte_and_schema_id() {
    needs_registry!();
    let (from, to) = (create_topic(1, &[]), create_topic(1, &[]));
    let (_d1, v1) = schema_file(USER_V1);
    let (_d2, v2) = schema_file(USER_V2);
    let (_d3, payment) = schema_file(PAYMENT_V1);
    // Two versions of the value schema, keys with a schema of their own, and raw records.
    let key_schema = r#"{"type":"record","name":"Key","fields":[{"name":"k","type":"long"}]}"#;
    let (_d4, key) = schema_file(key_schema);
    run(tool_with_registry("kprod")
        .args(["--json", "-q", &from, "--value-schema-file", v1.to_str().unwrap()])
        .args(["--key-schema-file", key.to_str().unwrap()])
        .write_stdin("{\"key\":{\"k\":1},\"value\":{\"name\":\"ann\"},\"headers\":[{\"key\":\"h\",\"value\":\"1\"}]}\n"))
    .success();
    run(tool_with_registry("kprod")
        .args([
            "--json",
            "-q",
            &from,
            "--value-schema-file",
            v2.to_str().unwrap(),
        ])
        .write_stdin(
            "{\"key\":{\"k\":2},\"value\":{\"name\":\"bob\",\"age\":3}}\n{\"value\":null}\n",
        ))
    .success();
    // Another schema altogether (a third version of the subject), by Confluent's serializer.
    run(avro_client("produce", &from, payment.to_str().unwrap()).write_stdin(
        "{\"id\": 3, \"memo\": \"m\", \"amount\": Decimal(\"9.99\"), \"at\": 1, \"day\": 2, \"ref\": UUID(\"123e4567-e89b-12d3-a456-426614174000\"), \"raw\": b\"\\x00\", \"ok\": True, \"rate\": 0.5}\n",
    ))
    .success();
    kprod(
        &["--json", "-q", &from],
        "{\"value\":{\"base64\":\"AAAAAAAA\"}}\n{\"key\":\"text\",\"value\":\"plain\"}\n",
    )
    .success();

    let copied = run(tool_with_registry("kcons").args([&from, "-e"]))
        .success()
        .stdout();
    let decoded_lines: Vec<Value> = copied
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        decoded_lines[0]["key_schema_id"].is_i64(),
        "{}",
        decoded_lines[0]
    );
    run(tool_with_registry("kprod")
        .args(["--json", "-q", &to])
        .write_stdin(copied))
    .success();

    // Compared as bytes, read without the registry.
    let (a, b) = (records(&from), records(&to));
    assert_eq!(a.len(), 6);
    let bytes = |list: &[Value]| -> Vec<Value> {
        list.iter()
            .map(|r| json!([r["key"], r["value"], r["headers"], r["timestamp"]]))
            .collect()
    };
    assert_eq!(bytes(&a), bytes(&b));
}

#[test]
fn kcluster_reports_the_registry_it_runs() {
    needs_registry!();
    let ran = run(kcluster(&test_cluster()).arg("status")).success();
    let lines = ran.json_lines();
    let registry = lines
        .iter()
        .find(|l| l["role"] == "schema-registry")
        .unwrap_or_else(|| panic!("no schema-registry line: {lines:?}"));
    assert_eq!(registry["state"], "up");
    assert_eq!(registry["address"], json!(schema_registry()));
    assert!(registry["pid"].is_i64(), "{registry}");
}
