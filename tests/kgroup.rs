//! kgroup against the live test cluster, with groups made by three different clients:
//! `kcons -g` (ours), kcat `-G` (another librdkafka) and Kafka's own Java console
//! consumer, and lag compared with Kafka's own `kafka-consumer-groups --describe`.
//!
//! Every expectation is exact: the records per partition are produced with `kprod -p`,
//! so each committed offset, end offset and lag is known in advance.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use kpipes_e2e::*;

fn kgroup() -> assert_cmd::Command {
    tool("kgroup")
}

/// `count` records into one partition, values `prefix-0`, `prefix-1`, ...
fn produce(topic: &str, partition: i32, count: usize) {
    if count == 0 {
        return;
    }
    let input: String = (0..count).map(|i| format!("p{partition}-{i}\n")).collect();
    run(tool("kprod")
        .args(["-q", topic, "-p", &partition.to_string()])
        .write_stdin(input))
    .success();
}

/// `kcons -g GROUP TOPIC -e`: read everything there is and commit it; the records read.
fn kcons_group(group: &str, topic: &str, extra: &[&str]) -> Vec<Value> {
    run(tool("kcons").args(["-g", group, topic, "-e"]).args(extra))
        .success()
        .json_lines()
}

/// `kgroup describe GROUP`: the group line, and the partition lines by (topic, partition).
fn describe(group: &str) -> (Value, BTreeMap<(String, i64), Value>) {
    let ran = run(kgroup().args(["describe", group])).success();
    split_describe(&ran.json_lines(), group)
}

fn split_describe(lines: &[Value], group: &str) -> (Value, BTreeMap<(String, i64), Value>) {
    let summary: Vec<&Value> = lines
        .iter()
        .filter(|l| l["kind"] == "group" && l["group"] == group)
        .collect();
    assert_eq!(summary.len(), 1, "one group line for {group}: {lines:?}");
    let partitions = lines
        .iter()
        .filter(|l| l["kind"] == "partition" && l["group"] == group)
        .map(|l| {
            (
                (
                    l["topic"].as_str().unwrap().to_string(),
                    l["partition"].as_i64().unwrap(),
                ),
                l.clone(),
            )
        })
        .collect();
    (summary[0].clone(), partitions)
}

/// The high watermark of each partition, as `ktopic offsets` reads it (a plain consumer).
/// Assert that for each partition of `topic` the group committed `committed[p]` (None:
/// nothing) and that `end` and `lag` match the topic's real high watermarks; the total lag
/// on the group line must be the sum.
fn assert_lag(group: &str, topic: &str, committed: &[Option<i64>]) -> Value {
    let (summary, partitions) = describe(group);
    let highs = end_offsets(tool("ktopic"), topic);
    let mut total = 0;
    for (partition, expected) in committed.iter().enumerate() {
        let key = (topic.to_string(), partition as i64);
        let line = partitions
            .get(&key)
            .unwrap_or_else(|| panic!("no line for {topic}/{partition}: {partitions:?}"));
        let end = highs[&(partition as i64)];
        assert_eq!(line["committed"].as_i64(), *expected, "committed of {line}");
        assert_eq!(line["end"].as_i64(), Some(end), "end of {line}");
        // Without a commit the lag counts from the start (every topic here starts at 0).
        let lag = end - expected.unwrap_or(0);
        assert_eq!(line["lag"].as_i64(), Some(lag), "lag of {line}");
        total += lag;
    }
    assert_eq!(summary["lag"].as_i64(), Some(total), "total lag: {summary}");
    summary
}

/// The offsets the group has committed in `topic`, by partition (absent: none).
fn committed(group: &str, topic: &str) -> BTreeMap<i64, i64> {
    describe(group)
        .1
        .into_iter()
        .filter(|((t, _), _)| t == topic)
        .filter_map(|((_, p), line)| Some((p, line["committed"].as_i64()?)))
        .collect()
}

/// A background process (ours to kill), pointed at the test cluster; killed when dropped.
fn background(program: impl Into<PathBuf>, args: &[&str]) -> Proc {
    let program = program.into();
    let mut cmd = if program.as_os_str() == "kcat" {
        kcat_process()
    } else {
        Command::new(program)
    };
    Proc::spawn(cmd.args(args).env("KAFKA_BROKERS", brokers()))
}

