//! Live traffic while the cluster changes.

use crate::*;

/// A live producer (`kprod -q`, a numbered line every 5 ms) and a group consumer
/// (`kcons -g`, into a file) on one topic, while the cluster changes under them (broker
/// restarts, elections, reassignments); [`LiveTraffic::finish_losing_nothing`] checks
/// that every record arrived exactly once, in order within its partition.
pub struct LiveTraffic {
    topic: String,
    _dir: tempfile::TempDir,
    consumed_path: std::path::PathBuf,
    consumer: Child,
    producer: Child,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    feeder: std::thread::JoinHandle<()>,
}

impl LiveTraffic {
    pub fn start(brokers: &str, topic: &str) -> LiveTraffic {
        let dir = tempfile::tempdir().unwrap();
        let consumed_path = dir.path().join("consumed.jsonl");
        let consumer = Command::new(bin_path("kcons"))
            .args([topic, "-g", &unique_name("failover-group")])
            .env("KAFKA_BROKERS", brokers)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&consumed_path).unwrap())
            .stderr(std::fs::File::create(dir.path().join("kcons.err")).unwrap())
            .spawn()
            .unwrap();
        let mut producer = Command::new(bin_path("kprod"))
            .args(["-q", topic])
            .env("KAFKA_BROKERS", brokers)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A steady trickle of numbered lines for as long as the brokers are being changed.
        let Feeder { stop, sent, feeder } = Feeder::start(producer.stdin.take().unwrap());
        LiveTraffic {
            topic: topic.to_string(),
            _dir: dir,
            consumed_path,
            consumer,
            producer,
            stop,
            sent,
            feeder,
        }
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Stop the producer (which must have delivered every line), wait until the consumer
    /// has every record, and check that each arrived exactly once, in order within its
    /// partition.
    pub fn finish_losing_nothing(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.feeder.join().unwrap();
        let produced = self.producer.wait_with_output().unwrap();
        let total = self.sent.load(Ordering::Relaxed);
        assert!(
            produced.status.success(),
            "kprod did not deliver all {total} lines: {:?}\n{}",
            produced.status,
            String::from_utf8_lossy(&produced.stderr)
        );
        let expected: BTreeSet<String> = (1..=total).map(|n| format!("record-{n}")).collect();
        let records = eventually(
            &format!(
                "the consumer to receive all {total} records of {}",
                self.topic
            ),
            Duration::from_secs(120),
            || {
                let text = std::fs::read_to_string(&self.consumed_path).unwrap_or_default();
                let records: Vec<Value> = text
                    .lines()
                    .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                    .collect();
                let values: BTreeSet<String> = records
                    .iter()
                    .filter_map(|record| record["value"].as_str().map(str::to_string))
                    .collect();
                values.is_superset(&expected).then_some(records)
            },
        );
        let mut consumer = self.consumer;
        let _ = consumer.kill();
        let _ = consumer.wait();
        let values: Vec<&str> = records.iter().filter_map(|r| r["value"].as_str()).collect();
        let distinct: BTreeSet<&str> = values.iter().copied().collect();
        assert_eq!(distinct.len(), values.len(), "some records were read twice");
        assert_eq!(
            distinct,
            expected.iter().map(String::as_str).collect(),
            "the consumer received records nobody produced"
        );
        // Within a partition, lines were sent in order, so their numbers only grow.
        let mut last: BTreeMap<i64, u64> = BTreeMap::new();
        for record in &records {
            let partition = record["partition"].as_i64().unwrap();
            let n: u64 = record["value"].as_str().unwrap()["record-".len()..]
                .parse()
                .unwrap();
            let previous = last.insert(partition, n).unwrap_or(0);
            assert!(
                n > previous,
                "partition {partition}: record-{n} after record-{previous}"
            );
        }
    }
}

/// `record-1`, `record-2`, ... written to a producer's stdin every 5 ms until `stop` is
/// set (or the producer goes away); `sent` counts the lines written.
pub struct Feeder {
    pub stop: Arc<AtomicBool>,
    pub sent: Arc<AtomicU64>,
    pub feeder: std::thread::JoinHandle<()>,
}

impl Feeder {
    pub fn start(mut stdin: impl Write + Send + 'static) -> Feeder {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let feeder = {
            let (stop, sent) = (stop.clone(), sent.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let n = sent.load(Ordering::Relaxed) + 1;
                    if writeln!(stdin, "record-{n}").is_err() {
                        break;
                    }
                    sent.store(n, Ordering::Relaxed);
                    // Pacing, not synchronisation: a live client, not a bulk load.
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        Feeder { stop, sent, feeder }
    }
}
