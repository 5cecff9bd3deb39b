//! kprod against the live test cluster: line and JSON modes, delivery reports, bad
//! input, failures and signals. What it wrote is read back with kcons (and, in
//! pipes.rs, with kcat).

use std::io::Write;
use std::time::{Duration, Instant};

use kpipes_e2e::*;

#[test]
fn line_mode_reports_every_delivery() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    let ran = kprod(&[&topic], "one\ntwo\nthree\n").success();
    assert_eq!(ran.stderr(), "");
    let reports = ran.json_lines();
    assert_eq!(
        reports,
        vec![
            json!({"topic": topic, "partition": 0, "offset": 0, "line": 1}),
            json!({"topic": topic, "partition": 0, "offset": 1, "line": 2}),
            json!({"topic": topic, "partition": 0, "offset": 2, "line": 3}),
        ]
    );
    let got = records(&topic);
    assert_eq!(
        values(&got),
        vec![json!("one"), json!("two"), json!("three")]
    );
    for record in &got {
        assert_eq!(record["key"], Value::Null, "{record}");
        assert_eq!(record["headers"], json!([]), "{record}");
    }
}

#[test]
fn last_line_without_newline_and_crlf_are_kept_byte_for_byte() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    kprod(&[&topic], "dos\r\nlast").success();
    assert_eq!(
        values(&records(&topic)),
        vec![json!("dos\r"), json!("last")]
    );
}

#[test]
fn key_delimiter_splits_at_the_first_one() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    kprod(
        &["-K", "::", &topic],
        "user1::clicked\na::b::c\nno delimiter\n::empty key\nk::\n",
    )
    .success();
    let got: Vec<(Value, Value)> = records(&topic)
        .iter()
        .map(|r| (r["key"].clone(), r["value"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (json!("user1"), json!("clicked")),
            (json!("a"), json!("b::c")),
            (Value::Null, json!("no delimiter")),
            (json!(""), json!("empty key")),
            (json!("k"), json!("")),
        ]
    );
}

#[test]
fn fixed_key_for_every_record() {
    needs_cluster!();
    let topic = create_topic(3, &[]);
    let reports = kprod(&["-k", "same", &topic], "a\nb\nc\nd\n")
        .success()
        .json_lines();
    let partitions: std::collections::BTreeSet<i64> = reports
        .iter()
        .map(|r| r["partition"].as_i64().unwrap())
        .collect();
    assert_eq!(partitions.len(), 1, "one key, one partition: {reports:?}");
    let got = records(&topic);
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|r| r["key"] == json!("same")), "{got:?}");
    assert_eq!(
        values(&got),
        vec![json!("a"), json!("b"), json!("c"), json!("d")]
    );
}

#[test]
fn headers_keep_their_order_and_duplicates() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    kprod(
        &[
            "-H", "b=2", "-H", "a=1", "-H", "b=3", "-H", "empty=", "-H", "eq=x=y", &topic,
        ],
        "v\n",
    )
    .success();
    let got = records(&topic);
    assert_eq!(
        got[0]["headers"],
        json!([
            {"key": "b", "value": "2"},
            {"key": "a", "value": "1"},
            {"key": "b", "value": "3"},
            {"key": "empty", "value": ""},
            {"key": "eq", "value": "x=y"},
        ])
    );
    kprod(&["-H", "novalue", &topic], "v\n")
        .code_is(2)
        .one_error_line("kprod");
}

#[test]
fn partition_flag_puts_every_record_there() {
    needs_cluster!();
    let topic = create_topic(3, &[]);
    let reports = kprod(&["-p", "2", "-K", ":", &topic], "a:1\nb:2\nc:3\nd:4\n")
        .success()
        .json_lines();
    assert!(
        reports.iter().all(|r| r["partition"] == json!(2)),
        "{reports:?}"
    );
    assert_eq!(
        positions(&records(&topic)),
        vec![(2, 0), (2, 1), (2, 2), (2, 3)]
    );
}

#[test]
fn empty_lines_are_empty_values_and_z_makes_tombstones() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    kprod(&["-K", ":", &topic], "\nk:\nx\n").success();
    kprod(&["-Z", "-K", ":", &topic], "\nk:\nx\n").success();
    let got: Vec<(Value, Value)> = records(&topic)
        .iter()
        .map(|r| (r["key"].clone(), r["value"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (Value::Null, json!("")),
            (json!("k"), json!("")),
            (Value::Null, json!("x")),
            (Value::Null, Value::Null),
            (json!("k"), Value::Null),
            (Value::Null, json!("x")),
        ]
    );
}

#[test]
fn quiet_prints_nothing() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    let ran = kprod(&["-q", &topic], "a\nb\n").success();
    assert_eq!(ran.stdout(), "");
    assert_eq!(ran.stderr(), "");
    assert_eq!(records(&topic).len(), 2);
}