/// Poll `kgroup describe` until `ready` holds for its lines; those lines.
fn describe_until(group: &str, what: &str, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    eventually(what, Duration::from_secs(60), || {
        let ran = run(kgroup().args(["describe", group, "--members"]));
        if !ran.output.status.success() {
            return None;
        }
        let lines = ran.json_lines();
        ready(&lines).then_some(lines)
    })
}

const CONSOLE_CONSUMER: &str = "org.apache.kafka.tools.consumer.ConsoleConsumer";
const CONSUMER_GROUPS: &str = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand";

#[test]
fn kcons_group_lag_is_end_minus_committed_in_every_partition() {
    needs_cluster!();
    let topic = create_topic(3, &[]);
    let group = unique_name("kg-kcons");
    for (partition, count) in [(0, 7), (1, 11), (2, 4)] {
        produce(&topic, partition, count);
    }
    assert_eq!(kcons_group(&group, &topic, &[]).len(), 22);
    // What kcons read is committed: no lag yet.
    assert_lag(&group, &topic, &[Some(7), Some(11), Some(4)]);
    for (partition, count) in [(0, 3), (2, 5)] {
        produce(&topic, partition, count);
    }
    let summary = assert_lag(&group, &topic, &[Some(7), Some(11), Some(4)]);
    assert_eq!(summary["lag"], 8, "{summary}");
    assert_eq!(summary["state"], "Empty", "{summary}");
    assert_eq!(summary["members"], 0, "{summary}");
    assert_eq!(summary["type"], "classic", "{summary}");
    assert_eq!(summary["partitions"], 3, "{summary}");

    // Reading 4 more records (partition by partition, in any order) moves the commits by 4.
    assert_eq!(kcons_group(&group, &topic, &["-c", "4"]).len(), 4);
    let after = committed(&group, &topic);
    assert_eq!(after.values().sum::<i64>(), 7 + 11 + 4 + 4, "{after:?}");
    let summary = assert_lag(
        &group,
        &topic,
        &[Some(after[&0]), Some(after[&1]), Some(after[&2])],
    );
    assert_eq!(summary["lag"], 4, "{summary}");

    // The table shows the same numbers.
    let table = run(kgroup().args(["describe", &group, "--table"]))
        .success()
        .stdout();
    let header = table.lines().next().unwrap();
    for column in ["GROUP", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG"] {
        assert!(header.contains(column), "{table}");
    }
    assert_eq!(table.lines().count(), 4, "{table}");
}

