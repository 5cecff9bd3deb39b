//! The one definition of ktopic's command line; it also feeds completions and the man page.

use clap::{Args, CommandFactory, Parser, Subcommand};
use kcore::generate::Generate;
use kcore::ConnectionArgs;

const EXAMPLES: &str = "\
Examples:
  ktopic create my-topic -p 2 -r 3     # 2 partitions, each on 3 brokers
  ktopic describe my-topic             # leaders, replicas and in-sync replicas per partition
  ktopic list --table                  # every topic, as aligned columns
  ktopic list | jq -r .topic | grep '^tmp-' | ktopic delete -
  ktopic config my-topic --set retention.ms=3600000";

#[derive(Parser, Debug)]
#[command(
    name = "ktopic",
    version,
    about = "Create, describe, list, delete and reconfigure Kafka topics; read their offsets",
    long_about = "Create, describe, list, delete and reconfigure Kafka topics, and read their \
offsets.\n\nOutput is JSON lines on stdout (one object per topic or partition; --table for people); \
messages go to stderr. Commands that change topics wait until the change is visible in the \
cluster's metadata, so the next command sees it.",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(flatten)]
    pub conn: ConnectionArgs,

    /// Print shell completions or the man page to stdout, then exit
    #[arg(long, value_name = "WHAT", exclusive = true)]
    pub generate: Option<Generate>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create topics and wait until every partition has a leader
    #[command(after_help = "Examples:
  ktopic create my-topic -p 2 -r 3
  ktopic create events -p 6 -r 3 -c retention.ms=86400000 -c min.insync.replicas=2
  ktopic create a b c --if-not-exists    # harmless when they exist")]
    Create(CreateArgs),
    /// Leaders, replicas and in-sync replicas of each partition, one line per topic
    #[command(after_help = "Examples:
  ktopic describe my-topic
  ktopic describe --table                # every partition of every topic, as columns
  ktopic describe | jq -r 'select(.under_replicated) | .topic'")]
    Describe(DescribeArgs),
    /// One line per topic: partitions, replication factor, internal
    #[command(after_help = "Examples:
  ktopic list
  ktopic list --all --table              # with __consumer_offsets and other internal topics
  ktopic list | jq -r .topic")]
    List(ListArgs),
    /// Delete topics (`-` reads names from stdin, one per line) and wait until they are gone
    #[command(after_help = "Examples:
  ktopic delete my-topic
  ktopic list | jq -r .topic | grep '^tmp-' | ktopic delete -")]
    Delete(DeleteArgs),
    /// Raise a topic's partition count (Kafka cannot lower it)
    #[command(after_help = "Examples:
  ktopic partitions my-topic 6
  ktopic describe my-topic | jq .partition_count")]
    Partitions(PartitionsArgs),
    /// Print a topic's configuration, or change some keys and leave the others as they are
    #[command(after_help = "Examples:
  ktopic config my-topic                                  # every key, effective values
  ktopic config my-topic --overrides                      # only what is set on the topic
  ktopic config my-topic --set retention.ms=3600000 --unset cleanup.policy")]
    Config(ConfigArgs),
    /// Low and high watermark of each partition, or the offset at a point in time
    #[command(after_help = "Examples:
  ktopic offsets my-topic
  ktopic offsets my-topic --table
  ktopic offsets my-topic --at $(( ($(date +%s) - 3600) * 1000 ))   # an hour ago")]
    Offsets(OffsetsArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Topic names
    #[arg(required = true, value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Number of partitions
    #[arg(short = 'p', long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..))]
    pub partitions: i32,
    /// Copies of each partition [default: the brokers' default.replication.factor, said on stderr; 3 on a kcluster cluster of 3+ brokers]. -r 1 also sets min.insync.replicas=1 (one copy can never make more in-sync replicas) unless -c sets it
    #[arg(short = 'r', long, value_parser = clap::value_parser!(i32).range(1..))]
    pub replication_factor: Option<i32>,
    /// A topic config (repeatable), e.g. -c retention.ms=86400000
    #[arg(short = 'c', long = "config", value_name = "KEY=VALUE")]
    pub configs: Vec<String>,
    /// Succeed for topics that already exist (reported with "created": false)
    #[arg(long)]
    pub if_not_exists: bool,
}

#[derive(Args, Debug)]
pub struct DescribeArgs {
    /// Topic names [default: every topic, internal ones only with --all]
    #[arg(value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Include internal topics (__consumer_offsets, ...) when no names are given
    #[arg(long)]
    pub all: bool,
    /// Add "configs": the settings made on the topic itself
    #[arg(long)]
    pub configs: bool,
    /// Aligned columns for people, one row per partition, instead of JSON lines
    #[arg(long)]
    pub table: bool,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Include internal topics (__consumer_offsets, ...)
    #[arg(long)]
    pub all: bool,
    /// Aligned columns for people instead of JSON lines
    #[arg(long)]
    pub table: bool,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Topic names; `-` reads more names from stdin, one per line
    #[arg(required = true, value_name = "TOPIC")]
    pub topics: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PartitionsArgs {
    /// Topic name
    pub topic: String,
    /// The new partition count (more than the current one)
    #[arg(value_parser = clap::value_parser!(i32).range(1..))]
    pub count: i32,
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Topic name
    pub topic: String,
    /// Set a key (repeatable); keys not named keep their values
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Remove a key's setting from the topic, so it falls back to the broker default (repeatable)
    #[arg(long = "unset", value_name = "KEY")]
    pub unset: Vec<String>,
    /// Print only the keys set on the topic itself, not the defaults it inherits
    #[arg(long, visible_alias = "non-default")]
    pub overrides: bool,
}

#[derive(Args, Debug)]
pub struct OffsetsArgs {
    /// Topic name
    pub topic: String,
    /// Instead of the watermarks: the first offset whose record timestamp is at or after
    /// this time (milliseconds since 1970); the high watermark when no record is that recent
    #[arg(long, value_name = "TIMESTAMP_MS", value_parser = clap::value_parser!(i64).range(0..))]
    pub at: Option<i64>,
    /// Aligned columns for people instead of JSON lines
    #[arg(long)]
    pub table: bool,
}

/// The command definition, for completions and man pages.
pub fn cli() -> clap::Command {
    Cli::command()
}