#[test]
fn empty_input_produces_nothing() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    let ran = kprod(&[&topic], "").success();
    assert_eq!(ran.stdout(), "");
    assert_eq!(ran.stderr(), "");
    let ran = kprod(&["--json", &topic], "").success();
    assert_eq!(ran.stdout(), "");
    assert!(records(&topic).is_empty());
}

#[test]
fn json_smallest_line_nulls_and_base64() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    let input = concat!(
        r#"{"value":"hello"}"#,
        "\n",
        r#"{"key":null,"value":null}"#,
        "\n",
        r#"{"key":{"base64":"/wA="},"value":{"base64":"aGk="},"headers":[{"key":"h","value":null},{"key":"h"},{"key":"b","value":{"base64":"gA=="}}]}"#,
        "\n",
        r#"{"value":"tab\tquote\"é","key":"","extra":[1,2],"topic":"ignored","offset":99}"#,
        "\n"
    );
    let reports = kprod(&["--json", &topic], input).success().json_lines();
    assert_eq!(reported_lines(&reports), vec![1, 2, 3, 4]);
    let got: Vec<Value> = records(&topic)
        .iter()
        .map(|r| json!([r["key"], r["value"], r["headers"]]))
        .collect();
    assert_eq!(
        got,
        vec![
            json!([null, "hello", []]),
            json!([null, null, []]),
            json!([{"base64": "/wA="}, "hi", [{"key": "h", "value": null}, {"key": "h", "value": null}, {"key": "b", "value": {"base64": "gA=="}}]]),
            json!(["", "tab\tquote\"é", []]),
        ]
    );
}

#[test]
fn json_partition_and_timestamp_are_honoured_unless_ignored() {
    needs_cluster!();
    let topic = create_topic(3, &[]);
    // Where the key goes by itself...
    let home = kprod(&["--json", &topic], r#"{"key":"k","value":"0"}"#)
        .success()
        .json_lines()[0]["partition"]
        .as_i64()
        .unwrap();
    let other = (home + 1) % 3;
    let input = format!(
        "{}\n{}\n",
        json!({"key": "k", "value": "1", "partition": other, "timestamp": 1_600_000_000_000i64}),
        json!({"key": "k", "value": "2", "partition": other, "timestamp": 1_600_000_000_000i64}),
    );
    let before = now_ms();
    kprod(&["--json", &topic], input.lines().next().unwrap()).success();
    kprod(
        &["--json", "--ignore-partition", "--ignore-timestamp", &topic],
        input.lines().nth(1).unwrap(),
    )
    .success();
    let got = records(&topic);
    let by_value = |v: &str| got.iter().find(|r| r["value"] == json!(v)).unwrap().clone();
    assert_eq!(by_value("1")["partition"], json!(other));
    assert_eq!(by_value("1")["timestamp"], json!(1_600_000_000_000i64));
    assert_eq!(
        by_value("2")["partition"],
        json!(home),
        "--ignore-partition: by key"
    );
    let ts = by_value("2")["timestamp"].as_i64().unwrap();
    assert!(
        ts >= before - 60_000,
        "--ignore-timestamp: the producer's clock, got {ts}"
    );
    // --ignore-partition needs --json: a usage error.
    kprod(&["--ignore-partition", &topic], "x\n").code_is(2);
}

#[test]
fn invalid_json_between_valid_lines() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    let ran = kprod(
        &["--json", &topic],
        "{\"value\":\"a\"}\n{\"value\": nope}\n{\"value\":\"c\"}\n",
    )
    .code_is(3)
    .one_error_line("kprod")
    .stderr_has("line 2")
    .stderr_has("invalid JSON");
    assert_eq!(reported_lines(&ran.json_lines()), vec![1, 3]);
    assert_eq!(values(&records(&topic)), vec![json!("a"), json!("c")]);
}

#[test]
fn wrong_types_are_bad_input() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    for bad in [
        r#"{"value":5}"#,
        r#"{"value":"v","key":true}"#,
        r#"{"value":"v","partition":"0"}"#,
        r#"{"value":"v","headers":{"a":"b"}}"#,
        r#"{"value":"v","headers":[{"key":"a","value":7}]}"#,
        r#"{"value":"v","timestamp":"now"}"#,
    ] {
        let input = format!("{{\"value\":\"ok\"}}\n{bad}\n");
        kprod(&["--json", &topic], input)
            .code_is(3)
            .one_error_line("kprod")
            .stderr_has("line 2: invalid type");
    }
    let ran = kprod(&["--json", &topic], "[\"value\"]\n{\"key\":\"k\"}\n").code_is(3);
    let err = ran.stderr();
    assert!(err.contains("line 1: expected a JSON object"), "{err}");
    assert!(err.contains("line 2: missing field `value`"), "{err}");
    assert!(err.contains("2 bad input lines"), "{err}");
    assert_eq!(records(&topic).len(), 6, "the valid first line of each run");
}

