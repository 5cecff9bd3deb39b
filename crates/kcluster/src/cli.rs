//! The one definition of kcluster's command line; it also feeds completions and the man page.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use kcore::generate::Generate;

const EXAMPLES: &str = "\
Examples:
  kcluster up                          # 3 brokers on localhost:29092,39092,49092
  kcluster status | jq -r 'select(.state != \"up\") | .id'
  kcluster up --mode zookeeper          # the seed's topology: 3 ZooKeeper + 3 brokers (Kafka 3.9)
  kcluster up --backend compose        # the same in Docker (compose/kraft.yml)
  kcluster up --name safe --secure     # SASL_SSL, SCRAM users admin and reader, ACLs
  kcluster up --schema-registry        # and an Apicurio Schema Registry beside it (Avro in kcons/kprod)
  kcluster kill 2 && kcluster start 2  # fail a broker over and bring it back
  kcluster pause 2 && kcluster resume 2  # freeze a broker: clients time out (no refusals)
  kcluster isolate 3 --from brokers    # cut broker 3 off the others (root: iptables)
  kcluster slow 1 --loss 30 && kcluster heal   # drop 30% of its packets, then undo every fault
  kcluster chaos --seed 42 --duration 5m   # random faults, one JSON line each, reproducible
  eval \"$(kcluster env --name test)\"   # point kprod/kcons/ktopic at a named cluster
  kcluster down                        # stop every broker and delete the data";

