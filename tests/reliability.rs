//! Reliability, proven by fault injection against live brokers: no record lost or
//! duplicated when brokers die under kprod and kcons, when too few replicas are
//! left, and when a consumer crashes. README.md ("Delivery guarantees") promises what
//! these tests hold the tools to. What one tool does with bad input or a signal is in
//! that tool's file (kprod.rs, kcons.rs).
//!
//! Tests that kill brokers take the fault cluster ([`FaultCluster`]), one at a time
//! across test binaries; the others run beside them on the shared test cluster.
//! Every measured number (duplicates, records, times) is printed with the prefix
//! `reliability:`; `cargo test --test reliability -- --nocapture` shows them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufWriter, Write};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use kpipes_e2e::*;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

// ---------------------------------------------------------------------------
// Looking at topics, records and groups.
// ---------------------------------------------------------------------------

/// A topic of 3 partitions with min.insync.replicas=2, on the fault cluster when given.
fn replicated_topic(cluster: Option<&FaultCluster>) -> String {
    match cluster {
        Some(cluster) => cluster.replicated_topic(3),
        None => create_topic(3, &["-c", "min.insync.replicas=2"]),
    }
}

struct PartitionInfo {
    leader: i64,
    replicas: Vec<i64>,
    isr: Vec<i64>,
}

fn describe_partitions(mut ktopic: assert_cmd::Command, topic: &str) -> Vec<PartitionInfo> {
    let ran = run(ktopic.args(["describe", topic])).success();
    let lines = ran.json_lines();
    let ids = |v: &Value| {
        v.as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default()
    };
    lines[0]["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| PartitionInfo {
            leader: p["leader"].as_i64().unwrap_or(-1),
            replicas: ids(&p["replicas"]),
            isr: ids(&p["isr"]),
        })
        .collect()
}

/// A record as kcons printed it: where it is and its value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Rec {
    partition: i64,
    offset: i64,
    value: String,
}

fn parse_records(list: &[Value]) -> Vec<Rec> {
    list.iter()
        .map(|v| Rec {
            partition: v["partition"].as_i64().unwrap(),
            offset: v["offset"].as_i64().unwrap(),
            value: v["value"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

/// `kcons ARGS` against `brokers`, run again while it fails with exit 5 (brokers not
/// reachable) before printing anything: right after a broker failure the metadata
/// can name a leader that does not serve yet, and `-e` then cannot read the end
/// offsets within its timeout. Retrying is what a user would do; the tests of the
/// failure itself must not trip over the recovery.
fn kcons_answered(brokers: &str, args: &[&str]) -> Ran {
    let deadline = Instant::now() + secs(120);
    loop {
        let ran = run(tool("kcons").env("KAFKA_BROKERS", brokers).args(args));
        if ran.code() == Some(5) && ran.output.stdout.is_empty() && Instant::now() < deadline {
            eprintln!(
                "reliability: retrying kcons {args:?}: {}",
                ran.stderr().trim()
            );
            continue;
        }
        return ran.success();
    }
}

/// Every record of `topic` now (`kcons TOPIC -e`).
fn consume_all(brokers: &str, topic: &str) -> Vec<Rec> {
    parse_records(&kcons_answered(brokers, &[topic, "-e"]).json_lines())
}

/// A delivery report of kprod: `{"topic","partition","offset","line"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Report {
    partition: i64,
    offset: i64,
    line: u64,
}

fn parse_reports(list: &[Value]) -> Vec<Report> {
    list.iter()
        .map(|v| Report {
            partition: v["partition"].as_i64().unwrap(),
            offset: v["offset"].as_i64().unwrap(),
            line: v["line"].as_u64().unwrap(),
        })
        .collect()
}

/// Big-endian reader of Kafka's internal encodings.
struct Wire<'a>(&'a [u8]);

impl Wire<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn i16(&mut self) -> Option<i16> {
        self.take().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_be_bytes)
    }
    fn string(&mut self) -> Option<String> {
        let len = usize::try_from(self.i16()?).ok()?;
        let text = self.0.get(..len)?;
        self.0 = &self.0[len..];
        Some(String::from_utf8_lossy(text).into_owned())
    }
}

