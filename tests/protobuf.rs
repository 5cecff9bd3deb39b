//! Protobuf and JSON Schema records, through the schema registry (the real Apicurio
//! Registry `scripts/test` runs beside the test cluster) and from local `.proto` files,
//! checked against Confluent's own Python serializers and deserializers
//! (`tests/harness/schema_client.py`) in both directions: schema references (an import
//! registered as another subject), nested types, well-known types, two schema versions,
//! a schema's second message type, keys and values in different formats; byte-identical
//! round trips through `kcons | kprod --json`; records that cannot be decoded kept whole.

use std::path::{Path, PathBuf};

use kpipes_e2e::*;

const MONEY: &str = r#"syntax = "proto3";
package common;
message Money { string currency = 1; int64 units = 2; }
"#;

/// The order schema; `extra` adds fields to Order (a second version).
fn order_proto(extra: &str) -> String {
    format!(
        r#"syntax = "proto3";
package shop;
import "common/money.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/duration.proto";
message Order {{
  int64 id = 1;
  string item = 2;
  common.Money price = 3;
  Status status = 4;
  google.protobuf.Timestamp at = 5;
  bytes tag = 6;
  message Line {{ string sku = 1; uint32 qty = 2; }}
  repeated Line lines = 7;
  google.protobuf.Duration wait = 8;
  {extra}
}}
enum Status {{ NEW = 0; PAID = 1; }}
message Refund {{ string order = 1; sint64 cents = 2; }}
"#
    )
}

const KEY_SCHEMA: &str = r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"customer":{"type":"string"}},"required":["customer"]}"#;

/// A directory with common/money.proto and shop/order.proto.
fn proto_dir(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("common")).unwrap();
    std::fs::create_dir_all(dir.path().join("shop")).unwrap();
    std::fs::write(dir.path().join("common/money.proto"), MONEY).unwrap();
    std::fs::write(dir.path().join("shop/order.proto"), order_proto(extra)).unwrap();
    dir
}

fn protobuf_part(dir: &Path, message: &str) -> Value {
    json!({"format": "protobuf", "dir": dir, "file": "shop/order.proto", "message": message})
}

fn spec(value: Value) -> Value {
    json!({"key": {"format": "json", "schema": KEY_SCHEMA}, "value": value})
}

fn lines(records: &[Value]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}

fn python_produce(topic: &str, spec: &Value, records: &[Value]) {
    run(schema_client("produce", topic, spec, None).write_stdin(lines(records))).success();
}

