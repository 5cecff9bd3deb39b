//! # The end-to-end harness: the one library every file in `tests/` uses
//!
//! Tests run the real binaries against a real local Kafka cluster; nothing is mocked.
//! `scripts/test` starts the shared test cluster and exports `KAFKA_BROKERS` and
//! `KPIPES_TEST_CLUSTER`. A test file starts with `use kpipes_e2e::*;` and uses only this:
//!
//! - [`needs_cluster!()`](needs_cluster): the first line of every test that talks to a
//!   Kafka cluster. Without one (plain `cargo test`) the test returns at once, and the run
//!   prints ONE line saying how to run them; under `scripts/test` a missing cluster fails.
//! - [`tool`]`("kprod")`: an `assert_cmd::Command` for one of our binaries, pointed at the
//!   shared cluster; [`run`]`(&mut cmd)` runs it to the end and gives a [`Ran`].
//!   Shorthands: [`kprod`]`(args, stdin)`, [`kcons_e`]`(args)`, [`records`]`(topic)`.
//! - [`Ran`]: a finished process. Its checks ([`Ran::success`], [`Ran::code_is`],
//!   [`Ran::stderr_has`], [`Ran::one_error_line`], [`Ran::no_panic`]) and
//!   [`Ran::json_lines`] fail with the command line, exit code or signal, stdout and stderr.
//! - [`Proc`]: a tool still running ([`Proc::start`]), for tests that write to it over
//!   time, signal it, or read its stdout slowly ([`Proc::start_holding`]);
//!   [`Proc::finish`] waits for its end and gives the same [`Ran`].
//! - [`create_topic`]`(partitions, extra)`: a new topic with a name no other test uses
//!   (replication factor 3); [`unique_name`]`(prefix)` for other names (groups, topics
//!   that must not exist).
//! - [`eventually`]`(what, timeout, check)`: poll until `check` gives `Some`, failing with
//!   `what` at the deadline. Never sleep to wait for something: poll for it.
//!   [`eventually_succeeds`] retries a command until it succeeds.
//! - Smaller helpers: [`records`], [`values`], [`positions`], [`reported_lines`],
//!   [`end_offsets`], [`kafka_java`] (Kafka's own Java tools), [`process_runs`], [`Rng`].
//! - [`kerberos::KerberosBroker`]: an MIT KDC and a one-broker cluster with a GSSAPI (and
//!   OAUTHBEARER) listener, run by the test binary itself (`tests/kerberos.rs`, `tests/msk_iam.rs`).
//! - [`FaultCluster::acquire`]: exclusive use of a second cluster whose brokers a test may
//!   kill; its [`FaultCluster::tool`], [`FaultCluster::command`], [`FaultCluster::kcluster`]
//!   and [`FaultCluster::create_topic`] point there.
//!
//! Where a test goes is written once, in CONTRIBUTING.md ("Tests"). The harness's
//! sections are files of their own: `cluster.rs` (the shared test cluster), `registry.rs`
//! (the schema registry and an independent Avro client), `names.rs` (names, topics and
//! records), `ran.rs` (a finished process), `process.rs` (a running one), `wait.rs`
//! (`eventually`), `fault_cluster.rs`, `terminal.rs` (a terminal on stderr),
//! `live_traffic.rs` (traffic while the cluster changes).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use serde_json::{json, Value};

// The sections of the harness, one file each; everything public is re-exported here,
// so a test file needs only `use kpipes_e2e::*;`.
mod cluster;
pub use cluster::*;
mod registry;
pub use registry::*;
mod names;
pub use names::*;
mod ran;
pub use ran::*;
mod process;
pub use process::*;
mod wait;
pub use wait::*;
mod fault_cluster;
pub use fault_cluster::*;
mod terminal;
pub use terminal::*;
mod live_traffic;
pub use live_traffic::*;
pub mod kerberos;