/// The offsets `group` has committed for `topic`, per partition, read straight from
/// `__consumer_offsets` (as the brokers keep them; no group tool is involved).
fn committed_offsets(brokers: &str, group: &str, topic: &str) -> BTreeMap<i64, i64> {
    let ran = kcons_answered(brokers, &["__consumer_offsets", "-e"]);
    let mut committed = BTreeMap::new();
    for record in ran.json_lines() {
        let Some(key) = decoded(&record["key"]) else {
            continue;
        };
        let mut key = Wire(&key);
        // Key versions 0 and 1 are offset commits; 2 is group metadata.
        if !matches!(key.i16(), Some(0 | 1)) {
            continue;
        }
        let (Some(g), Some(t), Some(partition)) = (key.string(), key.string(), key.i32()) else {
            continue;
        };
        if g != group || t != topic {
            continue;
        }
        match decoded(&record["value"]) {
            None => {
                committed.remove(&i64::from(partition));
            }
            Some(value) => {
                let mut value = Wire(&value);
                let _version = value.i16();
                if let Some(offset) = value.i64() {
                    committed.insert(i64::from(partition), offset);
                }
            }
        }
    }
    committed
}

// ---------------------------------------------------------------------------
// 1. A broker killed while kprod produces.
// ---------------------------------------------------------------------------

const SEQ_RECORDS: usize = 200_000;
/// The feeder gives kprod this many records, then holds back the rest until the killed
/// broker has been restarted.
const FED_BEFORE_RESTART: usize = 150_000;

fn seq_value(n: usize) -> String {
    format!("seq-{n:09}")
}

