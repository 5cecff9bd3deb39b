//! kcons against the live test cluster: the record format, every start offset, -e,
//! -c, -p, --values, consumer groups and what they commit, live output and pipes
//! closed early. Records are written with kprod (and kcat in pipes.rs).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kpipes_e2e::*;

const BASE_TS: i64 = 1_700_000_000_000;

/// A one-partition topic with records v0..v9 at offsets 0..9, timestamps BASE_TS + 1000 * i.
fn ten_records() -> String {
    let topic = create_topic(1, &[]);
    let input: String =
        (0..10).map(|i| format!("{}\n", json!({"key": format!("k{i}"), "value": format!("v{i}"), "timestamp": BASE_TS + 1000 * i}))).collect();
    kprod(&["--json", "-q", &topic], input).success();
    topic
}

fn offsets(list: &[Value]) -> Vec<i64> {
    list.iter().map(|r| r["offset"].as_i64().unwrap()).collect()
}

fn kcons() -> assert_cmd::Command {
    tool("kcons")
}

#[test]
fn record_format_is_exact() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    let input = format!(
        "{}\n{}\n",
        json!({"key": "k", "value": {"base64": "/w=="}, "timestamp": BASE_TS,
               "headers": [{"key": "a", "value": null}, {"key": "a", "value": "1"}, {"key": "bin", "value": {"base64": "wyg="}}]}),
        json!({"key": null, "value": "text \"quoted\"\n", "timestamp": BASE_TS + 1}),
    );
    kprod(&["--json", "-q", &topic], input).success();
    let ran = run(kcons().args([&topic, "-e"])).success();
    assert_eq!(ran.stderr(), "");
    let expected = format!(
        concat!(
            r#"{{"topic":"{t}","partition":0,"offset":0,"timestamp":1700000000000,"key":"k","value":{{"base64":"/w=="}},"headers":[{{"key":"a","value":null}},{{"key":"a","value":"1"}},{{"key":"bin","value":{{"base64":"wyg="}}}}]}}"#,
            "\n",
            r#"{{"topic":"{t}","partition":0,"offset":1,"timestamp":1700000000001,"key":null,"value":"text \"quoted\"\n","headers":[]}}"#,
            "\n"
        ),
        t = topic
    );
    assert_eq!(ran.stdout(), expected);
}

#[test]
fn values_prints_raw_values() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    kprod(
        &["--json", "-q", &topic],
        "{\"key\":\"k\",\"value\":\"plain\"}\n{\"value\":null}\n{\"value\":{\"base64\":\"/wA=\"}}\n{\"value\":\"\"}\n",
    )
    .success();
    let ran = run(kcons().args([&topic, "-e", "--values"])).success();
    assert_eq!(ran.output.stdout, b"plain\n\n\xff\x00\n\n".to_vec());
}

