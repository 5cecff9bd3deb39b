//! Every compression codec Kafka has (gzip, snappy, lz4, zstd), both ways, with other
//! clients as the oracle: what kcat and Kafka's Java producer compress, kcons reads; what
//! kprod compresses (checked in the broker's own log with Kafka's DumpLogSegments), kcat
//! and Kafka's Java console consumer read. And a batch kcons cannot decompress (corrupted
//! on the broker's disk) is one error line naming where it is, exit 11, never a hang.

use std::path::PathBuf;
use std::time::Duration;

use kpipes_e2e::*;

const CODECS: [&str; 4] = ["gzip", "snappy", "lz4", "zstd"];

/// Lines that compress well, so that every codec really makes a compressed batch.
fn lines(codec: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{codec} record {i} {}", "abc".repeat(20)))
        .collect()
}

fn kcons_values(topic: &str) -> Vec<String> {
    values(&records(topic))
        .iter()
        .map(|v| v.as_str().expect("text values").to_string())
        .collect()
}

#[test]
fn every_codec_written_by_kcat_is_read_by_kcons() {
    needs_cluster!();
    for codec in CODECS {
        let topic = create_topic(1, &[]);
        let sent = lines(codec, 20);
        run(kcat()
            .args(["-P", "-b", &brokers(), "-t", &topic, "-z", codec])
            .write_stdin(sent.join("\n") + "\n")
            .timeout(Duration::from_secs(60)))
        .success();
        assert_eq!(kcons_values(&topic), sent, "{codec}");
    }
}

#[test]
fn every_codec_written_by_kafkas_java_producer_is_read_by_kcons() {
    needs_cluster!();
    for codec in CODECS {
        let topic = create_topic(1, &[]);
        let sent = lines(codec, 20);
        run(kafka_java("org.apache.kafka.tools.ConsoleProducer")
            .args(["--bootstrap-server", &brokers(), "--topic", &topic])
            .args(["--command-property", &format!("compression.type={codec}")])
            .args(["--command-property", "linger.ms=50"])
            .write_stdin(sent.join("\n") + "\n"))
        .success();
        assert_eq!(kcons_values(&topic), sent, "{codec}");
    }
}

/// The data directory of partition 0 of `topic` on the broker that holds it (a topic of
/// one replica), on a local cluster; None under another backend.
fn partition_dir(topic: &str) -> Option<PathBuf> {
    let cluster = kcore::state::cluster_dir(&test_cluster());
    (1..=9)
        .map(|id| cluster.join(format!("kafka-{id}/data/{topic}-0")))
        .find(|dir| dir.is_dir())
}

/// The compression codec of every batch of the topic, as Kafka's own DumpLogSegments reads
/// the brokers' log files.
fn codecs_on_disk(dirs: &[PathBuf]) -> Vec<Vec<String>> {
    let files: Vec<String> = dirs
        .iter()
        .map(|d| d.join("00000000000000000000.log").display().to_string())
        .collect();
    let ran =
        run(kafka_java("org.apache.kafka.tools.DumpLogSegments")
            .args(["--files", &files.join(",")]))
        .success();
    let mut per_file = Vec::new();
    for line in ran.stdout().lines() {
        if line.starts_with("Dumping ") {
            per_file.push(Vec::new());
        } else if let Some(at) = line.find("compresscodec: ") {
            let codec = line[at + 15..].split_whitespace().next().unwrap_or("");
            per_file
                .last_mut()
                .expect("a file first")
                .push(codec.to_lowercase());
        }
    }
    per_file
}

#[test]
fn every_codec_written_by_kprod_is_read_by_kcat_and_kafkas_console_consumer() {
    needs_cluster!();
    let mut dirs = Vec::new();
    for codec in CODECS {
        let topic = unique_name("codec");
        run(tool("ktopic").args(["create", &topic, "-p", "1", "-r", "1"])).success();
        let sent = lines(codec, 20);
        run(tool("kprod")
            .args(["-q", &topic, "-X", &format!("compression.type={codec}")])
            .write_stdin(sent.join("\n") + "\n"))
        .success();
        let kcat = run(kcat()
            .args([
                "-C",
                "-b",
                &brokers(),
                "-t",
                &topic,
                "-e",
                "-q",
                "-f",
                "%s\n",
            ])
            .timeout(Duration::from_secs(60)))
        .success();
        assert_eq!(kcat.stdout().lines().collect::<Vec<_>>(), sent, "{codec}");
        let java = run(
            kafka_java("org.apache.kafka.tools.consumer.ConsoleConsumer").args([
                "--bootstrap-server",
                &brokers(),
                "--topic",
                &topic,
                "--from-beginning",
                "--max-messages",
                "20",
                "--timeout-ms",
                "60000",
            ]),
        )
        .success();
        assert_eq!(java.stdout().lines().collect::<Vec<_>>(), sent, "{codec}");
        dirs.extend(partition_dir(&topic));
    }
    if dirs.len() == CODECS.len() {
        // The batches really are compressed with the codec asked for.
        let on_disk = codecs_on_disk(&dirs);
        for (codec, found) in CODECS.iter().zip(&on_disk) {
            assert!(
                !found.is_empty() && found.iter().all(|c| c == codec),
                "{codec}: {found:?}"
            );
        }
    }
}

/// `n` lines of 100 random hex digits: text lz4 cannot shrink.
fn random_lines(n: usize) -> Vec<String> {
    use std::io::Read;
    let mut bytes = vec![0u8; n * 50];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .unwrap();
    bytes
        .chunks(50)
        .map(|c| c.iter().map(|b| format!("{b:02x}")).collect())
        .collect()
}

