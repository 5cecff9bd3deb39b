//! Named profiles: one plain file per cluster a user connects to, so that switching
//! clusters is `--profile NAME` (or `KPIPES_PROFILE=NAME`) instead of retyping `-b`, `-F`
//! and `-X`.
//!
//! A profile is `PROFILES_DIR/NAME.properties`, the `key=value` format `-F` reads: every
//! librdkafka property, plus
//! - `bootstrap.servers`: the brokers (what `-b` gives);
//! - `schema.registry.url`, `schema.registry.basic.auth.user.info` (`USER:PASSWORD`) and
//!   `schema.registry.ssl.ca.location` (a PEM file): the Schema Registry, for kcons and kprod,
//!   named as Confluent's clients name them.
//!
//! `PROFILES_DIR` is `$KPIPES_CONFIG_DIR/profiles`, else `$XDG_CONFIG_HOME/kpipes/profiles`,
//! else `~/.config/kpipes/profiles`. Which setting wins over which is [`crate::connection`]'s.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::connection::{is_secret_key, parse_broker_list, parse_properties_text};
use crate::failure::Failure;

/// The environment variable naming the profile every tool uses when `--profile` is not given.
pub const PROFILE_VAR: &str = "KPIPES_PROFILE";

/// The profile keys that are kpipes' own, not librdkafka's.
pub const BROKERS_KEY: &str = "bootstrap.servers";
pub const REGISTRY_URL_KEY: &str = "schema.registry.url";
pub const REGISTRY_USER_INFO_KEY: &str = "schema.registry.basic.auth.user.info";
pub const REGISTRY_CA_KEY: &str = "schema.registry.ssl.ca.location";

/// The directory holding the profiles.
pub fn profiles_dir() -> PathBuf {
    let base = if let Some(dir) = std::env::var_os("KPIPES_CONFIG_DIR").filter(|d| !d.is_empty()) {
        PathBuf::from(dir)
    } else if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        PathBuf::from(dir).join("kpipes")
    } else {
        let home = std::env::var_os("HOME").unwrap_or_else(|| "/".into());
        PathBuf::from(home).join(".config/kpipes")
    };
    base.join("profiles")
}

/// The file of profile `name`.
pub fn profile_path(name: &str) -> PathBuf {
    profiles_dir().join(format!("{name}.properties"))
}

/// Profile names become file names: the same safe alphabet as cluster names.
pub fn check_name(name: &str) -> Result<()> {
    if crate::state::is_safe_name(name) {
        Ok(())
    } else {
        Err(Failure::usage(format!(
            "bad profile name '{name}': use letters, digits, '-', '_' and '.'"
        ))
        .into())
    }
}

/// A profile's Schema Registry settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileRegistry {
    pub url: String,
    /// `USER:PASSWORD` for basic auth.
    pub user_info: Option<String>,
    pub ca: Option<PathBuf>,
}

/// A profile as read from its file.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub path: PathBuf,
    /// `bootstrap.servers`, validated as `-b` is.
    pub brokers: Option<String>,
    /// The librdkafka properties, in file order (without the keys above).
    pub properties: Vec<(String, String)>,
    pub registry: Option<ProfileRegistry>,
}

impl Profile {
    /// Read profile `name`: exit 6 when there is no such profile, 2 when it cannot be read
    /// or a line is malformed; either way one line naming it.
    pub fn load(name: &str) -> Result<Profile> {
        check_name(name)?;
        let path = profile_path(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let known = list().unwrap_or_default();
                let known = if known.is_empty() {
                    "there are none yet: `kcluster profile save NAME -b HOST:PORT`".to_string()
                } else {
                    format!("profiles: {}", known.join(", "))
                };
                return Err(Failure::not_found(format!(
                    "no profile named '{name}' ({} does not exist; {known})",
                    path.display()
                ))
                .into());
            }
            Err(err) => {
                return Err(Failure::usage(format!(
                    "cannot read profile '{name}' ({}): {err}",
                    path.display()
                ))
                .into())
            }
        };
        Profile::parse(name, &path, &text)
    }

    /// A profile from the text of its file.
    pub fn parse(name: &str, path: &Path, text: &str) -> Result<Profile> {
        let bad = |msg: String| -> anyhow::Error {
            Failure::usage(format!("profile '{name}' ({}:{msg})", path.display())).into()
        };
        let mut profile = Profile {
            name: name.to_string(),
            path: path.to_path_buf(),
            brokers: None,
            properties: Vec::new(),
            registry: None,
        };
        let mut registry = ProfileRegistry::default();
        for (key, value) in parse_properties_text(text).map_err(bad)? {
            match key.as_str() {
                BROKERS_KEY => {
                    profile.brokers = Some(
                        parse_broker_list(&value)
                            .map_err(|msg| bad(format!(" {BROKERS_KEY}: {msg})")))?,
                    )
                }
                REGISTRY_URL_KEY => registry.url = value,
                REGISTRY_USER_INFO_KEY => registry.user_info = Some(value),
                REGISTRY_CA_KEY => registry.ca = Some(PathBuf::from(value)),
                _ => profile.properties.push((key, value)),
            }
        }
        if !registry.url.is_empty() {
            profile.registry = Some(registry);
        }
        Ok(profile)
    }
}

