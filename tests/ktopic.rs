//! ktopic against the live test cluster, cross-checked with kcat where it can be.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kpipes_e2e::*;

fn ktopic() -> assert_cmd::Command {
    tool("ktopic")
}

/// `ktopic create TOPIC ARGS...`, which must succeed; its one JSON line.
fn create(topic: &str, args: &[&str]) -> Value {
    let ran = run(ktopic().arg("create").arg(topic).args(args)).success();
    let lines = ran.json_lines();
    assert_eq!(lines.len(), 1, "{}", ran.stdout());
    lines[0].clone()
}

/// `ktopic describe TOPIC`'s one line.
fn describe(cmd: &mut assert_cmd::Command, topic: &str) -> Value {
    let ran = run(cmd.args(["describe", topic])).success();
    let lines = ran.json_lines();
    assert_eq!(lines.len(), 1, "{}", ran.stdout());
    lines[0].clone()
}

fn ids(value: &Value) -> Vec<i64> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
}

/// Topic names `ktopic list` prints (with `--all` when asked).
fn listed(all: bool) -> Vec<String> {
    let mut cmd = ktopic();
    cmd.arg("list");
    if all {
        cmd.arg("--all");
    }
    run(&mut cmd)
        .success()
        .json_lines()
        .iter()
        .map(|l| l["topic"].as_str().unwrap().to_string())
        .collect()
}

/// Produce `count` records to one partition with kcat (a client that is not ours).
fn kcat_produce(brokers: &str, topic: &str, partition: i32, count: usize) {
    let input: String = (0..count).map(|i| format!("record-{i}\n")).collect();
    run(kcat()
        .args([
            "-P",
            "-b",
            brokers,
            "-t",
            topic,
            "-p",
            &partition.to_string(),
        ])
        .write_stdin(input)
        .timeout(Duration::from_secs(60)))
    .success();
}

#[test]
fn create_then_describe_shows_every_partition_on_three_brokers() {
    needs_cluster!();
    let topic = unique_name("t-seed");
    let created = create(&topic, &["-p", "2", "-r", "3"]);
    assert_eq!(
        created,
        json!({"topic": topic, "partitions": 2, "replication_factor": 3, "created": true})
    );

    let described = describe(&mut ktopic(), &topic);
    assert_eq!(described["topic"], json!(topic));
    assert_eq!(described["partition_count"], json!(2));
    assert_eq!(described["replication_factor"], json!(3));
    assert_eq!(described["under_replicated"], json!(false));
    assert!(
        described["id"].as_str().is_some_and(|id| id.len() == 22),
        "a topic id: {described}"
    );
    let partitions = described["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 2, "{described}");
    let mut brokers = BTreeSet::new();
    for (index, partition) in partitions.iter().enumerate() {
        assert_eq!(partition["partition"], json!(index), "{described}");
        let replicas = ids(&partition["replicas"]);
        let isr: BTreeSet<i64> = ids(&partition["isr"]).into_iter().collect();
        assert_eq!(replicas.len(), 3, "{described}");
        assert_eq!(
            isr,
            replicas.iter().copied().collect(),
            "the ISR is every replica: {described}"
        );
        assert!(
            replicas.contains(&partition["leader"].as_i64().unwrap()),
            "{described}"
        );
        assert_eq!(partition["under_replicated"], json!(false));
        assert_eq!(partition["offline"], json!(false));
        brokers.extend(replicas);
    }
    assert_eq!(
        brokers,
        BTreeSet::from([1, 2, 3]),
        "replicas spread over brokers 1-3: {described}"
    );
}

/// Once `create` (or `delete`) returns, every broker answers with the change, not just
/// the one ktopic asked: the next command may reach any of them (`ktopic create t &&
/// kprod t`). Every answer after the command returned must show the change; the test
/// asks (kcat, whose metadata names the broker that answered) until each broker has
/// answered at least once, since the client and not the test picks who answers.
#[test]
fn create_and_delete_are_seen_by_every_broker_when_they_return() {
    needs_cluster!();
    let topic = unique_name("t-everywhere");
    let brokers = brokers();
    let each: Vec<&str> = brokers.split(',').collect();
    assert_eq!(each.len(), 3, "the test cluster's brokers: {brokers}");
    // Every topic (not one by name, which could make a broker auto-create it); the
    // topic as the answering broker sees it, and that broker's id.
    let ask = |broker: &str| -> (i64, Option<Value>) {
        let out = run(kcat().args(["-L", "-J", "-b", broker]))
            .success()
            .stdout();
        let metadata: Value = serde_json::from_str(&out).unwrap();
        let found = metadata["topics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["topic"] == json!(topic))
            .cloned();
        (
            metadata["originating_broker"]["id"].as_i64().unwrap(),
            found,
        )
    };
    let every_broker_answers = |check: &dyn Fn(i64, Option<Value>)| {
        let mut answered = BTreeSet::new();
        for attempt in 0.. {
            let (by, found) = ask(each[attempt % each.len()]);
            check(by, found);
            answered.insert(by);
            if answered.len() == each.len() {
                break;
            }
            assert!(attempt < 60, "only brokers {answered:?} ever answered");
        }
    };

    create(&topic, &["-p", "6", "-r", "1"]);
    every_broker_answers(&|by, found| {
        let found = found.unwrap_or_else(|| panic!("broker {by} does not know {topic} yet"));
        let partitions = found["partitions"].as_array().unwrap();
        assert_eq!(partitions.len(), 6, "broker {by}: {found}");
        assert!(
            partitions.iter().all(|p| p["leader"].as_i64() >= Some(0)),
            "broker {by}: {found}"
        );
    });
    run(ktopic().args(["delete", &topic])).success();
    every_broker_answers(&|by, found| {
        assert!(found.is_none(), "broker {by} still has {topic}: {found:?}");
    });
}

#[test]
fn describe_agrees_with_kcat() {
    needs_cluster!();
    let topic = unique_name("t-kcat");
    create(&topic, &["-p", "3", "-r", "2"]);
    let ours = describe(&mut ktopic(), &topic);
    let md = run(kcat()
        .args(["-L", "-J", "-t", &topic, "-b", &brokers()])
        .timeout(Duration::from_secs(60)))
    .success()
    .stdout();
    let md: Value = serde_json::from_str(&md).unwrap();
    let theirs = md["topics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["topic"] == json!(topic))
        .expect("kcat sees the topic");
    let by_id = |list: &Value| {
        list.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    let mut theirs: Vec<(i64, i64, Vec<i64>, Vec<i64>)> = theirs["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["partition"].as_i64().unwrap(),
                p["leader"].as_i64().unwrap(),
                by_id(&p["replicas"]),
                by_id(&p["isrs"]),
            )
        })
        .collect();
    theirs.sort();
    let ours: Vec<(i64, i64, Vec<i64>, Vec<i64>)> = ours["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["partition"].as_i64().unwrap(),
                p["leader"].as_i64().unwrap(),
                ids(&p["replicas"]),
                ids(&p["isr"]),
            )
        })
        .collect();
    assert_eq!(ours, theirs);
    assert_eq!(ours.len(), 3);
}