#[test]
fn reset_moves_the_group_and_kcons_reads_from_exactly_there() {
    needs_cluster!();
    let topic = create_topic(3, &[]);
    let group = unique_name("kg-reset");
    for partition in 0..3 {
        produce(&topic, partition, 10);
    }
    kcons_group(&group, &topic, &[]);
    assert_eq!(
        committed(&group, &topic),
        BTreeMap::from([(0, 10), (1, 10), (2, 10)])
    );

    // Without --execute: the plan, and nothing changed.
    let plan = run(kgroup().args(["reset", &group, "--topic", &topic, "--to", "-4"]))
        .success()
        .stderr_has("--execute");
    let lines = plan.json_lines();
    assert_eq!(lines.len(), 3, "{}", plan.stdout());
    for line in &lines {
        assert_eq!(line["previous"], 10, "{line}");
        assert_eq!(line["offset"], 6, "{line}");
        assert_eq!(line["lag"], 4, "{line}");
        assert_eq!(line["executed"], false, "{line}");
    }
    assert_eq!(
        committed(&group, &topic),
        BTreeMap::from([(0, 10), (1, 10), (2, 10)]),
        "a reset without --execute changed the offsets"
    );

    // Each partition somewhere else, with --execute.
    for (spec, to, expected) in [
        (format!("{topic}:0"), "3", 3),
        (format!("{topic}:1"), "-4", 6),
        (format!("{topic}:2"), "earliest", 0),
    ] {
        let ran = run(kgroup().args(["reset", &group, "--topic", &spec, "--to", to, "--execute"]))
            .success();
        let lines = ran.json_lines();
        assert_eq!(lines.len(), 1, "{}", ran.stdout());
        assert_eq!(lines[0]["offset"], expected, "{}", ran.stdout());
        assert_eq!(lines[0]["executed"], true, "{}", ran.stdout());
    }
    assert_lag(&group, &topic, &[Some(3), Some(6), Some(0)]);

    // kcons resumes from exactly those offsets: 7 + 4 + 10 records, from 3, 6 and 0.
    let records = run(tool("kcons").args(["-g", &group, &topic, "-o", "stored", "-e"]))
        .success()
        .json_lines();
    let mut first: BTreeMap<i64, i64> = BTreeMap::new();
    let mut count: BTreeMap<i64, i64> = BTreeMap::new();
    for record in &records {
        let partition = record["partition"].as_i64().unwrap();
        let offset = record["offset"].as_i64().unwrap();
        let entry = first.entry(partition).or_insert(offset);
        *entry = (*entry).min(offset);
        *count.entry(partition).or_default() += 1;
    }
    assert_eq!(
        first,
        BTreeMap::from([(0, 3), (1, 6), (2, 0)]),
        "{records:?}"
    );
    assert_eq!(
        count,
        BTreeMap::from([(0, 7), (1, 4), (2, 10)]),
        "{records:?}"
    );
    assert_lag(&group, &topic, &[Some(10), Some(10), Some(10)]);

    // --all-topics covers every topic with a commit; --table shows the plan as columns.
    let ran = run(kgroup().args(["reset", &group, "--all-topics", "--to", "latest", "--table"]))
        .success();
    let table = ran.stdout();
    assert!(table.starts_with("GROUP"), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");
}

#[test]
fn reset_to_a_time_and_by_shifts() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    let group = unique_name("kg-shift");
    // Ten records one second apart, ending a minute ago.
    let base = now_ms() - 60_000 - 10_000;
    let input: String = (0..10)
        .map(|i| format!("{{\"value\":\"r{i}\",\"timestamp\":{}}}\n", base + i * 1000))
        .collect();
    run(tool("kprod")
        .args(["-q", "--json", &topic])
        .write_stdin(input))
    .success();
    kcons_group(&group, &topic, &[]);

    let reset = |to: &str| -> i64 {
        let ran = run(kgroup().args(["reset", &group, "--topic", &topic, "--to", to, "--execute"]))
            .success();
        let lines = ran.json_lines();
        assert_eq!(lines.len(), 1, "{}", ran.stdout());
        let offset = lines[0]["offset"].as_i64().unwrap();
        // What is committed is what was printed.
        assert_eq!(
            committed(&group, &topic).get(&0),
            Some(&offset),
            "--to {to}"
        );
        offset
    };
    assert_eq!(reset(&format!("@{}", base + 3500)), 4);
    // Times as kcore::time reads them (RFC 3339, relative, now), with or without the @.
    assert_eq!(
        reset(&rfc3339_utc(base + 3000)),
        3,
        "exactly at a record: that record"
    );
    assert_eq!(reset(&format!("@{}", rfc3339_utc(base + 2001))), 3);
    assert_eq!(reset("-1d"), 0);
    assert_eq!(reset("now"), 10, "no record that recent: the end");
    run(kgroup().args(["reset", &group, "--topic", &topic, "--to", "soon"]))
        .code_is(2)
        .one_error_line("kgroup")
        .stderr_has("2024-05-01T10:00:00Z");
    assert_eq!(reset(&format!("@{}", base)), 0);
    assert_eq!(
        reset(&format!("@{}", now_ms())),
        10,
        "no record that recent: the end"
    );
    assert_eq!(reset("committed-3"), 7);
    assert_eq!(reset("+2"), 9);
    assert_eq!(reset("committed+5"), 10, "kept within the partition");
    assert_eq!(reset("2"), 2);
    assert_eq!(reset("99"), 10, "kept within the partition");
    assert_eq!(reset("-100"), 0, "kept within the partition");
}