/// kprod pipes SEQ_RECORDS sequence-numbered records into partition 0 of a topic with
/// replication factor 3 and min.insync.replicas=2; a broker of that partition (its
/// leader, or a follower) gets SIGKILL after 50,000 were delivered, records keep
/// flowing while it is down, and it is restarted before the input ends.
fn produce_through_broker_kill(kill_leader: bool) {
    let started = Instant::now();
    let cluster = FaultCluster::acquire();
    let topic = replicated_topic(Some(&cluster));
    let p0 = &describe_partitions(cluster.tool("ktopic"), &topic)[0];
    let victim = if kill_leader {
        p0.leader
    } else {
        *p0.replicas
            .iter()
            .find(|b| **b != p0.leader)
            .expect("a follower of partition 0")
    };
    let victim = victim.to_string();

    let kprod_started = Instant::now();
    let mut kprod = Proc::spawn(cluster.command("kprod").args([&topic, "-p", "0"]));
    let stdin = kprod.take_stdin();
    // The input arrives over time, as from a live source: at most 40,000 records a
    // second (pacing, not synchronisation), so records are in flight when the broker
    // dies. It holds back the last 50,000 until the broker has been restarted.
    let (restarted_tx, restarted_rx) = mpsc::channel::<()>();
    let feeder = thread::spawn(move || -> std::io::Result<()> {
        let mut out = BufWriter::new(stdin);
        for n in 0..SEQ_RECORDS {
            if n == FED_BEFORE_RESTART {
                out.flush()?;
                let _ = restarted_rx.recv();
            }
            writeln!(out, "{}", seq_value(n))?;
            if n % 1000 == 999 {
                out.flush()?;
                thread::sleep(Duration::from_millis(25));
            }
        }
        out.flush()
    });

    kprod.wait_lines(50_000, secs(120));
    run(cluster.kcluster().args(["kill", &victim])).success();
    let at_kill = kprod.line_count();
    let killed_at = Instant::now();
    // Records keep being delivered while the broker is down (2 in-sync replicas remain):
    // 60,000 more, or as many as the feeder gives before the restart when kprod had
    // already delivered more than 90,000 at the kill (more could never come).
    let while_down = (at_kill + 60_000).min(FED_BEFORE_RESTART);
    kprod.wait_lines(while_down, secs(120));
    let outage = killed_at.elapsed();
    let delivered_while_down = kprod.line_count() - at_kill;
    run(cluster.kcluster().args(["start", &victim])).success();
    restarted_tx.send(()).unwrap();
    feeder.join().unwrap().expect("feeding kprod's stdin");
    let exit = kprod.finish(secs(180)).no_panic().code_is(0).quiet();
    let kprod_ran = kprod_started.elapsed();

    // Every input line was reported delivered exactly once, at a distinct place.
    let reports = parse_reports(&exit.json_lines());
    let lines: BTreeSet<u64> = reports.iter().map(|r| r.line).collect();
    assert_eq!(
        reports.len(),
        SEQ_RECORDS,
        "{}",
        exit.explain("expected one delivery report per record")
    );
    assert_eq!(
        lines,
        (1..=SEQ_RECORDS as u64).collect(),
        "every line reported once"
    );
    let places: HashMap<(i64, i64), u64> = reports
        .iter()
        .map(|r| ((r.partition, r.offset), r.line))
        .collect();
    assert_eq!(
        places.len(),
        SEQ_RECORDS,
        "two reports name the same partition and offset"
    );

    // The topic holds every sequence number exactly once, where kprod said it was.
    let records = consume_all(&cluster.brokers, &topic);
    let mut seen: HashMap<&str, u32> = HashMap::new();
    for record in &records {
        *seen.entry(record.value.as_str()).or_default() += 1;
    }
    let duplicated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(5).collect();
    let missing: Vec<String> = (0..SEQ_RECORDS)
        .map(seq_value)
        .filter(|v| !seen.contains_key(v.as_str()))
        .take(5)
        .collect();
    assert!(
        duplicated.is_empty(),
        "duplicated records (value, count): {duplicated:?}"
    );
    assert!(missing.is_empty(), "missing records: {missing:?}");
    assert_eq!(records.len(), SEQ_RECORDS);
    for record in &records {
        let line = places[&(record.partition, record.offset)];
        assert_eq!(
            record.value,
            seq_value(line as usize - 1),
            "the report for line {line} names another record"
        );
    }
    eprintln!(
        "reliability: {} killed mid-produce (broker {victim}): {} records, killed after {at_kill} delivered, \
         {} more delivered in {outage:.1?} while down, 0 lost, 0 duplicated, kprod ran {:.1?}, test {:.1?}",
        if kill_leader { "leader" } else { "follower" },
        records.len(),
        delivered_while_down,
        kprod_ran,
        started.elapsed()
    );
}

#[test]
fn follower_killed_mid_produce_loses_and_duplicates_nothing() {
    needs_cluster!();
    produce_through_broker_kill(false);
}

#[test]
fn leader_killed_mid_produce_loses_and_duplicates_nothing() {
    needs_cluster!();
    produce_through_broker_kill(true);
}

// ---------------------------------------------------------------------------
// 2. Too few replicas.
// ---------------------------------------------------------------------------