#[derive(Parser, Debug)]
#[command(
    name = "kcluster",
    version,
    about = "Bring a multi-broker Apache Kafka cluster up and down, and fail its brokers on purpose",
    long_about = "Bring a multi-broker Apache Kafka cluster up and down, report its health, and \
stop, kill or start one broker.\n\nThe local backend runs real Apache Kafka brokers as JVM processes \
from a distribution fetched from Maven Central (`kcluster fetch-kafka`, run automatically by `up`) or \
from KAFKA_HOME: in KRaft mode (Kafka 4, each node broker and controller), or in ZooKeeper mode (Kafka \
3.9 brokers and a 3-node ZooKeeper ensemble, the seed tutorial's topology). The compose backend runs \
the same topologies in Docker (compose/kraft.yml, compose/zookeeper.yml, built into kcluster). `up` \
picks compose when a Docker engine answers, else local (--backend); the cluster remembers its backend \
and mode. State lives in $XDG_STATE_HOME/kpipes/clusters/NAME. Output is JSON lines on stdout.",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// Cluster name: its own state directory and ports ("default" uses 29092/39092/49092)
    #[arg(
        short = 'n',
        long,
        global = true,
        default_value = "default",
        env = "KPIPES_CLUSTER"
    )]
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
    #[command(
        after_help = "Examples:\n  kcluster up\n  kcluster up --name test --brokers 1 --timeout 60\n  kcluster up --name seed --backend local --mode zookeeper\n  kcluster up --backend compose --mode kraft"
    )]
    Up(UpArgs),
    /// One JSON line per ZooKeeper node and broker: role, id, address, state (up, starting, down), pid; exit 7 unless all are up
    #[command(
        after_help = "Examples:\n  kcluster status\n  kcluster status | jq -c 'select(.state==\"down\")'\n  kcluster status --watch                # a JSON line each time a node goes down or comes up\n  kcluster status --watch --table        # a table redrawn in place, changes highlighted"
    )]
    Status(StatusArgs),
    /// Stop one broker gracefully (SIGTERM, SIGKILL after --timeout seconds)
    #[command(after_help = "Examples:\n  kcluster stop 2\n  kcluster stop --zookeeper 1")]
    Stop(NodeArgs),
    /// Kill one broker at once (SIGKILL), as a crash would
    #[command(after_help = "Examples:\n  kcluster kill 3")]
    Kill(NodeArgs),
    /// Start one stopped broker again and wait until it is back in the cluster
    #[command(after_help = "Examples:\n  kcluster start 3")]
    Start(NodeArgs),
    /// Add a broker to a running local cluster: the next id, a free port, the same mode and security
    #[command(after_help = "Examples:
  kcluster add                              # broker 4 joins (it holds nothing yet)
  ktopic reassign my-topic --execute        # spread my-topic over every broker, 4 included")]
    Add(AddArgs),
    /// Remove a broker that `add` joined: move its replicas to the others, stop it, unregister it
    #[command(after_help = "Examples:
  kcluster remove 4                         # drain broker 4 (a line per partition moved), then remove it")]
    Remove(RemoveArgs),
    /// Freeze a node's JVM (SIGSTOP): its sockets stay open, so clients time out instead of being refused
    #[command(
        after_help = "Examples:\n  kcluster pause 2       # state `paused` in `kcluster status`\n  kcluster resume 2"
    )]
    Pause(FaultArgs),
    /// Continue a paused node (SIGCONT)
    #[command(after_help = "Examples:\n  kcluster resume 2")]
    Resume(FaultArgs),
    /// Cut a node off the network: packets from the other nodes, from clients, or both are dropped (root: iptables, cgroup v2)
    #[command(
        after_help = "Examples:\n  kcluster isolate 2                  # nothing reaches broker 2, nothing leaves it\n  kcluster isolate 2 --from brokers   # clients still reach it; the other brokers do not\n  kcluster isolate 2 --from clients   # the cluster still reaches it; clients time out\n  kcluster heal 2"
    )]
    Isolate(IsolateArgs),
    /// Drop a share of a node's packets at random: TCP retransmits, requests slow down (root: iptables)
    #[command(after_help = "Examples:\n  kcluster slow 1 --loss 30\n  kcluster heal 1")]
    Slow(SlowArgs),
    /// Fill a broker's log directory (a cluster made by `up --disk-limit SIZE`): produce to it fails
    #[command(
        after_help = "Examples:\n  kcluster up --name full --disk-limit 256M   # as root\n  kcluster fill 1 --name full\n  kcluster free 1 --name full"
    )]
    Fill(FaultArgs),
    /// Free what `fill` took of a broker's log directory
    #[command(after_help = "Examples:\n  kcluster free 1")]
    Free(FaultArgs),
    /// Undo every fault (pause, isolate, slow, fill) of the cluster, or of one node; one JSON line each
    #[command(
        after_help = "Examples:\n  kcluster heal          # every node\n  kcluster heal 2        # broker 2 only"
    )]
    Heal(HealArgs),
    /// Random faults for a while, one at a time, each healed after a while: one JSON line per fault and heal, the same schedule for the same --seed
    #[command(
        after_help = "Examples:\n  kcluster chaos --seed 42 --duration 10m\n  kcluster chaos --seed 7 --duration 1m --faults pause,slow --hold 5s\n  kcluster chaos --name full --faults fill,kill   # a cluster made with up --disk-limit\n  (Ctrl-C heals the fault in force, then exits 130)"
    )]
    Chaos(ChaosArgs),
    /// Print a broker's log (every broker's when no id is given)
    #[command(after_help = "Examples:\n  kcluster logs 1 | grep ERROR\n  kcluster logs 2 -f")]
    Logs(LogsArgs),
    /// Stop every broker; delete the cluster's data unless --keep
    #[command(
        after_help = "Examples:\n  kcluster down\n  kcluster down --keep   # `up` later resumes with the same data"
    )]
    Down(DownArgs),
    /// Print `export KAFKA_BROKERS=...` for the cluster (and KPIPES_CONFIG_FILE for a secure one), for `eval "$(kcluster env)"`
    #[command(
        after_help = "Examples:\n  eval \"$(kcluster env --name test)\" && ktopic list\n  eval \"$(kcluster env --name safe --user reader)\" && kcons t -e"
    )]
    Env(EnvArgs),
    /// Create, list and show named connection profiles (what `--profile NAME` of every tool reads)
    #[command(
        subcommand,
        after_help = "Examples:\n  kcluster profile save prod -b kafka-1.example.com:9092 -F prod-client.properties\n  kcluster env --name test --save-profile test   # a local cluster as a profile\n  kcluster profile list\n  kcluster profile show prod                     # secrets shown as ***\n  kcons --profile prod orders -e"
    )]
    Profile(ProfileCommand),
    /// Fetch an Apache Kafka distribution from Maven Central into the cache (needs Java 17+ and mvn)
    #[command(
        name = "fetch-kafka",
        after_help = "Examples:\n  kcluster fetch-kafka\n  kcluster fetch-kafka 3.9.1"
    )]
    FetchKafka(FetchArgs),
}

/// Where a cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// compose when a Docker engine answers (`docker info`), else local
    Auto,
    /// JVM processes on this machine
    Local,
    /// Docker containers via docker compose (the `docker compose` plugin or `docker-compose`)
    Compose,
}

/// How the cluster keeps its metadata (kept in its `cluster.json`).
pub use kcore::state::Mode;