fn python_consume(topic: &str, spec: &Value, count: usize) -> Vec<Value> {
    run(&mut schema_client("consume", topic, spec, Some(count)))
        .success()
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn decoded_records(topic: &str) -> Vec<Value> {
    run(tool_with_registry("kcons").args([topic, "-e"]))
        .success()
        .json_lines()
}

/// The records as they are on the topic: keys and values as kcons prints bytes.
fn raw(topic: &str) -> Vec<(Value, Value)> {
    records(topic)
        .iter()
        .map(|r| (r["key"].clone(), r["value"].clone()))
        .collect()
}

fn orders() -> Vec<Value> {
    vec![
        json!({"key": {"customer": "ann"}, "value": {"id": "9007199254740993", "item": "book",
            "price": {"currency": "EUR", "units": "12"}, "status": "PAID",
            "at": "2024-01-02T03:04:05Z", "tag": "AAH/", "lines": [{"sku": "a", "qty": 2}, {"sku": "b"}],
            "wait": "1.500s"}}),
        json!({"key": null, "value": {"id": "2"}}),
    ]
}

/// Python writes orders (v1), a refund (the schema's 2nd message type) and an order of v2;
/// the topic's name.
fn topic_written_by_python() -> (String, Vec<Value>) {
    let topic = create_topic(1, &[]);
    let v1 = proto_dir("");
    let v2 = proto_dir("string note = 9;");
    python_produce(
        &topic,
        &spec(protobuf_part(v1.path(), "shop.Order")),
        &orders(),
    );
    let refund = json!({"key": {"customer": "bob"}, "value": {"order": "o1", "cents": "-5"}});
    python_produce(
        &topic,
        &spec(protobuf_part(v1.path(), "shop.Refund")),
        std::slice::from_ref(&refund),
    );
    let newer = json!({"key": {"customer": "cy"}, "value": {"id": "3", "note": "v2"}});
    python_produce(
        &topic,
        &spec(protobuf_part(v2.path(), "shop.Order")),
        std::slice::from_ref(&newer),
    );
    let mut sent = orders();
    sent.extend([refund, newer]);
    (topic, sent)
}

#[test]
fn protobuf_written_by_pythons_serializer_decodes_to_its_canonical_json() {
    needs_registry!();
    let (topic, sent) = topic_written_by_python();
    let got = decoded_records(&topic);
    assert_eq!(got.len(), 4, "{got:?}");
    for (record, sent) in got.iter().zip(&sent) {
        assert_eq!(record["value"], sent["value"], "{record}");
        assert_eq!(record["key"], sent["key"], "{record}");
        assert!(record.get("value_decode_error").is_none(), "{record}");
        assert!(record["value_schema_id"].is_u64(), "{record}");
    }
    let ids: Vec<&Value> = got.iter().map(|r| &r["value_schema_id"]).collect();
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[1], ids[2], "the refund is in the same schema");
    assert_ne!(ids[2], ids[3], "v2 is another schema");
    assert_eq!(got[2]["value_message_type"], json!("shop.Refund"));
    assert!(got[0].get("value_message_type").is_none());
    assert!(got[0]["key_schema_id"].is_u64());
    assert_ne!(got[0]["key_schema_id"], got[0]["value_schema_id"]);
    // --values: the decoded values alone.
    let ran = run(tool_with_registry("kcons").args([&topic, "-e", "--values"])).success();
    let values: Vec<Value> = ran
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        values,
        sent.iter().map(|s| s["value"].clone()).collect::<Vec<_>>()
    );
}

#[test]
fn protobuf_round_trips_through_kcons_and_kprod_byte_for_byte() {
    needs_registry!();
    let (topic, _) = topic_written_by_python();
    let copy = create_topic(1, &[]);
    let printed = run(tool_with_registry("kcons").args([&topic, "-e"])).success();
    run(tool_with_registry("kprod")
        .args(["--json", "-q", &copy])
        .write_stdin(printed.stdout()))
    .success();
    assert_eq!(raw(&copy), raw(&topic));
}

#[test]
fn protobuf_written_by_kprod_is_read_by_pythons_deserializer() {
    needs_registry!();
    let (registered, _) = topic_written_by_python();
    let v1 = proto_dir("");
    let first = decoded_records(&registered);
    let id = first[0]["value_schema_id"].to_string();
    let topic = create_topic(1, &[]);
    let input = lines(&orders());
    run(tool_with_registry("kprod")
        .args(["--json", "-q", &topic, "--value-schema-id", &id])
        .args(["--key-subject", &format!("{registered}-key")])
        .write_stdin(input))
    .success();
    let read = python_consume(&topic, &spec(protobuf_part(v1.path(), "shop.Order")), 2);
    assert_eq!(read, orders());

    // A value that does not fit is bad input naming its line and field; nothing is sent for it.
    let bad = create_topic(1, &[]);
    let ran = run(tool_with_registry("kprod")
        .args(["--json", "-q", &bad, "--value-schema-id", &id])
        .write_stdin(concat!(
            r#"{"value":{"id":"1"}}"#,
            "\n",
            r#"{"value":{"id":"2","nope":true}}"#,
            "\n",
            r#"{"value":{"lines":[{"qty":"x"}]}}"#,
            "\n",
            r#"{"value":{"id":"4"}}"#,
            "\n"
        )))
    .code_is(3)
    .stderr_has("line 2")
    .stderr_has("nope")
    .stderr_has("line 3: value does not match schema")
    .stderr_has("field lines[0].qty");
    drop(ran);
    let written = decoded_records(&bad);
    assert_eq!(
        written
            .iter()
            .map(|r| r["value"].clone())
            .collect::<Vec<_>>(),
        [json!({"id": "1"}), json!({"id": "4"})]
    );

    // The schema's second message type, by name.
    let refunds = create_topic(1, &[]);
    run(tool_with_registry("kprod")
        .args(["--json", "-q", &refunds, "--value-schema-id", &id])
        .args(["--value-type", "shop.Refund"])
        .write_stdin("{\"value\":{\"order\":\"o9\",\"cents\":\"7\"}}\n"))
    .success();
    let read = python_consume(
        &refunds,
        &json!({"value": protobuf_part(v1.path(), "shop.Refund")}),
        1,
    );
    assert_eq!(
        read,
        [json!({"key": null, "value": {"order": "o9", "cents": "7"}})]
    );
}