#[test]
fn reset_delete_and_delete_offsets_are_refused_while_kcons_consumes() {
    needs_cluster!();
    let topic = create_topic(2, &[]);
    let group = unique_name("kg-busy");
    produce(&topic, 0, 5);
    produce(&topic, 1, 5);
    kcons_group(&group, &topic, &[]);
    let client_id = unique_name("kcons-client");
    let consumer = background(
        bin_path("kcons"),
        &[
            "-g",
            &group,
            &topic,
            "-X",
            &format!("client.id={client_id}"),
        ],
    );
    let lines = describe_until(&group, "kcons to join the group", |lines| {
        lines
            .iter()
            .any(|l| l["kind"] == "group" && l["members"] == 1 && l["state"] == "Stable")
            && lines
                .iter()
                .any(|l| l["kind"] == "member" && l["partitions"].as_array().unwrap().len() == 2)
    });
    let member = lines.iter().find(|l| l["kind"] == "member").unwrap();
    assert_eq!(member["client_id"], client_id.as_str(), "{member}");
    // Every partition line names the member that owns it.
    let (_, partitions) = describe(&group);
    for line in partitions.values() {
        assert_eq!(line["member"]["member_id"], member["member_id"], "{line}");
    }

    for args in [
        vec!["reset", &group, "--topic", &topic, "--to", "earliest"],
        vec![
            "reset",
            &group,
            "--topic",
            &topic,
            "--to",
            "earliest",
            "--execute",
        ],
        vec!["delete-offsets", &group, "--topic", &topic],
        vec!["delete", &group],
    ] {
        run(kgroup().args(&args))
            .code_is(9)
            .one_error_line("kgroup")
            .stderr_has("active member");
    }
    assert_eq!(
        committed(&group, &topic),
        BTreeMap::from([(0, 5), (1, 5)]),
        "a refused reset changed the offsets"
    );

    // Once the consumer has left, the same reset goes through.
    consumer.stop(Duration::from_secs(30));
    describe_until(&group, "the group to be empty", |lines| {
        lines
            .iter()
            .any(|l| l["kind"] == "group" && l["members"] == 0)
    });
    run(kgroup().args([
        "reset",
        &group,
        "--topic",
        &topic,
        "--to",
        "earliest",
        "--execute",
    ]))
    .success();
    assert_lag(&group, &topic, &[Some(0), Some(0)]);
}

#[test]
fn kcat_group_members_without_commits_and_with_them() {
    needs_cluster!();
    let topic = create_topic(2, &[]);
    produce(&topic, 0, 5);
    produce(&topic, 1, 8);
    let brokers = brokers();

    // A member that starts at the end reads nothing, so commits nothing: the lag is the
    // whole log, and each partition names its owner.
    let idle = unique_name("kg-kcat-idle");
    let client_id = unique_name("kcat-client");
    let kcat = background(
        "kcat",
        &[
            "-b",
            &brokers,
            "-G",
            &idle,
            "-X",
            &format!("client.id={client_id}"),
            "-X",
            "auto.offset.reset=latest",
            "-q",
            &topic,
        ],
    );
    let lines = describe_until(
        &idle,
        "kcat to join and be assigned both partitions",
        |lines| {
            lines
                .iter()
                .filter(|l| l["kind"] == "member")
                .map(|l| l["partitions"].as_array().unwrap().len())
                .sum::<usize>()
                == 2
        },
    );
    let member = lines.iter().find(|l| l["kind"] == "member").unwrap();
    assert_eq!(member["client_id"], client_id.as_str(), "{member}");
    let summary = assert_lag(&idle, &topic, &[None, None]);
    assert_eq!(summary["lag"], 13, "{summary}");
    assert_eq!(summary["members"], 1, "{summary}");
    let (_, partitions) = describe(&idle);
    for line in partitions.values() {
        assert_eq!(line["member"]["client_id"], client_id.as_str(), "{line}");
        assert_eq!(line["member"]["member_id"], member["member_id"], "{line}");
        assert!(
            line["member"]["host"]
                .as_str()
                .unwrap()
                .contains("127.0.0.1"),
            "{line}"
        );
    }
    kcat.stop(Duration::from_secs(30));

    // kcat reading everything (-e) commits it on the way out.
    let reader = unique_name("kg-kcat");
    run(kpipes_e2e::kcat()
        .args([
            "-b",
            &brokers,
            "-G",
            &reader,
            "-X",
            "auto.offset.reset=earliest",
            "-e",
            "-q",
            &topic,
        ])
        .timeout(Duration::from_secs(120)))
    .success();
    assert_lag(&reader, &topic, &[Some(5), Some(8)]);
    produce(&topic, 1, 2);
    let summary = assert_lag(&reader, &topic, &[Some(5), Some(8)]);
    assert_eq!(summary["lag"], 2, "{summary}");
}