#[test]
fn undecodable_base64_is_bad_input() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    kprod(
        &["--json", &topic],
        "{\"value\":\"a\"}\n{\"value\":{\"base64\":\"@@@\"}}\n",
    )
    .code_is(3)
    .one_error_line("kprod")
    .stderr_has("line 2: undecodable base64");
    kprod(
        &["--json", &topic],
        "{\"value\":\"b\",\"key\":{\"hex\":\"00\"}}\n",
    )
    .code_is(3)
    .one_error_line("kprod")
    .stderr_has("line 1:");
    assert_eq!(values(&records(&topic)), vec![json!("a")]);
}

#[test]
fn partition_out_of_range_in_json_is_bad_input() {
    needs_cluster!();
    let topic = create_topic(2, &[]);
    let input = "{\"value\":\"a\",\"partition\":1}\n{\"value\":\"b\",\"partition\":2}\n{\"value\":\"c\",\"partition\":-1}\n{\"value\":\"d\",\"partition\":0}\n";
    let ran = kprod(&["--json", &topic], input).code_is(3);
    let err = ran.stderr();
    assert!(err.contains("line 2: partition 2 is out of range"), "{err}");
    assert!(err.contains("line 3: partition must be 0 or more"), "{err}");
    assert_eq!(reported_lines(&ran.json_lines()), vec![1, 4]);
    assert_eq!(positions(&records(&topic)), vec![(0, 0), (1, 0)]);
}

#[test]
fn copying_to_a_topic_with_fewer_partitions_says_so_once_with_the_flag() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    let input: String = (0..60)
        .map(|i| format!("{{\"value\":\"v{i}\",\"partition\":{}}}\n", i % 3))
        .collect();
    let ran = kprod(&["--json", &topic], input.as_str()).code_is(3);
    let err = ran.stderr();
    assert_eq!(err.matches("--ignore-partition").count(), 1, "{err}");
    assert!(err.lines().count() <= 2, "one line per record: {err}");
    assert!(
        err.contains("40 named a partition the topic does not have"),
        "{err}"
    );
    assert_eq!(ran.json_lines().len(), 20);
    // And the flag it names does it.
    kprod(&["--json", "--ignore-partition", &topic], input.as_str()).success();
    assert_eq!(records(&topic).len(), 80);
}

#[test]
fn json_documents_meant_as_values_are_told_how_to_send_them() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    for document in [
        "{\"total\":3}",
        "{\"value\":{\"total\":3}}",
        "{\"value\":[1,2]}",
    ] {
        kprod(&["--json", &topic], format!("{document}\n"))
            .code_is(3)
            .one_error_line("kprod")
            .stderr_has("--json reads records as kcons prints them")
            .stderr_has("leave out --json");
    }
    assert!(records(&topic).is_empty());
    // As the help says: without --json each line, a JSON document, is the value.
    kprod(&[&topic], "{\"total\":3}\n").success();
    assert_eq!(values(&records(&topic)), vec![json!("{\"total\":3}")]);
    let help = run(tool("kprod").arg("--help")).success().stdout();
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(help.contains("leave out --json"), "{help}");
}

#[test]
fn partition_flag_out_of_range_is_a_usage_error() {
    needs_cluster!();
    let topic = create_topic(2, &[]);
    let ran = kprod(&["-p", "2", &topic], "a\n")
        .code_is(2)
        .one_error_line("kprod")
        .stderr_has("out of range");
    assert_eq!(ran.stdout(), "");
    kprod(&["-p", "-1", &topic], "a\n").code_is(2);
    assert!(records(&topic).is_empty());
}

#[test]
fn on_error_stop_stops_reading_at_the_bad_line() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    let ran = kprod(
        &["--json", "--on-error", "stop", &topic],
        "{\"value\":\"a\"}\nbad\n{\"value\":\"c\"}\n",
    )
    .code_is(3)
    .one_error_line("kprod")
    .stderr_has("line 2");
    assert_eq!(reported_lines(&ran.json_lines()), vec![1]);
    assert_eq!(values(&records(&topic)), vec![json!("a")]);
}

#[test]
fn record_over_the_client_size_limit_is_bad_input() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    let big = "x".repeat(2000);
    let ran = kprod(
        &["-X", "message.max.bytes=1000", &topic],
        format!("ok1\n{big}\nok3\n"),
    )
    .code_is(3)
    .one_error_line("kprod")
    .stderr_has("line 2")
    .stderr_has("message.max.bytes");
    assert_eq!(reported_lines(&ran.json_lines()), vec![1, 3]);
    assert_eq!(values(&records(&topic)), vec![json!("ok1"), json!("ok3")]);
}

