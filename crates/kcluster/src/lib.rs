//! kcluster: bring an Apache Kafka cluster up and down and fail its brokers on purpose.
//!
//! Two backends run the same clusters: [`local`] (JVM processes on this machine) and
//! [`compose`] (Docker containers through docker compose), each in KRaft or ZooKeeper
//! mode. This file picks the backend: `up` from `--backend` (auto: compose when a Docker
//! engine answers) for a new cluster, every later command from what `cluster.json`
//! recorded. Readiness waits and the JSON status lines are shared ([`health`]).

pub mod cli;
pub mod compose;
pub mod distribution;
pub mod health;
pub mod local;
pub mod lock;
pub mod node_log;
pub mod topology;

use anyhow::{Context, Result};
use cli::{BackendChoice, Cli, Command, Mode, UpArgs};
use kcore::state::ClusterState;
use kcore::Failure;
use lock::ClusterLock;

/// Where a cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    Compose,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::Compose => "compose",
        }
    }

    fn of(state: &ClusterState) -> Result<Backend> {
        match state.backend.as_str() {
            "local" => Ok(Backend::Local),
            "compose" => Ok(Backend::Compose),
            other => Err(anyhow::anyhow!(
                "cluster '{}' has an unknown backend '{other}' in its cluster.json",
                state.name
            )),
        }
    }
}

/// Run one parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    if let Some(what) = cli.generate {
        return kcore::generate::generate(cli::cli(), what);
    }
    validate_name(&cli.name)?;
    let name = cli.name.as_str();
    match cli.command {
        None => {
            cli::cli().print_help()?;
            Ok(())
        }
        Some(Command::Up(args)) => {
            let _lock = ClusterLock::acquire(name)?;
            up(name, &args)
        }
        Some(Command::Status) => {
            let state = load(name)?;
            match Backend::of(&state)? {
                Backend::Local => local::status(&state),
                Backend::Compose => compose::status(&state),
            }
        }
        Some(Command::Stop(args)) => stop(name, &args, true),
        Some(Command::Kill(args)) => stop(name, &args, false),
        Some(Command::Start(args)) => {
            let _lock = ClusterLock::acquire(name)?;
            let state = load(name)?;
            match Backend::of(&state)? {
                Backend::Local => local::start(&state, &args),
                Backend::Compose => compose::start(&state, &args),
            }
        }
        Some(Command::Logs(args)) => {
            let state = load(name)?;
            match Backend::of(&state)? {
                Backend::Local => local::logs(&state, &args),
                Backend::Compose => compose::logs(&state, &args),
            }
        }
        Some(Command::Down(args)) => {
            let _lock = ClusterLock::acquire(name)?;
            let Some(state) = ClusterState::load(name) else {
                eprintln!("kcluster: no cluster named '{name}'; nothing to do");
                return Ok(());
            };
            match Backend::of(&state)? {
                Backend::Local => local::down(&state, &args),
                Backend::Compose => compose::down(&state, &args),
            }
        }
        Some(Command::Env) => {
            let state = load(name)?;
            println!("export KAFKA_BROKERS={}", state.bootstrap());
            Ok(())
        }
        Some(Command::FetchKafka(args)) => {
            let dir = distribution::fetch(&args.version)?;
            println!("{}", dir.display());
            Ok(())
        }
    }
}

fn stop(name: &str, args: &cli::NodeArgs, graceful: bool) -> Result<()> {
    let _lock = ClusterLock::acquire(name)?;
    let state = load(name)?;
    match Backend::of(&state)? {
        Backend::Local => local::stop(&state, args, graceful),
        Backend::Compose => compose::stop(&state, args, graceful),
    }
}

/// `kcluster up`: an existing cluster keeps its backend and mode; a new one gets what was asked.
fn up(name: &str, args: &UpArgs) -> Result<()> {
    if let Some(state) = ClusterState::load(name) {
        let backend = Backend::of(&state)?;
        let mode = Mode::parse(&state.mode).ok_or_else(|| {
            anyhow::anyhow!(
                "cluster '{name}' has an unknown mode '{}' in its cluster.json",
                state.mode
            )
        })?;
        let asked_backend = match args.backend {
            BackendChoice::Auto => None,
            BackendChoice::Local => Some(Backend::Local),
            BackendChoice::Compose => Some(Backend::Compose),
        };
        let conflicts =
            asked_backend.is_some_and(|b| b != backend) || args.mode.is_some_and(|m| m != mode);
        if conflicts {
            return Err(Failure::usage(format!(
                "cluster '{name}' exists ({} backend, {} mode): `kcluster down --name {name}` first to change it",
                backend.as_str(),
                mode.as_str()
            ))
            .into());
        }
        return match backend {
            Backend::Local => local::up(name, args, mode, None),
            Backend::Compose => compose::up(name, args, mode, None),
        };
    }
    let mode = args.mode.unwrap_or(Mode::Kraft);
    match args.backend {
        BackendChoice::Local => local::up(name, args, mode, None),
        BackendChoice::Compose => compose::up(name, args, mode, None),
        BackendChoice::Auto => match compose::engine_answers().and_then(|()| compose::find_compose().map(|_| ())) {
            Ok(()) => compose::up(
                name,
                args,
                mode,
                Some("a Docker engine answers: using the compose backend (--backend local runs JVM processes instead)"),
            ),
            Err(why) => {
                let note = format!("using the local backend ({why}; --backend compose to insist)");
                local::up(name, args, mode, Some(&note))
            }
        },
    }
}

/// The end of `down` on either backend, once every node is stopped: keep the cluster's
/// directory (`--keep`), or remove it; and say which. `kept_also` names where else the
/// data lives, `removed` what went with it.
fn stopped(state: &ClusterState, keep: bool, kept_also: &str, removed: &str) -> Result<()> {
    let (name, dir) = (&state.name, state.dir());
    if keep {
        eprintln!(
            "kcluster: cluster '{name}' stopped; data kept in {kept_also}{}",
            dir.display()
        );
    } else {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        eprintln!("kcluster: cluster '{name}' stopped and {removed} removed");
    }
    Ok(())
}

fn load(name: &str) -> Result<ClusterState> {
    ClusterState::load(name).ok_or_else(|| {
        Failure::not_found(format!(
            "no cluster named '{name}' (start one with `kcluster up --name {name}`)"
        ))
        .into()
    })
}

/// Cluster names become directory names: keep them to a safe alphabet.
fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(kcore::Failure::usage(format!(
            "bad cluster name '{name}': use letters, digits, '-', '_' and '.'"
        ))
        .into())
    }
}