#[test]
fn describe_table_has_a_row_per_partition() {
    needs_cluster!();
    let topic = unique_name("t-table");
    create(&topic, &["-p", "2", "-r", "1"]);
    let text = run(ktopic().args(["describe", &topic, "--table"]))
        .success()
        .stdout();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("TOPIC") && lines[0].contains("LEADER") && lines[0].contains("ISR"),
        "{text}"
    );
    for (index, line) in lines[1..].iter().enumerate() {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[0], topic, "{text}");
        assert_eq!(cells[1], index.to_string(), "{text}");
        assert_eq!(cells[5], "ok", "{text}");
    }
}

#[test]
fn list_shows_internal_topics_only_with_all() {
    needs_cluster!();
    let topic = unique_name("t-list");
    create(&topic, &["-p", "1", "-r", "1"]);
    // __consumer_offsets appears once some consumer group has looked for its coordinator.
    if !listed(true).iter().any(|t| t == "__consumer_offsets") {
        kcat_produce(&brokers(), &topic, 0, 1);
        run(kcat()
            .args([
                "-b",
                &brokers(),
                "-G",
                &unique_name("g-list"),
                "-X",
                "auto.offset.reset=earliest",
                "-c",
                "1",
                "-q",
                &topic,
            ])
            .timeout(Duration::from_secs(120)))
        .success();
    }
    eventually(
        "__consumer_offsets in `ktopic list --all`",
        Duration::from_secs(60),
        || {
            listed(true)
                .iter()
                .any(|t| t == "__consumer_offsets")
                .then_some(())
        },
    );

    let plain = run(ktopic().arg("list")).success().json_lines();
    let names: Vec<&str> = plain.iter().map(|l| l["topic"].as_str().unwrap()).collect();
    assert!(names.contains(&topic.as_str()), "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with("__")),
        "internal topics without --all: {names:?}"
    );
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "sorted by name");
    let ours = plain.iter().find(|l| l["topic"] == json!(topic)).unwrap();
    assert_eq!(
        ours,
        &json!({"topic": topic, "partitions": 1, "replication_factor": 1, "internal": false})
    );

    let all = run(ktopic().args(["list", "--all"])).success().json_lines();
    let offsets = all
        .iter()
        .find(|l| l["topic"] == json!("__consumer_offsets"))
        .expect("--all lists __consumer_offsets");
    assert_eq!(offsets["internal"], json!(true));
    assert!(all.iter().any(|l| l["topic"] == json!(topic)));

    let table = run(ktopic().args(["list", "--table"])).success().stdout();
    assert!(
        table.lines().next().unwrap().starts_with("TOPIC"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().next() == Some(topic.as_str())),
        "{table}"
    );
}

