//! The shared test cluster, and running without one.

use crate::*;

/// Where the workspace's binaries are: next to this test executable's `deps/` folder.
pub fn bin_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build --workspace` (scripts/test does)",
        path.display()
    );
    path
}

/// Name of the shared test cluster (its `kcluster --name`).
pub fn test_cluster() -> String {
    std::env::var("KPIPES_TEST_CLUSTER").unwrap_or_else(|_| "kpipes-test".into())
}

/// The shared cluster's brokers, or why there are none; looked up once per test binary.
fn shared_cluster() -> &'static Result<String, String> {
    static FOUND: OnceLock<Result<String, String>> = OnceLock::new();
    FOUND.get_or_init(|| {
        let brokers = match std::env::var("KAFKA_BROKERS") {
            Ok(list) if !list.trim().is_empty() => list,
            _ => {
                let out = Command::new(bin_path("kcluster"))
                    .args(["env", "--name", &test_cluster()])
                    .output()
                    .map_err(|e| format!("running kcluster env: {e}"))?;
                let text = String::from_utf8_lossy(&out.stdout);
                text.lines()
                    .find_map(|line| line.strip_prefix("export KAFKA_BROKERS="))
                    .map(str::to_string)
                    .ok_or_else(|| format!("no cluster named '{}' exists", test_cluster()))?
            }
        };
        // Something must listen there: a cluster that was left behind but stopped is none.
        let listening = brokers.split(',').any(|address| {
            use std::net::ToSocketAddrs;
            address
                .to_socket_addrs()
                .ok()
                .into_iter()
                .flatten()
                .any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
        });
        if listening {
            Ok(brokers)
        } else {
            Err(format!("nothing listens on {brokers}"))
        }
    })
}

/// Whether a test that needs Kafka can run. Without a cluster it cannot: under
/// `scripts/test` (`KPIPES_TEST_CLUSTER` set) that fails the test; otherwise it is
/// skipped, and the first skip of a `cargo test` run prints one line saying how to run it.
/// Use it through [`needs_cluster!()`](needs_cluster).
pub fn cluster_available() -> bool {
    let why = match shared_cluster() {
        Ok(_) => return true,
        Err(why) => why,
    };
    if std::env::var_os("KPIPES_TEST_CLUSTER").is_some() {
        panic!(
            "no test cluster '{}' ({why}), yet KPIPES_TEST_CLUSTER says there is one",
            test_cluster()
        );
    }
    skip_notice_once(
        "cluster",
        &format!(
            "no test cluster ({why}): the tests that need Kafka are skipped; run scripts/test"
        ),
    );
    false
}

/// Print `notice` once per `cargo test` run and `kind` of skip (cargo is the parent of every
/// test binary it runs), past libtest's capture of the tests' output.
pub(crate) fn skip_notice_once(kind: &str, notice: &str) {
    let marker = std::env::temp_dir().join(format!(
        "kpipes-{kind}-skip-notice-{}-{}",
        std::os::unix::process::parent_id(),
        std::env::var("USER").unwrap_or_default()
    ));
    if std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&marker)
        .is_ok()
    {
        let _ = writeln!(std::io::stderr().lock(), "\n{notice}\n");
    }
}

/// The first line of every test that talks to Kafka: returns from the test at once when
/// there is no test cluster (see [`cluster_available`]).
#[macro_export]
macro_rules! needs_cluster {
    () => {
        if !$crate::cluster_available() {
            return;
        }
    };
}

/// Bootstrap brokers of the shared test cluster.
pub fn brokers() -> String {
    match shared_cluster() {
        Ok(brokers) => brokers.clone(),
        Err(why) => panic!(
            "no test cluster '{}' ({why}): run the tests with scripts/test \
             (a test that needs Kafka starts with needs_cluster!())",
            test_cluster()
        ),
    }
}

/// A command for one of our binaries, pointed at the shared test cluster.
pub fn tool(name: &str) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin_path(name));
    cmd.env("KAFKA_BROKERS", brokers())
        .env_remove("NO_COLOR")
        // A registry only where a test asks for it (see [`schema_registry`]).
        .env_remove("KPIPES_SCHEMA_REGISTRY")
        .timeout(Duration::from_secs(180));
    cmd
}

/// The same as a `std::process::Command`, for [`Proc::spawn`].
pub fn command(name: &str) -> Command {
    command_at(&brokers(), name)
}

/// A command for one of our tools, pointed at `brokers`.
pub fn command_at(brokers: &str, name: &str) -> Command {
    let mut cmd = Command::new(bin_path(name));
    cmd.env("KAFKA_BROKERS", brokers)
        .env_remove("NO_COLOR")
        .env_remove("KPIPES_SCHEMA_REGISTRY");
    cmd
}