#[test]
fn offset_beginning_n_minus_n_and_timestamp() {
    needs_cluster!();
    let topic = ten_records();
    assert_eq!(offsets(&kcons_e(&[&topic])), (0..10).collect::<Vec<_>>());
    assert_eq!(
        offsets(&kcons_e(&[&topic, "-o", "beginning"])),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(offsets(&kcons_e(&[&topic, "-o", "7"])), vec![7, 8, 9]);
    assert_eq!(
        offsets(&kcons_e(&[&topic, "-o", "0"])),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(offsets(&kcons_e(&[&topic, "-o", "-3"])), vec![7, 8, 9]);
    assert_eq!(
        offsets(&kcons_e(&[&topic, "-o", "-50"])),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(
        offsets(&kcons_e(&[&topic, "-o", &format!("@{}", BASE_TS + 3500)])),
        vec![4, 5, 6, 7, 8, 9]
    );
    assert_eq!(
        offsets(&kcons_e(&[&topic, "-o", &format!("@{}", BASE_TS + 3000)])),
        vec![3, 4, 5, 6, 7, 8, 9]
    );
    assert_eq!(
        offsets(&kcons_e(&[
            &topic,
            "-o",
            &format!("@{}", BASE_TS + 999_999)
        ])),
        Vec::<i64>::new()
    );
    assert_eq!(offsets(&kcons_e(&[&topic, "-o", "10"])), Vec::<i64>::new());
    let first = kcons_e(&[&topic, "-o", "5", "-c", "1"]);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["value"], json!("v5"));
    assert_eq!(first[0]["key"], json!("k5"));
    assert_eq!(first[0]["timestamp"], json!(BASE_TS + 5000));
}

#[test]
fn offset_end_with_e_exits_at_once() {
    needs_cluster!();
    let topic = ten_records();
    let started = Instant::now();
    let ran = run(kcons().args([&topic, "-o", "end", "-e"])).success();
    assert_eq!(ran.stdout(), "");
    // Generous for a loaded machine (connecting and asking for the end offsets take most
    // of it), yet far below the 180 s a consumer that never sees the end would run into.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

/// Follow `topic` (ten records) from `offset`: only records produced afterwards show.
fn shows_only_new_records(offset: &str) {
    let topic = ten_records();
    let kcons = Proc::start("kcons", &[&topic, "-o", offset]);
    // kcons may not have settled on its start yet: produce until it shows something new.
    let mut produced = 0;
    eventually(
        &format!("kcons -o {offset} to show a new record"),
        Duration::from_secs(30),
        || {
            produced += 1;
            kprod(&["-q", &topic], format!("new{produced}\n")).success();
            (!kcons.lines().is_empty()).then_some(())
        },
    );
    let seen = kcons.json();
    assert!(
        seen.iter().all(|r| r["offset"].as_i64().unwrap() >= 10),
        "-o {offset}: only records after the end: {seen:?}"
    );
    assert!(
        seen.iter()
            .all(|r| r["value"].as_str().unwrap().starts_with("new")),
        "{seen:?}"
    );
}

#[test]
fn offset_end_shows_only_new_records() {
    needs_cluster!();
    shows_only_new_records("end");
}

#[test]
fn offset_past_the_end_waits_for_new_records() {
    needs_cluster!();
    shows_only_new_records("1000");
}

#[test]
fn offset_stored_resumes_a_group() {
    needs_cluster!();
    let topic = ten_records();
    let group = unique_name("g-stored");
    // Without a committed offset, stored starts at the beginning.
    let first = kcons_e(&[&topic, "-g", &group, "-o", "stored", "-c", "4"]);
    assert_eq!(offsets(&first), vec![0, 1, 2, 3]);
    let rest = kcons_e(&[&topic, "-g", &group, "-o", "stored"]);
    assert_eq!(offsets(&rest), vec![4, 5, 6, 7, 8, 9]);
    assert_eq!(
        kcons_e(&[&topic, "-g", &group, "-o", "stored"]),
        Vec::<Value>::new()
    );
    // A group's committed offset wins over -o beginning, too.
    assert_eq!(kcons_e(&[&topic, "-g", &group]), Vec::<Value>::new());
    // Without -g nothing is committed, and stored makes no sense.
    run(kcons().args([&topic, "-o", "stored", "-e"]))
        .code_is(2)
        .one_error_line("kcons");
}

#[test]
fn offset_from_end_is_per_partition() {
    needs_cluster!();
    let topic = create_topic(3, &[]);
    let input: String = (0..3)
        .flat_map(|p| {
            (0..5)
                .map(move |i| format!("{}\n", json!({"value": format!("{p}-{i}"), "partition": p})))
        })
        .collect();
    kprod(&["--json", "-q", &topic], input).success();
    let got = kcons_e(&[&topic, "-o", "-2"]);
    assert_eq!(
        positions(&got),
        vec![(0, 3), (0, 4), (1, 3), (1, 4), (2, 3), (2, 4)]
    );
}

#[test]
fn exit_at_end_with_empty_partitions() {
    needs_cluster!();
    let empty = create_topic(3, &[]);
    let started = Instant::now();
    let ran = run(kcons().args([&empty, "-e"])).success();
    assert_eq!(ran.stdout(), "");
    // As in offset_end_with_e_exits_at_once: an empty partition is at its end at once.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );

    let one = create_topic(3, &[]);
    kprod(&["-q", "-p", "1", &one], "a\nb\nc\n").success();
    let got = kcons_e(&[&one]);
    assert_eq!(positions(&got), vec![(1, 0), (1, 1), (1, 2)]);
    // Several topics at once, one of them empty.
    let both = kcons_e(&[&one, &empty]);
    assert_eq!(both.len(), 3);
    // A partition read from past its end is done too.
    assert_eq!(kcons_e(&[&one, "-o", "3"]), Vec::<Value>::new());
}

#[test]
fn exit_at_end_ignores_records_written_later() {
    needs_cluster!();
    let total = 3000;
    let topic = many_records(total);
    // -e takes the end at start: while kcons waits on a full pipe, a newer record arrives.
    let mut kcons = Proc::start_holding("kcons", &[&topic, "-e"], 10);
    kcons.wait_lines(10, Duration::from_secs(60));
    assert!(kcons.running(), "kcons waits for the reader");
    kprod(&["-q", &topic], "late\n").success();
    let got = kcons
        .finish(Duration::from_secs(60))
        .code_is(0)
        .json_lines();
    assert_eq!(got.len(), total);
    assert!(got.iter().all(|r| r["value"] != json!("late")));
}

#[test]
fn count_stops_after_n_records() {
    needs_cluster!();
    let topic = ten_records();
    let got = run(kcons().args([&topic, "-c", "3"]))
        .success()
        .json_lines();
    assert_eq!(offsets(&got), vec![0, 1, 2]);
    assert_eq!(kcons_e(&[&topic, "-c", "25"]).len(), 10, "-e ends first");
    run(kcons().args([&topic, "-c", "0"])).code_is(2);
}

#[test]
fn partition_flag_reads_only_those() {
    needs_cluster!();
    let topic = create_topic(3, &[]);
    let input: String = (0..3)
        .flat_map(|p| {
            (0..2)
                .map(move |i| format!("{}\n", json!({"value": format!("{p}-{i}"), "partition": p})))
        })
        .collect();
    kprod(&["--json", "-q", &topic], input).success();
    let got = kcons_e(&[&topic, "-p", "0", "-p", "2"]);
    assert_eq!(positions(&got), vec![(0, 0), (0, 1), (2, 0), (2, 1)]);
    let got = kcons_e(&[&topic, "-p", "1"]);
    assert_eq!(values(&got), vec![json!("1-0"), json!("1-1")]);
    run(kcons().args([&topic, "-p", "3", "-e"]))
        .code_is(2)
        .one_error_line("kcons");
    run(kcons().args([&topic, "-p", "0", "-g", "g", "-e"])).code_is(2);
}

#[test]
fn several_topics_at_once() {
    needs_cluster!();
    let a = create_topic(1, &[]);
    let b = create_topic(2, &[]);
    kprod(&["-q", &a], "from a\n").success();
    kprod(&["-q", "-p", "1", &b], "from b\n").success();
    let got = kcons_e(&[&a, &b]);
    let mut seen: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            (
                r["topic"].as_str().unwrap().to_string(),
                r["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    let mut expected = vec![
        (a.clone(), "from a".to_string()),
        (b.clone(), "from b".to_string()),
    ];
    expected.sort();
    assert_eq!(seen, expected);
}

#[test]
fn unknown_topic_exits_6_and_is_not_created() {
    needs_cluster!();
    let known = create_topic(1, &[]);
    let missing = unique_name("t-missing");
    run(kcons().args([&missing, "-e"]))
        .code_is(6)
        .one_error_line("kcons")
        .stderr_has(&missing);
    run(kcons().args([&missing]))
        .code_is(6)
        .one_error_line("kcons");
    run(kcons().args([&known, &missing, "-e"]))
        .code_is(6)
        .one_error_line("kcons");
    run(kcons().args([&missing, "-g", &unique_name("g"), "-e"]))
        .code_is(6)
        .one_error_line("kcons");
    assert!(
        !topics().contains(&missing),
        "kcons must not create {missing}"
    );
}

#[test]
fn unreachable_brokers_exit_5_within_the_timeout() {
    needs_cluster!();
    fails_unreachable_in_time(
        kcons().args(["-b", "localhost:1", "--timeout", "2", "some-topic"]),
        "kcons",
    );
}

#[test]
fn command_line_mistakes_exit_2() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    // The arguments, and what the one error line must say.
    for (args, says) in [
        (vec!["-o", "soon"], "soon"),
        (vec!["-o", "@yesterday"], "yesterday"),
        (vec!["-o", "stored"], "-o stored needs a consumer group"),
        (vec!["-g", "g", "-o", "5"], "with -g, -o takes"),
        (vec!["-X", "fetch.min.bytes"], "bad -X 'fetch.min.bytes'"),
        (vec!["-X", "fetch.min.bytes=lots"], "fetch.min.bytes"),
        (vec!["-X", "no.such.property=1"], "no.such.property"),
        (vec!["-b", "host-without-port"], "no port"),
    ] {
        let mut full = vec![topic.as_str(), "-e"];
        full.extend(args.iter().copied());
        let ran = run(kcons().args(&full)).no_panic().code_is(2);
        assert_eq!(ran.stdout(), "", "{args:?}");
        if ran.stderr().starts_with("kcons: error: ") {
            ran.one_error_line("kcons").stderr_has(says);
        } else {
            // clap's own usage errors
            ran.stderr_has("error:").stderr_has(says);
        }
    }
    run(kcons().arg("-e")).code_is(2);
}

/// `kcons ... | head -1` in a shell that reports kcons's own status.
fn head_one(args: &str) -> Ran {
    let script = format!(
        "set -o pipefail; '{}' {args} | head -1",
        bin_path("kcons").display()
    );
    run(assert_cmd::Command::new("bash")
        .args(["-c", &script])
        .env("KAFKA_BROKERS", brokers())
        .timeout(Duration::from_secs(60)))
}

#[test]
fn head_one_ends_quietly() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    let input: String = (0..20000)
        .map(|i| format!("record {i} {}\n", "x".repeat(50)))
        .collect();
    kprod(&["-q", &topic], input).success();
    // kcons learns of the closed pipe on its next write, following or with -e...
    for args in [topic.clone(), format!("{topic} -e")] {
        let ran = head_one(&args).success().quiet();
        assert_eq!(ran.json_lines().len(), 1, "{}", ran.explain("one record"));
    }

    // ...or, with nothing more to write, while it waits for records.
    let single = create_topic(1, &[]);
    kprod(&["-q", &single], "only\n").success();
    let ran = head_one(&single).success();
    assert_eq!(ran.stderr(), "");
    assert!(ran.stdout().contains("\"only\""), "{}", ran.stdout());
}

#[test]
fn output_is_live() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    let mut kcons = Proc::start("kcons", &[&topic]);
    kprod(&["-q", &topic], "hello\n").success();
    let lines = kcons.wait_lines(1, Duration::from_secs(60));
    let record: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(record["value"], json!("hello"));
}

#[test]
fn output_stays_live_under_a_steady_trickle() {
    needs_cluster!();
    // Records arrive more often than any idle timeout: output must not wait for a pause.
    let topic = create_topic(1, &[]);
    let kcons = Proc::start("kcons", &[&topic]);
    let mut kprod = Proc::start("kprod", &["-q", &topic]);
    let started = Instant::now();
    let mut sent = 0;
    // kprod's input never ends before kcons prints, so any record kcons shows came out
    // while records kept arriving; the allowance only has to cover a slow start.
    while kcons.lines().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "kcons printed nothing while {sent} records were produced"
        );
        kprod.write(format!("tick {sent}\n").as_bytes());
        sent += 1;
        std::thread::sleep(Duration::from_millis(20)); // the pace of the input, not a synchronisation
    }
    kprod.close_stdin();
    kprod.finish(Duration::from_secs(30)).code_is(0);
}

