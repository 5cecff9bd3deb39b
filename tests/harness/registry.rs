//! The schema registry beside the test cluster, and an Avro client independent of kpipes.

use crate::cluster::skip_notice_once;
use crate::*;

/// The test cluster's schema registry (`scripts/test` starts it with `kcluster up
/// --schema-registry` and exports `KPIPES_TEST_SCHEMA_REGISTRY`), or why there is none.
fn shared_registry() -> &'static Result<String, String> {
    static FOUND: OnceLock<Result<String, String>> = OnceLock::new();
    FOUND.get_or_init(|| {
        if let Ok(url) = std::env::var("KPIPES_TEST_SCHEMA_REGISTRY") {
            if !url.is_empty() {
                return Ok(url);
            }
        }
        let out = Command::new(bin_path("kcluster"))
            .args(["env", "--name", &test_cluster()])
            .output()
            .map_err(|e| format!("running kcluster env: {e}"))?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|line| line.strip_prefix("export KPIPES_SCHEMA_REGISTRY="))
            .map(str::to_string)
            .ok_or_else(|| {
                format!(
                    "cluster '{}' has no schema registry (kcluster up --schema-registry)",
                    test_cluster()
                )
            })
    })
}

/// The Python with Confluent's Avro client that `scripts/setup` installs into the kpipes
/// cache (`$KPIPES_CACHE_DIR/python`), or why there is none.
fn avro_python() -> &'static Result<PathBuf, String> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND.get_or_init(|| {
        let python = kcore::state::cache_root().join("python/bin/python");
        let works = Command::new(&python)
            .args([
                "-c",
                "import confluent_kafka.schema_registry.avro, confluent_kafka.schema_registry.protobuf, \
                 confluent_kafka.schema_registry.json_schema, grpc_tools.protoc",
            ])
            .output()
            .is_ok_and(|out| out.status.success());
        if works {
            Ok(python)
        } else {
            Err(format!(
                "no confluent-kafka Avro client in {} (scripts/setup installs it)",
                python.display()
            ))
        }
    })
}

/// Whether a schema registry test can run: a cluster, its registry and the Python Avro
/// client. Under `scripts/test` a missing one fails the test; otherwise it is skipped with
/// one line per run. Use it through [`needs_registry!()`](needs_registry).
pub fn registry_available() -> bool {
    if !cluster_available() {
        return false;
    }
    let why = match (shared_registry(), avro_python()) {
        (Ok(_), Ok(_)) => return true,
        (Err(why), _) | (_, Err(why)) => why,
    };
    if std::env::var_os("KPIPES_TEST_CLUSTER").is_some() {
        panic!("{why}, yet scripts/test provides one");
    }
    skip_notice_once(
        "registry",
        &format!("{why}: the schema registry tests are skipped; run scripts/test"),
    );
    false
}

/// The first line of every test that needs the schema registry (see [`registry_available`]).
#[macro_export]
macro_rules! needs_registry {
    () => {
        if !$crate::registry_available() {
            return;
        }
    };
}

/// The test cluster's schema registry URL (Confluent-compatible API).
pub fn schema_registry() -> String {
    shared_registry().clone().expect("needs_registry!() first")
}

/// One of our tools pointed at the test cluster and its schema registry.
pub fn tool_with_registry(name: &str) -> assert_cmd::Command {
    let mut cmd = tool(name);
    cmd.args(["--schema-registry", &schema_registry()]);
    cmd
}

/// Confluent's Python Avro client (`tests/harness/avro_client.py`): `produce TOPIC
/// SCHEMA_FILE` (stdin: one Python literal per line) or `consume TOPIC COUNT` (stdout:
/// one JSON line per value), on the test cluster and its registry.
pub fn avro_client(command: &str, topic: &str, arg: &str) -> assert_cmd::Command {
    let python = avro_python().clone().expect("needs_registry!() first");
    let mut cmd = assert_cmd::Command::new(python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/harness/avro_client.py"
    ))
    .args([command, &brokers(), &schema_registry(), topic, arg])
    // authlib's deprecation notices are not ours to show.
    .env("PYTHONWARNINGS", "ignore")
    .timeout(Duration::from_secs(120));
    cmd
}

/// Confluent's Python client (`tests/harness/peer_client.py`, from the Python that
/// `scripts/setup --tests` installs into the kpipes cache), as a peer where kcat cannot be
/// one (SCRAM logins to Kafka 4: Debian's kcat has librdkafka 2.0.2): `produce BROKERS
/// PROPERTIES TOPIC` (stdin: kpipes records) or `consume BROKERS PROPERTIES TOPIC COUNT`
/// (stdout: kpipes records). PROPERTIES is a librdkafka properties file, or `-`.
pub fn peer_client(args: &[&str]) -> assert_cmd::Command {
    let python = kcore::state::cache_root().join("python/bin/python");
    assert!(
        python.is_file(),
        "no Python client in {} (scripts/setup --tests installs it)",
        python.display()
    );
    let mut cmd = assert_cmd::Command::new(python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/harness/peer_client.py"
    ))
    .args(args)
    .timeout(Duration::from_secs(120));
    cmd
}

/// The tests' Python (the venv `scripts/setup --tests` makes), after [`needs_registry!()`].
pub fn test_python() -> PathBuf {
    avro_python().clone().expect("needs_registry!() first")
}

/// Confluent's Python Protobuf and JSON Schema clients (`tests/harness/schema_client.py`):
/// `produce TOPIC SPEC` (stdin: one `{"key","value"}` JSON line per record) or `consume
/// TOPIC SPEC COUNT` (stdout: the same), SPEC saying each part's format (see the script).
pub fn schema_client(
    command: &str,
    topic: &str,
    spec: &Value,
    count: Option<usize>,
) -> assert_cmd::Command {
    let python = avro_python().clone().expect("needs_registry!() first");
    let mut cmd = assert_cmd::Command::new(python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/harness/schema_client.py"
    ))
    .args([
        command,
        &brokers(),
        &schema_registry(),
        topic,
        &spec.to_string(),
    ])
    .args(count.map(|c| c.to_string()))
    .env("PYTHONWARNINGS", "ignore")
    .timeout(Duration::from_secs(120));
    cmd
}

/// One of our tools told to use a cluster that does not exist: `KPIPES_CLUSTER` set to a
/// misspelling of the test cluster's name, with `KAFKA_BROKERS` (the test cluster's) set
/// or not. Check the result with [`Ran::reached_no_cluster`].
pub fn misnamed(name: &str, with_brokers: bool) -> assert_cmd::Command {
    let mut cmd = tool(name);
    cmd.env("KPIPES_CLUSTER", misspelt_cluster());
    if !with_brokers {
        cmd.env_remove("KAFKA_BROKERS");
    }
    cmd
}

/// The name [`misnamed`] gives: the test cluster's, misspelt.
pub fn misspelt_cluster() -> String {
    format!("{}x", test_cluster())
}

/// A command for kcluster acting on `cluster`.
pub fn kcluster(cluster: &str) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin_path("kcluster"));
    cmd.env("KPIPES_CLUSTER", cluster)
        .timeout(Duration::from_secs(300));
    cmd
}