/// A record larger than the topic's max.message.bytes (but within the producer's limit)
/// is bad input: reported with its line number, exit 3, and the valid records before and
/// after it are delivered (the brokers refuse a whole batch that is too large, so it must
/// not share a batch with them).
#[test]
fn record_over_the_topic_size_limit_is_bad_input() {
    needs_cluster!();
    let topic = create_topic(1, &["-c", "max.message.bytes=1000"]);
    let big = "x".repeat(5000);
    let ran = kprod(&[&topic], format!("ok1\n{big}\nok3\n"))
        .no_panic()
        .code_is(3)
        .one_error_line("kprod")
        .stderr_has("kprod: error: line 2: ")
        .stderr_has("max.message.bytes");
    assert_eq!(reported_lines(&ran.json_lines()), vec![1, 3]);
    assert_eq!(values(&records(&topic)), vec![json!("ok1"), json!("ok3")]);
}

/// The peak resident memory of a running process (VmHWM), in KB.
fn peak_rss_kb(pid: i32) -> i64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("reading /proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// A line over message.max.bytes (1 MB), up to one of 100 MB, is bad input named by its
/// line; the lines around it are delivered, and kprod never holds the line in memory.
#[test]
fn lines_over_message_max_bytes_are_skipped_in_bounded_memory() {
    needs_cluster!();
    for (size, says) in [
        (1_100_000, &["too large"][..]),
        (100 << 20, &["104857600 bytes", "message.max.bytes"]),
    ] {
        let topic = create_topic(1, &[]);
        let mut kprod = Proc::start("kprod", &[&topic]);
        let mut stdin = kprod.take_stdin();
        // The input stays open until the lines around the huge one were delivered, so the
        // peak memory can be read while kprod still runs.
        let (close_tx, close_rx) = std::sync::mpsc::channel::<()>();
        let feeder = std::thread::spawn(move || -> std::io::Result<()> {
            let mut out = std::io::BufWriter::with_capacity(1 << 20, &mut stdin);
            out.write_all(b"big-1\n")?;
            let block = vec![b'x'; 1 << 20];
            for _ in 0..size / block.len() {
                out.write_all(&block)?;
            }
            out.write_all(&block[..size % block.len()])?;
            out.write_all(b"\nbig-3\n")?;
            out.flush()?;
            drop(out);
            let _ = close_rx.recv();
            Ok(())
        });
        kprod.wait_lines(2, Duration::from_secs(120));
        let peak_kb = peak_rss_kb(kprod.pid());
        close_tx.send(()).unwrap();
        feeder.join().unwrap().expect("feeding kprod");
        let ran = kprod
            .finish(Duration::from_secs(120))
            .no_panic()
            .code_is(3)
            .one_error_line("kprod")
            .stderr_has("line 2");
        for text in says {
            assert!(ran.stderr().contains(text), "{}", ran.explain(text));
        }
        assert_eq!(reported_lines(&ran.json_lines()), vec![1, 3]);
        assert!(
            peak_kb < 64 * 1024,
            "kprod held the {size}-byte line in memory: peak RSS {peak_kb} KB"
        );
        assert_eq!(
            values(&records(&topic)),
            vec![json!("big-1"), json!("big-3")]
        );
    }
}

#[test]
fn many_small_records_fit_a_topic_with_a_small_size_limit() {
    needs_cluster!();
    // Batches must respect the topic's limit, not only single records.
    let topic = create_topic(1, &["-c", "max.message.bytes=1000"]);
    let input: String = (0..500)
        .map(|i| format!("record number {i:05} with some padding to make it longer\n"))
        .collect();
    let ran = kprod(&["-q", &topic], input).success();
    assert_eq!(ran.stderr(), "");
    assert_eq!(records(&topic).len(), 500);
}

#[test]
fn unknown_topic_is_not_created() {
    needs_cluster!();
    let topic = unique_name("t-missing");
    kprod(&[&topic], "a\n")
        .code_is(6)
        .one_error_line("kprod")
        .stderr_has(&topic);
    kprod(&["--json", &topic], "{\"value\":\"a\"}\n")
        .code_is(6)
        .one_error_line("kprod");
    assert!(!topics().contains(&topic), "kprod must not create {topic}");
}

#[test]
fn command_line_mistakes_exit_2() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    // The arguments, and what the one error line must say ("" when only the code counts).
    for (args, says) in [
        (vec!["-X", "acks"], "bad -X 'acks'"),
        (vec!["-X", "=1"], ""),
        (vec!["-X", "no.such.property=1"], "no.such.property"),
        (vec!["-X", "acks=maybe"], "acks"),
        (vec!["-b", "nohost"], "no port"),
        (vec!["-b", "localhost:99999"], "bad port"),
        (vec!["-b", ""], ""),
        (vec!["-K", ""], ""),
        (vec!["--timeout", "0"], ""),
        (vec!["--delivery-timeout", "-1"], ""),
    ] {
        let mut full = args.clone();
        full.push(&topic);
        let ran = kprod(&full, "a\n").no_panic().code_is(2).stderr_has(says);
        assert_eq!(ran.stdout(), "", "{args:?}");
        assert!(
            ran.stderr().starts_with("kprod: error: ") || ran.stderr().starts_with("error:"),
            "{}",
            ran.explain("an error line")
        );
        if ran.stderr().starts_with("kprod: error: ") {
            ran.one_error_line("kprod");
        }
    }
    kprod(&["--no-such-flag", &topic], "a\n").code_is(2);
    kprod(&[], "a\n").code_is(2);
    assert!(records(&topic).is_empty());
}

