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
    about = "Create, describe, list, delete and reconfigure Kafka topics; read their offsets; elect leaders; trim records",
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
  ktopic describe | jq -r 'select(.under_replicated) | .topic'
  ktopic describe my-topic --watch         # a JSON line per change of leader, replicas or ISR
  ktopic describe my-topic --watch --table # the table, redrawn in place, changes highlighted")]
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
  ktopic offsets my-topic --at -1h                         # the first offset of the last hour
  ktopic offsets my-topic --at 2024-05-01T10:00:00Z        # ...at a time (without a zone: local)")]
    Offsets(OffsetsArgs),
    /// Move partitions' leadership back to their preferred replicas (or, unclean, to any live one)
    #[command(after_help = "Examples:
  kcluster kill 1 && kcluster start 1      # broker 1 is back, but leads nothing
  ktopic elect my-topic                    # its preferred partitions are led by 1 again
  ktopic elect                             # every partition of every topic
  ktopic elect my-topic --partition 0 --table")]
    Elect(ElectArgs),
    /// Delete the records before an offset or a time (a plan unless --execute)
    #[command(after_help = "Examples:
  ktopic trim my-topic --before 1000                    # the plan: what would go, per partition
  ktopic trim my-topic --before 1000 --execute          # delete offsets below 1000
  ktopic trim my-topic --partition 0 --all --execute    # empty partition 0
  ktopic trim my-topic --before-time -1d --execute     # older than a day
  ktopic trim my-topic --before-time 2024-05-01T00:00:00Z --execute")]
    Trim(TrimArgs),
    /// Move partitions' replicas: a balanced plan over a set of brokers, or an explicit one
    /// (a plan unless --execute); list or cancel the moves in progress
    #[command(after_help = "Examples:
  ktopic reassign my-topic --onto 1,2,3,4              # the plan: spread it over brokers 1-4
  ktopic reassign my-topic --onto 1,2,3,4 --execute    # do it, and wait until every move is done
  ktopic reassign my-topic -r 3 --execute              # raise the replication factor to 3
  ktopic reassign my-topic --onto 2,3,4 --execute --throttle 10000000   # at most 10 MB/s per broker
  ktopic reassign --exclude 4 --execute                # every topic off broker 4 (draining it)
  ktopic reassign my-topic --replicas 0=2,3,1 --execute
  ktopic reassign my-topic --onto 1,2,3 --kafka-json > plan.json   # kafka-reassign-partitions' format
  ktopic reassign --plan plan.json --execute           # a plan in that format
  ktopic reassign --list                               # moves in progress
  ktopic reassign my-topic --cancel                    # stop them")]
    Reassign(ReassignArgs),
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
    /// Keep watching until Ctrl-C: each partition's state first, then one JSON line per
    /// change ("event": "changed", "changed": [fields], "previous": {...}); with --table on
    /// a terminal, the table redrawn in place
    #[arg(long, conflicts_with = "configs")]
    pub watch: bool,
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
    /// this time; the high watermark when no record is that recent. TIME: 2024-05-01T10:00:00Z,
    /// 2024-05-01T10:00 (local time), 2024-05-01 (local midnight), -1h, -30m, -2d, now, or
    /// milliseconds since 1970
    #[arg(long, value_name = "TIME", value_parser = kcore::time::parse_time, allow_hyphen_values = true)]
    pub at: Option<i64>,
    /// Aligned columns for people instead of JSON lines
    #[arg(long)]
    pub table: bool,
}

#[derive(Args, Debug)]
pub struct ElectArgs {
    /// Topic names [default: every topic]
    #[arg(value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Only these partitions of the named topics (repeatable)
    #[arg(short = 'P', long = "partition", value_name = "N")]
    pub partitions: Vec<i32>,
    /// Elect the preferred replica, the first of each partition's replicas (the default)
    #[arg(long, conflicts_with = "unclean")]
    pub preferred: bool,
    /// Elect any live replica, even one not in sync: records only the old leader had are lost
    #[arg(long)]
    pub unclean: bool,
    /// Aligned columns for people instead of JSON lines
    #[arg(long)]
    pub table: bool,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("until").required(true).args(["before", "before_time", "all"])))]