/// `kafka-consumer-groups --describe` rows: (topic, partition) to
/// [current offset, log end offset, lag], "-" as None.
type KafkaRows = BTreeMap<(String, i64), [Option<i64>; 3]>;

/// Kafka's own `kafka-consumer-groups --describe` of a group, and how long it took.
fn kafka_describe(group: &str) -> (KafkaRows, Duration) {
    let started = Instant::now();
    let ran = run(kafka_java(CONSUMER_GROUPS).args([
        "--bootstrap-server",
        &brokers(),
        "--describe",
        "--group",
        group,
    ]))
    .success();
    let took = started.elapsed();
    let stdout = ran.stdout();
    let mut header: Option<Vec<&str>> = None;
    let mut rows = BTreeMap::new();
    for line in stdout.lines() {
        let cells: Vec<&str> = line.split_whitespace().collect();
        if cells.first() == Some(&"GROUP") {
            header = Some(cells);
            continue;
        }
        let Some(header) = &header else { continue };
        if cells.first() != Some(&group) {
            continue;
        }
        let column = |name: &str| {
            let index = header.iter().position(|h| *h == name).unwrap_or_else(|| {
                panic!("no {name} column in kafka-consumer-groups output:\n{stdout}")
            });
            cells[index]
        };
        let number = |name: &str| column(name).parse::<i64>().ok();
        rows.insert(
            (column("TOPIC").to_string(), number("PARTITION").unwrap()),
            [
                number("CURRENT-OFFSET"),
                number("LOG-END-OFFSET"),
                number("LAG"),
            ],
        );
    }
    assert!(!rows.is_empty(), "no rows for {group}:\n{stdout}");
    (rows, took)
}

#[test]
fn java_console_consumer_group_lag_agrees_with_kafka_consumer_groups() {
    needs_cluster!();
    let topic = create_topic(3, &[]);
    let group = unique_name("kg-java");
    for (partition, count) in [(0, 6), (1, 9), (2, 3)] {
        produce(&topic, partition, count);
    }
    // Kafka's console consumer reads all 18 records and commits on its way out.
    run(kafka_java(CONSOLE_CONSUMER).args([
        "--bootstrap-server",
        &brokers(),
        "--topic",
        &topic,
        "--group",
        &group,
        "--from-beginning",
        "--max-messages",
        "18",
    ]))
    .success();
    assert_lag(&group, &topic, &[Some(6), Some(9), Some(3)]);
    produce(&topic, 0, 2);
    produce(&topic, 2, 7);
    let started = Instant::now();
    let (summary, ours) = describe(&group);
    let our_time = started.elapsed();
    assert_eq!(summary["lag"], 9, "{summary}");
    assert_lag(&group, &topic, &[Some(6), Some(9), Some(3)]);

    let (theirs, their_time) = kafka_describe(&group);
    assert_eq!(
        theirs.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>(),
        "the same partitions"
    );
    for (key, [current, end, lag]) in &theirs {
        let line = &ours[key];
        assert_eq!(line["committed"].as_i64(), *current, "{key:?}: {line}");
        assert_eq!(line["end"].as_i64(), *end, "{key:?}: {line}");
        assert_eq!(line["lag"].as_i64(), *lag, "{key:?}: {line}");
    }
    eprintln!("describe took {our_time:?} with kgroup, {their_time:?} with kafka-consumer-groups");
}