#[test]
fn unreachable_brokers_exit_5_within_the_timeout() {
    needs_cluster!();
    fails_unreachable_in_time(
        tool("kprod")
            .args(["-b", "localhost:1", "--timeout", "2", "some-topic"])
            .write_stdin("a\n"),
        "kprod",
    );
    // The shortest delivery timeout the flag takes is a valid setting too (librdkafka
    // wants its linger below it).
    kprod(
        &[
            "-b",
            "localhost:1",
            "--timeout",
            "2",
            "--delivery-timeout",
            "0.001",
            "some-topic",
        ],
        "a\n",
    )
    .code_is(5);
}

/// TLS is built in: asked for it, kprod tries a TLS handshake (which the test cluster's
/// plaintext listeners refuse) rather than calling the property unsupported (exit 2).
#[test]
fn tls_is_built_in() {
    needs_cluster!();
    for protocol in ["ssl", "sasl_ssl"] {
        kprod(
            &[
                "-X",
                &format!("security.protocol={protocol}"),
                "-X",
                "sasl.mechanisms=SCRAM-SHA-256",
                "-X",
                "sasl.username=u",
                "-X",
                "sasl.password=p",
                "--timeout",
                "3",
                "some-topic",
            ],
            "a\n",
        )
        .code_is(5)
        .one_error_line("kprod")
        .stderr_has("SSL_HANDSHAKE");
    }
    // Settings librdkafka only rejects together are the command line's fault, in one line.
    kprod(
        &[
            "-X",
            "security.protocol=sasl_ssl",
            "-X",
            "sasl.mechanisms=SCRAM-SHA-256",
            "some-topic",
        ],
        "a\n",
    )
    .code_is(2)
    .one_error_line("kprod")
    .stderr_has("bad librdkafka properties: sasl.username and sasl.password must be set");
}

/// `kprod T | head -1`: kprod ends quietly with status 0 when its stdout closes, and
/// still delivers every record.
#[test]
fn closed_stdout_is_quiet_and_every_record_is_still_delivered() {
    needs_cluster!();
    let topic = create_topic(3, &[]);
    let script = format!(
        "seq 1 20000 | '{}' {topic} | head -1; echo \"status ${{PIPESTATUS[*]}}\"",
        bin_path("kprod").display()
    );
    let ran = run(assert_cmd::Command::new("bash")
        .args(["-c", &script])
        .env("KAFKA_BROKERS", brokers())
        .timeout(Duration::from_secs(120)))
    .quiet();
    let stdout = ran.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.len() == 2 && serde_json::from_str::<Value>(lines[0]).is_ok(),
        "{}",
        ran.explain("one report and the status")
    );
    assert_eq!(
        lines[1],
        "status 0 0 0",
        "{}",
        ran.explain("every stage ends with 0")
    );
    let offsets = run(tool("ktopic").args(["offsets", &topic]))
        .success()
        .json_lines();
    let total: i64 = offsets.iter().map(|p| p["high"].as_i64().unwrap()).sum();
    assert_eq!(total, 20_000, "every record delivered");
}

#[test]
fn a_typed_line_is_delivered_before_eof() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    let mut kprod = Proc::start("kprod", &[&topic]);
    kprod.write(b"typed\n");
    // stdin stays open, so a report at all shows it came before EOF; the allowance only
    // has to cover connecting on a loaded machine.
    let lines = kprod.wait_lines(1, Duration::from_secs(30));
    let report: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(
        report,
        json!({"topic": topic, "partition": 0, "offset": 0, "line": 1})
    );
    assert!(kprod.running(), "stdin is still open");
    kprod.write(b"second\n");
    kprod.wait_lines(2, Duration::from_secs(30));
    kprod.close_stdin();
    kprod.finish(Duration::from_secs(30)).code_is(0);
    assert_eq!(
        values(&records(&topic)),
        vec![json!("typed"), json!("second")]
    );
}