pub struct TrimArgs {
    /// Topic name
    pub topic: String,
    /// Only these partitions (repeatable) [default: every partition]
    #[arg(short = 'P', long = "partition", value_name = "N")]
    pub partitions: Vec<i32>,
    /// Delete the records below this offset (clamped to each partition's end)
    #[arg(long, value_name = "OFFSET", value_parser = clap::value_parser!(i64).range(0..))]
    pub before: Option<i64>,
    /// Delete the records whose timestamps are before this time: 2024-05-01T10:00:00Z,
    /// 2024-05-01T10:00 (local time), 2024-05-01 (local midnight), -1h, -2d, now, or
    /// milliseconds since 1970
    #[arg(long, value_name = "TIME", value_parser = kcore::time::parse_time, allow_hyphen_values = true)]
    pub before_time: Option<i64>,
    /// Delete every record (up to each partition's end offset)
    #[arg(long)]
    pub all: bool,
    /// Do it; without this, only print the plan
    #[arg(long)]
    pub execute: bool,
    /// Aligned columns for people instead of JSON lines
    #[arg(long)]
    pub table: bool,
}

#[derive(Args, Debug)]
pub struct ReassignArgs {
    /// Topic names [default: every topic that is not internal]
    #[arg(value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Spread the replicas evenly over these brokers [default: every broker]
    #[arg(long, value_name = "IDS", value_delimiter = ',', conflicts_with_all = ["replicas", "plan"])]
    pub onto: Vec<i32>,
    /// Leave these brokers out of the set (draining them)
    #[arg(long, value_name = "IDS", value_delimiter = ',', conflicts_with_all = ["replicas", "plan"])]
    pub exclude: Vec<i32>,
    /// Copies of each partition in the plan [default: as now]
    #[arg(short = 'r', long, value_parser = clap::value_parser!(u16).range(1..), conflicts_with_all = ["replicas", "plan"])]
    pub replication_factor: Option<u16>,
    /// An explicit assignment for one partition of the one topic named (repeatable):
    /// PARTITION=BROKER,BROKER,... (the first is the preferred leader)
    #[arg(long, value_name = "P=IDS", conflicts_with = "plan")]
    pub replicas: Vec<String>,
    /// A plan in kafka-reassign-partitions' JSON format ({"partitions":[{"topic","partition","replicas"}]})
    #[arg(long, value_name = "FILE")]
    pub plan: Option<std::path::PathBuf>,
    /// Do it, and wait until every partition has moved; without this, only print the plan
    #[arg(long, conflicts_with_all = ["list", "cancel"])]
    pub execute: bool,
    /// With --execute: limit the replication the moves cause to this many bytes per second
    /// per broker (Kafka's replication throttle; removed when the moves are done or cancelled)
    #[arg(long, value_name = "BYTES_PER_SEC", requires = "execute")]
    pub throttle: Option<u64>,
    /// With --execute: give up waiting after this many seconds (the moves go on; --list shows them)
    #[arg(long, value_name = "SECONDS", default_value_t = 600.0)]
    pub wait: f64,
    /// Print the plan in kafka-reassign-partitions' JSON format instead of JSON lines
    #[arg(long, conflicts_with_all = ["table", "list", "cancel"])]
    pub kafka_json: bool,
    /// The moves in progress (of the named topics, or all)
    #[arg(long, conflicts_with = "cancel")]
    pub list: bool,
    /// Cancel the moves in progress of the named topics (or all): partitions go back to
    /// the replicas they had
    #[arg(long)]
    pub cancel: bool,
    /// Aligned columns for people instead of JSON lines
    #[arg(long)]
    pub table: bool,
}

/// The command definition, for completions and man pages.
pub fn cli() -> clap::Command {
    Cli::command()
}