#[test]
fn signals_end_a_follow_cleanly() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    kprod(&["-q", &topic], "a\n").success();
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let mut kcons = Proc::start("kcons", &[&topic]);
        kcons.wait_lines(1, Duration::from_secs(60));
        kcons.signal(signal);
        kcons.finish(Duration::from_secs(30)).code_is(0).quiet();
    }
    // With -c not yet reached, an interrupted run says so.
    let mut waiting = Proc::start("kcons", &[&topic, "-c", "2"]);
    waiting.wait_lines(1, Duration::from_secs(60));
    waiting.signal(libc::SIGTERM);
    waiting
        .finish(Duration::from_secs(30))
        .code_is(130)
        .one_interrupted_line("kcons")
        .stderr_has("interrupted after 1 record");
}

/// `count` records of about 200 bytes each across 3 partitions: more output than a pipe holds.
fn many_records(count: usize) -> String {
    let topic = create_topic(3, &[]);
    let input: String = (0..count)
        .map(|i| format!("k{i}:record {i:06} {}\n", "y".repeat(150)))
        .collect();
    kprod(&["-q", "-K", ":", &topic], input).success();
    topic
}

/// SIGINT or SIGTERM to `kcons -g` behind a slow reader: it writes out what it has,
/// commits exactly that and exits 0, quietly; the restart prints the rest, with no
/// duplicate. (A kcons killed outright is in reliability.rs.)
#[test]
fn group_interrupted_commits_exactly_what_was_written() {
    needs_cluster!();
    const RECORDS: usize = 20_000;
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let topic = create_topic(3, &[]);
        let group = unique_name("g-signal");
        let input: String = (0..RECORDS).map(|n| format!("int-{n}\n")).collect();
        kprod(&["-q", &topic], input).success();
        // The reader stops after 5,000 lines: kcons blocks on a full pipe with more fetched.
        let mut kcons = Proc::start_holding("kcons", &["-g", &group, &topic], 5_000);
        kcons.wait_lines(5_000, Duration::from_secs(60));
        kcons.signal(signal);
        let first = kcons
            .finish(Duration::from_secs(60))
            .no_panic()
            .code_is(0)
            .quiet();
        let first = first.json_lines();
        assert!(
            first.len() < RECORDS,
            "stopped mid-stream: {} lines",
            first.len()
        );
        let rest = kcons_e(&[&topic, "-g", &group, "-o", "stored"]);
        let mut all = positions(&first);
        all.extend(positions(&rest));
        let distinct: BTreeSet<(i64, i64)> = all.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            RECORDS,
            "records skipped: the two runs printed {} distinct records",
            distinct.len()
        );
        assert_eq!(
            all.len(),
            RECORDS,
            "{} records printed twice: the interrupted kcons did not commit exactly what it wrote",
            all.len() - RECORDS
        );
    }
}