#[test]
fn reports_stay_live_under_a_steady_trickle() {
    needs_cluster!();
    // Lines arrive faster than any idle timeout, for longer than the deadline:
    // reports must not wait for a pause in the input.
    let topic = create_topic(1, &[]);
    let mut kprod = Proc::start("kprod", &[&topic]);
    let started = Instant::now();
    let mut sent = 0;
    // The input never pauses before the first report, so any report shows liveness;
    // the allowance only has to cover connecting on a loaded machine.
    while kprod.lines().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no delivery report after {sent} lines in 30 s"
        );
        kprod.write(format!("line {sent}\n").as_bytes());
        sent += 1;
        std::thread::sleep(Duration::from_millis(20)); // the pace of the input, not a synchronisation
    }
    kprod.close_stdin();
    let ran = kprod.finish(Duration::from_secs(30)).code_is(0);
    assert_eq!(ran.json_lines().len(), sent);
}

/// SIGINT or SIGTERM while kprod and kcons still wait for unreachable brokers ends them at
/// once, exit 130, instead of after `--timeout`. With -vv, librdkafka's lines show
/// while it waits (each tool used to serve one of them per half second).
#[test]
fn interrupted_while_connecting_ends_at_once() {
    needs_cluster!();
    for (tool, args) in [("kprod", &["t"][..]), ("kcons", &["t", "-e"])] {
        for signal in [libc::SIGINT, libc::SIGTERM] {
            let mut args = args.to_vec();
            args.extend(["-b", "localhost:1", "--timeout", "120", "-vv"]);
            let mut proc = Proc::start(tool, &args);
            proc.wait_stderr("librdkafka:", Duration::from_secs(60));
            let asked = std::time::Instant::now();
            proc.signal(signal);
            proc.finish(Duration::from_secs(30))
                .no_panic()
                .code_is(130)
                .stderr_has("interrupted while waiting for the brokers localhost:1");
            assert!(
                asked.elapsed() < Duration::from_secs(20),
                "{tool} took {:?} to stop",
                asked.elapsed()
            );
        }
    }
}

/// SIGINT or SIGTERM while kprod waits for more input (stdin open, nothing new): what
/// it read is delivered and reported, one line says so, exit 130.
#[test]
fn interrupted_while_waiting_for_input_delivers_what_was_read() {
    needs_cluster!();
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let topic = create_topic(1, &[]);
        let mut kprod = Proc::start("kprod", &[&topic]);
        kprod.write(b"a\nb\nc\n");
        kprod.wait_lines(3, Duration::from_secs(60));
        kprod.signal(signal);
        let ran = kprod
            .finish(Duration::from_secs(30))
            .no_panic()
            .code_is(130)
            .one_interrupted_line("kprod")
            .stderr_has("interrupted after 3 records, all delivered");
        assert_eq!(reported_lines(&ran.json_lines()), vec![1, 2, 3]);
        assert_eq!(
            values(&records(&topic)),
            vec![json!("a"), json!("b"), json!("c")]
        );
    }
}

/// SIGINT or SIGTERM while input is still arriving: what was read is flushed and
/// reported, exit 130, and the topic holds exactly the reported records, which are the
/// first lines of the input without a gap.
#[test]
fn interrupted_while_input_arrives_flushes_and_reports_what_it_read() {
    needs_cluster!();
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let topic = create_topic(3, &[]);
        let mut kprod = Proc::start("kprod", &[&topic]);
        let stdin = kprod.take_stdin();
        // Input keeps arriving until kprod is gone (the write then fails).
        let feeder = std::thread::spawn(move || {
            let mut out = std::io::BufWriter::new(stdin);
            for n in 1..=5_000_000u64 {
                if writeln!(out, "sig-{n}").is_err() || (n % 500 == 0 && out.flush().is_err()) {
                    return n;
                }
            }
            0
        });
        kprod.wait_lines(5_000, Duration::from_secs(60));
        kprod.signal(signal);
        let ran = kprod
            .finish(Duration::from_secs(90))
            .no_panic()
            .code_is(130);
        let fed = feeder.join().unwrap();
        assert!(fed > 0, "the feeder ran out of input before the signal");
        let count = ran.json_lines().len() as i64;
        assert_eq!(
            reported_lines(&ran.json_lines()),
            (1..=count).collect::<Vec<_>>(),
            "{}",
            ran.explain("reported lines are not 1..N")
        );
        let ran = ran.one_interrupted_line("kprod").stderr_has(&format!(
            "interrupted after {} records, all delivered",
            thousands(count as u64)
        ));
        let mut got: Vec<String> = records(&topic)
            .iter()
            .map(|r| r["value"].as_str().unwrap().to_string())
            .collect();
        got.sort_by_key(|v| v[4..].parse::<i64>().unwrap());
        assert_eq!(
            got,
            (1..=count).map(|n| format!("sig-{n}")).collect::<Vec<_>>(),
            "{}",
            ran.explain("the topic holds other records than those reported")
        );
    }
}