#[test]
fn records_that_do_not_decode_are_kept_whole_with_the_reason() {
    needs_registry!();
    let (registered, _) = topic_written_by_python();
    let id = decoded_records(&registered)[0]["value_schema_id"]
        .as_u64()
        .unwrap() as u32;
    let topic = create_topic(1, &[]);
    let framed = |index: &[u8], body: &[u8]| {
        let mut bytes = vec![0];
        bytes.extend_from_slice(&id.to_be_bytes());
        bytes.extend_from_slice(index);
        bytes.extend_from_slice(body);
        bytes
    };
    let cases: Vec<Vec<u8>> = vec![
        vec![0, 0x7f, 0xff, 0xff, 0xf0, 0, 8, 1], // an unknown schema id
        framed(&[2, 18], &[]),                    // message index [9]: the schema has 3
        framed(&[0], &[0xff, 0xff, 0xff]),        // not an Order
        b"plain text".to_vec(),                   // not the wire format
    ];
    let input: String = cases
        .iter()
        .map(|b| format!("{}\n", json!({"value": {"base64": base64(b)}})))
        .collect();
    run(tool("kprod")
        .args(["--json", "-q", &topic])
        .write_stdin(input))
    .success();
    // A subject for the topic: then plain text is an error too.
    let v1 = proto_dir("");
    python_produce(
        &topic,
        &json!({"value": protobuf_part(v1.path(), "shop.Order")}),
        &[json!({"value": {"id": "5"}})],
    );
    let ran = run(tool_with_registry("kcons").args([&topic, "-e"])).success();
    let got = ran.json_lines();
    assert_eq!(got.len(), 5);
    for (record, bytes) in got.iter().zip(&cases) {
        assert_eq!(decoded_bytes(&record["value"]), *bytes, "{record}");
        assert!(record["value_decode_error"].is_string(), "{record}");
    }
    let reasons: Vec<&str> = got[..4]
        .iter()
        .map(|r| r["value_decode_error"].as_str().unwrap())
        .collect();
    assert!(reasons[0].contains("not in the registry"), "{reasons:?}");
    assert!(
        reasons[1].contains("no message at index [9]"),
        "{reasons:?}"
    );
    assert!(reasons[2].contains("shop.Order"), "{reasons:?}");
    assert!(reasons[3].contains("wire format"), "{reasons:?}");
    assert_eq!(got[4]["value"], json!({"id": "5"}));
    assert!(
        ran.stderr().contains("4 keys or values not decoded"),
        "{}",
        ran.stderr()
    );
}

