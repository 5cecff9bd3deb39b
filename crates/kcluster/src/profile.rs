//! `kcluster profile ...` and `kcluster env --save-profile`: the command line of the named
//! connection profiles every tool reads with `--profile` (the files: [`kcore::profile`]).

use anyhow::{Context, Result};
use kcore::connection::{parse_broker_list, parse_property, read_properties_file};
use kcore::profile::{self, Profile, BROKERS_KEY, REGISTRY_URL_KEY};
use kcore::state::ClusterState;
use kcore::{Failure, JsonLines};

use crate::cli::{ProfileCommand, ProfileSaveArgs};

pub fn run(command: &ProfileCommand) -> Result<()> {
    match command {
        ProfileCommand::List(args) => {
            let names = profile::list()?;
            if args.names {
                for name in names {
                    println!("{name}");
                }
                return Ok(());
            }
            let mut out = JsonLines::stdout();
            for name in names {
                // A profile that does not parse is still listed, with why.
                let line = match Profile::load(&name) {
                    Ok(p) => serde_json::json!({
                        "name": name, "path": p.path, "brokers": p.brokers,
                        "schema_registry": p.registry.map(|r| r.url),
                    }),
                    Err(err) => serde_json::json!({
                        "name": name, "path": profile::profile_path(&name),
                        "error": kcore::failure::one_line(&err),
                    }),
                };
                out.emit(&line)?;
            }
            out.flush()
        }
        ProfileCommand::Show(name) => {
            let loaded = Profile::load(&name.profile)?;
            let text = std::fs::read_to_string(&loaded.path)
                .with_context(|| format!("reading {}", loaded.path.display()))?;
            print!("{}", profile::masked(&text));
            Ok(())
        }
        ProfileCommand::Save(args) => save(args),
        ProfileCommand::Delete(name) => {
            let loaded = Profile::load(&name.profile)?;
            std::fs::remove_file(&loaded.path)
                .with_context(|| format!("deleting {}", loaded.path.display()))?;
            eprintln!("kcluster: profile '{}' deleted", name.profile);
            Ok(())
        }
    }
}

fn save(args: &ProfileSaveArgs) -> Result<()> {
    let mut text = String::from(
        "# kpipes profile: librdkafka properties, plus bootstrap.servers and schema.registry.*\n",
    );
    if let Some(brokers) = &args.brokers {
        let brokers = parse_broker_list(brokers)
            .map_err(|msg| Failure::usage(format!("bad broker list from -b: {msg}")))?;
        text.push_str(&format!("{BROKERS_KEY}={brokers}\n"));
    }
    if let Some(path) = &args.config_file {
        for (key, value) in read_properties_file(path)? {
            text.push_str(&format!("{key}={value}\n"));
        }
    }
    for raw in &args.properties {
        let (key, value) = parse_property(raw).map_err(Failure::usage)?;
        text.push_str(&format!("{key}={value}\n"));
    }
    if let Some(url) = &args.schema_registry {
        text.push_str(&format!("{REGISTRY_URL_KEY}={url}\n"));
    }
    if !text.contains(&format!("\n{BROKERS_KEY}=")) {
        return Err(Failure::usage(
            "a profile needs its brokers: -b HOST:PORT (or bootstrap.servers in the -F file)",
        )
        .into());
    }
    written(
        &args.profile,
        profile::save(&args.profile, &text, args.force)?,
    )
}

/// `kcluster env --save-profile NAME`: the cluster's brokers, the user's properties (a
/// secure cluster's) and its schema registry, as a profile.
pub fn save_cluster(
    state: &ClusterState,
    user_file: Option<&std::path::Path>,
    name: &str,
    force: bool,
) -> Result<()> {
    let mut text = format!(
        "# kpipes profile of kcluster cluster '{}' (kcluster env --save-profile)\n{BROKERS_KEY}={}\n",
        state.name,
        state.bootstrap()
    );
    if let Some(path) = user_file {
        for (key, value) in read_properties_file(path)? {
            text.push_str(&format!("{key}={value}\n"));
        }
    }
    if let Some(registry) = &state.schema_registry {
        text.push_str(&format!("{REGISTRY_URL_KEY}={}\n", registry.url()));
    }
    written(name, profile::save(name, &text, force)?)
}

fn written(name: &str, path: std::path::PathBuf) -> Result<()> {
    eprintln!(
        "kcluster: profile '{name}' written to {} (use it with --profile {name})",
        path.display()
    );
    Ok(())
}