#[test]
fn java_consumer_on_the_consumer_protocol_is_described_while_it_runs() {
    needs_cluster!();
    let topic = create_topic(2, &[]);
    let group = unique_name("kg-kip848");
    produce(&topic, 0, 4);
    produce(&topic, 1, 6);
    let client_id = unique_name("java-848");
    let home = kafka_home();
    let classpath = format!("{}/libs/*", home.display());
    let brokers = brokers();
    let java = background(
        "java",
        &[
            "-cp",
            &classpath,
            CONSOLE_CONSUMER,
            "--bootstrap-server",
            &brokers,
            "--topic",
            &topic,
            "--group",
            &group,
            "--from-beginning",
            "--consumer-property",
            "group.protocol=consumer",
            "--consumer-property",
            &format!("client.id={client_id}"),
        ],
    );
    // It reads all 10 records and (auto-)commits them while it runs.
    let lines = describe_until(
        &group,
        "the Java consumer to commit all 10 records",
        |lines| {
            lines
                .iter()
                .any(|l| l["kind"] == "group" && l["members"] == 1)
                && run(kgroup().args(["describe", &group]))
                    .json_lines()
                    .iter()
                    .filter(|l| l["kind"] == "partition")
                    .map(|l| l["committed"].as_i64().unwrap_or(0))
                    .sum::<i64>()
                    == 10
        },
    );
    let summary = lines.iter().find(|l| l["kind"] == "group").unwrap();
    assert_eq!(summary["type"], "consumer", "{summary}");
    assert_eq!(summary["state"], "Stable", "{summary}");
    let member = lines.iter().find(|l| l["kind"] == "member").unwrap();
    assert_eq!(member["client_id"], client_id.as_str(), "{member}");
    assert_lag(&group, &topic, &[Some(4), Some(6)]);
    // Active: a reset is refused.
    run(kgroup().args([
        "reset",
        &group,
        "--topic",
        &topic,
        "--to",
        "earliest",
        "--execute",
    ]))
    .code_is(9)
    .one_error_line("kgroup");
    java.stop(Duration::from_secs(30));
}

#[test]
fn list_shows_groups_and_filters_by_state() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    produce(&topic, 0, 2);
    let group = unique_name("kg-list");
    kcons_group(&group, &topic, &[]);
    let listed = |args: &[&str]| -> Vec<Value> {
        run(kgroup().arg("list").args(args))
            .success()
            .json_lines()
            .into_iter()
            .filter(|l| l["group"] == group.as_str())
            .collect()
    };
    let all = listed(&[]);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["state"], "Empty", "{all:?}");
    assert_eq!(all[0]["type"], "classic", "{all:?}");
    assert_eq!(all[0]["members"], 0, "{all:?}");
    assert!(all[0]["coordinator"].is_i64(), "{all:?}");
    assert_eq!(listed(&["--state", "empty"]).len(), 1);
    assert_eq!(listed(&["--state", "Stable"]).len(), 0);
    assert_eq!(listed(&["--state", "Stable", "--state", "EMPTY"]).len(), 1);
    let table = run(kgroup().args(["list", "--table"])).success().stdout();
    assert!(table.starts_with("GROUP"), "{table}");
    assert!(table.contains(&group), "{table}");
    run(kgroup().args(["list", "--state", "busy"]))
        .code_is(2)
        .one_error_line("kgroup");
}

#[test]
fn delete_offsets_then_delete_the_group() {
    needs_cluster!();
    let kept = create_topic(1, &[]);
    let dropped = create_topic(2, &[]);
    produce(&kept, 0, 3);
    produce(&dropped, 0, 2);
    produce(&dropped, 1, 2);
    let group = unique_name("kg-delete");
    kcons_group(&group, &kept, &[]);
    kcons_group(&group, &dropped, &[]);
    assert_eq!(describe(&group).1.len(), 3);

    let ran = run(kgroup().args(["delete-offsets", &group, "--topic", &dropped])).success();
    let lines = ran.json_lines();
    assert_eq!(lines.len(), 2, "{}", ran.stdout());
    assert!(lines
        .iter()
        .all(|l| l["deleted"] == true && l["topic"] == dropped.as_str()));
    let (_, partitions) = describe(&group);
    assert_eq!(
        partitions.keys().cloned().collect::<Vec<_>>(),
        vec![(kept.clone(), 0)],
        "only the other topic's commit is left"
    );

    let ran = run(kgroup().args(["delete", &group])).success();
    assert_eq!(
        ran.json_lines(),
        vec![json!({"group": group, "deleted": true})]
    );
    run(kgroup().args(["describe", &group]))
        .code_is(6)
        .one_error_line("kgroup")
        .stderr_has("unknown group");
    run(kgroup().args(["delete", &group]))
        .code_is(6)
        .one_error_line("kgroup");
}