/// With two of three brokers down, acks=all cannot be satisfied (min.insync.replicas=2):
/// kprod must not report success. After its delivery timeout it exits 4 and names how
/// many records were not delivered. With the brokers back, the same input re-run puts
/// every record in the topic.
///
/// What is asserted about the content: every record kprod reported delivered in the
/// first run is in the topic (no false report); after the re-run every input line is
/// there, and the topic is exactly "what the first run left" plus "every line once":
/// the only duplicates are records of the first run that did reach the log (reported
/// delivered, or timed out after the leader had written them) — at-least-once.
#[test]
fn too_few_replicas_fails_loudly_and_a_rerun_delivers_everything() {
    needs_cluster!();
    const LINES: usize = 1000;
    let cluster = FaultCluster::acquire();
    let topic = replicated_topic(Some(&cluster));
    let input: String = (1..=LINES).map(|n| format!("few-{n:05}\n")).collect();

    run(cluster.kcluster().args(["stop", "2"])).success();
    run(cluster.kcluster().args(["kill", "3"])).success();
    let started = Instant::now();
    let first = run(cluster
        .tool("kprod")
        .args([&topic, "--delivery-timeout", "10"])
        .write_stdin(input.clone()));
    let took = started.elapsed();
    let first = first.no_panic().code_is(4);
    let stderr = first.stderr();
    let summary = stderr.lines().last().unwrap_or_default();
    let (not_delivered, delivered) = parse_not_delivered(summary, LINES)
        .unwrap_or_else(|| panic!("the last stderr line does not name the count:\n{stderr}"));
    let reports = parse_reports(&first.json_lines());
    assert_eq!(
        delivered,
        reports.len(),
        "the delivered count matches the reports\n{stderr}"
    );
    assert_eq!(not_delivered + delivered, LINES, "{stderr}");
    assert!(
        not_delivered > 0,
        "acks=all reported success with one broker of three\n{stderr}"
    );
    assert!(
        took >= secs(10),
        "gave up after {took:?}, before its delivery timeout of 10 s"
    );
    assert!(took < secs(60), "took {took:?} for a 10 s delivery timeout");
    let reported_lines: BTreeSet<u64> = reports.iter().map(|r| r.line).collect();
    // Every line is accounted for: reported delivered on stdout, or named on stderr
    // (`line N: ...`, or `lines A-B: ...` for a run of them), never both.
    let named = failed_lines(&stderr);
    let both: Vec<&u64> = named.intersection(&reported_lines).take(5).collect();
    assert!(
        both.is_empty(),
        "lines reported both delivered and not: {both:?}\n{stderr}"
    );
    let unaccounted: Vec<u64> = (1..=LINES as u64)
        .filter(|n| !named.contains(n) && !reported_lines.contains(n))
        .take(5)
        .collect();
    assert!(
        unaccounted.is_empty(),
        "lines neither delivered nor named as failed: {unaccounted:?}\n{stderr}"
    );

    run(cluster.kcluster().args(["start", "2"])).success();
    run(cluster.kcluster().args(["start", "3"])).success();
    eventually(
        "every partition led, with every replica in sync",
        secs(120),
        || {
            let partitions = describe_partitions(cluster.tool("ktopic"), &topic);
            partitions
                .iter()
                .all(|p| p.leader > 0 && p.isr.len() == p.replicas.len())
                .then_some(())
        },
    );
    let after_first = consume_all(&cluster.brokers, &topic);
    let after_first_values: BTreeSet<&str> = after_first.iter().map(|r| r.value.as_str()).collect();
    for report in &reports {
        let value = format!("few-{:05}", report.line);
        assert!(
            after_first_values.contains(value.as_str()),
            "line {} was reported delivered but is not in the topic",
            report.line
        );
    }

    let second = run(cluster.tool("kprod").args([&topic]).write_stdin(input)).success();
    assert_eq!(
        second.json_lines().len(),
        LINES,
        "the re-run reports every line"
    );
    let after_second = consume_all(&cluster.brokers, &topic);
    let mut expected: BTreeMap<String, usize> =
        (1..=LINES).map(|n| (format!("few-{n:05}"), 1)).collect();
    for record in &after_first {
        *expected.entry(record.value.clone()).or_default() += 1;
    }
    let mut actual: BTreeMap<String, usize> = BTreeMap::new();
    for record in &after_second {
        *actual.entry(record.value.clone()).or_default() += 1;
    }
    assert_eq!(
        actual, expected,
        "the topic is not \"first run's records\" + \"every line once\""
    );
    eprintln!(
        "reliability: too few replicas: first run exit 4 after {took:.1?}, {not_delivered} of {LINES} not delivered \
         ({delivered} delivered); {} of the first run's records reached the log anyway; after the re-run the topic \
         holds {} records: every line, {} duplicated",
        after_first.len(),
        after_second.len(),
        after_second.len() - LINES
    );
}

/// The input lines kprod names as failed on stderr: `line N: ...` and `lines A-B: ...`.
fn failed_lines(stderr: &str) -> BTreeSet<u64> {
    let mut named = BTreeSet::new();
    for line in stderr.lines() {
        let Some(rest) = line.strip_prefix("kprod: error: ") else {
            continue;
        };
        let Some((what, _why)) = rest.split_once(": ") else {
            continue;
        };
        if let Some(n) = what.strip_prefix("line ").and_then(|n| n.parse().ok()) {
            named.insert(n);
        } else if let Some((a, b)) = what.strip_prefix("lines ").and_then(|r| r.split_once('-')) {
            if let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>()) {
                named.extend(a..=b);
            }
        }
    }
    named
}