#[test]
fn group_with_e_commits_at_the_end() {
    needs_cluster!();
    let topic = many_records(300);
    let group = unique_name("g-e");
    assert_eq!(kcons_e(&[&topic, "-g", &group]).len(), 300);
    assert_eq!(kcons_e(&[&topic, "-g", &group]).len(), 0);
    kprod(&["-q", &topic], "one more\n").success();
    let got = kcons_e(&[&topic, "-g", &group]);
    assert_eq!(values(&got), vec![json!("one more")]);
}

#[test]
fn without_a_group_nothing_is_committed() {
    needs_cluster!();
    let topic = ten_records();
    assert_eq!(kcons_e(&[&topic]).len(), 10);
    assert_eq!(kcons_e(&[&topic]).len(), 10);
}

#[test]
fn exit_at_end_sees_past_transaction_markers() {
    needs_cluster!();
    // A log written in transactions ends in a commit marker, a record no consumer is given:
    // the last offset kcons sees is below the end offset taken at start.
    let input = create_topic(1, &[]);
    let output = create_topic(1, &[]);
    kprod(
        &["-q", &input],
        (0..10).map(|i| format!("tx{i}\n")).collect::<String>(),
    )
    .success();
    run(
        kafka_java("org.apache.kafka.tools.TransactionalMessageCopier")
            .args([
                "--broker-list",
                &brokers(),
                "--input-topic",
                &input,
                "--input-partition",
                "0",
            ])
            .args([
                "--output-topic",
                &output,
                "--transactional-id",
                &unique_name("tx"),
                "--consumer-group",
                &unique_name("g-tx"),
            ])
            .args(["--max-messages", "10", "--transaction-size", "5"])
            .timeout(Duration::from_secs(120)),
    )
    .success();
    // The copier reads at most --transaction-size records a poll (its max.poll.records),
    // so the 10 records go out in two transactions of 5, each followed by its commit
    // marker: records at 0-4 and 6-10, markers at 5 and 11, the end offset 12. The
    // coordinator writes the markers after the copier's commit returns: wait for them.
    eventually(
        "the output topic to end after both commit markers (offset 12)",
        Duration::from_secs(60),
        || {
            let ends = run(tool("ktopic").args(["offsets", &output]))
                .success()
                .json_lines();
            let done = ends[0]["high"].as_i64() == Some(12);
            if !done {
                eprintln!("not yet: {ends:?}"); // shown if the wait times out
            }
            done.then_some(())
        },
    );

    let alone = run(kcons()
        .args([&output, "-e"])
        .timeout(Duration::from_secs(30)))
    .success()
    .json_lines();
    assert_eq!(alone.len(), 10);
    // With several topics the end-of-partition event does not say which topic it is about.
    let with_other = run(kcons()
        .args([&output, &input, "-e"])
        .timeout(Duration::from_secs(30)))
    .success()
    .json_lines();
    assert_eq!(with_other.len(), 20);
    let group = unique_name("g-tx-read");
    let first = run(kcons()
        .args([&output, &input, "-e", "-g", &group])
        .timeout(Duration::from_secs(30)))
    .success();
    assert_eq!(first.json_lines().len(), 20);
    let again = run(kcons()
        .args([&output, &input, "-e", "-g", &group])
        .timeout(Duration::from_secs(30)))
    .success();
    assert_eq!(again.json_lines().len(), 0);
}

// Progress on a terminal (issue #17). The terminal is a pseudo-terminal (`script`); a
// reader that starts late (`| (sleep 1.5; cat)`) makes a run last longer than the second
// before progress shows.

/// A topic of one partition (the order of records across partitions may vary from run to
/// run) holding 3,000 records of about 100 bytes.
fn topic_of_3000() -> String {
    let topic = create_topic(1, &[]);
    let input: String = (1..=3000).map(|i| format!("{i:0>100}\n")).collect();
    kprod(&["-q", &topic], input).success();
    topic
}

#[test]
fn progress_on_a_terminal_shows_how_far_to_the_end_and_stdout_is_unchanged() {
    needs_cluster!();
    let topic = topic_of_3000();
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name).display().to_string();
    for (args, name) in [("-e", "e"), ("-c 3000", "c")] {
        let late = |file: &str| format!("kcons {topic} {args} | (sleep 1.5; cat > {file})");
        let on_tty = on_terminal(&late(&out(&format!("{name}-tty"))), &[]).success();
        let in_pipes = in_shell(&late(&out(&format!("{name}-pipe"))), &[]).success();
        assert_eq!(
            in_pipes.stderr(),
            "",
            "no progress when stderr is not a terminal"
        );
        let (tty, pipe) = (
            std::fs::read(out(&format!("{name}-tty"))).unwrap(),
            std::fs::read(out(&format!("{name}-pipe"))).unwrap(),
        );
        assert_eq!(pipe.iter().filter(|b| **b == b'\n').count(), 3000);
        assert!(
            tty == pipe,
            "{args}: stdout differs with a terminal on stderr"
        );

        let transcript = on_tty.stdout();
        let frames = terminal_frames(&transcript);
        assert!(
            frames.iter().any(|f| f.contains(" records; ")
                && f.contains(" records/s, ")
                && f.contains("% of 3,000 to the end")),
            "{args}: no line saying how far to the end among {frames:#?}"
        );
        // An ETA not known (nothing written while the reader sleeps) is left out, never "?".
        assert!(
            frames.iter().all(|f| !f.contains("ETA ?")),
            "{args}: an unknown ETA shown: {frames:#?}"
        );
        let screen = terminal_screen(&transcript);
        assert_eq!(screen.len(), 1, "{args}: {screen:#?}\n{transcript:?}");
        assert!(
            screen[0].starts_with("kcons: wrote 3,000 records in ")
                && screen[0].ends_with(" MB/s)"),
            "{args}: {screen:#?}"
        );
    }
}