#[derive(Args, Debug)]
pub struct UpArgs {
    /// Number of brokers [default: 3; an existing cluster keeps its own]
    #[arg(short = 'b', long = "brokers", value_parser = clap::value_parser!(u32).range(1..=9))]
    pub brokers: Option<u32>,
    /// Seconds to wait for every broker to be ready
    #[arg(long, default_value_t = 120.0)]
    pub timeout: f64,
    /// Start the cluster and print its status at once, without waiting for the brokers
    #[arg(long)]
    pub no_wait: bool,
    /// Where to run a new cluster [an existing cluster keeps its own]
    #[arg(long, value_enum, env = "KPIPES_BACKEND", default_value = "auto")]
    pub backend: BackendChoice,
    /// KRaft (Kafka 4) or ZooKeeper (Kafka 3.9 + a ZooKeeper ensemble) [default: kraft; an existing cluster keeps its own]
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// JVM heap of each broker (local backend), kept for `kcluster start` [default: 512m; an existing cluster keeps its own unless given]
    #[arg(long)]
    pub heap: Option<String>,
    /// Apache Kafka version to run [default: 4.3.1; 3.9.1 with --mode zookeeper] (fetched from Maven Central when missing)
    #[arg(long, env = "KAFKA_VERSION")]
    pub kafka_version: Option<String>,
    /// Use this extracted Apache Kafka distribution instead of the Maven cache (local backend)
    #[arg(long, env = "KAFKA_HOME")]
    pub kafka_home: Option<PathBuf>,
    /// A new cluster speaks SASL_SSL (SCRAM-SHA-512, its own CA) with ACLs: users admin and reader, their properties in the cluster's directory (local backend) [an existing cluster keeps its own]
    #[arg(long)]
    pub secure: bool,
    /// Also run an Apicurio Schema Registry beside the brokers (local backend; fetched from Maven Central once); its URL is in `status` and `env` (KPIPES_SCHEMA_REGISTRY), kcons and kprod find it [an existing cluster keeps its own]
    #[arg(long)]
    pub schema_registry: bool,
    /// A new cluster's client listeners speak SASL_PLAINTEXT with OAUTHBEARER: tokens (JWTs) are checked by Kafka's own validator against the keys at JWKS_URL, which must answer when the brokers start; kcluster itself logs in with PLAIN as user admin (local backend, KRaft)
    #[arg(long, value_name = "JWKS_URL", conflicts_with = "secure")]
    pub oauth: Option<String>,
    /// Broker ID advertises HOST:PORT to clients instead of its own address, to see what a wrong advertised.listeners does (repeatable; a new local KRaft cluster)
    #[arg(long, value_name = "ID=HOST:PORT")]
    pub advertise: Vec<String>,
    /// Each broker's log directory is a filesystem of its own of this size (a tmpfs: e.g. 256M), for `kcluster fill` (a new local cluster; root)
    #[arg(long, value_name = "SIZE")]
    pub disk_limit: Option<String>,
}

#[derive(Args, Debug)]
pub struct FaultArgs {
    /// Broker id (1..N), or ZooKeeper node id with --zookeeper
    pub id: u32,
    /// Act on ZooKeeper node ID instead of broker ID (zookeeper mode)
    #[arg(long)]
    pub zookeeper: bool,
}

#[derive(Args, Debug)]
pub struct IsolateArgs {
    #[command(flatten)]
    pub node: FaultArgs,
    /// From whom the node is cut
    #[arg(long, value_enum, default_value = "all")]
    pub from: crate::faults::network::Cut,
}

#[derive(Args, Debug)]
pub struct SlowArgs {
    #[command(flatten)]
    pub node: FaultArgs,
    /// Percent of the node's packets dropped (each way)
    #[arg(long, value_name = "PERCENT", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub loss: u32,
}

#[derive(Args, Debug)]
pub struct HealArgs {
    /// Only this broker's faults (or ZooKeeper node's, with --zookeeper)
    pub id: Option<u32>,
    /// ID is a ZooKeeper node's
    #[arg(long, requires = "id")]
    pub zookeeper: bool,
}

#[derive(Args, Debug)]
pub struct ChaosArgs {
    /// Seed of the schedule (the same seed draws the same schedule) [default: a random one, printed]
    #[arg(long)]
    pub seed: Option<u64>,
    /// How long to run, e.g. 1m, 10m
    #[arg(long, default_value = "1m", value_parser = kcore::time::parse_duration)]
    pub duration: std::time::Duration,
    /// Faults to draw from, comma separated: kill, pause, isolate, slow, fill (fill needs a cluster made with `up --disk-limit`) [default: kill,pause,isolate,slow, and fill on a cluster made with --disk-limit]
    #[arg(long)]
    pub faults: Option<String>,
    /// How long a fault holds on average (the cluster then runs healthy half as long)
    #[arg(long, default_value = "10s", value_parser = kcore::time::parse_duration)]
    pub hold: std::time::Duration,
}

