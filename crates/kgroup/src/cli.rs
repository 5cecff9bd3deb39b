//! The one definition of kgroup's command line; it also feeds completions and the man page.

use clap::{Args, CommandFactory, Parser, Subcommand};
use kcore::generate::Generate;
use kcore::ConnectionArgs;

const EXAMPLES: &str = "\
Examples:
  kgroup list --table                            # every group: state, type, members, coordinator
  kgroup describe billing                        # committed offset, end offset and lag per partition
  kgroup describe billing | jq 'select(.kind == \"group\").lag'    # the group's total lag
  kgroup reset billing --topic orders --to -100  # plan: 100 records before the end of each partition
  kgroup reset billing --topic orders --to -100 --execute
  kgroup delete old-group";

#[derive(Parser, Debug)]
#[command(
    name = "kgroup",
    version,
    about = "List, describe (with lag), reset and delete Kafka consumer groups",
    long_about = "List, describe (with lag), reset and delete Kafka consumer groups.\n\nOutput is \
JSON lines on stdout (--table for people); messages go to stderr. Offsets of a group change only \
while it has no active members, as with Kafka's own kafka-consumer-groups; `reset` only shows its \
plan unless given --execute.",
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
    /// One line per consumer group: state, type, assignor, member count, coordinator
    #[command(after_help = "Examples:
  kgroup list
  kgroup list --state Empty --table      # groups nobody consumes with right now
  kgroup list | jq -r 'select(.members > 0).group'")]
    List(ListArgs),
    /// Committed offset, end offset, lag and owner of each partition; one summary line per group
    #[command(after_help = "Line kinds (field \"kind\"):
  group      {kind, group, state, type, assignor, members, coordinator, partitions, lag}
  partition  {kind, group, topic, partition, committed, end, lag, member}   (default)
  member     {kind, group, member_id, client_id, host, instance_id, partitions}  (--members)

Examples:
  kgroup describe billing
  kgroup describe billing --table
  kgroup describe billing | jq 'select(.kind == \"group\").lag'            # total lag
  kgroup describe billing | jq -c 'select(.kind == \"partition\" and .lag > 0)'
  kgroup describe billing --members | jq -r 'select(.kind == \"member\").client_id'")]
    Describe(DescribeArgs),
    /// Set a group's committed offsets (a plan only, unless --execute)
    #[command(after_help = "Where to (--to):
  earliest, latest          the first offset still kept, the end (beginning and end work too)
  N                         offset N (kept within the partition's first and end offset)
  -N                        N records before the end of each partition (as kcons -o -N)
  TIME, @TIME               the first record at or after a time: 2024-05-01T10:00:00Z,
                            2024-05-01T10:00 (local time), 2024-05-01 (local midnight),
                            -1h, -30m, -2d, now, @MS (ms since 1970; digits alone are N)
  +N, committed+N           N records after the committed offset (the first offset without one)
  committed-N               N records before the committed offset

Examples:
  kgroup reset billing --topic orders --to earliest             # show the plan
  kgroup reset billing --topic orders --to earliest --execute   # do it
  kgroup reset billing --topic orders:0,2 --to 1500 --execute   # partitions 0 and 2 only
  kgroup reset billing --all-topics --to -1h --execute          # re-read the last hour
  kgroup reset billing --topic orders --to 2024-05-01T10:00:00Z --execute
  kgroup reset billing --topic orders --to committed-10 --execute   # re-read 10 records")]
    Reset(ResetArgs),
    /// Delete groups and their committed offsets (only groups without active members)
    #[command(after_help = "Examples:
  kgroup delete old-group
  kgroup list --state Empty | jq -r .group | grep '^tmp-' | xargs kgroup delete")]
    Delete(DeleteArgs),
    /// Delete a group's committed offsets for some topics (the group itself stays)
    #[command(after_help = "Examples:
  kgroup delete-offsets billing --topic retired-topic
  kgroup delete-offsets billing --topic orders:3")]
    DeleteOffsets(DeleteOffsetsArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only groups in this state (repeatable; any case): Stable, Empty,
    /// PreparingRebalance, CompletingRebalance, Dead, Unknown
    #[arg(long, value_name = "STATE", value_parser = parse_state)]
    pub state: Vec<String>,
    /// Aligned columns for people instead of JSON lines
    #[arg(long)]
    pub table: bool,
}

#[derive(Args, Debug)]
pub struct DescribeArgs {
    /// Group names
    #[arg(required = true, value_name = "GROUP")]
    pub groups: Vec<String>,
    /// One line per member (and its assigned partitions) instead of one per partition
    #[arg(long)]
    pub members: bool,
    /// Aligned columns for people instead of JSON lines
    #[arg(long)]
    pub table: bool,
}

#[derive(Args, Debug)]
pub struct ResetArgs {
    /// Group name
    #[arg(value_name = "GROUP")]
    pub group: String,
    /// A topic, or some of its partitions as TOPIC:P,P,... (repeatable)
    #[arg(
        long = "topic",
        value_name = "TOPIC[:P,...]",
        required_unless_present = "all_topics"
    )]
    pub topics: Vec<String>,
    /// Every topic the group has committed offsets for
    #[arg(long, conflicts_with = "topics")]
    pub all_topics: bool,
    /// Where to: earliest, latest, N, -N, +N, committed+N, committed-N, or a time (-1h, 2024-05-01T10:00:00Z, @MS)
    #[arg(long, value_name = "WHERE", allow_hyphen_values = true)]
    pub to: String,
    /// Commit the new offsets; without it kgroup only prints what it would do
    #[arg(long)]
    pub execute: bool,
    /// Aligned columns for people instead of JSON lines
    #[arg(long)]
    pub table: bool,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Group names
    #[arg(required = true, value_name = "GROUP")]
    pub groups: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DeleteOffsetsArgs {
    /// Group name
    #[arg(value_name = "GROUP")]
    pub group: String,
    /// A topic, or some of its partitions as TOPIC:P,P,... (repeatable)
    #[arg(long = "topic", value_name = "TOPIC[:P,...]", required = true)]
    pub topics: Vec<String>,
}

/// Group states as librdkafka names them.
pub const STATES: [&str; 6] = [
    "Stable",
    "Empty",
    "PreparingRebalance",
    "CompletingRebalance",
    "Dead",
    "Unknown",
];

fn parse_state(raw: &str) -> Result<String, String> {
    STATES
        .iter()
        .find(|state| state.eq_ignore_ascii_case(raw.trim()))
        .map(|state| state.to_string())
        .ok_or_else(|| format!("expected one of {}", STATES.join(", ")))
}

/// The command definition, for completions and man pages.
pub fn cli() -> clap::Command {
    Cli::command()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_in_any_case() {
        assert_eq!(parse_state("empty").unwrap(), "Empty");
        assert_eq!(
            parse_state("PREPARINGREBALANCE").unwrap(),
            "PreparingRebalance"
        );
        assert!(parse_state("busy").is_err());
    }

    #[test]
    fn command_line_is_consistent() {
        cli().debug_assert();
    }
}