#[test]
fn progress_fits_a_narrow_terminal_keeping_how_far_to_the_end() {
    needs_cluster!();
    let topic = topic_of_3000();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out").display().to_string();
    let ran = on_terminal(
        &format!("stty cols 50; kcons {topic} -e | (sleep 1.5; cat > {file})"),
        &[],
    )
    .success();
    let frames: Vec<String> = terminal_frames(&ran.stdout())
        .into_iter()
        .filter(|f| !f.starts_with("kcons: wrote"))
        .collect();
    assert!(!frames.is_empty(), "no progress shown");
    for frame in &frames {
        assert!(
            frame.chars().count() < 50,
            "wider than the terminal: {frame:?}"
        );
    }
    // The byte rate goes first, what matters most stays.
    assert!(
        frames
            .iter()
            .any(|f| f.contains(" records; ") && f.contains("% of 3,000 to the end")),
        "{frames:#?}"
    );
    assert!(frames.iter().all(|f| !f.contains("MB/s")), "{frames:#?}");
}

#[test]
fn progress_of_a_follow_shows_how_far_behind_the_end_it_is() {
    needs_cluster!();
    let topic = topic_of_3000();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out").display().to_string();
    // A follow ends with SIGINT (exit 0).
    let ran = on_terminal(
        &format!("timeout --foreground -s INT 3 kcons {topic} > {file}"),
        &[],
    );
    let transcript = ran.stdout();
    let frames = terminal_frames(&transcript);
    assert!(
        frames
            .iter()
            .any(|f| f.contains("3,000 records; ") && f.ends_with("; at the end")),
        "{frames:#?}"
    );
    let screen = terminal_screen(&transcript);
    assert_eq!(screen.len(), 1, "{screen:#?}\n{transcript:?}");
    assert!(
        screen[0].starts_with("kcons: wrote 3,000 records in "),
        "{screen:#?}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().lines().count(),
        3000
    );
}

// ---------------------------------------------------------------------------------------
// Finding records: time windows, one key's partition, several topics and patterns, and
// the re-delivery window of a killed group consumer.
// ---------------------------------------------------------------------------------------

/// 2024-05-01T10:00:00Z.
const WINDOW_BASE: i64 = 1_714_557_600_000;

/// Three partitions, each with records "p{p}-{i}" at WINDOW_BASE + i s, i in 0..10; then in
/// partition 2 one more, "p2-late", at +3.5 s: after that partition's first record at or
/// after +5 s, so never in a window that ends there.
fn window_topic() -> String {
    // Records of 2024 are past the default retention: kept only with none.
    let topic = create_topic(3, &["-c", "retention.ms=-1"]);
    let mut input = String::new();
    for p in 0..3 {
        for i in 0..10 {
            input += &format!(
                "{}\n",
                json!({"partition": p, "value": format!("p{p}-{i}"), "timestamp": WINDOW_BASE + i * 1000})
            );
        }
    }
    input += &format!(
        "{}\n",
        json!({"partition": 2, "value": "p2-late", "timestamp": WINDOW_BASE + 3500})
    );
    kprod(&["--json", "-q", &topic], input).success();
    topic
}

/// The values kcons prints, in partition and offset order.
fn window_values(ran: &Ran) -> Vec<String> {
    by_position(ran.json_lines())
        .iter()
        .map(|r| r["value"].as_str().unwrap().to_string())
        .collect()
}

/// Records "p{p}-{i}" of every partition for i in `from..to`.
fn expected_window(from: i64, to: i64) -> Vec<String> {
    (0..3)
        .flat_map(|p| (from..to).map(move |i| format!("p{p}-{i}")))
        .collect()
}

#[test]
fn time_windows_include_the_start_and_exclude_the_end_exactly() {
    needs_cluster!();
    let topic = window_topic();
    let window = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = kcons();
        cmd.arg(&topic).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        window_values(&run(&mut cmd).success())
    };
    let utc = [("TZ", "UTC")];
    let from_2s_to_5s = expected_window(2, 5);
    // RFC 3339 with a zone, with and without -e (TIME has passed: each partition ends at
    // its end at the latest).
    let (start, end) = ("2024-05-01T10:00:02Z", "2024-05-01T10:00:05Z");
    assert_eq!(
        window(&["-o", start, "--until", end, "-e"], &utc),
        from_2s_to_5s
    );
    assert_eq!(window(&["-o", start, "--until", end], &utc), from_2s_to_5s);
    // The same instants written by `date`, with an offset, and in ms since 1970.
    let (start, end) = (
        rfc3339_utc(WINDOW_BASE + 2000),
        rfc3339_utc(WINDOW_BASE + 5000),
    );
    assert_eq!(
        window(&["-o", &start, "--until", &end, "-e"], &[]),
        from_2s_to_5s
    );
    assert_eq!(
        window(
            &[
                "-o",
                "2024-05-01T12:00:02+02:00",
                "--until",
                "2024-05-01T12:00:05+02:00"
            ],
            &[]
        ),
        from_2s_to_5s
    );
    let ms = |offset: i64| (WINDOW_BASE + offset).to_string();
    assert_eq!(
        window(
            &["-o", &format!("@{}", ms(2000)), "--until", &ms(5000), "-e"],
            &[]
        ),
        from_2s_to_5s
    );
    assert_eq!(
        window(
            &[
                "-o",
                &format!("@{}", ms(2000)),
                "--until",
                &format!("@{}", ms(5000))
            ],
            &[]
        ),
        from_2s_to_5s
    );
    // One millisecond either side of each edge.
    assert_eq!(
        window(
            &["-o", &format!("@{}", ms(1999)), "--until", &ms(4001)],
            &[]
        ),
        expected_window(2, 5)
    );
    assert_eq!(
        window(
            &["-o", &format!("@{}", ms(2001)), "--until", &ms(4000)],
            &[]
        ),
        expected_window(3, 4)
    );
    // Without a zone: local time, as TZ says (5h30 east of UTC here).
    let india = [("TZ", "XST-5:30")];
    assert_eq!(
        window(
            &[
                "-o",
                "2024-05-01T15:30:02",
                "--until",
                "2024-05-01 15:30:05"
            ],
            &india
        ),
        from_2s_to_5s
    );
    assert_eq!(
        window(
            &[
                "-o",
                "2024-05-01T10:00:02",
                "--until",
                "2024-05-01T10:00:05"
            ],
            &utc
        ),
        from_2s_to_5s
    );
    // A date alone: local midnight. Every record is on 2024-05-01 in UTC, none after
    // midnight starting it 5h30 east.
    assert_eq!(
        window(&["-o", "2024-05-01", "--until", "2024-05-02", "-e"], &utc).len(),
        31
    );
    assert_eq!(
        window(&["-o", "2024-05-02", "-e"], &india),
        Vec::<String>::new()
    );
    // -c still applies; -p too.
    assert_eq!(
        window(
            &[
                "-o",
                start.as_str(),
                "--until",
                end.as_str(),
                "-c",
                "2",
                "-p",
                "0"
            ],
            &[]
        ),
        ["p0-2", "p0-3"]
    );
    // Without -e, past TIME: partitions with nothing after the start end at their end.
    assert_eq!(
        window(
            &["-o", &format!("@{}", ms(9500)), "--until", &ms(20_000)],
            &[]
        ),
        Vec::<String>::new()
    );
    // A window is offsets from the start's: p2-late, older but written after p2-9, is in.
    assert_eq!(
        window(
            &["-o", &format!("@{}", ms(8500)), "--until", &ms(20_000)],
            &[]
        ),
        ["p0-9", "p1-9", "p2-9", "p2-late"]
    );
    // The end excludes p2-late: partition 2 stopped at p2-5, before it.
    let all = window(&["--until", &ms(5000)], &[]);
    assert_eq!(all, expected_window(0, 5));
    // An unparseable time: exit 2, with what works.
    run(kcons().args([&topic, "--until", "yesterday"]))
        .code_is(2)
        .one_error_line("kcons")
        .stderr_has("2024-05-01T10:00:00Z")
        .stderr_has("-1h");
    run(kcons().args([&topic, "-o", "2024-13-01", "-e"]))
        .code_is(2)
        .one_error_line("kcons")
        .stderr_has("-30m");
}