#[test]
fn errors_are_one_line_with_their_exit_codes() {
    needs_cluster!();
    let topic = create_topic(2, &[]);
    produce(&topic, 0, 1);
    let group = unique_name("kg-errors");
    kcons_group(&group, &topic, &[]);
    let unknown = unique_name("kg-none");

    run(kgroup().args(["describe", &unknown]))
        .code_is(6)
        .one_error_line("kgroup")
        .stderr_has(&format!("unknown group '{unknown}'"));
    // Several groups: the known one is still described.
    let ran = run(kgroup().args(["describe", &group, &unknown])).code_is(6);
    assert!(ran.stderr().contains(&unknown), "{}", ran.stderr());
    split_describe(&ran.json_lines(), &group);
    run(kgroup().args(["reset", &unknown, "--topic", &topic, "--to", "earliest"]))
        .code_is(6)
        .one_error_line("kgroup");
    run(kgroup().args([
        "reset",
        &group,
        "--topic",
        "kg-no-such-topic",
        "--to",
        "earliest",
    ]))
    .code_is(6)
    .one_error_line("kgroup")
    .stderr_has("unknown topic 'kg-no-such-topic'");
    run(kgroup().args([
        "reset",
        &group,
        "--topic",
        &format!("{topic}:5"),
        "--to",
        "0",
    ]))
    .code_is(2)
    .one_error_line("kgroup")
    .stderr_has("no partition 5");
    run(kgroup().args(["reset", &group, "--topic", &topic, "--to", "yesterday"]))
        .code_is(2)
        .one_error_line("kgroup")
        .stderr_has("bad --to");
    run(kgroup().args(["reset", &group, "--to", "earliest"]))
        .code_is(2)
        .one_error_line("kgroup");
    run(kgroup().args(["delete-offsets", &group, "--topic", "kg-no-such-topic"]))
        .code_is(6)
        .one_error_line("kgroup");
    // Nothing above changed the group.
    assert_lag(&group, &topic, &[Some(1), None]);

    fails_unreachable_in_time(
        kgroup().args(["-b", "localhost:1", "--timeout", "2", "list"]),
        "kgroup",
    );
    fails_unreachable_in_time(
        kgroup().args(["-b", "localhost:1", "--timeout", "2", "describe", &group]),
        "kgroup",
    );
}

#[test]
fn help_examples_completions_and_man_page() {
    let plain = || assert_cmd::Command::new(bin_path("kgroup"));
    for args in [
        vec!["--help"],
        vec!["list", "--help"],
        vec!["describe", "--help"],
        vec!["reset", "--help"],
        vec!["delete", "--help"],
        vec!["delete-offsets", "--help"],
    ] {
        let help = run(plain().args(&args)).success().stdout();
        assert!(help.contains("Examples:"), "kgroup {args:?}:\n{help}");
    }
    let describe_help = run(plain().args(["describe", "--help"])).success().stdout();
    for kind in ["group", "partition", "member"] {
        assert!(describe_help.contains(kind), "{describe_help}");
    }
    let version = run(plain().arg("--version")).success().stdout();
    assert!(version.starts_with("kgroup "), "{version}");
    let man = run(plain().args(["--generate", "man"])).success().stdout();
    assert!(man.contains(".TH kgroup"), "{man}");
    for shell in ["bash", "zsh", "fish"] {
        let script = run(plain().args(["--generate", shell])).success().stdout();
        assert!(script.contains("delete-offsets"), "{shell}: {script}");
    }
}

/// A single-node Kafka of its own with ACLs: a SASL/PLAIN listener for clients, where
/// `admin` is a super user and `alice` is allowed nothing. Killed and removed when dropped.
struct AclBroker {
    _dir: tempfile::TempDir,
    broker: Proc,
    port: u16,
}