#[test]
fn delete_by_name_and_from_stdin() {
    needs_cluster!();
    let prefix = unique_name("tmp-del");
    let names: Vec<String> = (0..3).map(|i| format!("{prefix}-{i}")).collect();
    for name in &names {
        create(name, &["-r", "1"]);
    }
    let ran = run(ktopic().args(["delete", &names[0]])).success();
    assert_eq!(
        ran.json_lines(),
        vec![json!({"topic": names[0], "deleted": true})]
    );
    assert!(
        !listed(false).contains(&names[0]),
        "deleted at once, not eventually"
    );

    // The README's pipeline: names from `list`, filtered, into `delete -`.
    let list = run(ktopic().arg("list")).success().stdout();
    let chosen: String = list
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["topic"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .filter(|t| t.starts_with(&prefix))
        .map(|t| format!("{t}\n\n"))
        .collect();
    let ran = run(ktopic().args(["delete", "-"]).write_stdin(chosen)).success();
    let deleted: BTreeSet<String> = ran
        .json_lines()
        .iter()
        .map(|l| l["topic"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(deleted, names[1..].iter().cloned().collect());
    let left = listed(false);
    assert!(names.iter().all(|n| !left.contains(n)), "{left:?}");

    // Nothing on stdin: nothing to do.
    run(ktopic().args(["delete", "-"]).write_stdin("")).success();
}

#[test]
fn delete_of_an_unknown_topic_still_deletes_the_others() {
    needs_cluster!();
    let (a, b) = (unique_name("t-del-a"), unique_name("t-del-b"));
    let missing = unique_name("t-missing");
    create(&a, &["-r", "1"]);
    create(&b, &["-r", "1"]);
    let ran = run(ktopic().args(["delete", &a, &missing, &b]))
        .code_is(6)
        .one_error_line("ktopic")
        .stderr_has(&missing);
    let deleted: Vec<String> = ran
        .json_lines()
        .iter()
        .map(|l| l["topic"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(deleted, vec![a.clone(), b.clone()]);
    let left = listed(false);
    assert!(!left.contains(&a) && !left.contains(&b), "{left:?}");
}

#[test]
fn partitions_grow_but_never_shrink() {
    needs_cluster!();
    let topic = unique_name("t-parts");
    create(&topic, &["-p", "2", "-r", "2"]);
    let ran = run(ktopic().args(["partitions", &topic, "5"])).success();
    assert_eq!(
        ran.json_lines(),
        vec![json!({"topic": topic, "partitions": 5, "previous": 2})]
    );
    let described = describe(&mut ktopic(), &topic);
    assert_eq!(described["partition_count"], json!(5));
    assert!(
        described["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["leader"].is_i64()),
        "{described}"
    );

    for fewer in ["3", "5"] {
        run(ktopic().args(["partitions", &topic, fewer]))
            .code_is(2)
            .one_error_line("ktopic")
            .stderr_has("has 5 partitions");
    }
    run(ktopic().args(["partitions", &unique_name("t-missing"), "3"]))
        .code_is(6)
        .one_error_line("ktopic");
}

#[test]
fn config_changes_touch_only_the_named_keys() {
    needs_cluster!();
    let topic = unique_name("t-config");
    create(
        &topic,
        &[
            "-r",
            "3",
            "-c",
            "retention.ms=12345",
            "-c",
            "cleanup.policy=compact",
        ],
    );
    let overrides = |ran: &Ran| ran.json_lines()[0]["configs"].clone();

    let ran = run(ktopic().args([
        "config",
        &topic,
        "--set",
        "max.message.bytes=2000000",
        "--overrides",
    ]))
    .success();
    assert_eq!(
        overrides(&ran),
        json!({"cleanup.policy": "compact", "max.message.bytes": "2000000", "retention.ms": "12345"})
    );
    let ran =
        run(ktopic().args(["config", &topic, "--unset", "retention.ms", "--overrides"])).success();
    assert_eq!(
        overrides(&ran),
        json!({"cleanup.policy": "compact", "max.message.bytes": "2000000"})
    );

    // Read back separately, in full: defaults are there too, the overrides kept.
    let full = run(ktopic().args(["config", &topic]))
        .success()
        .json_lines()[0]["configs"]
        .clone();
    assert_eq!(full["cleanup.policy"], json!("compact"));
    assert_eq!(full["max.message.bytes"], json!("2000000"));
    assert_ne!(
        full["retention.ms"],
        json!("12345"),
        "unset falls back to the default"
    );
    assert!(full.as_object().unwrap().len() > 10, "every key: {full}");
    let described = run(ktopic().args(["describe", &topic, "--configs"]))
        .success()
        .json_lines()[0]
        .clone();
    assert_eq!(
        described["configs"],
        json!({"cleanup.policy": "compact", "max.message.bytes": "2000000"})
    );
}

#[test]
fn config_errors() {
    needs_cluster!();
    let topic = unique_name("t-config-bad");
    create(&topic, &["-r", "3", "-c", "retention.ms=12345"]);
    run(ktopic().args(["config", &topic, "--set", "no.such.key=1"]))
        .code_is(2)
        .one_error_line("ktopic")
        .stderr_has("no.such.key");
    run(ktopic().args(["config", &topic, "--set", "retention.ms=soon"]))
        .code_is(2)
        .one_error_line("ktopic");
    run(ktopic().args(["config", &topic, "--set", "retention.ms"]))
        .code_is(2)
        .one_error_line("ktopic");
    run(ktopic().args(["config", &unique_name("t-missing")]))
        .code_is(6)
        .one_error_line("ktopic");
    let after = run(ktopic().args(["config", &topic, "--overrides"]))
        .success()
        .json_lines();
    assert_eq!(
        after[0]["configs"],
        json!({"retention.ms": "12345"}),
        "failed changes change nothing"
    );
}

#[test]
fn offsets_count_produced_records() {
    needs_cluster!();
    let topic = unique_name("t-offsets");
    create(&topic, &["-p", "3", "-r", "1"]);
    kcat_produce(&brokers(), &topic, 0, 7);
    kcat_produce(&brokers(), &topic, 1, 3);
    let ran = run(ktopic().args(["offsets", &topic])).success();
    assert_eq!(
        ran.json_lines(),
        vec![
            json!({"topic": topic, "partition": 0, "low": 0, "high": 7}),
            json!({"topic": topic, "partition": 1, "low": 0, "high": 3}),
            json!({"topic": topic, "partition": 2, "low": 0, "high": 0}),
        ]
    );
    let table = run(ktopic().args(["offsets", &topic, "--table"]))
        .success()
        .stdout();
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["TOPIC", "PARTITION", "LOW", "HIGH"]);
    assert_eq!(rows[1], [topic.as_str(), "0", "0", "7"]);
    run(ktopic().args(["offsets", &unique_name("t-missing")]))
        .code_is(6)
        .one_error_line("ktopic");
}

#[test]
fn offsets_at_a_time() {
    needs_cluster!();
    let topic = unique_name("t-at");
    create(&topic, &["-p", "1", "-r", "1"]);
    kcat_produce(&brokers(), &topic, 0, 4);
    // Every record of the first batch is older than `between`, every one of the second newer.
    let between = now_ms() + 1;
    eventually(
        "the clock to pass the boundary",
        Duration::from_secs(5),
        || (now_ms() > between).then_some(()),
    );
    kcat_produce(&brokers(), &topic, 0, 2);

    let at = |timestamp: i64| -> i64 {
        let ran = run(ktopic().args(["offsets", &topic, "--at", &timestamp.to_string()])).success();
        let lines = ran.json_lines();
        assert_eq!(lines.len(), 1, "{}", ran.stdout());
        assert_eq!(lines[0]["timestamp"], json!(timestamp));
        lines[0]["offset"].as_i64().unwrap()
    };
    assert_eq!(at(0), 0, "from the beginning of time: the first record");
    assert_eq!(at(between), 4, "the first record of the second batch");
    assert_eq!(
        at(now_ms() + 3_600_000),
        6,
        "nothing that recent: the high watermark"
    );
}

#[test]
fn offsets_at_a_time_as_people_write_it() {
    needs_cluster!();
    // Records of 2024 are past the default retention: kept only with none.
    let topic = create_topic(1, &["-c", "retention.ms=-1"]);
    // 2024-05-01T10:00:00Z + i s, i in 0..5.
    let base = 1_714_557_600_000i64;
    let input: String = (0..5)
        .map(|i| {
            format!(
                "{}\n",
                json!({"value": format!("r{i}"), "timestamp": base + i * 1000})
            )
        })
        .collect();
    kprod(&["--json", "-q", &topic], input).success();
    let at = |time: &str, tz: &str| -> i64 {
        let ran = run(ktopic()
            .env("TZ", tz)
            .args(["offsets", &topic, "--at", time]))
        .success();
        let lines = ran.json_lines();
        assert_eq!(lines.len(), 1, "{}", ran.stdout());
        lines[0]["offset"].as_i64().unwrap()
    };
    assert_eq!(
        at("2024-05-01T10:00:02Z", "UTC"),
        2,
        "exactly at a record: that record"
    );
    assert_eq!(at(&rfc3339_utc(base + 2001), "UTC"), 3);
    assert_eq!(at("2024-05-01T12:00:03+02:00", "UTC"), 3);
    assert_eq!(
        at("2024-05-01T15:30:01", "XST-5:30"),
        1,
        "no zone: local time"
    );
    assert_eq!(at("2024-05-01T10:00:01", "UTC"), 1);
    assert_eq!(at("2024-05-01", "UTC"), 0, "a date: local midnight");
    assert_eq!(at(&(base + 4000).to_string(), "UTC"), 4, "ms since 1970");
    assert_eq!(
        at("-1h", "UTC"),
        5,
        "nothing that recent: the high watermark"
    );
    assert_eq!(at("-1000d", "UTC"), 0);
    run(ktopic().args(["offsets", &topic, "--at", "last tuesday"]))
        .code_is(2)
        .one_error_line("ktopic")
        .stderr_has("2024-05-01T10:00:00Z");
}

#[test]
fn create_refuses_more_replicas_than_live_brokers() {
    needs_cluster!();
    let topic = unique_name("t-rf");
    run(ktopic().args(["create", &topic, "-r", "4"]))
        .code_is(2)
        .one_error_line("ktopic")
        .stderr_has("3 live brokers");
    assert!(!listed(false).contains(&topic), "nothing created");
}

#[test]
fn create_reports_a_bad_config_in_the_brokers_words() {
    needs_cluster!();
    let topic = unique_name("t-badcfg");
    run(ktopic().args(["create", &topic, "-c", "no.such.key=1"]))
        .code_is(2)
        .one_error_line("ktopic")
        .stderr_has("no.such.key");
    run(ktopic().args(["create", &topic, "-c", "retention.ms"]))
        .code_is(2)
        .one_error_line("ktopic");
    assert!(!listed(false).contains(&topic));
}

#[test]
fn create_an_existing_topic() {
    needs_cluster!();
    let topic = unique_name("t-exists");
    create(&topic, &["-p", "2", "-r", "1"]);
    run(ktopic().args(["create", &topic]))
        .code_is(1)
        .one_error_line("ktopic")
        .stderr_has("already exists");
    let again = create(&topic, &["--if-not-exists", "-p", "9"]);
    assert_eq!(
        again,
        json!({"topic": topic, "partitions": 2, "replication_factor": 1, "created": false})
    );

    // Several topics, one of them existing: the others are created, and the exit code is
    // the failure's own (README: the failures' common code, else 4).
    let fresh = unique_name("t-fresh");
    let ran = run(ktopic().args(["create", &fresh, &topic, "-r", "1"]))
        .code_is(1)
        .one_error_line("ktopic")
        .stderr_has("already exists");
    assert_eq!(
        ran.json_lines(),
        vec![json!({"topic": fresh, "partitions": 1, "replication_factor": 1, "created": true})]
    );
}

#[test]
fn describe_an_unknown_topic_still_describes_the_others() {
    needs_cluster!();
    let topic = unique_name("t-known");
    let missing = unique_name("t-missing");
    create(&topic, &["-r", "1"]);
    run(ktopic().args(["describe", &missing]))
        .code_is(6)
        .one_error_line("ktopic")
        .stderr_has(&missing);
    let ran = run(ktopic().args(["describe", &missing, &topic]))
        .code_is(6)
        .one_error_line("ktopic");
    let lines = ran.json_lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["topic"], json!(topic));
    assert!(!listed(true).contains(&missing), "describing never creates");
}

#[test]
fn unreachable_brokers_fail_fast_with_exit_5() {
    needs_cluster!();
    fails_unreachable_in_time(
        ktopic().args(["-b", "localhost:1", "--timeout", "2", "list"]),
        "ktopic",
    );
}

#[test]
fn command_line_mistakes_exit_2() {
    needs_cluster!();
    run(ktopic().args(["-X", "nonsense", "list"]))
        .code_is(2)
        .one_error_line("ktopic")
        .stderr_has("-X");
    run(ktopic().args(["-X", "no.such.property=1", "list"]))
        .code_is(2)
        .one_error_line("ktopic");
    run(ktopic().args(["create", "x", "-p", "0"])).code_is(2);
    run(ktopic().args(["offsets", "x", "--at", "-5"])).code_is(2);
}

#[test]
fn a_killed_broker_shrinks_the_isr_until_it_returns() {
    needs_cluster!();
    let cluster = FaultCluster::acquire();
    let topic = unique_name("t-fault");
    run(cluster
        .tool("ktopic")
        .args(["create", &topic, "-p", "3", "-r", "3"]))
    .success();

    run(cluster.kcluster().args(["kill", "2"])).success();
    let shrunk = eventually(
        "ISR of 2 without broker 2, no leader on it",
        Duration::from_secs(60),
        || {
            let described = describe(&mut cluster.tool("ktopic"), &topic);
            let partitions = described["partitions"].as_array().unwrap().clone();
            partitions
                .iter()
                .all(|p| {
                    let isr = ids(&p["isr"]);
                    isr.len() == 2
                        && !isr.contains(&2)
                        && p["leader"].as_i64().is_some_and(|l| l != 2)
                })
                .then_some(described)
        },
    );
    assert_eq!(shrunk["under_replicated"], json!(true), "{shrunk}");
    assert!(
        shrunk["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| ids(&p["replicas"]).len() == 3),
        "{shrunk}"
    );

    run(cluster.kcluster().args(["start", "2"])).success();
    eventually(
        "the ISR back to 3 replicas",
        Duration::from_secs(60),
        || {
            let described = describe(&mut cluster.tool("ktopic"), &topic);
            let whole = described["partitions"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| ids(&p["isr"]).len() == 3);
            (whole && described["under_replicated"] == json!(false)).then_some(())
        },
    );
}

#[test]
fn a_misspelt_cluster_name_reaches_no_cluster() {
    needs_cluster!();
    // Named by KPIPES_CLUSTER alone, and beside the brokers in KAFKA_BROKERS.
    for with_brokers in [false, true] {
        run(misnamed("ktopic", with_brokers).arg("list")).reached_no_cluster("ktopic");
        let topic = unique_name("misnamed");
        run(misnamed("ktopic", with_brokers).args(["create", &topic, "-p", "1"]))
            .reached_no_cluster("ktopic");
        assert!(!topics().contains(&topic), "{topic} was created");
    }
    let topic = create_topic(1, &[]);
    run(misnamed("ktopic", true).args(["delete", &topic])).reached_no_cluster("ktopic");
    assert!(topics().contains(&topic), "{topic} was deleted");
    // Named rightly, but not the cluster KAFKA_BROKERS points at: which one is meant?
    run(ktopic()
        .arg("list")
        .env("KPIPES_CLUSTER", test_cluster())
        .env("KAFKA_BROKERS", "localhost:1"))
    .code_is(2)
    .one_error_line("ktopic")
    .stderr_has("unset one of them");
}

#[test]
fn create_without_a_factor_says_which_it_got_and_kcluster_defaults_to_three_and_two() {
    needs_cluster!();
    let topic = unique_name("default-rf");
    let ran = run(ktopic().args(["create", &topic, "-p", "1"])).success();
    assert_eq!(
        ran.json_lines()[0]["replication_factor"],
        3,
        "{}",
        ran.stderr()
    );
    ran.stderr_has(&format!(
        "created '{topic}' with replication factor 3 (the brokers' default.replication.factor"
    ));
    let config = run(ktopic().args(["config", &topic]))
        .success()
        .json_lines();
    assert_eq!(
        config[0]["configs"]["min.insync.replicas"], "2",
        "{config:?}"
    );
    // With -r: nothing to say; one copy still takes writes (min.insync.replicas 1 for it).
    let single = unique_name("single-copy");
    run(ktopic().args(["create", &single, "-r", "1"]))
        .success()
        .quiet();
    kprod(&[&single], "x\n").success();
}

#[test]
fn describe_configs_table_shows_the_configs() {
    needs_cluster!();
    let topic = create_topic(1, &["-c", "retention.ms=12345"]);
    let plain_topic = create_topic(1, &[]);
    let out = run(ktopic().args(["describe", &topic, &plain_topic, "--configs", "--table"]))
        .success()
        .stdout();
    let row = out
        .lines()
        .find(|line| line.contains("retention.ms"))
        .unwrap_or_else(|| panic!("no config row:\n{out}"));
    assert!(row.starts_with(&topic) && row.contains("12345"), "{out}");
    assert!(
        out.lines()
            .any(|line| line.starts_with(&plain_topic)
                && line.contains("only the brokers' defaults")),
        "{out}"
    );
}

/// The earliest offset of each partition, as Kafka's own GetOffsetShell reads it.
fn earliest_by_kafka(topic: &str) -> BTreeMap<i64, i64> {
    let out = run(kafka_java("org.apache.kafka.tools.GetOffsetShell").args([
        "--bootstrap-server",
        &brokers(),
        "--topic",
        topic,
        "--time",
        "-2",
    ]))
    .success()
    .stdout();
    // "topic:partition:offset" per line
    out.lines()
        .filter_map(|line| {
            let mut parts = line.rsplitn(3, ':');
            let offset = parts.next()?.parse().ok()?;
            let partition = parts.next()?.parse().ok()?;
            Some((partition, offset))
        })
        .collect()
}

/// `ktopic trim` prints a plan and changes nothing; with --execute the records below the
/// offset are gone for kcons and for Kafka's own GetOffsetShell; partitions not named and
/// offsets past the end are left alone or clamped.
#[test]
fn trim_plans_then_deletes_records_before_an_offset() {
    needs_cluster!();
    let topic = create_topic(2, &[]);
    let lines: String = (0..40)
        .map(|n| {
            format!(
                "{}\n",
                json!({"partition": n % 2, "value": format!("r{n}")})
            )
        })
        .collect();
    run(tool("kprod")
        .args([&topic, "-q", "--json"])
        .write_stdin(lines))
    .success();
    let plan = run(tool("ktopic").args(["trim", &topic, "--before", "5"])).success();
    assert_eq!(
        plan.json_lines(),
        vec![
            json!({"topic": topic, "partition": 0, "low": 0, "high": 20, "new_low": 5, "deleted": 5, "dry_run": true}),
            json!({"topic": topic, "partition": 1, "low": 0, "high": 20, "new_low": 5, "deleted": 5, "dry_run": true}),
        ]
    );
    plan.stderr_has("nothing was deleted");
    assert_eq!(earliest_by_kafka(&topic), BTreeMap::from([(0, 0), (1, 0)]));

    let done = run(tool("ktopic").args(["trim", &topic, "-P", "1", "--before", "5", "--execute"]))
        .success();
    assert_eq!(
        done.json_lines(),
        vec![
            json!({"topic": topic, "partition": 1, "low": 5, "high": 20, "previous_low": 0, "deleted": 5})
        ]
    );
    assert_eq!(earliest_by_kafka(&topic), BTreeMap::from([(0, 0), (1, 5)]));
    let remaining = records(&topic);
    assert_eq!(remaining.len(), 35, "{remaining:?}");
    assert!(remaining
        .iter()
        .all(|r| r["partition"] == 0 || r["offset"].as_i64().unwrap() >= 5));

    // Past the end is clamped to it: every record of partition 0 goes.
    let all =
        run(tool("ktopic").args(["trim", &topic, "-P", "0", "--before", "1000", "--execute"]))
            .success();
    assert_eq!(all.json_lines()[0]["low"], 20);
    assert_eq!(earliest_by_kafka(&topic), BTreeMap::from([(0, 20), (1, 5)]));
    // A partition the topic lacks, and no bound: refused before anything is done.
    run(tool("ktopic").args(["trim", &topic, "-P", "7", "--all"])).code_is(6);
    run(tool("ktopic").args(["trim", &topic])).code_is(2);
}

/// `--before-time` deletes exactly the records older than the time: a record whose
/// timestamp equals it stays.
#[test]
fn trim_before_a_time_keeps_the_record_at_that_time() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    let base: i64 = 1_700_000_000_000;
    let input: String = (0..10)
        .map(|n| {
            format!(
                "{}\n",
                json!({"partition": 0, "timestamp": base + n * 1000, "value": format!("r{n}")})
            )
        })
        .collect();
    run(tool("kprod").args([&topic, "--json"]).write_stdin(input)).success();
    let cut = (base + 4000).to_string();
    let done =
        run(tool("ktopic").args(["trim", &topic, "--before-time", &cut, "--execute"])).success();
    assert_eq!(done.json_lines()[0]["low"], 4);
    let kept = records(&topic);
    assert_eq!(kept.first().unwrap()["timestamp"], base + 4000);
    assert_eq!(kept.len(), 6);
    // A time after every record: the whole partition goes.
    let later = (base + 60_000).to_string();
    let all = run(tool("ktopic").args(["trim", &topic, "--before-time", &later])).success();
    assert_eq!(all.json_lines()[0]["new_low"], 10);
}

/// `ktopic elect` on a healthy topic changes nothing and says why, per partition; an
/// unknown topic is exit 6.
#[test]
fn elect_on_a_balanced_topic_is_not_needed() {
    needs_cluster!();
    let topic = create_topic(3, &[]);
    let ran = run(tool("ktopic").args(["elect", &topic])).success();
    let lines = ran.json_lines();
    assert_eq!(lines.len(), 3);
    for line in &lines {
        assert_eq!(line["elected"], false, "{line}");
        assert_eq!(line["reason"], "already led by its preferred replica");
        assert_eq!(line["leader"], line["preferred_leader"]);
    }
    run(tool("ktopic").args(["elect", &unique_name("missing")])).code_is(6);
    run(tool("ktopic").args(["elect", &topic, "--preferred", "--unclean"])).code_is(2);
}

const REASSIGN: &str = "org.apache.kafka.tools.reassign.ReassignPartitionsCommand";

/// Each partition's (leader, replicas) as Kafka's own kafka-topics describes it.
fn described_by_kafka(topic: &str) -> BTreeMap<i64, (i64, Vec<i64>)> {
    let out = run(kafka_java("org.apache.kafka.tools.TopicCommand").args([
        "--bootstrap-server",
        &brokers(),
        "--describe",
        "--topic",
        topic,
    ]))
    .success()
    .stdout();
    let field = |line: &str, name: &str| -> Option<String> {
        let rest = &line[line.find(&format!("\t{name}: "))? + name.len() + 3..];
        Some(rest.split_whitespace().next()?.to_string())
    };
    out.lines()
        .filter_map(|line| {
            let partition = field(line, "Partition")?.parse().ok()?;
            let leader = field(line, "Leader")?.parse().ok()?;
            let replicas = field(line, "Replicas")?
                .split(',')
                .map(|b| b.parse().unwrap())
                .collect();
            Some((partition, (leader, replicas)))
        })
        .collect()
}

/// A reassignment under live traffic: the replication factor grows from 2 to 3 and
/// partition 0's leader moves (its new first replica leads it afterwards), as Kafka's
/// own kafka-reassign-partitions --verify and kafka-topics see it; every record kprod
/// acknowledged is read once, in order per partition.
#[test]
fn reassign_grows_the_replication_factor_and_moves_a_leader_losing_nothing() {
    needs_cluster!();
    let topic = create_topic(3, &[]);
    // create_topic makes 3 replicas: bring the topic down to 2 first, explicitly.
    let before = described_by_kafka(&topic);
    let two: Vec<String> = before
        .iter()
        .map(|(p, (_, replicas))| format!("{p}={},{}", replicas[0], replicas[1]))
        .collect();
    let mut shrink = tool("ktopic");
    shrink.args(["reassign", &topic, "--execute"]);
    for spec in &two {
        shrink.args(["--replicas", spec]);
    }
    run(&mut shrink).success();
    assert!(described_by_kafka(&topic)
        .values()
        .all(|(_, r)| r.len() == 2));

    let traffic = LiveTraffic::start(&brokers(), &topic);
    // The plan: every partition on 3 brokers; partition 0 led by a broker that does not
    // lead it now.
    let plan = run(tool("ktopic").args(["reassign", &topic, "-r", "3", "--kafka-json"]))
        .success()
        .stdout();
    let mut plan: Value = serde_json::from_str(&plan).unwrap();
    let old_leader = described_by_kafka(&topic)[&0].0;
    {
        let replicas = plan["partitions"][0]["replicas"].as_array_mut().unwrap();
        assert_eq!(replicas.len(), 3, "{plan}");
        let other = replicas
            .iter()
            .position(|b| b.as_i64() != Some(old_leader))
            .unwrap();
        replicas.swap(0, other);
    }
    let dir = tempfile::tempdir().unwrap();
    let plan_file = dir.path().join("plan.json");
    std::fs::write(&plan_file, plan.to_string()).unwrap();
    let plan_path = plan_file.to_str().unwrap();

    let dry = run(tool("ktopic").args(["reassign", "--plan", plan_path])).success();
    assert!(dry
        .json_lines()
        .iter()
        .all(|l| l["dry_run"] == true && l["moves"] == true));
    assert!(
        described_by_kafka(&topic)
            .values()
            .all(|(_, r)| r.len() == 2),
        "a dry run moved something"
    );

    let done = run(tool("ktopic").args(["reassign", "--plan", plan_path, "--execute"])).success();
    let finished = done.json_lines();
    assert_eq!(finished.len(), 3, "a line per partition as it finishes");
    assert!(finished.iter().all(|l| l["done"] == true));

    let verify = run(kafka_java(REASSIGN).args([
        "--bootstrap-server",
        &brokers(),
        "--verify",
        "--reassignment-json-file",
        plan_path,
    ]))
    .success()
    .stdout();
    for p in 0..3 {
        assert!(
            verify.contains(&format!(
                "Reassignment of partition {topic}-{p} is completed"
            )),
            "kafka-reassign-partitions --verify says:\n{verify}"
        );
    }
    let after = described_by_kafka(&topic);
    for entry in plan["partitions"].as_array().unwrap() {
        let p = entry["partition"].as_i64().unwrap();
        let target: Vec<i64> = serde_json::from_value(entry["replicas"].clone()).unwrap();
        assert_eq!(after[&p].1, target, "partition {p}");
        assert_eq!(
            after[&p].0, target[0],
            "partition {p} is led by its new first replica"
        );
    }
    assert_ne!(after[&0].0, old_leader, "partition 0's leader moved");
    traffic.finish_losing_nothing();
}

/// A throttled move that cannot finish in time: exit 7 naming --list; `--list` agrees
/// with kafka-reassign-partitions --list; `--cancel` puts the partition back and removes
/// the throttle.
#[test]
fn reassign_lists_and_cancels_a_throttled_move() {
    needs_cluster!();
    let topic = unique_name("t");
    run(tool("ktopic").args(["create", &topic, "-p", "1", "-r", "1"])).success();
    // About 2 MB that a 20 kB/s throttle takes minutes to copy.
    let mut rng = Rng::new(7);
    let lines: String = (0..2000)
        .map(|_| {
            let bytes: Vec<u8> = (0..1000).map(|_| b'a' + rng.below(26) as u8).collect();
            String::from_utf8(bytes).unwrap() + "\n"
        })
        .collect();
    run(tool("kprod")
        .args(["-q", &topic, "-X", "compression.type=none"])
        .write_stdin(lines))
    .success();
    let leader = described_by_kafka(&topic)[&0].0;
    let others: Vec<String> = (1..=3)
        .filter(|b| *b != leader)
        .map(|b| b.to_string())
        .collect();
    let target = format!("0={leader},{}", others.join(","));
    let slow = run(tool("ktopic").args([
        "reassign",
        &topic,
        "--replicas",
        &target,
        "--execute",
        "--throttle",
        "20000",
        "--wait",
        "1",
    ]))
    .code_is(7);
    slow.stderr_has("--list");

    let listed = run(tool("ktopic").args(["reassign", &topic, "--list"])).success();
    let lines = listed.json_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["partition"], 0);
    assert_eq!(lines[0]["adding"].as_array().unwrap().len(), 2);
    let theirs = run(kafka_java(REASSIGN).args(["--bootstrap-server", &brokers(), "--list"]))
        .success()
        .stdout();
    assert!(
        theirs.contains(&format!("{topic}-0: replicas:")),
        "kafka-reassign-partitions --list:\n{theirs}"
    );
    let configs = run(tool("ktopic").args(["config", &topic, "--overrides"]))
        .success()
        .json_lines();
    assert!(
        configs[0]["configs"]["follower.replication.throttled.replicas"].is_string(),
        "{configs:?}"
    );

    let cancelled = run(tool("ktopic").args(["reassign", &topic, "--cancel"])).success();
    assert_eq!(cancelled.json_lines()[0]["cancelled"], true);
    assert_eq!(described_by_kafka(&topic)[&0].1, vec![leader]);
    let configs = run(tool("ktopic").args(["config", &topic, "--overrides"]))
        .success()
        .json_lines();
    // What is left set on the topic: ktopic create -r 1's min.insync.replicas=1 alone.
    assert_eq!(
        configs[0]["configs"],
        json!({"min.insync.replicas": "1"}),
        "the throttle is gone"
    );
    assert!(run(tool("ktopic").args(["reassign", &topic, "--list"]))
        .success()
        .json_lines()
        .is_empty());
}

/// A balanced plan over fewer brokers is a plan only: nothing moves without --execute,
/// and impossible plans are refused before anything is sent.
#[test]
fn reassign_plans_are_dry_runs_and_checked() {
    needs_cluster!();
    let topic = create_topic(4, &[]);
    let plan = run(tool("ktopic").args(["reassign", &topic, "--onto", "1,2", "-r", "2"])).success();
    let lines = plan.json_lines();
    assert_eq!(lines.len(), 4);
    for line in &lines {
        let target: Vec<i64> = serde_json::from_value(line["target"].clone()).unwrap();
        assert!(target.iter().all(|b| *b == 1 || *b == 2), "{line}");
        assert_eq!(target.len(), 2);
    }
    // Leaders spread evenly: two partitions each.
    let firsts: Vec<i64> = lines
        .iter()
        .map(|l| l["target"][0].as_i64().unwrap())
        .collect();
    assert_eq!(firsts.iter().filter(|b| **b == 1).count(), 2, "{firsts:?}");
    plan.stderr_has("a plan only");
    assert!(described_by_kafka(&topic)
        .values()
        .all(|(_, r)| r.len() == 3));
    run(tool("ktopic").args(["reassign", &topic, "--onto", "1,2", "-r", "3"])).code_is(2);
    run(tool("ktopic").args(["reassign", &topic, "--onto", "1,99"])).code_is(6);
    run(tool("ktopic").args(["reassign", &topic, "--replicas", "0=1,1"])).code_is(2);
    run(tool("ktopic").args(["reassign", &unique_name("missing"), "--list"])).code_is(6);
}