#[test]
fn relative_times_and_an_end_still_to_come() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    // Twelve records ten minutes apart, from two hours ago to ten minutes ago.
    let now = now_ms();
    let minute = 60_000;
    let input: String = (0..12)
        .map(|i| {
            format!(
                "{}\n",
                json!({"value": format!("r{i}"), "timestamp": now - 120 * minute + i * 10 * minute})
            )
        })
        .collect();
    kprod(&["--json", "-q", &topic], input).success();
    let values = |args: &[&str]| -> Vec<String> {
        let ran = run(kcons().arg(&topic).args(args)).success();
        window_values(&ran)
    };
    // From 95 to 45 minutes ago: the records of 90 to 50 minutes ago.
    assert_eq!(
        values(&["-o", "-95m", "--until", "-45m"]),
        ["r3", "r4", "r5", "r6", "r7"]
    );
    assert_eq!(
        values(&["-o", "-65m", "-e"]),
        ["r6", "r7", "r8", "r9", "r10", "r11"]
    );
    assert_eq!(values(&["-o", "-2d", "--until", "-105m"]), ["r0", "r1"]);
    assert_eq!(values(&["-o", "now", "-e"]), Vec::<String>::new());

    // An end an hour ahead: kcons follows the topic, printing what comes before it, and
    // ends at the first record at or after it.
    let until = now + 60 * minute;
    let mut follow = Proc::start(
        "kcons",
        &[&topic, "-o", "-15m", "--until", &until.to_string()],
    );
    follow.wait_lines(1, Duration::from_secs(60));
    kprod(
        &["--json", "-q", &topic],
        format!("{}\n", json!({"value": "live", "timestamp": now_ms()})),
    )
    .success();
    follow.wait_lines(2, Duration::from_secs(60));
    assert!(follow.running(), "kcons ended before its end time came");
    kprod(
        &["--json", "-q", &topic],
        format!(
            "{}\n{}\n",
            json!({"value": "at-the-end", "timestamp": until}),
            json!({"value": "before-but-after-the-end", "timestamp": now_ms()})
        ),
    )
    .success();
    let ran = follow.finish(Duration::from_secs(60)).success();
    assert_eq!(window_values(&ran), ["r11", "live"]);
}

/// `kcons T -e | jq -c 'select(.key == K)'`, records in partition and offset order.
fn jq_filtered(topic: &str, key: &Value) -> Vec<Value> {
    let ran = in_shell(
        &format!("kcons {topic} -e | jq -c --argjson k '{key}' 'select(.key == $k)'"),
        &[],
    )
    .success();
    by_position(ran.json_lines())
}

#[test]
fn key_reads_its_partition_only_and_matches_a_full_read_filtered_by_jq() {
    needs_cluster!();
    let topic = create_topic(12, &[]);
    // kprod (librdkafka, murmur2_random): text keys, a binary one, an empty one, none.
    let mut input = String::new();
    for n in 0..400 {
        input += &format!(
            "{}\n",
            json!({"key": format!("customer-{}", n % 40), "value": format!("kprod-{n}")})
        );
    }
    for n in 0..20 {
        input += &format!(
            "{}\n",
            json!({"key": {"base64": "AAH/"}, "value": format!("bin-{n}")})
        );
        input += &format!("{}\n", json!({"key": "", "value": format!("empty-{n}")}));
        input += &format!("{}\n", json!({"key": null, "value": format!("null-{n}")}));
    }
    kprod(&["--json", "-q", &topic], input).success();
    // The Java client (its default partitioner), the same keys.
    let java_input: String = (0..200)
        .map(|n| format!("customer-{}:java-{n}\n", n % 40))
        .collect();
    run(kafka_java("org.apache.kafka.tools.ConsoleProducer")
        .args(["--bootstrap-server", &brokers(), "--topic", &topic])
        .args([
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=:",
        ])
        .write_stdin(java_input))
    .success();

    let ours = |args: &[&str]| by_position(kcons_e(&[&[topic.as_str()][..], args].concat()));
    for key in ["customer-0", "customer-7", "customer-39", ""] {
        let found = ours(&["--key", key]);
        assert_eq!(found, jq_filtered(&topic, &json!(key)), "--key {key:?}");
        let partitions: BTreeSet<i64> = found
            .iter()
            .map(|r| r["partition"].as_i64().unwrap())
            .collect();
        assert_eq!(
            partitions.len(),
            1,
            "--key {key:?}: one partition, {partitions:?}"
        );
        if !key.is_empty() {
            // Ten from kprod, five from Java: both put the key where kcons looked.
            let from = |prefix: &str| {
                found
                    .iter()
                    .filter(|r| r["value"].as_str().unwrap().starts_with(prefix))
                    .count()
            };
            assert_eq!((from("kprod-"), from("java-")), (10, 5), "--key {key:?}");
        }
        assert_eq!(ours(&["--key", key, "--all-partitions"]), found);
    }
    let binary = ours(&["--key-base64", "AAH/"]);
    assert_eq!(binary.len(), 20);
    assert_eq!(binary, jq_filtered(&topic, &json!({"base64": "AAH/"})));
    assert!(ours(&["--key", "nobody"]).is_empty());
    // A producer with another partitioner: found with --partitioner, and by scanning.
    kprod(
        &["-q", "-X", "partitioner=consistent", "-K", ":", &topic],
        "crc-key:c1\ncrc-key:c2\n",
    )
    .success();
    let crc = ours(&["--key", "crc-key", "--partitioner", "consistent"]);
    assert_eq!(values(&crc), [json!("c1"), json!("c2")]);
    assert_eq!(ours(&["--key", "crc-key", "--all-partitions"]), crc);
    run(kcons().args([&topic, "--key-base64", "not base64!", "-e"]))
        .code_is(2)
        .one_error_line("kcons");
}