impl AclBroker {
    fn start() -> AclBroker {
        let dir = tempfile::tempdir().unwrap();
        let (internal, client, controller) = (free_port(), free_port(), free_port());
        let mut broker = one_node_kafka(
            dir.path(),
            &format!(
                "controller.quorum.voters=1@127.0.0.1:{controller}\n\
                 listeners=INTERNAL://127.0.0.1:{internal},CLIENT://127.0.0.1:{client},CONTROLLER://127.0.0.1:{controller}\n\
                 advertised.listeners=INTERNAL://127.0.0.1:{internal},CLIENT://127.0.0.1:{client}\n\
                 listener.security.protocol.map=INTERNAL:PLAINTEXT,CLIENT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT\n\
                 controller.listener.names=CONTROLLER\n\
                 inter.broker.listener.name=INTERNAL\n\
                 sasl.enabled.mechanisms=PLAIN\n\
                 listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin=\"admin-pw\" user_alice=\"alice-pw\";\n\
                 authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n\
                 super.users=User:ANONYMOUS;User:admin\n\
                 allow.everyone.if.no.acl.found=false\n\
                 offsets.topic.num.partitions=1\n"
            ),
            &[],
        );
        let broker = Proc::spawn(&mut broker);
        let acl = AclBroker {
            _dir: dir,
            broker,
            port: client,
        };
        eventually_succeeds(
            "the ACL broker to serve its admin",
            Duration::from_secs(90),
            || {
                let mut cmd = acl.as_user("ktopic", "admin");
                cmd.args(["list", "--timeout", "2"]);
                cmd
            },
        );
        acl
    }

    /// A tool connecting as `user` (password `USER-pw`).
    fn as_user(&self, tool_name: &str, user: &str) -> assert_cmd::Command {
        let mut cmd = tool(tool_name);
        cmd.args(["-b", &format!("127.0.0.1:{}", self.port)])
            .args([
                "-X",
                "security.protocol=sasl_plaintext",
                "-X",
                "sasl.mechanism=PLAIN",
            ])
            .args(["-X", &format!("sasl.username={user}")])
            .args(["-X", &format!("sasl.password={user}-pw")]);
        cmd
    }
}

#[test]
fn not_authorized_is_one_line_and_exit_10() {
    needs_cluster!();
    let acl = AclBroker::start();
    let topic = "kg-acl-topic";
    let group = "kg-acl-group";
    run(acl
        .as_user("ktopic", "admin")
        .args(["create", topic, "-p", "1", "-r", "1"]))
    .success();
    run(acl
        .as_user("kprod", "admin")
        .args(["-q", topic])
        .write_stdin("a\nb\n"))
    .success();
    run(acl
        .as_user("kcons", "admin")
        .args(["-g", group, topic, "-e"]))
    .success();
    let (summary, _) = split_describe(
        &run(acl.as_user("kgroup", "admin").args(["describe", group]))
            .success()
            .json_lines(),
        group,
    );
    assert_eq!(summary["lag"], 0, "{summary}");

    for args in [
        vec!["describe", group],
        vec!["delete", group],
        vec![
            "reset",
            group,
            "--topic",
            topic,
            "--to",
            "earliest",
            "--execute",
        ],
        vec!["delete-offsets", group, "--topic", topic],
    ] {
        run(acl.as_user("kgroup", "alice").args(&args))
            .code_is(10)
            .one_error_line("kgroup")
            .stderr_has("not authorized by the cluster's ACLs");
    }
    // Listing shows only the groups one may see: none, and no error.
    let listed = run(acl.as_user("kgroup", "alice").arg("list")).success();
    assert_eq!(listed.stdout(), "", "alice sees no group");
    // Nothing alice tried changed the group.
    let ran = run(acl.as_user("kgroup", "admin").args(["describe", group])).success();
    let (_, partitions) = split_describe(&ran.json_lines(), group);
    assert_eq!(partitions[&(topic.to_string(), 0)]["committed"], 2);
    drop(acl.broker);
}

#[test]
fn a_misspelt_cluster_name_reaches_no_cluster() {
    needs_cluster!();
    for with_brokers in [false, true] {
        let ran = run(misnamed("kgroup", with_brokers).arg("list")).reached_no_cluster("kgroup");
        assert_eq!(ran.stdout(), "");
    }
}

#[test]
fn members_say_which_tool_on_which_host_they_are() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    let group = unique_name("kg-client-id");
    let _kcons = background(bin_path("kcons"), &[&topic, "-g", &group]);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let expected = format!("kcons@{}", host.trim());
    let lines = describe_until(&group, "a member of the group", |lines| {
        lines.iter().any(|l| l["kind"] == "member")
    });
    let member = lines.iter().find(|l| l["kind"] == "member").unwrap();
    assert_eq!(member["client_id"], json!(expected), "{lines:?}");
}
