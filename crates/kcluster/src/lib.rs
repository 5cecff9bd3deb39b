//! kcluster: bring an Apache Kafka cluster up and down and fail its brokers on purpose.
//!
//! Two backends run the same clusters: [`local`] (JVM processes on this machine) and
//! [`compose`] (Docker containers through docker compose), each in KRaft or ZooKeeper
//! mode, behind one interface ([`backend`]). The commands are written once on top of it
//! ([`commands`]); this file dispatches a command line ([`cli`]) to them, one command at a
//! time per cluster ([`lock`]).
//!
//! - [`topology`]: which ports a node uses (a node's role, broker or ZooKeeper node, is
//!   kcore's [`kcore::state::Role`], beside the cluster state it describes).
//! - [`health`]: whether a node serves; [`wait`]: waiting for it, within a command's
//!   time budget ([`budget`]).
//! - [`process`]: starting a node's process detached, and stopping it.
//! - [`log_files`]: a local node's log files; [`node_log`]: why a node failed, from its log.
//! - [`distribution`]: where Kafka (and Java) come from.
//! - [`security`]: a secure cluster's TLS, users and ACLs.
//! - [`schema_registry`]: the schema-registry sidecar (`up --schema-registry`).
//! - [`membership`]: brokers joining and leaving a running cluster (`add`, `remove`).
//! - [`faults`]: faults on purpose (`pause`, `isolate`, `slow`, `fill`, `heal`, `chaos`).

pub mod backend;
pub mod budget;
pub mod cli;
pub mod commands;
pub mod compose;
pub mod distribution;
pub mod faults;
pub mod health;
pub mod local;
pub mod lock;
pub mod log_files;
pub mod membership;
pub mod node_log;
pub mod oauth;
pub mod process;
pub mod profile;
pub mod schema_registry;
pub mod security;
pub mod topology;
pub mod wait;

use anyhow::Result;
use cli::{Cli, Command};
use kcore::state::ClusterState;
use kcore::Failure;
use lock::ClusterLock;

/// Run one parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    // Profiles are no cluster's: the cluster name does not matter to them.
    if let Some(Command::Profile(command)) = &cli.command {
        return profile::run(command);
    }
    validate_name(&cli.name)?;
    let name = cli.name.as_str();
    match cli.command {
        Some(Command::Profile(_)) => unreachable!("handled above"),
        None => Err(kcore::missing_command(&cli::cli())),
        Some(Command::Up(args)) => {
            let _lock = ClusterLock::acquire(name)?;
            commands::up(name, &args)
        }
        Some(Command::Add(args)) => {
            let _lock = ClusterLock::acquire(name)?;
            membership::add(load(name)?, &args)
        }
        Some(Command::Remove(args)) => {
            let _lock = ClusterLock::acquire(name)?;
            membership::remove(load(name)?, &args)
        }
        Some(Command::Status(args)) => commands::status(load(name)?, &args),
        Some(Command::Stop(args)) => {
            let _lock = ClusterLock::acquire(name)?;
            commands::stop(load(name)?, &args, true)
        }
        Some(Command::Kill(args)) => {
            let _lock = ClusterLock::acquire(name)?;
            commands::stop(load(name)?, &args, false)
        }
        Some(Command::Start(args)) => {
            let _lock = ClusterLock::acquire(name)?;
            commands::start(load(name)?, &args)
        }
        Some(
            command @ (Command::Pause(_)
            | Command::Resume(_)
            | Command::Isolate(_)
            | Command::Slow(_)
            | Command::Fill(_)
            | Command::Free(_)
            | Command::Heal(_)
            | Command::Chaos(_)),
        ) => {
            let _lock = ClusterLock::acquire(name)?;
            faults::command::run(load(name)?, command)
        }
        Some(Command::Logs(args)) => commands::logs(load(name)?, &args),
        Some(Command::Down(args)) => {
            let _lock = ClusterLock::acquire(name)?;
            match ClusterState::load(name) {
                Some(state) => commands::down(state, &args),
                // Nothing to stop: not an error (a script's clean-up may run twice).
                None => {
                    let why = kcore::state::no_such_cluster(name, NAMED_BY);
                    eprintln!("kcluster: {why}; nothing to do");
                    Ok(())
                }
            }
        }
        Some(Command::Env(args)) => env(name, &args),
        Some(Command::FetchKafka(args)) => {
            let dir = distribution::fetch(&args.version)?;
            // The class-data archive too, so that the first `up` starts as fast as the next.
            if let Ok(java) = distribution::java() {
                let dist = distribution::locate(&args.version, None, false)?;
                distribution::class_data::prepare(&dist, &java);
            }
            println!("{}", dir.display());
            Ok(())
        }
    }
}

/// `kcluster env`: the exports (or a saved profile) for a cluster.
fn env(name: &str, args: &cli::EnvArgs) -> Result<()> {
    let state = load(name)?;
    if let Some(profile) = &args.save_profile {
        let user = match (&args.user, state.secure || state.oauth_jwks.is_some()) {
            (None, false) => None,
            (Some(user), false) => {
                return Err(Failure::usage(format!(
                    "cluster '{name}' is open (not `up --secure`): it has no user '{user}'"
                ))
                .into())
            }
            (user, _) => {
                let user = user.as_deref().unwrap_or(security::ADMIN);
                security::env_lines(&state, user)?;
                Some(state.user_properties(user))
            }
        };
        return profile::save_cluster(&state, user.as_deref(), profile, args.force);
    }
    if state.secure || state.oauth_jwks.is_some() {
        let user = args.user.as_deref().unwrap_or(security::ADMIN);
        println!("{}", security::env_lines(&state, user)?);
    } else if let Some(user) = &args.user {
        return Err(Failure::usage(format!(
            "cluster '{name}' is open (not `up --secure`): it has no user '{user}'"
        ))
        .into());
    } else {
        println!("export KAFKA_BROKERS={}", state.bootstrap());
    }
    if let Some(registry) = &state.schema_registry {
        println!(
            "export {}={}",
            kcore::schema_registry::REGISTRY_VAR,
            registry.url()
        );
    }
    Ok(())
}

/// Where kcluster's cluster name comes from, for errors.
const NAMED_BY: &str = "-n/--name or KPIPES_CLUSTER";

fn load(name: &str) -> Result<ClusterState> {
    Ok(kcore::state::named_cluster(name, NAMED_BY)?)
}

/// Cluster names become directory names: keep them to a safe alphabet.
fn validate_name(name: &str) -> Result<()> {
    if kcore::state::is_safe_name(name) {
        Ok(())
    } else {
        Err(kcore::Failure::usage(format!(
            "bad cluster name '{name}': use letters, digits, '-', '_' and '.'"
        ))
        .into())
    }
}
