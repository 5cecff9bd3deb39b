//! The one definition of kprod's command line; it also feeds completions and the man page.

use clap::{CommandFactory, Parser, ValueEnum};
use kcore::generate::Generate;
use kcore::progress::ProgressArgs;
use kcore::protobuf::ProtoArgs;
use kcore::schema_registry::{EncodeArgs, RegistryArgs};
use kcore::ConnectionArgs;

const EXAMPLES: &str = "\
Examples:
  echo hello | kprod my-topic                        # one record, value \"hello\"
  printf 'user1:clicked\\n' | kprod -K: my-topic      # key \"user1\", value \"clicked\"
  kprod -H source=cli -k batch-7 my-topic < lines.txt
  kcons a -e | jq -c 'select(.key==\"x\")' | kprod --json b   # copy selected records
  echo '{\"key\":\"k\",\"value\":null}' | kprod --json my-topic  # a tombstone
  kprod -q -X compression.type=zstd my-topic < big.txt   # any librdkafka property
  echo '{\"value\":{\"id\":1}}' | kprod --json orders --value-schema-file order.avsc   # Avro, via the schema registry
  echo '{\"value\":{\"id\":\"1\"}}' | kprod --json orders --value-subject orders-value --value-type shop.Order   # Protobuf via the registry
  echo '{\"value\":{\"id\":\"1\"}}' | kprod --json events --proto shop.proto --value-type shop.Order   # plain Protobuf, no registry
  kcons -g G --no-commit a | grep -v x | kprod --json --transactional --commit-group G b   # exactly once";

#[derive(Parser, Debug)]
#[command(
    name = "kprod",
    version,
    about = "Read stdin and produce one Kafka record per line; report every delivery",
    long_about = "Read stdin and produce one Kafka record per line (or, with --json, one JSON record per \
line in the format kcons prints). Each delivered record is reported on stdout as a JSON line \
{\"topic\",\"partition\",\"offset\",\"line\"}; every record that could not be delivered is reported on \
stderr with its input line number, and the exit code is then non-zero.\n\n\
Defaults are safe: acks=all and idempotence on (no duplicates on retry). An empty line is a record \
with an empty value; -Z makes empty values null (tombstones). Lines are sent byte for byte (a \\r \
before the newline is kept). kprod never creates topics.",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// Topic to produce to
    #[arg(required_unless_present = "generate")]
    pub topic: Option<String>,

    /// Split each line into key and value at the first DELIM (as kcat -K); a line without it has a null key
    #[arg(
        short = 'K',
        long = "key-delimiter",
        value_name = "DELIM",
        conflicts_with = "json"
    )]
    pub key_delimiter: Option<String>,

    /// The same key for every record
    #[arg(short = 'k', long = "key", value_name = "KEY", conflicts_with_all = ["json", "key_delimiter"])]
    pub key: Option<String>,

    /// Add a header NAME=VALUE to every record (repeatable; order kept)
    #[arg(short = 'H', long = "header", value_name = "NAME=VALUE")]
    pub headers: Vec<String>,

    /// Produce to this partition (default: by key hash as the Java client does, murmur2; random without a key)
    #[arg(short = 'p', long = "partition", value_name = "N")]
    pub partition: Option<i32>,

    /// Each line is a JSON record as kcons prints it (the envelope: "key", "value", "headers", ...); the smallest is {"value":"hello"}. To send JSON documents as values, leave out --json: each line is sent as it is
    #[arg(long)]
    pub json: bool,

    /// With --json: ignore each record's "partition" (partition by key instead)
    #[arg(long, requires = "json")]
    pub ignore_partition: bool,

    /// With --json: ignore each record's "timestamp" (the producer's clock is used)
    #[arg(long, requires = "json")]
    pub ignore_timestamp: bool,

    /// With --json: produce the records in Kafka transactions, one per --commit-interval; a
    /// read_committed reader (kcons) sees each transaction whole or not at all
    #[arg(long, requires = "json")]
    pub transactional: bool,

    /// With --transactional: in each transaction, also commit this consumer group's offsets for
    /// the source records (each line's "topic", "partition" and "offset", as kcons prints them):
    /// `kcons -g GROUP --no-commit a | FILTER | kprod --json --transactional --commit-group GROUP b`
    /// copies exactly once across crashes
    #[arg(long, value_name = "GROUP", requires = "transactional")]
    pub commit_group: Option<String>,

    /// With --transactional: the producer's transactional.id (default kprod-GROUP-TOPIC with
    /// --commit-group, else kprod-TOPIC); a new kprod with the same id fences the old one
    #[arg(long, value_name = "ID", requires = "transactional")]
    pub transactional_id: Option<String>,

    /// With --transactional: seconds a transaction stays open before it is committed (default 1;
    /// the last one is committed at end of input)
    #[arg(long, value_name = "SECONDS", requires = "transactional")]
    pub commit_interval: Option<f64>,

    /// Send an empty value as null (a tombstone), as kcat -Z
    #[arg(short = 'Z', long = "null-empty")]
    pub null_empty: bool,

    /// What to do with a bad input line: skip it and go on (report it, exit 3 at the end), or stop reading
    #[arg(long, value_enum, default_value_t = OnError::Skip, value_name = "WHAT")]
    pub on_error: OnError,

    /// Seconds a record may take to be delivered, retries included, before it counts as failed
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub delivery_timeout: f64,

    /// Print nothing on stdout (no delivery reports)
    #[arg(short = 'q', long)]
    pub quiet: bool,

    #[command(flatten)]
    pub progress: ProgressArgs,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub registry: RegistryArgs,

    #[command(flatten)]
    pub encode: EncodeArgs,

    #[command(flatten)]
    pub proto: ProtoArgs,

    /// Print shell completions or the man page to stdout, then exit
    #[arg(long, value_name = "WHAT", exclusive = true)]
    pub generate: Option<Generate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnError {
    /// Report the line on stderr, go on with the next; exit 3 at the end
    Skip,
    /// Report the line, deliver what came before it, exit 3
    Stop,
}

/// The command definition, for completions and man pages.
pub fn cli() -> clap::Command {
    Cli::command()
}
