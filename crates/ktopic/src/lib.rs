//! ktopic: create, describe, list, delete and reconfigure Kafka topics; read their offsets;
//! elect leaders; trim records.
//!
//! Every command starts with a bounded metadata fetch, so unreachable brokers give one
//! clear line and exit 5 before anything else is tried. Commands that change topics
//! wait until the change shows in the metadata, so the next command (or `kprod`) sees it.
//!
//! One module per command (`config`, `create`, `delete`, `describe` with `list`,
//! `offsets`, `partitions`); [`cli`] is the command line, `session` what ktopic asks of
//! kcore's admin session, [`snapshot`] the cluster's brokers and topics as the metadata
//! shows them.

#![forbid(unsafe_code)]

pub mod cli;
mod config;
mod create;
mod delete;
mod describe;
mod elect;
mod offsets;
mod partitions;
mod reassign;
mod session;
pub mod snapshot;
mod trim;

use anyhow::Result;
use cli::{Cli, Command};

/// Run one parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let Some(command) = cli.command else {
        return Err(kcore::missing_command(&cli::cli()));
    };
    // Offsets come from a consumer-side client; every other command is an admin's.
    if let Command::Offsets(args) = &command {
        return offsets::offsets(&cli.conn.resolve()?, args);
    }
    let session = session::Session::open(&cli.conn)?;
    match &command {
        Command::Create(args) => create::create(&session, args),
        Command::Describe(args) => describe::describe(&session, args),
        Command::List(args) => describe::list(&session, args),
        Command::Delete(args) => delete::delete(&session, args),
        Command::Partitions(args) => partitions::partitions(&session, args),
        Command::Config(args) => config::config(&session, args),
        Command::Elect(args) => elect::elect(&session, args),
        Command::Trim(args) => trim::trim(&session, args),
        Command::Reassign(args) => reassign::reassign(&session, args),
        Command::Offsets(_) => unreachable!("handled above"),
    }
}
