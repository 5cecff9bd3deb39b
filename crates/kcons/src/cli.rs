//! The one definition of kcons's command line; it also feeds completions and the man page.

use clap::{CommandFactory, Parser};
use kcore::generate::Generate;
use kcore::progress::ProgressArgs;
use kcore::protobuf::ProtoArgs;
use kcore::schema_registry::RegistryArgs;
use kcore::ConnectionArgs;

use crate::offset::OffsetSpec;

const EXAMPLES: &str = "\
Examples:
  kcons my-topic | jq .value                 # follow a topic from the beginning
  kcons my-topic -e --values                 # what is there now, values only (as the console consumer)
  kcons my-topic -o -10 -e                   # the last 10 records of each partition
  kcons my-topic -o @1700000000000 -c 1      # the first record at or after a time (ms)
  kcons -g billing orders | ./process        # a consumer group: restarts resume, nothing skipped
  kcons -g copy --no-commit a | grep -v x | kprod --json --transactional --commit-group copy b   # exactly-once copy
  kcons a -e | jq -c 'select(.key!=null)' | kprod --json b   # copy records between topics
  kcons orders -e --schema-registry http://localhost:8081    # Avro, Protobuf, JSON Schema in the wire format, decoded to JSON
  kcons events -e --proto events.proto --value-type shop.Event   # plain Protobuf values, no registry";

#[derive(Parser, Debug)]
#[command(
    name = "kcons",
    version,
    about = "Consume Kafka topics to stdout as JSON lines, one record per line",
    long_about = "Consume Kafka topics to stdout as JSON lines, one record per line:\n\
{\"topic\",\"partition\",\"offset\",\"timestamp\",\"key\",\"value\",\"headers\":[{\"key\",\"value\"}]}\n\
Keys and values are JSON strings when they are UTF-8 text, null when absent, and \
{\"base64\":\"...\"} otherwise, so nothing is lost and `kprod --json` can write them back.\n\n\
With -g, kcons joins a consumer group and commits offsets only for records already written to \
stdout: after a crash, a restart never skips a record (at-least-once). Without -g nothing is committed.",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// Topics to consume
    #[arg(required_unless_present = "generate", value_name = "TOPIC")]
    pub topics: Vec<String>,

    /// Where to start: beginning, end, stored (the group's committed offset), N (an offset), -N (N before the end), @MS (first record at or after a timestamp)
    #[arg(
        short = 'o',
        long = "offset",
        value_name = "WHERE",
        default_value = "beginning",
        allow_hyphen_values = true
    )]
    pub offset: OffsetSpec,

    /// Only these partitions (repeatable; not with -g)
    #[arg(
        short = 'p',
        long = "partition",
        value_name = "N",
        conflicts_with = "group"
    )]
    pub partitions: Vec<i32>,

    /// Exit once the end offsets taken at start are reached
    #[arg(short = 'e', long = "exit")]
    pub exit_at_end: bool,

    /// Exit after N records
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,

    /// Join this consumer group; commit offsets of the records written out
    #[arg(short = 'g', long = "group", value_name = "GROUP")]
    pub group: Option<String>,

    /// With -g: read from the group's committed offsets but commit nothing (every partition of the
    /// topics assigned to this one reader, no group membership); for `kprod --transactional
    /// --commit-group GROUP`, which commits the group's offsets with the records it writes
    #[arg(long, requires = "group")]
    pub no_commit: bool,

    /// Print only the values, raw, one per line (a null value is an empty line)
    #[arg(long)]
    pub values: bool,

    #[command(flatten)]
    pub progress: ProgressArgs,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub registry: RegistryArgs,

    #[command(flatten)]
    pub proto: ProtoArgs,

    /// Print shell completions or the man page to stdout, then exit
    #[arg(long, value_name = "WHAT", exclusive = true)]
    pub generate: Option<Generate>,
}

/// The command definition, for completions and man pages.
pub fn cli() -> clap::Command {
    Cli::command()
}