#[test]
fn several_topics_and_a_pattern_with_and_without_a_group() {
    needs_cluster!();
    let prefix = unique_name("pat");
    let create = |name: &str| {
        run(tool("ktopic").args(["create", name, "-p", "2"])).success();
    };
    let (a, b, c) = (
        format!("{prefix}-a"),
        format!("{prefix}-b"),
        format!("{prefix}-c"),
    );
    let other = format!("{prefix}x-other");
    for topic in [&a, &b, &other] {
        create(topic);
        kprod(&["-q", topic], format!("{topic}-1\n{topic}-2\n")).success();
    }
    let topics_of = |list: &[Value]| -> BTreeSet<(String, String)> {
        list.iter()
            .map(|r| {
                (
                    r["topic"].as_str().unwrap().to_string(),
                    r["value"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let both: BTreeSet<(String, String)> = [&a, &b]
        .iter()
        .flat_map(|t| {
            [
                (t.to_string(), format!("{t}-1")),
                (t.to_string(), format!("{t}-2")),
            ]
        })
        .collect();
    assert_eq!(topics_of(&kcons_e(&[&a, &b])), both);
    let pattern = format!("^{prefix}-.*");
    assert_eq!(topics_of(&kcons_e(&[&pattern])), both);
    assert_eq!(
        topics_of(&kcons_e(&[&pattern, &a])),
        both,
        "each topic once"
    );
    run(kcons().args([&format!("^{prefix}-("), "-e"]))
        .code_is(2)
        .one_error_line("kcons");
    run(kcons().args([&format!("^{prefix}-nothing"), "-e"]))
        .code_is(6)
        .one_error_line("kcons");

    // A group: a topic created while it runs joins in (librdkafka looks every 2 s).
    let group = unique_name("g-pat");
    let mut follow = Proc::start("kcons", &["-g", &group, &pattern]);
    follow.wait_lines(4, Duration::from_secs(60));
    create(&c);
    kprod(&["-q", &c], format!("{c}-1\n")).success();
    follow.wait_lines(5, Duration::from_secs(60));
    let ran = follow.stop(Duration::from_secs(30));
    let mut expected = both.clone();
    expected.insert((c.clone(), format!("{c}-1")));
    assert_eq!(topics_of(&ran.json_lines()), expected);
}

#[test]
fn a_killed_group_consumer_re_delivers_about_a_second_of_records() {
    needs_cluster!();
    let topic = create_topic(3, &[]);
    let group = unique_name("g-kill");
    // A steady producer: 40 records every 20 ms, 2,000 records/s.
    const PER_TICK: usize = 40;
    const TICK: Duration = Duration::from_millis(20);
    let mut producer = Proc::start("kprod", &["-q", &topic]);
    let mut stdin = producer.take_stdin();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            use std::io::Write;
            let started = Instant::now();
            let mut n = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let batch: String = (n..n + PER_TICK).map(|i| format!("r{i}\n")).collect();
                stdin.write_all(batch.as_bytes()).unwrap();
                n += PER_TICK;
                let due = started + TICK * (n / PER_TICK) as u32;
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
            (n, started.elapsed())
        })
    };
    // A short session: the restart need not wait 45 s for the dead member to leave.
    let mut killed = Proc::start(
        "kcons",
        &["-g", &group, &topic, "-X", "session.timeout.ms=6000"],
    );
    killed.wait_lines(2_000, Duration::from_secs(120));
    // Commits every second: watched for 5 s, the group's committed offsets move at least
    // every 1.6 s (the default 5 s of librdkafka fails this at once).
    // The sum of the committed offsets (a partition without records has none).
    let committed = || -> Option<i64> {
        let ran = run(tool("kgroup").args(["describe", &group]));
        let lines = ran.json_lines();
        let commits: Vec<i64> = lines
            .iter()
            .filter(|l| l["kind"] == "partition" && l["topic"] == json!(topic))
            .filter_map(|l| l["committed"].as_i64())
            .collect();
        (!commits.is_empty()).then(|| commits.iter().sum())
    };
    let watch = Instant::now();
    let (mut moves, mut last) = (Vec::new(), None);
    while watch.elapsed() < Duration::from_secs(5) {
        let now = committed();
        if now.is_some() && now != last {
            moves.push(watch.elapsed());
            last = now;
        }
    }
    let longest = moves.windows(2).map(|w| w[1] - w[0]).max();
    assert!(
        moves.len() >= 3 && longest.is_some_and(|gap| gap <= Duration::from_millis(1600)),
        "commits seen at {moves:?}"
    );
    // The kill lands late in a commit interval (0.9 s after a commit was seen), near the
    // most that can be re-delivered.
    let seen = watch + *moves.last().unwrap();
    std::thread::sleep(
        (seen + Duration::from_millis(900)).saturating_duration_since(Instant::now()),
    );
    killed.signal(libc::SIGKILL);
    let first = killed.finish(Duration::from_secs(30));
    assert_eq!(first.signal(), Some(libc::SIGKILL));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (produced, took) = writer.join().unwrap();
    producer.close_stdin();
    producer.finish(Duration::from_secs(60)).success();
    let rate = produced as f64 / took.as_secs_f64();

    let second = run(kcons().args(["-g", &group, &topic, "-e"])).success();
    // Whole lines only: SIGKILL may cut the last one.
    let stdout = first.stdout();
    let whole = &stdout[..stdout.rfind('\n').map_or(0, |i| i + 1)];
    let first_values: BTreeSet<String> = whole
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["value"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let second_values: Vec<String> = second
        .json_lines()
        .iter()
        .map(|r| r["value"].as_str().unwrap().to_string())
        .collect();
    let again = second_values
        .iter()
        .filter(|v| first_values.contains(*v))
        .count();
    let mut all: BTreeSet<String> = first_values.clone();
    all.extend(second_values.iter().cloned());
    assert_eq!(all.len(), produced, "nothing skipped");
    let seconds = again as f64 / rate;
    eprintln!(
        "kcons: commits seen at {moves:?}; SIGKILL after {} records at {rate:.0} records/s: {again} re-delivered, {seconds:.2} s of records",
        first_values.len()
    );
    assert!(
        seconds <= 2.0,
        "{again} records re-delivered: {seconds:.2} s at {rate:.0} records/s (commits every 1 s)"
    );
}

#[test]
fn a_misspelt_cluster_name_reaches_no_cluster() {
    needs_cluster!();
    let topic = create_topic(1, &[]);
    kprod(&[&topic], "x\n").success();
    for with_brokers in [false, true] {
        let ran =
            run(misnamed("kcons", with_brokers).args([&topic, "-e"])).reached_no_cluster("kcons");
        assert_eq!(ran.stdout(), "", "records were read");
    }
}

/// kcat's reading of `topics` to their ends (`kcat -C -e -J`, a client that is not ours):
/// (topic, partition, offset, value) of every record, sorted.
fn kcat_read(topics: &[&str]) -> Vec<(String, i64, i64, String)> {
    let mut all = Vec::new();
    for topic in topics {
        let ran = run(kcat()
            .args(["-b", &brokers(), "-C", "-e", "-J", "-q", "-t", topic])
            .timeout(Duration::from_secs(120)))
        .success();
        for r in ran.json_lines() {
            let value = r["payload"].as_str().unwrap_or_default().to_string();
            all.push((
                topic.to_string(),
                r["partition"].as_i64().unwrap(),
                r["offset"].as_i64().unwrap(),
                value,
            ));
        }
    }
    all.sort();
    all
}

/// kcons's records as [`kcat_read`] gives them.
fn as_read(records: &[Value]) -> Vec<(String, i64, i64, String)> {
    let mut all: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r["topic"].as_str().unwrap().to_string(),
                r["partition"].as_i64().unwrap(),
                r["offset"].as_i64().unwrap(),
                r["value"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    all.sort();
    all
}

#[test]
fn exit_at_end_on_a_wide_sparse_topic_prints_exactly_its_records() {
    needs_cluster!();
    // Most partitions empty: -e leaves them out, and starts the others at their first offset.
    let topic = create_topic(200, &[]);
    for (partition, count) in [(7, 3), (150, 1), (199, 2)] {
        let lines: String = (0..count).map(|i| format!("p{partition}-{i}\n")).collect();
        kprod(&["-q", "-p", &partition.to_string(), &topic], lines).success();
    }
    let expected = kcat_read(&[&topic]);
    assert_eq!(expected.len(), 6, "kcat read {expected:?}");
    assert_eq!(as_read(&kcons_e(&[&topic])), expected);
    // From an offset, and the last record of each partition.
    assert_eq!(
        positions(&kcons_e(&[&topic, "-o", "1"])),
        vec![(7, 1), (7, 2), (199, 1)]
    );
    assert_eq!(
        positions(&kcons_e(&[&topic, "-o", "-1"])),
        vec![(7, 2), (150, 0), (199, 1)]
    );
    // With a group: the same records, committed; then only what came after.
    let group = unique_name("g-sparse");
    assert_eq!(as_read(&kcons_e(&[&topic, "-g", &group])), expected);
    assert_eq!(kcons_e(&[&topic, "-g", &group]), Vec::<Value>::new());
    kprod(&["-q", "-p", "3", &topic], "later\n").success();
    assert_eq!(positions(&kcons_e(&[&topic, "-g", &group])), vec![(3, 0)]);
    assert_eq!(
        positions(&kcons_e(&[&topic, "-g", &group, "--no-commit"])),
        vec![]
    );
}

#[test]
fn exit_at_end_ends_where_every_partition_ends_in_a_commit_marker() {
    needs_cluster!();
    // Transactions over three of four partitions: each of those ends in a commit marker, an
    // offset no record is delivered at; the fourth is empty. Another topic read alongside
    // makes the end-of-partition events ambiguous: the positions decide.
    let topic = create_topic(4, &[]);
    let other = create_topic(2, &[]);
    kprod(&["-q", "-p", "1", &other], "o1\no2\n").success();
    let input: String = (0..9)
        .map(|i| {
            format!(
                "{}\n",
                json!({"partition": i % 3, "value": format!("tx{i}")})
            )
        })
        .collect();
    kprod(&["--json", "-q", "--transactional", &topic], input).success();
    eventually(
        "every written partition to end after its commit marker",
        Duration::from_secs(60),
        || {
            let ends = end_offsets(tool("ktopic"), &topic);
            let done = (0..3).all(|p| ends.get(&p) == Some(&4)) && ends.get(&3) == Some(&0);
            if !done {
                eprintln!("not yet: {ends:?}");
            }
            done.then_some(())
        },
    );
    let expected = kcat_read(&[&topic, &other]);
    assert_eq!(expected.len(), 11, "kcat read {expected:?}");
    let read = |extra: &[&str]| {
        run(kcons()
            .args([&topic, &other, "-e"])
            .args(extra)
            .timeout(Duration::from_secs(30)))
        .success()
        .json_lines()
    };
    assert_eq!(as_read(&read(&[])), expected);
    let group = unique_name("g-markers");
    assert_eq!(as_read(&read(&["-g", &group])), expected);
    assert_eq!(read(&["-g", &group]), Vec::<Value>::new());
}