/// `N of TOTAL records not delivered (D delivered)` → (N, D).
fn parse_not_delivered(line: &str, total: usize) -> Option<(usize, usize)> {
    let (head, rest) = line.split_once(&format!(" of {total} records not delivered ("))?;
    let not_delivered = head.rsplit(' ').next()?.parse().ok()?;
    let delivered = rest.split(' ').next()?.parse().ok()?;
    Some((not_delivered, delivered))
}

// ---------------------------------------------------------------------------
// 3. A consumer crash, with and without a broker killed.
// ---------------------------------------------------------------------------

const CRASH_RECORDS: usize = 60_000;

fn crash_value(n: usize) -> String {
    format!("crash-{n:08}-{}", "x".repeat(48))
}

/// The offsets printed per partition, which must have no gaps and no repeats.
fn contiguous(records: &[Rec], run: &str) -> BTreeMap<i64, (i64, i64)> {
    let mut by_partition: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for r in records {
        by_partition.entry(r.partition).or_default().push(r.offset);
    }
    by_partition
        .into_iter()
        .map(|(p, offsets)| {
            let first = offsets[0];
            let expected: Vec<i64> = (first..first + offsets.len() as i64).collect();
            assert!(
                offsets == expected,
                "{run}: partition {p} skips or repeats offsets (starts at {first}, {} records)",
                offsets.len()
            );
            (p, (first, first + offsets.len() as i64))
        })
        .collect()
}