/// kprod's own default codec follows its input: lz4 where it shrinks the data, none on
/// data lz4 cannot shrink (it would only cost CPU), and a codec the user names is kept
/// whatever the data. Checked in the broker's log files, read by Kafka's DumpLogSegments.
#[test]
fn kprods_default_codec_follows_the_data() {
    needs_cluster!();
    let random = random_lines(2000);
    let cases: [(&str, Vec<String>, &[&str], &str); 3] = [
        ("text", lines("lz4", 2000), &[], "lz4"),
        ("random", random.clone(), &[], "none"),
        (
            "random, lz4 named",
            random,
            &["-X", "compression.type=lz4"],
            "lz4",
        ),
    ];
    let mut dirs = Vec::new();
    for (what, sent, flags, _) in &cases {
        let topic = unique_name("adaptive");
        run(tool("ktopic").args(["create", &topic, "-p", "1", "-r", "1"])).success();
        // From a file, as `kprod t < file`: the first read is a whole buffer.
        let input = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(input.path(), sent.join("\n") + "\n").unwrap();
        run(tool("kprod")
            .args(["-q", &topic])
            .args(*flags)
            .pipe_stdin(input.path())
            .unwrap())
        .success();
        assert_eq!(&kcons_values(&topic), sent, "{what}");
        let read_by_kcat = run(kcat()
            .args([
                "-C",
                "-b",
                &brokers(),
                "-t",
                &topic,
                "-e",
                "-q",
                "-f",
                "%s\n",
            ])
            .timeout(Duration::from_secs(60)))
        .success();
        assert!(
            read_by_kcat
                .stdout()
                .lines()
                .eq(sent.iter().map(String::as_str)),
            "{what}: kcat read other records"
        );
        dirs.extend(partition_dir(&topic));
    }
    if dirs.len() == cases.len() {
        let on_disk = codecs_on_disk(&dirs);
        for ((what, _, _, codec), found) in cases.iter().zip(&on_disk) {
            assert!(
                !found.is_empty() && found.iter().all(|c| c == codec),
                "{what}: expected {codec}, found {found:?}"
            );
        }
    }
}

/// Overwrite the records of the first gzip batch in a partition's log file: a batch no
/// client can decompress, which the broker serves as it is (it checks nothing on fetch).
fn corrupt_first_gzip_batch(dir: &std::path::Path) -> i64 {
    let path = dir.join("00000000000000000000.log");
    let mut log = std::fs::read(&path).unwrap();
    let mut at = 0;
    while at + 61 <= log.len() {
        let base = i64::from_be_bytes(log[at..at + 8].try_into().unwrap());
        let length = i32::from_be_bytes(log[at + 8..at + 12].try_into().unwrap()) as usize;
        let attributes = i16::from_be_bytes(log[at + 21..at + 23].try_into().unwrap());
        let end = at + 12 + length;
        if attributes & 7 == 1 {
            log[at + 61..end].fill(0xff);
            std::fs::write(&path, &log).unwrap();
            return base;
        }
        at = end;
    }
    panic!("no gzip batch in {}", path.display());
}

#[test]
fn a_batch_kcons_cannot_decompress_is_one_error_line_never_a_hang() {
    needs_cluster!();
    let topic = unique_name("corrupt");
    run(tool("ktopic").args(["create", &topic, "-p", "1", "-r", "1"])).success();
    let Some(dir) = partition_dir(&topic) else {
        eprintln!("not a local cluster: the corrupt-batch test needs the brokers' files; skipped");
        return;
    };
    let produce = |codec: &str, text: &[&str]| {
        run(tool("kprod")
            .args(["-q", &topic, "-X", &format!("compression.type={codec}")])
            .write_stdin(text.join("\n") + "\n"))
        .success();
    };
    produce("none", &["a", "b", "c"]);
    // (librdkafka sends a batch uncompressed where compressing would not make it smaller.)
    let long: Vec<String> = ["d", "e", "f"].iter().map(|c| c.repeat(300)).collect();
    let long: Vec<&str> = long.iter().map(String::as_str).collect();
    produce("gzip", &long);
    produce("none", &["g"]);
    let base = corrupt_first_gzip_batch(&dir);
    assert_eq!(base, 3);
    let expect = format!("kcons: error: {topic}/0 at offset 3: ");

    // -e, and following (-c more than there is): everything before the batch, then exit 11.
    for extra in [&["-e"][..], &["-c", "100"][..]] {
        let ran = run(tool("kcons")
            .arg(&topic)
            .args(extra)
            .timeout(Duration::from_secs(120)))
        .code_is(11)
        .one_error_line("kcons")
        .stderr_has(&expect)
        .stderr_has("Decompression");
        assert_eq!(
            values(&ran.json_lines()),
            [json!("a"), json!("b"), json!("c")]
        );
    }

    // With -g the records before it are committed: the next run starts at the batch.
    let group = unique_name("corrupt-g");
    let ran = run(tool("kcons").args(["-g", &group, &topic, "-e"]))
        .code_is(11)
        .stderr_has(&expect);
    assert_eq!(ran.json_lines().len(), 3);
    let again = run(tool("kcons").args(["-g", &group, &topic, "-e"]))
        .code_is(11)
        .stderr_has(&expect);
    assert_eq!(again.json_lines(), Vec::<Value>::new());
}
