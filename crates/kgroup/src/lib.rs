//! kgroup: list, describe (with lag), reset and delete Kafka consumer groups.
//!
//! Every command starts with a bounded metadata fetch, so unreachable brokers give one
//! clear line and exit 5 before anything else is tried; the group requests go through
//! kcore's admin layer (librdkafka's admin API), several at once where they do not
//! depend on each other.
//!
//! One module per command (`list`, `describe`, `reset`, `delete`); `offsets` reads
//! partitions' first and end offsets, `spec` what `reset --to` and `--topic` mean; [`cli`]
//! is the command line, `session` what kgroup asks of kcore's admin session.

#![forbid(unsafe_code)]

pub mod cli;
mod delete;
mod describe;
mod list;
mod offsets;
mod reset;
mod session;
mod spec;

use anyhow::Result;
use cli::{Cli, Command};

/// Run one parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let Some(command) = cli.command else {
        return Err(kcore::missing_command(&cli::cli()));
    };
    // Arguments are checked before anything is asked of the cluster.
    if let Command::Reset(args) = &command {
        spec::Target::parse(&args.to)?;
    }
    let session = session::Session::open(&cli.conn)?;
    match &command {
        Command::List(args) => list::list(&session, args),
        Command::Describe(args) => describe::describe(&session, args),
        Command::Reset(args) => reset::reset(&session, args),
        Command::Delete(args) => delete::delete(&session, args),
        Command::DeleteOffsets(args) => delete::delete_offsets(&session, args),
    }
}