/// The names of the profiles there are, sorted.
pub fn list() -> Result<Vec<String>> {
    let dir = profiles_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("reading {}", dir.display())),
    };
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".properties")?;
            check_name(stem).ok().map(|()| stem.to_string())
        })
        .collect();
    names.sort();
    Ok(names)
}

/// A profile file's text with every secret value replaced by `***` (comments kept).
pub fn masked(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        let secret = !(trimmed.starts_with('#') || trimmed.starts_with('!'))
            && trimmed
                .split_once('=')
                .is_some_and(|(key, value)| is_secret_key(key.trim()) && !value.trim().is_empty());
        match line.split_once('=') {
            Some((key, _)) if secret => {
                out.push_str(key);
                out.push_str("=***");
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Write profile `name` (mode 0600: it may hold passwords); refuse to replace one unless `force`.
pub fn save(name: &str, text: &str, force: bool) -> Result<PathBuf> {
    check_name(name)?;
    let path = profile_path(name);
    // The text must read back as a profile.
    Profile::parse(name, &path, text)?;
    let dir = profiles_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut options = OpenOptions::new();
    options.write(true).mode(0o600);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(&path).map_err(|err| -> anyhow::Error {
        if err.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::usage(format!(
                "profile '{name}' exists ({}): --force to replace it",
                path.display()
            ))
            .into()
        } else {
            anyhow::Error::new(err).context(format!("writing {}", path.display()))
        }
    })?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_splits_kpipes_keys_from_librdkafka_properties() {
        let text = "# prod\nbootstrap.servers = a:1, b:2\nsecurity.protocol=SASL_SSL\n\
                    schema.registry.url=https://sr:8081\nschema.registry.basic.auth.user.info=u:p\n";
        let profile = Profile::parse("prod", Path::new("/x/prod.properties"), text).unwrap();
        assert_eq!(profile.brokers.as_deref(), Some("a:1,b:2"));
        assert_eq!(
            profile.properties,
            vec![("security.protocol".into(), "SASL_SSL".into())]
        );
        let registry = profile.registry.unwrap();
        assert_eq!(registry.url, "https://sr:8081");
        assert_eq!(registry.user_info.as_deref(), Some("u:p"));
    }

    #[test]
    fn bad_lines_name_the_profile_and_line() {
        let err = Profile::parse(
            "p",
            Path::new("/x/p.properties"),
            "acks=1\nbootstrap.servers=nope\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("profile 'p'") && err.contains("no port"),
            "{err}"
        );
        let err = Profile::parse("p", Path::new("/x/p.properties"), "oops\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("p.properties:1:"), "{err}");
    }

    #[test]
    fn secrets_are_masked() {
        let shown = masked("sasl.password=hunter2\nsasl.username=u\n# password=x\nschema.registry.basic.auth.user.info=u:p\nsasl.oauthbearer.client.secret=s3\n");
        assert!(
            !shown.contains("hunter2") && !shown.contains("u:p") && !shown.contains("s3"),
            "{shown}"
        );
        assert!(
            shown.contains("sasl.password=***") && shown.contains("sasl.username=u"),
            "{shown}"
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("prod-eu_1.a").is_ok());
        for bad in ["", "../x", ".hidden", "a b", "a/b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