fn decoded_bytes(value: &Value) -> Vec<u8> {
    kpipes_e2e::decoded(value).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// JSON Schema.
// ---------------------------------------------------------------------------------------

const ITEM_SCHEMA: &str = r#"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"id":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}},"at":{"type":"string"}},"required":["id"]}"#;

fn item_spec() -> Value {
    json!({"key": {"format": "string"}, "value": {"format": "json", "schema": ITEM_SCHEMA}})
}

#[test]
fn json_schema_both_ways_with_pythons_serializers() {
    needs_registry!();
    let items = vec![
        json!({"key": "k1", "value": {"id": 1, "tags": ["a", "é"], "at": "x"}}),
        json!({"key": null, "value": {"id": 2}}),
    ];
    let topic = create_topic(1, &[]);
    python_produce(&topic, &item_spec(), &items);
    let got = decoded_records(&topic);
    assert_eq!(
        got.iter()
            .map(|r| json!({"key": r["key"], "value": r["value"]}))
            .collect::<Vec<_>>(),
        items
    );
    assert!(got[0]["value_schema_id"].is_u64());

    // Round trip, byte for byte.
    let copy = create_topic(1, &[]);
    let printed = run(tool_with_registry("kcons").args([&topic, "-e"])).success();
    run(tool_with_registry("kprod")
        .args(["--json", "-q", &copy])
        .write_stdin(printed.stdout()))
    .success();
    assert_eq!(raw(&copy), raw(&topic));

    // kprod with a schema file; Python's deserializer reads it; bad values name their pointer.
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("item.json");
    std::fs::write(&file, ITEM_SCHEMA).unwrap();
    let out = create_topic(1, &[]);
    run(tool_with_registry("kprod")
        .args([
            "--json",
            "-q",
            &out,
            "--value-schema-file",
            file.to_str().unwrap(),
        ])
        .write_stdin(concat!(
            r#"{"key":"k1","value":{"id":1,"tags":["a","é"],"at":"x"}}"#,
            "\n",
            r#"{"value":{"id":1,"tags":["a",2]}}"#,
            "\n",
            r#"{"value":{"id":2}}"#,
            "\n"
        )))
    .code_is(3)
    .stderr_has("line 2")
    .stderr_has("/tags/1");
    assert_eq!(python_consume(&out, &item_spec(), 2), items);
    assert_eq!(records(&out).len(), 2, "nothing sent for the bad line");
}

// ---------------------------------------------------------------------------------------
// Local .proto files and descriptor sets, no registry.
// ---------------------------------------------------------------------------------------

#[test]
fn local_proto_files_and_descriptor_sets_both_ways() {
    needs_registry!(); // for the Python peer
    let dir = proto_dir("");
    let order = dir.path().join("shop/order.proto");
    let include = dir.path().to_str().unwrap();
    let plain = json!({"value": {"format": "plain-protobuf", "dir": dir.path(),
        "file": "shop/order.proto", "message": "shop.Order"}});
    let values: Vec<Value> = orders()
        .into_iter()
        .map(|r| json!({"key": null, "value": r["value"]}))
        .collect();

    // Python writes plain messages; kcons reads them with the .proto file...
    let topic = create_topic(1, &[]);
    python_produce(&topic, &plain, &values);
    let proto_flags = [
        "--proto",
        order.to_str().unwrap(),
        "-I",
        include,
        "--value-type",
        "shop.Order",
    ];
    let got = kcons_e(&[&[topic.as_str()][..], &proto_flags].concat());
    assert_eq!(
        got.iter()
            .map(|r| json!({"key": r["key"], "value": r["value"]}))
            .collect::<Vec<_>>(),
        values
    );
    assert!(got[0].get("value_schema_id").is_none());

    // ...and with a compiled descriptor set.
    let set = dir.path().join("order.desc");
    let grpc_include = run(assert_cmd::Command::new(test_python()).args([
        "-c",
        "import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), '_proto'))",
    ]))
    .success()
    .stdout();
    run(assert_cmd::Command::new(test_python()).args([
        "-m",
        "grpc_tools.protoc",
        &format!("-I{include}"),
        &format!("-I{}", grpc_include.trim()),
        "--include_imports",
        &format!("--descriptor_set_out={}", set.display()),
        "shop/order.proto",
    ]))
    .success();
    let got_set = kcons_e(&[
        topic.as_str(),
        "--descriptor-set",
        set.to_str().unwrap(),
        "--value-type",
        "shop.Order",
    ]);
    assert_eq!(got_set, got);

    // kprod encodes with the .proto file; Python reads the messages; kcons copies byte for byte.
    let out = create_topic(1, &[]);
    run(tool("kprod")
        .args(["--json", "-q", &out])
        .args(proto_flags)
        .write_stdin(lines(&values)))
    .success();
    assert_eq!(python_consume(&out, &plain, 2), values);
    assert_eq!(raw(&out), raw(&topic));

    // A type the files lack is a usage error naming it.
    let mut flags = proto_flags;
    flags[5] = "shop.Nope";
    run(tool("kcons").args([&topic, "-e"]).args(flags))
        .code_is(2)
        .one_error_line("kcons")
        .stderr_has("shop.Nope");
    // Imports are looked up in -I directories (and each file's own): without the root, none.
    run(tool("kcons")
        .args([&topic, "-e"])
        .args(&proto_flags[..2])
        .args(&proto_flags[4..]))
    .code_is(2)
    .stderr_has("import 'common/money.proto' not found");
}

#[test]
fn a_proto_schema_file_is_registered_as_protobuf() {
    needs_registry!();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("click.proto");
    std::fs::write(
        &file,
        "syntax = \"proto3\";\npackage bench;\nmessage Click { int64 id = 1; string user = 2; }\n",
    )
    .unwrap();
    let topic = create_topic(1, &[]);
    run(tool_with_registry("kprod")
        .args([
            "--json",
            "-q",
            &topic,
            "--value-schema-file",
            file.to_str().unwrap(),
        ])
        .write_stdin("{\"value\":{\"id\":\"1\",\"user\":\"u\"}}\n"))
    .success();
    let got = decoded_records(&topic);
    assert_eq!(got[0]["value"], json!({"id": "1", "user": "u"}));
    let id = got[0]["value_schema_id"].as_u64().unwrap();
    let schema: Value = serde_json::from_str(
        &run(assert_cmd::Command::new("curl")
            .args(["-sf", &format!("{}/schemas/ids/{id}", schema_registry())]))
        .success()
        .stdout(),
    )
    .unwrap();
    assert_eq!(schema["schemaType"], json!("PROTOBUF"));
}

/// POST a schema to the registry under `subject`: its id.
fn register(subject: &str, body: &Value) -> u64 {
    let ran = run(assert_cmd::Command::new("curl").args([
        "-sf",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/vnd.schemaregistry.v1+json",
        "--data",
        &body.to_string(),
        &format!("{}/subjects/{subject}/versions", schema_registry()),
    ]))
    .success();
    serde_json::from_str::<Value>(&ran.stdout()).unwrap()["id"]
        .as_u64()
        .unwrap()
}

#[test]
fn json_schema_references_are_resolved_from_the_registry() {
    needs_registry!();
    let topic = create_topic(1, &[]);
    let address = format!("{topic}-address.json");
    register(
        &address,
        &json!({"schemaType": "JSON",
                "schema": r#"{"type":"object","properties":{"zip":{"type":"string"}},"required":["zip"]}"#}),
    );
    let id = register(
        &format!("{topic}-value"),
        &json!({"schemaType": "JSON",
                "schema": format!(r#"{{"type":"object","properties":{{"home":{{"$ref":"{address}"}}}}}}"#),
                "references": [{"name": address, "subject": address, "version": 1}]}),
    );
    run(tool_with_registry("kprod")
        .args(["--json", "-q", &topic])
        .write_stdin("{\"value\":{\"home\":{\"zip\":\"1000\"}}}\n{\"value\":{\"home\":{}}}\n"))
    .code_is(3)
    .stderr_has("line 2: value does not match schema")
    .stderr_has("at /home: ");
    let got = decoded_records(&topic);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["value"], json!({"home": {"zip": "1000"}}));
    assert_eq!(got[0]["value_schema_id"], json!(id));
}