#[derive(Args, Debug)]
pub struct EnvArgs {
    /// A secure cluster's user whose properties the tools get (admin or reader) [default: admin]
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Save the cluster (brokers, the user's properties, schema registry) as profile NAME instead of printing exports
    #[arg(long, value_name = "NAME")]
    pub save_profile: Option<String>,
    /// With --save-profile: replace a profile of that name
    #[arg(long, requires = "save_profile")]
    pub force: bool,
}

/// `kcluster profile ...`: profiles live in $KPIPES_CONFIG_DIR/profiles, else
/// $XDG_CONFIG_HOME/kpipes/profiles, else ~/.config/kpipes/profiles.
#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// One JSON line per profile: name, path, brokers
    List(ProfileListArgs),
    /// Print a profile's file with every secret value shown as ***
    Show(ProfileName),
    /// Write a profile from -b, -F and -X (the file is plain key=value lines: edit it freely)
    #[command(
        after_help = "Examples:\n  kcluster profile save prod -b b-1.example.com:9092 -X security.protocol=SASL_SSL -X sasl.mechanism=SCRAM-SHA-512 -X sasl.username=app -X sasl.password=...\n  kcluster profile save cloud -F ccloud.properties --schema-registry https://psrc-x.example.com"
    )]
    Save(ProfileSaveArgs),
    /// Delete a profile
    Delete(ProfileName),
}

#[derive(Args, Debug)]
pub struct ProfileListArgs {
    /// Names only, one a line (for shell completion)
    #[arg(long)]
    pub names: bool,
}

#[derive(Args, Debug)]
pub struct ProfileName {
    /// Profile name
    pub profile: String,
}

#[derive(Args, Debug)]
pub struct ProfileSaveArgs {
    /// Profile name
    pub profile: String,
    /// Bootstrap brokers, comma separated (bootstrap.servers)
    #[arg(short = 'b', long = "brokers", value_name = "HOST:PORT,...")]
    pub brokers: Option<String>,
    /// librdkafka properties (key=value lines) copied into the profile
    #[arg(short = 'F', long = "config-file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// A librdkafka property (repeatable)
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
    /// Schema Registry base URL (schema.registry.url)
    #[arg(long = "schema-registry", value_name = "URL")]
    pub schema_registry: Option<String>,
    /// Replace a profile of that name
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct NodeArgs {
    /// Broker id (1..N), or ZooKeeper node id with --zookeeper
    pub id: u32,
    /// Seconds to wait: for stop, before SIGKILL [default: 60]; for start, until the node serves [default: 120]
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Act on ZooKeeper node ID instead of broker ID (zookeeper mode)
    #[arg(long)]
    pub zookeeper: bool,
}

impl NodeArgs {
    /// How long `stop` lets a node shut down before SIGKILL.
    pub fn stop_grace(&self) -> f64 {
        self.timeout.unwrap_or(60.0)
    }

    /// How long `start` may take: a port still held by a closed connection can take
    /// 60 s to free (see topology.rs), and a broker then needs its own start-up time.
    pub fn start_budget(&self) -> f64 {
        self.timeout.unwrap_or(120.0)
    }
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Broker id (or ZooKeeper node id with --zookeeper); all of them when omitted
    pub id: Option<u32>,
    /// Keep printing new lines as they are written
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// The ZooKeeper nodes' logs instead of the brokers' (zookeeper mode)
    #[arg(long)]
    pub zookeeper: bool,
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

#[derive(Args, Debug, Default)]
pub struct StatusArgs {
    /// Keep watching until Ctrl-C: every node's line first, then one JSON line per change
    /// ("event": "changed", "changed": ["state"], "previous": {...})
    #[arg(long)]
    pub watch: bool,
    /// With --watch: a table redrawn in place (changes highlighted) instead of JSON lines
    #[arg(long, requires = "watch")]
    pub table: bool,
    /// Seconds between two looks with --watch
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 1.0,
        requires = "watch"
    )]
    pub interval: f64,
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// Seconds to wait for the new broker to serve
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    pub timeout: f64,
}

#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// The broker's id (see `kcluster status`)
    pub id: u32,
    /// Seconds to wait for its replicas to move to the other brokers
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0)]
    pub timeout: f64,
}

/// The command definition, for completions and man pages.
pub fn cli() -> clap::Command {
    Cli::command()
}
