//! Exactly-once shell pipelines (issue #16):
//! `kcons -g G --no-commit a | grep -v PATTERN | kprod --json --transactional --commit-group G b`
//! copied while a chaos loop SIGKILLs one of the three processes at random moments and
//! restarts the pipeline, and while a broker is killed; b (read with read_committed, as
//! kcons reads) must then hold every kept record of a exactly once, in source order per
//! partition. README.md ("Delivery guarantees") promises what these tests check.
//!
//! The chaos loop is seeded: a failure prints `exactly_once: seed N`, and
//! `KPIPES_CHAOS_SEED=N cargo test --test exactly_once` replays the same kill schedule
//! (the same victims and delays; the machine's timing still varies). Every measured number
//! is printed with the prefix `exactly_once:` (`-- --nocapture` shows them).

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kpipes_e2e::*;

/// Records in the source topic, numbered 1..=RECORDS, record n in partition n % 3.
const RECORDS: u64 = 100_000;
/// grep -v drops the records whose number ends in 7 (their value is the last field
/// before the headers in kcons's output).
const DROPPED: &str = "7\",\"headers\"";
const PARTITIONS: u64 = 3;

fn kept(n: u64) -> bool {
    n % 10 != 7
}

/// The source topic: RECORDS records, values zero-padded numbers.
fn fill_source(mut kprod: assert_cmd::Command, topic: &str) {
    let mut input = String::with_capacity(RECORDS as usize * 40);
    for n in 1..=RECORDS {
        input.push_str(&format!(
            "{{\"partition\":{},\"value\":\"{n:06}\"}}\n",
            n % PARTITIONS
        ));
    }
    run(kprod.args(["-q", "--json", topic]).write_stdin(input)).success();
}

/// One run of the pipeline: its three processes, chained by pipes.
struct Pipeline {
    /// kcons, grep, kprod.
    children: Vec<Child>,
    started: Instant,
    /// Records kprod reported delivered: it reports a transaction's records once it committed.
    committed: Arc<AtomicU64>,
}

const NAMES: [&str; 3] = ["kcons", "grep", "kprod"];

impl Pipeline {
    fn start(tool: &dyn Fn(&str) -> Command, group: &str, from: &str, to: &str) -> Pipeline {
        let mut kcons = tool("kcons")
            .args(["-g", group, "--no-commit", "-e", from])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting kcons");
        let mut grep = Command::new("grep")
            .args(["-v", DROPPED])
            .stdin(Stdio::from(kcons.stdout.take().expect("kcons stdout")))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting grep");
        let mut kprod = tool("kprod")
            .args(["--json", "--transactional", "--commit-group", group])
            .args(["--commit-interval", "0.1", to])
            .stdin(Stdio::from(grep.stdout.take().expect("grep stdout")))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting kprod");
        let committed = Arc::new(AtomicU64::new(0));
        let mut reports = kprod.stdout.take().expect("kprod stdout");
        let count = Arc::clone(&committed);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n @ 1..) = reports.read(&mut buf) {
                let lines = buf[..n].iter().filter(|&&b| b == b'\n').count();
                count.fetch_add(lines as u64, Ordering::Relaxed);
            }
        });
        Pipeline {
            children: vec![kcons, grep, kprod],
            started: Instant::now(),
            committed,
        }
    }

    /// Whether every process is still running.
    fn all_running(&mut self) -> bool {
        self.children
            .iter_mut()
            .all(|c| matches!(c.try_wait(), Ok(None)))
    }

    fn kill(&mut self, index: usize) {
        // SAFETY: kill(2) on our own child's pid, not yet reaped.
        unsafe { libc::kill(self.children[index].id() as i32, libc::SIGKILL) };
    }

    /// Wait for all three (killing them all after `timeout`); each one's status and stderr.
    fn finish(mut self, timeout: Duration) -> Vec<(ExitStatus, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            let done = self
                .children
                .iter_mut()
                .all(|c| matches!(c.try_wait(), Ok(Some(_))));
            if done {
                break;
            }
            if Instant::now() > deadline {
                for child in &mut self.children {
                    let _ = child.kill();
                }
                let stderrs: Vec<String> = self.children.iter_mut().map(stderr_of).collect();
                panic!("the pipeline did not end within {timeout:?}: stderr {stderrs:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.children
            .iter_mut()
            .map(|c| (c.wait().expect("waiting"), stderr_of(c)))
            .collect()
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut text);
    }
    text
}