/// `kcons -g G T` gets SIGKILL mid-stream (blocked behind a slow reader, after a
/// commit was seen) and is restarted with `-e -o stored`. Checked: nothing skipped;
/// each run prints its partitions without gaps or repeats; the restart resumes at
/// the group's last commit (never past what the first run wrote), so the
/// duplicates are exactly the first run's records at or after that commit.
fn consumer_crash(cluster: Option<&FaultCluster>) {
    let started = Instant::now();
    let brokers = &cluster.map_or_else(brokers, |c| c.brokers.clone());
    let tool_at = |name: &str| {
        let mut cmd = tool(name);
        cmd.env("KAFKA_BROKERS", brokers);
        cmd
    };
    let topic = replicated_topic(cluster);
    let group = unique_name("rel-group");
    let input: String = (0..CRASH_RECORDS).map(|n| crash_value(n) + "\n").collect();
    run(tool_at("kprod").args([&topic, "-q"]).write_stdin(input)).success();
    let high = end_offsets(tool_at("ktopic"), &topic);
    assert_eq!(high.values().sum::<i64>(), CRASH_RECORDS as i64);

    // A short session timeout lets the restart's rebalance drop the dead member after
    // 6 s instead of the default 45. With a broker killed it must outlast the failover
    // (~9 s until the controller fences the broker, which may be the group's
    // coordinator): a kcons blocked on a full stdout cannot poll, so a session lost
    // meanwhile could neither rejoin nor commit until it polls again, which this test
    // never lets it do (the default 45 s is safe; 6 s is only the test's shortcut). A small prefetch makes kcons fetch
    // during the test, not all before it.
    let session_timeout = if cluster.is_some() {
        "session.timeout.ms=25000"
    } else {
        "session.timeout.ms=6000"
    };
    let first_batch = 10_000;
    let mut kcons = Proc::spawn_holding(
        command("kcons").env("KAFKA_BROKERS", brokers).args([
            "-g",
            &group,
            &topic,
            "-X",
            session_timeout,
            "-X",
            "queued.max.messages.kbytes=1024",
        ]),
        first_batch,
    );
    kcons.wait_lines(first_batch, secs(60));
    let mut victim = None;
    if let Some(cluster) = cluster {
        let leader = describe_partitions(cluster.tool("ktopic"), &topic)[0]
            .leader
            .to_string();
        run(cluster.kcluster().args(["kill", &leader])).success();
        victim = Some(leader);
        // Consumption goes on past the broker's death: release 30,000 more lines.
        kcons.hold_after(first_batch + 30_000);
        kcons.wait_lines(first_batch + 30_000, secs(120));
    }
    let read_before_kill = kcons.line_count() as i64;
    // Wait (kcons stays blocked behind the full pipe) for an automatic commit; after a
    // broker kill, one that covers records read after it.
    let wanted = if cluster.is_some() {
        first_batch as i64 + 1
    } else {
        1
    };
    eventually("an automatic commit of the group", secs(90), || {
        let sum: i64 = committed_offsets(brokers, &group, &topic).values().sum();
        (sum >= wanted).then_some(())
    });
    kcons.signal(libc::SIGKILL);
    let first = kcons.finish(secs(30));
    assert_eq!(
        first.signal(),
        Some(libc::SIGKILL),
        "{}",
        first.explain("expected death by SIGKILL")
    );
    // SIGKILL in the middle of a write can leave a partial last line; that record's
    // offset was not stored (its batch was not written out whole), so the restart
    // prints it again, in full.
    let cut_line = first.partial_line().map_or(0, |l| l.len());
    let committed = committed_offsets(brokers, &group, &topic);

    let second = kcons_answered(brokers, &["-g", &group, &topic, "-e", "-o", "stored"]);
    if let (Some(cluster), Some(victim)) = (cluster, &victim) {
        run(cluster.kcluster().args(["start", victim])).success();
    }
    let first_records = parse_records(&first.json_lines());
    let second_records = parse_records(&second.json_lines());
    let first_spans = contiguous(&first_records, "the crashed run");
    let second_spans = contiguous(&second_records, "the restart");

    let mut duplicates = 0;
    for (&partition, &end) in &high {
        let (first_from, first_to) = first_spans.get(&partition).copied().unwrap_or((0, 0));
        let (second_from, second_to) = second_spans.get(&partition).copied().unwrap_or((end, end));
        let commit = committed.get(&partition).copied().unwrap_or(0);
        assert_eq!(
            first_from, 0,
            "partition {partition}: the first run did not start at the beginning"
        );
        assert_eq!(
            second_to, end,
            "partition {partition}: the restart did not reach the end"
        );
        assert!(
            second_from <= first_to,
            "partition {partition}: offsets {first_to}..{second_from} skipped (first run wrote up to {first_to}, restart began at {second_from})"
        );
        assert!(
            commit <= first_to,
            "partition {partition}: committed {commit}, past what the first run wrote ({first_to})"
        );
        assert!(
            second_from >= commit,
            "partition {partition}: the restart began at {second_from}, before the last commit {commit}"
        );
        duplicates += first_to - second_from;
    }
    let printed_twice = first_records.len() + second_records.len() - CRASH_RECORDS;
    assert_eq!(
        printed_twice as i64, duplicates,
        "duplicates are exactly the first run's records after the last commit"
    );
    assert!(
        (duplicates as usize) < first_records.len(),
        "a commit was seen, yet the restart printed everything again ({duplicates} duplicates)"
    );
    eprintln!(
        "reliability: consumer crash{}: {CRASH_RECORDS} records; the killed kcons had written {} ({} read when the \
         kill was decided), committed at kill {:?}; restart printed {}; 0 skipped, {duplicates} duplicates (all after \
         the last commit); partial last line cut by SIGKILL: {cut_line} bytes; test {:.1?}",
        victim.as_ref().map(|v| format!(" with broker {v} killed")).unwrap_or_default(),
        first_records.len(),
        read_before_kill,
        committed,
        second_records.len(),
        started.elapsed()
    );
}

#[test]
fn consumer_killed_mid_stream_skips_nothing() {
    needs_cluster!();
    consumer_crash(None);
}

#[test]
fn consumer_killed_mid_stream_with_a_broker_killed_skips_nothing() {
    needs_cluster!();
    let cluster = FaultCluster::acquire();
    consumer_crash(Some(&cluster));
}