#[test]
fn undelivered_records_are_listed_with_their_lines_and_exit_4() {
    needs_cluster!();
    let cluster = FaultCluster::acquire();
    let topic = unique_name("t-leaderless");
    run(cluster
        .tool("ktopic")
        .args(["create", &topic, "-p", "1", "-r", "1"]))
    .success();
    let described = run(cluster.tool("ktopic").args(["describe", &topic]))
        .success()
        .json_lines();
    let leader = described[0]["partitions"][0]["leader"].as_i64().unwrap();
    run(cluster.kcluster().args(["kill", &leader.to_string()])).success();
    let started = Instant::now();
    let input: String = (1..=50).map(|i| format!("record {i}\n")).collect();
    let ran = run(cluster
        .tool("kprod")
        .args(["--delivery-timeout", "3", &topic])
        .write_stdin(input))
    .code_is(4);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "bounded by the delivery timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(ran.stdout(), "");
    // Every undelivered line is named with its reason: one by one, or as a run `lines A-B`.
    let err = ran.stderr();
    let mut named = Vec::new();
    for text in err.lines() {
        let rest = text
            .strip_prefix("kprod: error: ")
            .unwrap_or_else(|| panic!("not an error line: {text}\n{err}"));
        if let Some(rest) = rest.strip_prefix("line ") {
            let (n, why) = rest.split_once(": ").unwrap();
            assert!(why.starts_with("not delivered: "), "{text}");
            named.push(n.parse::<u64>().unwrap());
        } else if let Some(rest) = rest.strip_prefix("lines ") {
            let (range, why) = rest.split_once(": ").unwrap();
            assert!(why.starts_with("not delivered: "), "{text}");
            let (a, b) = range.split_once('-').unwrap();
            named.extend(a.parse::<u64>().unwrap()..=b.parse::<u64>().unwrap());
        } else {
            assert!(
                rest.contains("50 of 50 records not delivered"),
                "the summary: {text}"
            );
        }
    }
    named.sort();
    assert_eq!(named, (1..=50).collect::<Vec<_>>(), "{err}");
    assert!(
        err.lines().count() < 30,
        "runs of lines are summarised:\n{err}"
    );
    run(cluster.kcluster().args(["start", &leader.to_string()])).success();
}

#[test]
fn idempotence_is_on_by_default() {
    needs_cluster!();
    // librdkafka refuses acks other than all with idempotence: the default must be on.
    let topic = create_topic(1, &[]);
    kprod(&["-X", "acks=1", &topic], "a\n")
        .code_is(2)
        .one_error_line("kprod")
        .stderr_has("enable.idempotence");
    kprod(
        &["-X", "acks=1", "-X", "enable.idempotence=false", &topic],
        "b\n",
    )
    .success();
    // With acks=1 the record may reach the high watermark (what readers see) a little later.
    eventually(
        "the acks=1 record to be readable",
        Duration::from_secs(15),
        || (values(&records(&topic)) == vec![json!("b")]).then_some(()),
    );
}

// Progress on a terminal (issue #17). The terminal is a pseudo-terminal (`script`);
// input that pauses makes a run last longer than the second before progress shows.

