//! kcluster: bring an Apache Kafka cluster up and down and fail its brokers on purpose.

pub mod cli;
pub mod distribution;
pub mod health;
pub mod local;
pub mod lock;

use anyhow::Result;
use cli::{Cli, Command};

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
        Some(Command::Up(args)) => local::up(name, &args),
        Some(Command::Status) => local::status(name),
        Some(Command::Stop(args)) => local::stop(name, &args, true),
        Some(Command::Kill(args)) => local::stop(name, &args, false),
        Some(Command::Start(args)) => local::start(name, &args),
        Some(Command::Logs(args)) => local::logs(name, &args),
        Some(Command::Down(args)) => local::down(name, &args),
        Some(Command::Env) => local::env(name),
        Some(Command::FetchKafka(args)) => {
            let dir = distribution::fetch(&args.version)?;
            println!("{}", dir.display());
            Ok(())
        }
    }
}

/// Cluster names become directory names: keep them to a safe alphabet.
fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(kcore::Failure::usage(format!("bad cluster name '{name}': use letters, digits, '-', '_' and '.'")).into())
    }
}