fn describe(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        _ => "?".into(),
    }
}

/// How one run ended; panics on an outcome no crash explains.
fn check_run(outcome: &[(ExitStatus, String)], victim: Option<usize>, broker_faults: bool) -> bool {
    use std::os::unix::process::ExitStatusExt;
    let text = || {
        outcome
            .iter()
            .zip(NAMES)
            .map(|((status, err), name)| format!("{name}: {} {err:?}", describe(status)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    for (index, (status, stderr)) in outcome.iter().enumerate() {
        if Some(index) == victim {
            continue;
        }
        let fine = match (NAMES[index], status.code(), status.signal()) {
            // kcons ends quietly when its stdout closes.
            ("kcons", Some(0), _) => true,
            // grep: 1 when it kept nothing, killed by SIGPIPE or 2 when kprod is gone.
            ("grep", Some(0..=2), _) | ("grep", None, Some(libc::SIGPIPE)) => true,
            ("kprod", Some(0), _) => true,
            // A process killed mid-write upstream leaves a partial last line.
            ("kprod", Some(3), _) => victim.is_some() && stderr.contains("invalid JSON"),
            // A transaction that could not complete while a broker was down.
            ("kprod", Some(4 | 5), _) => broker_faults,
            ("kcons", Some(5), _) => broker_faults,
            _ => false,
        };
        assert!(fine, "unexpected end of the pipeline: {}", text());
        assert!(!stderr.contains("panicked"), "a panic: {}", text());
    }
    eprintln!("exactly_once: run ended: {}", text());
    // Complete: nobody killed, kcons read to the end and kprod committed it all.
    victim.is_none() && outcome[0].0.code() == Some(0) && outcome[2].0.code() == Some(0)
}

/// What b holds, read with read_committed: duplicates, losses and order per partition.
fn verify(mut kcons: assert_cmd::Command, topic: &str) {
    let records = run(kcons.args([topic, "-e"])).success().json_lines();
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    let mut last: BTreeMap<i64, u64> = BTreeMap::new();
    let mut out_of_order = 0;
    let mut wrong_partition = 0;
    for record in &records {
        let n: u64 = record["value"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("not a numbered record: {record}"));
        let partition = record["partition"].as_i64().expect("partition");
        *seen.entry(n).or_default() += 1;
        if last.get(&partition).is_some_and(|&before| before >= n) {
            out_of_order += 1;
        }
        last.insert(partition, n);
        if n % PARTITIONS != partition as u64 {
            wrong_partition += 1;
        }
    }
    let duplicates: u64 = seen.values().map(|&c| u64::from(c.saturating_sub(1))).sum();
    let lost = (1..=RECORDS)
        .filter(|&n| kept(n) && !seen.contains_key(&n))
        .count();
    let unwanted = seen.keys().filter(|&&n| !kept(n)).count();
    eprintln!(
        "exactly_once: b holds {} records: {duplicates} duplicates, {lost} lost, \
         {unwanted} that grep dropped, {out_of_order} out of order, {wrong_partition} in another partition",
        records.len()
    );
    assert_eq!(
        (duplicates, lost, unwanted, out_of_order, wrong_partition),
        (0, 0, 0, 0, 0),
        "duplicates, lost, unwanted, out of order, in another partition"
    );
    assert_eq!(
        records.len() as u64,
        (1..=RECORDS).filter(|&n| kept(n)).count() as u64
    );
}

fn seed() -> u64 {
    let seed = std::env::var("KPIPES_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("exactly_once: seed {seed} (KPIPES_CHAOS_SEED={seed} replays it)");
    seed
}

/// At least this many SIGKILLs land on a running pipeline, over as many complete copies
/// (rounds) as that takes.
const KILLS: u32 = 12;

/// What a round of the chaos loop did.
#[derive(Default)]
struct Chaos {
    runs: u32,
    kills: u32,
    /// Kills per victim: kcons, grep, kprod.
    by_victim: [u32; 3],
}

/// Copy `source` to a new topic through the pipeline with a new group, SIGKILLing one of
/// its processes in every run until a run completes; then check the copy.
fn chaos_round(rng: &mut Rng, source: &str, round: u32, chaos: &mut Chaos) {
    let target = create_topic(3, &[]);
    let group = unique_name("eos");
    let started = Instant::now();
    let (runs_before, kills_before) = (chaos.runs, chaos.kills);
    loop {
        chaos.runs += 1;
        assert!(
            chaos.runs - runs_before <= 100,
            "the copy never completed: {} runs",
            chaos.runs - runs_before
        );
        let mut pipeline = Pipeline::start(&command, &group, source, &target);
        // Anywhere from start-up (connecting, fencing the last producer, reading the
        // group's offsets) to the middle of a transaction or of its commit. A run copies
        // some 50,000 records a second, in transactions of a few thousand, so the moment
        // is chosen by progress: once up to 20,000 records were committed in this run, up
        // to 60 ms later (in a transaction, or its commit); one run in six in its first
        // 200 ms instead. A run that completes first ends the round.
        let (after, delay) = match rng.below(6) {
            0 => (0, Duration::from_millis(rng.below(200))),
            _ => (1 + rng.below(20_000), Duration::from_millis(rng.below(60))),
        };
        let chosen = rng.below(3) as usize;
        while pipeline.committed.load(Ordering::Relaxed) < after && pipeline.all_running() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let moment = Instant::now() + delay;
        while Instant::now() < moment && pipeline.all_running() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut victim = None;
        if pipeline.all_running() {
            pipeline.kill(chosen);
            victim = Some(chosen);
            chaos.kills += 1;
            chaos.by_victim[chosen] += 1;
            eprintln!(
                "exactly_once: round {round} run {}: SIGKILL {} {delay:?} after {} records were committed, {:?} into the run",
                chaos.runs,
                NAMES[chosen],
                pipeline.committed.load(Ordering::Relaxed),
                pipeline.started.elapsed()
            );
        }
        let outcome = pipeline.finish(Duration::from_secs(120));
        if check_run(&outcome, victim, false) {
            break;
        }
    }
    eprintln!(
        "exactly_once: round {round}: copied in {} runs with {} kills, {:.1} s",
        chaos.runs - runs_before,
        chaos.kills - kills_before,
        started.elapsed().as_secs_f64()
    );
    // Once more: it copies nothing more.
    let outcome =
        Pipeline::start(&command, &group, source, &target).finish(Duration::from_secs(60));
    assert!(check_run(&outcome, None, false));
    verify(tool("kcons"), &target);
}

#[test]
fn sigkill_anywhere_in_the_pipeline_neither_loses_nor_duplicates() {
    needs_cluster!();
    let source = create_topic(3, &[]);
    fill_source(tool("kprod"), &source);
    let mut rng = Rng::new(seed());
    let started = Instant::now();
    let mut chaos = Chaos::default();
    let mut rounds = 0;
    while chaos.kills < KILLS {
        rounds += 1;
        chaos_round(&mut rng, &source, rounds, &mut chaos);
    }
    eprintln!(
        "exactly_once: {rounds} complete copies of {RECORDS} records in {} runs survived {} kills \
         (kcons {}, grep {}, kprod {}) with 0 duplicates and 0 losses, {:.1} s",
        chaos.runs,
        chaos.kills,
        chaos.by_victim[0],
        chaos.by_victim[1],
        chaos.by_victim[2],
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn a_broker_killed_mid_copy_neither_loses_nor_duplicates() {
    needs_cluster!();
    let cluster = FaultCluster::acquire();
    let extra = ["-c", "min.insync.replicas=2"];
    let source = cluster.create_topic(3, &extra);
    let target = cluster.create_topic(3, &extra);
    let group = unique_name("eos");
    fill_source(cluster.tool("kprod"), &source);
    let mut rng = Rng::new(seed());
    let broker = (1 + rng.below(3)).to_string();
    let after = 5_000 + rng.below(40_000);
    let tool = |name: &str| cluster.command(name);
    let started = Instant::now();
    // SIGKILL a broker (a partition leader, perhaps the transaction or group coordinator)
    // once the first run committed `after` records, and bring it back 5 s later.
    let mut pipeline = Pipeline::start(&tool, &group, &source, &target);
    while pipeline.committed.load(Ordering::Relaxed) < after && pipeline.all_running() {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        pipeline.all_running(),
        "the copy ended before the broker was killed"
    );
    run(cluster.kcluster().args(["kill", &broker])).success();
    eprintln!(
        "exactly_once: broker {broker} killed after {} records were committed, {:.1} s into the copy",
        pipeline.committed.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    let runs = std::thread::scope(|scope| {
        let back = scope.spawn(|| {
            std::thread::sleep(Duration::from_secs(5));
            run(cluster.kcluster().args(["start", &broker])).success();
            eprintln!(
                "exactly_once: broker {broker} back {:.1} s into the copy",
                started.elapsed().as_secs_f64()
            );
        });
        let mut complete = check_run(&pipeline.finish(Duration::from_secs(180)), None, true);
        let mut runs = 1;
        // Re-run until a run copied everything, the broker back.
        while !(complete && back.is_finished()) {
            runs += 1;
            assert!(runs <= 50, "the copy never completed: {runs} runs");
            std::thread::sleep(Duration::from_millis(200));
            let outcome =
                Pipeline::start(&tool, &group, &source, &target).finish(Duration::from_secs(180));
            complete = check_run(&outcome, None, true);
        }
        back.join().expect("the broker thread");
        runs
    });
    eprintln!(
        "exactly_once: copied across broker {broker}'s death in {runs} runs, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    verify(cluster.tool("kcons"), &target);
}

/// `kgroup describe GROUP`: the committed offset per (topic, partition).
fn committed_offsets(group: &str) -> BTreeMap<(String, i64), Value> {
    run(tool("kgroup").args(["describe", group]))
        .success()
        .json_lines()
        .into_iter()
        .filter(|line| line["kind"] == "partition")
        .map(|line| {
            let key = (
                line["topic"].as_str().unwrap_or_default().to_string(),
                line["partition"].as_i64().unwrap_or(-1),
            );
            (key, line["committed"].clone())
        })
        .collect()
}

#[test]
fn a_record_without_its_source_position_is_bad_input_and_commits_nothing() {
    needs_cluster!();
    let source = create_topic(2, &[]);
    let target = create_topic(1, &[]);
    let group = unique_name("eos");
    let input = format!(
        "{{\"topic\":\"{source}\",\"partition\":0,\"offset\":0,\"value\":\"a\"}}\n\
         {{\"value\":\"no position\"}}\n\
         {{\"topic\":\"{source}\",\"partition\":1,\"value\":\"no offset\"}}\n\
         {{\"topic\":\"{source}\",\"partition\":1,\"offset\":\"7\",\"value\":\"offset as text\"}}\n\
         {{\"topic\":\"{source}\",\"partition\":0,\"offset\":4,\"value\":\"b\",\"extra\":1}}\n"
    );
    let ran = kprod(
        &[
            "--json",
            "--transactional",
            "--commit-group",
            &group,
            "--ignore-partition",
            &target,
        ],
        input,
    )
    .code_is(3)
    .no_panic();
    for line in [2, 3, 4] {
        assert!(
            ran.stderr()
                .contains(&format!("kprod: error: line {line}: no source position")),
            "{}",
            ran.explain("line {line} named")
        );
    }
    // The two good records are delivered and committed, reported once committed.
    assert_eq!(reported_lines(&ran.json_lines()), [1, 5]);
    // Read at once, as users do: kprod exits only once its commit is visible (the brokers
    // acknowledge a commit before they write its markers, and a read_committed kcons -e
    // started in between took an end offset before the records, and saw none).
    assert_eq!(values(&records(&target)), [json!("a"), json!("b")]);
    // Only their source positions moved the group: partition 1 was never committed.
    let committed = committed_offsets(&group);
    assert_eq!(committed[&(source.clone(), 0)], json!(5), "{committed:?}");
    assert_eq!(
        committed[&(source.clone(), 1)],
        Value::Null,
        "{committed:?}"
    );
}

#[test]
fn a_transaction_that_cannot_commit_is_aborted_and_nothing_of_it_is_visible() {
    needs_cluster!();
    let source = create_topic(1, &[]);
    // Compressed, records are checked by the brokers only: one too large fails its
    // delivery, which dooms its transaction.
    let target = create_topic(1, &["-c", "max.message.bytes=2000"]);
    let group = unique_name("eos");
    let mut rng = Rng::new(7);
    let big = base64(&rng.bytes(20_000)[..]);
    let mut input = String::new();
    for offset in 0..3 {
        input.push_str(&format!(
            "{{\"topic\":\"{source}\",\"partition\":0,\"offset\":{offset},\"value\":\"v{offset}\"}}\n"
        ));
    }
    input.push_str(&format!(
        "{{\"topic\":\"{source}\",\"partition\":0,\"offset\":3,\"value\":\"{big}\"}}\n"
    ));
    let ran = kprod(
        &[
            "--json",
            "--transactional",
            "--commit-group",
            &group,
            "--commit-interval",
            "30",
            "-X",
            "compression.type=lz4",
            &target,
        ],
        input,
    )
    .code_is(4)
    .stderr_has("line 4: record too large")
    .stderr_has("the transaction of lines 1-4 (4 records) was aborted")
    .no_panic();
    // No delivery report: the reports wait for their transaction's commit.
    assert_eq!(ran.stdout(), "");
    // read_committed readers (kcons) see nothing of it, and the group did not move.
    assert_eq!(records(&target).len(), 0);
    run(tool("kgroup").args(["describe", &group])).code_is(6);
    // Read uncommitted, the aborted records are there: it was written, then aborted.
    let uncommitted =
        run(tool("kcons").args([&target, "-e", "-X", "isolation.level=read_uncommitted"]))
            .success()
            .json_lines();
    assert!(
        !uncommitted.is_empty(),
        "the aborted records were never written"
    );
}

#[test]
fn a_restarted_pipeline_fences_the_producer_it_replaces() {
    needs_cluster!();
    let source = create_topic(1, &[]);
    let target = create_topic(1, &[]);
    let group = unique_name("eos");
    let line = |offset: u32| {
        format!(
            "{{\"topic\":\"{source}\",\"partition\":0,\"offset\":{offset},\"value\":\"v{offset}\"}}\n"
        )
    };
    let args = [
        "--json",
        "--transactional",
        "--commit-group",
        &group,
        "--commit-interval",
        "0.1",
        &target,
    ];
    let mut old = Proc::start("kprod", &args);
    old.write(line(0).as_bytes());
    old.wait_lines(1, Duration::from_secs(30));
    // The same pipeline started again: same group, same output topic, same transactional id.
    kprod(&args, line(1)).success();
    old.write(line(2).as_bytes());
    old.close_stdin();
    old.finish(Duration::from_secs(60))
        .code_is(4)
        .stderr_has("another kprod with the same transactional id took over")
        .no_panic();
    assert_eq!(values(&records(&target)), [json!("v0"), json!("v1")]);
}