/// `lines` lines `record N`, in a file of `dir`.
fn input_file(dir: &tempfile::TempDir, lines: usize) -> String {
    let path = dir.path().join(format!("in-{lines}.txt"));
    let text: String = (1..=lines).map(|i| format!("record {i}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn progress_on_a_terminal_ends_in_one_summary_line_and_stdout_is_unchanged() {
    needs_cluster!();
    let (a, b) = (create_topic(1, &[]), create_topic(1, &[]));
    let dir = tempfile::tempdir().unwrap();
    let input = input_file(&dir, 2000);
    let out = |name: &str| dir.path().join(name).display().to_string();
    let slow = |topic: &str, out: &str| {
        format!("(head -n 1000 {input}; sleep 1.5; tail -n +1001 {input}) | kprod {topic} > {out}")
    };
    let on_tty = on_terminal(&slow(&a, &out("a.json")), &[]).success();
    let in_pipes = in_shell(&slow(&b, &out("b.json")), &[]).success();
    assert_eq!(
        in_pipes.stderr(),
        "",
        "no progress when stderr is not a terminal"
    );

    // stdout: the same reports, byte for byte (but for the topic's name).
    let (out_a, out_b) = (
        std::fs::read_to_string(out("a.json")).unwrap(),
        std::fs::read_to_string(out("b.json")).unwrap(),
    );
    assert_eq!(out_b.lines().count(), 2000);
    assert_eq!(out_a.replace(&a, &b), out_b);

    // The terminal: a live line with every count and rate, then one summary line.
    let transcript = on_tty.stdout();
    let frames = terminal_frames(&transcript);
    assert!(
        frames.iter().any(|f| {
            f.contains(" read, ")
                && f.contains(" delivered, ")
                && f.contains(" in flight, ")
                && f.contains(" failed; ")
                && f.contains(" records/s, ")
                && f.ends_with(" MB/s")
        }),
        "no live line among {frames:#?}"
    );
    assert!(
        frames
            .iter()
            .any(|f| f.contains("1,000 read, 1,000 delivered")),
        "the line while input pauses: {frames:#?}"
    );
    // The first frame's rate is measured since the start (1,000 records in its first
    // moments), not a 0 from a single sample.
    assert!(
        !frames[0].contains(" 0.0 records/s"),
        "first frame: {frames:#?}"
    );
    let screen = terminal_screen(&transcript);
    assert_eq!(
        screen.len(),
        1,
        "one line is left: {screen:#?}\n{transcript:?}"
    );
    assert!(
        screen[0].starts_with("kprod: delivered 2,000 records in ")
            && screen[0].contains(" records/s, ")
            && screen[0].ends_with(" MB/s)"),
        "{screen:#?}"
    );
    assert_eq!(transcript.matches('\n').count(), 1, "{transcript:?}");
    assert!(transcript.contains("\x1b[36m"), "coloured: {transcript:?}");
}

#[test]
fn no_progress_for_short_runs_with_no_progress_or_among_reports_and_no_colour_with_no_color() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    let pausing = "(echo a; sleep 1.5; echo b)";
    // Shorter than a second: nothing.
    let short = on_terminal(
        &format!("printf 'a\\nb\\n' | kprod {topic} > /dev/null"),
        &[],
    );
    assert_eq!(short.success().stdout(), "");
    // --no-progress: nothing, however long.
    let off = on_terminal(
        &format!("{pausing} | kprod --no-progress {topic} > /dev/null"),
        &[],
    );
    assert_eq!(off.success().stdout(), "");
    // The reports on the terminal too: no line drawn among them.
    let shared = on_terminal(&format!("{pausing} | kprod {topic}"), &[]).success();
    let screen = terminal_screen(&shared.stdout());
    assert_eq!(screen.len(), 2, "{screen:#?}");
    assert!(
        screen.iter().all(|l| l.starts_with("{\"topic\":")),
        "{screen:#?}"
    );
    // NO_COLOR: the same line, without colour.
    let plain = on_terminal(
        &format!("{pausing} | kprod -q {topic}"),
        &[("NO_COLOR", "1")],
    );
    let transcript = plain.success().stdout();
    assert!(
        terminal_frames(&transcript)
            .iter()
            .any(|f| f.contains(" delivered, ")),
        "{transcript:?}"
    );
    assert!(
        !transcript.contains("\x1b[36m") && !transcript.contains("\x1b[0m"),
        "{transcript:?}"
    );
}

#[test]
fn forced_progress_off_a_terminal_prints_plain_lines_and_the_summary() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    // A short run: the summary alone.
    let short = in_shell(&format!("echo a | kprod -q --progress {topic}"), &[]).success();
    let err = short.stderr();
    assert!(
        err.starts_with("kprod: delivered 1 record in ") && err.lines().count() == 1,
        "{err:?}"
    );
    // A longer one: a plain line every 5 s, then the summary; no redraws, no colour.
    let long = in_shell(
        &format!("(echo a; sleep 7; echo b) | kprod -q --progress {topic}"),
        &[],
    )
    .success();
    let err = long.stderr();
    assert!(!err.contains('\r') && !err.contains('\x1b'), "{err:?}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("kprod: 1 read, 1 delivered, 0 in flight, 0 failed; "),
        "{err}"
    );
    assert!(
        lines[1].starts_with("kprod: delivered 2 records in "),
        "{err}"
    );
    // --no-progress after --progress wins (the last one does).
    let off = in_shell(
        &format!("echo a | kprod -q --progress --no-progress {topic}"),
        &[],
    );
    assert_eq!(off.success().stderr(), "");
}

#[test]
fn a_misspelt_cluster_name_reaches_no_cluster() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    for with_brokers in [false, true] {
        run(misnamed("kprod", with_brokers)
            .arg(&topic)
            .write_stdin("x\n"))
        .reached_no_cluster("kprod");
    }
    assert_eq!(records(&topic), Vec::<Value>::new(), "records were written");
}

/// `1234567` as `1,234,567`, as the tools print counts.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
