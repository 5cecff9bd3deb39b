//! The one definition of kcluster's command line; it also feeds completions and the man page.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};
use kcore::generate::Generate;

const EXAMPLES: &str = "\
Examples:
  kcluster up                          # 3 brokers on localhost:29092,39092,49092
  kcluster status | jq -r 'select(.state != \"up\") | .id'
  kcluster kill 2 && kcluster start 2  # fail a broker over and bring it back
  eval \"$(kcluster env --name test)\"   # point kprod/kcons/ktopic at a named cluster
  kcluster down                        # stop every broker and delete the data";

#[derive(Parser, Debug)]
#[command(
    name = "kcluster",
    version,
    about = "Bring a multi-broker Apache Kafka cluster up and down, and fail its brokers on purpose",
    long_about = "Bring a multi-broker Apache Kafka cluster up and down, report its health, and \
stop, kill or start one broker.\n\nThe local backend runs real Apache Kafka brokers (KRaft, each node \
broker and controller) as JVM processes from a distribution fetched from Maven Central \
(`kcluster fetch-kafka`, run automatically by `up`) or from KAFKA_HOME. State lives in \
$XDG_STATE_HOME/kpipes/clusters/NAME. Output is JSON lines on stdout.",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// Cluster name: its own state directory and ports ("default" uses 29092/39092/49092)
    #[arg(short = 'n', long, global = true, default_value = "default", env = "KPIPES_CLUSTER")]
    pub name: String,

    /// Print shell completions or the man page to stdout, then exit
    #[arg(long, value_name = "WHAT", exclusive = true)]
    pub generate: Option<Generate>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the cluster (or the brokers of it that are down) and wait until every broker is ready
    #[command(after_help = "Examples:\n  kcluster up\n  kcluster up --name test --brokers 1 --timeout 60")]
    Up(UpArgs),
    /// One JSON line per broker: id, address, state (up, starting, down), pid; exit 7 unless all are up
    #[command(after_help = "Examples:\n  kcluster status\n  kcluster status | jq -c 'select(.state==\"down\")'")]
    Status,
    /// Stop one broker gracefully (SIGTERM, SIGKILL after --grace seconds)
    #[command(after_help = "Examples:\n  kcluster stop 2")]
    Stop(NodeArgs),
    /// Kill one broker at once (SIGKILL), as a crash would
    #[command(after_help = "Examples:\n  kcluster kill 3")]
    Kill(NodeArgs),
    /// Start one stopped broker again and wait until it is back in the cluster
    #[command(after_help = "Examples:\n  kcluster start 3")]
    Start(NodeArgs),
    /// Print a broker's log (every broker's when no id is given)
    #[command(after_help = "Examples:\n  kcluster logs 1 | grep ERROR\n  kcluster logs 2 -f")]
    Logs(LogsArgs),
    /// Stop every broker; delete the cluster's data unless --keep
    #[command(after_help = "Examples:\n  kcluster down\n  kcluster down --keep   # `up` later resumes with the same data")]
    Down(DownArgs),
    /// Print `export KAFKA_BROKERS=...` for the cluster, for `eval "$(kcluster env)"`
    #[command(after_help = "Examples:\n  eval \"$(kcluster env --name test)\" && ktopic list")]
    Env,
    /// Fetch an Apache Kafka distribution from Maven Central into the cache (needs Java 17+ and mvn)
    #[command(name = "fetch-kafka", after_help = "Examples:\n  kcluster fetch-kafka\n  kcluster fetch-kafka 3.9.1")]
    FetchKafka(FetchArgs),
}

#[derive(Args, Debug)]
pub struct UpArgs {
    /// Number of brokers [default: 3; an existing cluster keeps its own]
    #[arg(short = 'b', long = "brokers", value_parser = clap::value_parser!(u32).range(1..=9))]
    pub brokers: Option<u32>,
    /// Seconds to wait for every broker to be ready
    #[arg(long, default_value_t = 120.0)]
    pub timeout: f64,
    /// JVM heap of each broker
    #[arg(long, default_value = "512m")]
    pub heap: String,
    /// Apache Kafka version to run (fetched from Maven Central when missing)
    #[arg(long, env = "KAFKA_VERSION", default_value = crate::distribution::DEFAULT_KAFKA_VERSION)]
    pub kafka_version: String,
    /// Use this extracted Apache Kafka distribution instead of the Maven cache
    #[arg(long, env = "KAFKA_HOME")]
    pub kafka_home: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct NodeArgs {
    /// Broker id (1..N)
    pub id: u32,
    /// Seconds to wait (for stop: before SIGKILL; for start: until the broker is ready)
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Broker id; all brokers when omitted
    pub id: Option<u32>,
    /// Keep printing new lines as they are written
    #[arg(short = 'f', long)]
    pub follow: bool,
}

#[derive(Args, Debug)]
pub struct DownArgs {
    /// Keep the data and configuration so that `up` resumes the same cluster
    #[arg(long)]
    pub keep: bool,
}

#[derive(Args, Debug)]
pub struct FetchArgs {
    /// Kafka version
    #[arg(env = "KAFKA_VERSION", default_value = crate::distribution::DEFAULT_KAFKA_VERSION)]
    pub version: String,
}

/// The command definition, for completions and man pages.
pub fn cli() -> clap::Command {
    Cli::command()
}
