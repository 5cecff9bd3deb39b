//! Connection settings shared by every tool: where the brokers are and which
//! librdkafka properties to pass, in the order users know from kcat.
//!
//! The command line beats the environment, and either beats a profile it names less
//! directly. Brokers come from, first found wins: `-b/--brokers`, the `--profile`'s
//! `bootstrap.servers`, `KAFKA_BROKERS`, the `KPIPES_PROFILE`'s, a running cluster
//! started by kcluster, the seed cluster's default ports.
//! A cluster named by `KPIPES_CLUSTER` must exist (exit 6), and must be the one
//! `KAFKA_BROKERS` names when both are set.
//! Properties come from, first to last (later wins): the tool's own defaults, a
//! kcluster cluster's own (when the brokers were found that way), the `KPIPES_PROFILE`'s,
//! the file named by `KPIPES_CONFIG_FILE`, the `--profile`'s, `-F/--config-file`, then each
//! `-X key=value`. A profile named by `--profile` stands for the whole connection: the
//! environment's `KAFKA_BROKERS` and `KPIPES_CONFIG_FILE` (and `KPIPES_SCHEMA_REGISTRY`) are
//! not read then, so a shell set up for one cluster reaches another with `--profile` alone.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use rdkafka::config::{FromClientConfigAndContext, RDKafkaLogLevel};
use rdkafka::ClientConfig;

use crate::failure::Failure;
use crate::profile::{Profile, PROFILE_VAR};

/// The librdkafka handle under an rdkafka client, for what rdkafka does not wrap.
pub trait NativeHandle {
    fn native_handle(&self) -> *mut rdkafka::bindings::rd_kafka_t;
}

impl<C: rdkafka::ClientContext> NativeHandle for rdkafka::client::Client<C> {
    fn native_handle(&self) -> *mut rdkafka::bindings::rd_kafka_t {
        self.native_ptr()
    }
}

impl<C, P> NativeHandle for rdkafka::producer::BaseProducer<C, P>
where
    C: rdkafka::producer::ProducerContext<P>,
    P: rdkafka::producer::Partitioner,
{
    fn native_handle(&self) -> *mut rdkafka::bindings::rd_kafka_t {
        rdkafka::producer::Producer::client(self).native_ptr()
    }
}

impl<C: rdkafka::consumer::ConsumerContext> NativeHandle for rdkafka::consumer::BaseConsumer<C> {
    fn native_handle(&self) -> *mut rdkafka::bindings::rd_kafka_t {
        rdkafka::consumer::Consumer::client(self).native_ptr()
    }
}

impl<C: rdkafka::ClientContext> NativeHandle for rdkafka::admin::AdminClient<C> {
    fn native_handle(&self) -> *mut rdkafka::bindings::rd_kafka_t {
        self.inner().native_ptr()
    }
}

/// The seed cluster's host listeners (`localhost:29092/39092/49092`).
pub const DEFAULT_BROKERS: &str = "localhost:29092,localhost:39092,localhost:49092";

/// The environment variable naming a properties file read before `-F` and `-X`
/// (`kcluster env` sets it for a secure cluster).
pub const CONFIG_FILE_VAR: &str = "KPIPES_CONFIG_FILE";

/// `Connection::brokers_source` when the brokers are a running kcluster cluster's.
pub const FROM_CLUSTER: &str = "the running kcluster cluster";

/// Flags every tool that talks to Kafka accepts.
#[derive(Args, Debug, Clone, Default)]
pub struct ConnectionArgs {
    /// Bootstrap brokers, comma separated [env: KAFKA_BROKERS; else a running kcluster cluster; else localhost:29092,localhost:39092,localhost:49092]
    #[arg(
        short = 'b',
        long = "brokers",
        value_name = "HOST:PORT,...",
        global = true
    )]
    pub brokers: Option<String>,

    /// librdkafka property, as kcat's -X (repeatable), e.g. -X compression.type=lz4
    #[arg(short = 'X', value_name = "KEY=VALUE", global = true)]
    pub properties: Vec<String>,

    /// Read librdkafka properties (key=value lines, # comments) from FILE before any -X [after the file in env KPIPES_CONFIG_FILE]
    #[arg(short = 'F', long = "config-file", value_name = "FILE", global = true)]
    pub config_file: Option<PathBuf>,

    /// Connect as profile NAME says (a file of brokers and properties, see `kcluster profile`); -b, -F and -X still win [env: KPIPES_PROFILE, below KAFKA_BROKERS and KPIPES_CONFIG_FILE]
    #[arg(long = "profile", value_name = "NAME", global = true)]
    pub profile: Option<String>,

    /// Seconds to wait for the brokers to answer before giving up
    #[arg(
        long = "timeout",
        value_name = "SECONDS",
        default_value = "10",
        global = true
    )]
    pub timeout: f64,

    /// Show librdkafka's own log lines on stderr (-vv: debug)
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

/// Resolved, validated connection settings.
#[derive(Debug, Clone)]
pub struct Connection {
    pub brokers: String,
    /// Where the broker list came from, for error messages.
    pub brokers_source: &'static str,
    /// `(key, value)` pairs from the config file then `-X`, in order.
    pub properties: Vec<(String, String)>,
    pub timeout: Duration,
    pub verbose: u8,
    /// The profile in use, if any.
    pub profile: Option<ChosenProfile>,
}

/// The profile a connection uses, and how it was named.
#[derive(Debug, Clone)]
pub struct ChosenProfile {
    pub profile: Profile,
    /// By `--profile` (else by `KPIPES_PROFILE`).
    pub by_flag: bool,
}

impl ChosenProfile {
    /// What error messages call it: `profile 'prod' (--profile)`.
    pub fn source(&self) -> String {
        let how = if self.by_flag {
            "--profile"
        } else {
            PROFILE_VAR
        };
        format!("profile '{}' ({how})", self.profile.name)
    }
}

impl ConnectionArgs {
    /// Validate the flags and settle where the brokers are.
    pub fn resolve(&self) -> Result<Connection> {
        // A cluster named by KPIPES_CLUSTER must exist, whatever else says where the
        // brokers are: a misspelt name never reaches another cluster.
        let named = crate::state::cluster_from_env()?;
        let chosen = match &self.profile {
            Some(name) => Some(ChosenProfile {
                profile: Profile::load(name)?,
                by_flag: true,
            }),
            None => match std::env::var(PROFILE_VAR).ok().filter(|n| !n.is_empty()) {
                Some(name) => Some(ChosenProfile {
                    profile: Profile::load(&name)
                        .map_err(|err| with_source(err, &format!("from {PROFILE_VAR}")))?,
                    by_flag: false,
                }),
                None => None,
            },
        };
        let flag_profile = chosen.as_ref().filter(|c| c.by_flag);
        let env_profile = chosen.as_ref().filter(|c| !c.by_flag);
        // With --profile, the environment's connection settings are not read.
        let env = |var: &str| {
            if flag_profile.is_some() {
                None
            } else {
                std::env::var_os(var).filter(|v| !v.is_empty())
            }
        };
        // A kcluster cluster found by itself also says how to reach it.
        let mut cluster_properties = None;
        let (raw, source): (String, &'static str) = if let Some(list) = &self.brokers {
            (list.clone(), "-b/--brokers")
        } else if let Some((list, c)) = profile_brokers(flag_profile) {
            (list, leak(c.source()))
        } else if let Some(list) = env("KAFKA_BROKERS") {
            let list = list.to_string_lossy().into_owned();
            if let Some(state) = &named {
                if !same_brokers(&list, &state.bootstrap()) {
                    return Err(Failure::usage(format!(
                        "{} names cluster '{}' ({}), but KAFKA_BROKERS is {list}: unset one of them",
                        crate::state::CLUSTER_VAR,
                        state.name,
                        state.bootstrap()
                    ))
                    .into());
                }
            }
            (list, "KAFKA_BROKERS")
        } else if let Some((list, c)) = profile_brokers(env_profile) {
            (list, leak(c.source()))
        } else if let Some(c) = &chosen {
            return Err(Failure::usage(format!(
                "{} has no bootstrap.servers: add a line `bootstrap.servers=HOST:PORT` to {}, or give -b",
                c.source(),
                c.profile.path.display()
            ))
            .into());
        } else {
            match named.or(crate::state::running_cluster()?) {
                Some(state) => {
                    cluster_properties = state.client_properties();
                    (state.bootstrap(), FROM_CLUSTER)
                }
                None => (DEFAULT_BROKERS.to_string(), "the default"),
            }
        };
        let brokers = parse_broker_list(&raw)
            .map_err(|msg| Failure::usage(format!("bad broker list from {source}: {msg}")))?;
        let mut properties = Vec::new();
        if let Some(path) = &cluster_properties {
            properties.extend(read_properties_file(path)?);
        }
        if let Some(c) = env_profile {
            properties.extend(c.profile.properties.iter().cloned());
        }
        if let Some(path) = env(CONFIG_FILE_VAR) {
            properties.extend(
                read_properties_file(Path::new(&path))
                    .map_err(|err| Failure::usage(format!("{} (from {CONFIG_FILE_VAR})", err)))?,
            );
        }
        if let Some(c) = flag_profile {
            properties.extend(c.profile.properties.iter().cloned());
        }
        if let Some(path) = &self.config_file {
            properties.extend(read_properties_file(path)?);
        }
        for raw in &self.properties {
            properties.push(parse_property(raw).map_err(Failure::usage)?);
        }
        if !(self.timeout.is_finite() && self.timeout > 0.0 && self.timeout <= 86_400.0) {
            return Err(Failure::usage(format!(
                "--timeout must be a number of seconds between 0 and 86400, got {}",
                self.timeout
            ))
            .into());
        }
        Ok(Connection {
            brokers,
            brokers_source: source,
            properties,
            timeout: Duration::from_secs_f64(self.timeout),
            verbose: self.verbose,
            profile: chosen,
        })
    }
}

/// A profile's brokers, if it is given and names them.
fn profile_brokers(chosen: Option<&ChosenProfile>) -> Option<(String, &ChosenProfile)> {
    chosen.and_then(|c| Some((c.profile.brokers.clone()?, c)))
}

/// A profile's name in `Connection::brokers_source`, which error messages of every tool
/// take as `&'static str`: made once per run, so kept for the run.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// `err` with `(what)` after its message, keeping its exit code.
fn with_source(err: anyhow::Error, what: &str) -> anyhow::Error {
    let code = crate::failure::exit_code_for(&err);
    Failure::new(code, format!("{} ({what})", crate::failure::one_line(&err))).into()
}

/// librdkafka settings every tool starts from (a tool's own defaults and `-X` override them).
const COMMON_DEFAULTS: &[(&str, &str)] = &[
    // librdkafka (2.10+) drops its bootstrap connection once the first metadata answer
    // names the real brokers; a request still waiting on it is retried on a new
    // connection, which is held back until the sparse-connection interval has passed:
    // reconnect.backoff.ms / 2, so 50 ms at the default of 100. That race cost ~40% of
    // start-ups 50 ms (kprod one record: 20 ms or 70 ms). At 10 the interval is librdkafka's
    // floor of 11 ms; retries of a down broker still back off exponentially from there.
    ("reconnect.backoff.ms", "10"),
    // Connect to every broker the cluster names as soon as it names them. With sparse
    // connections (librdkafka's default) the next connection, to the partition leader or for
    // a request caught on the dropped bootstrap connection, waited out the sparse-connection
    // interval (11 ms at least): half of `ktopic describe` runs took 20 ms instead of 8, and
    // `echo x | kprod` 26 ms at the median instead of 12 (kcat 2.0: 6 and 14).
    ("enable.sparse.connections", "false"),
];

impl Connection {
    /// A librdkafka config: `defaults` first, then the user's properties on top.
    pub fn client_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        // Which tool on which machine: `kgroup describe --members` tells consumers apart by it.
        config.set("client.id", client_id());
        for (key, value) in COMMON_DEFAULTS.iter().chain(defaults) {
            config.set(*key, *value);
        }
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config.set_log_level(match self.verbose {
            // Info, not Warning: a connection closed before the first answer (a plaintext
            // client on a TLS listener) is logged at that level, and a timeout must say
            // why. Without -v nothing is shown (see QuietContext).
            0 => RDKafkaLogLevel::Info,
            1 => RDKafkaLogLevel::Info,
            _ => RDKafkaLogLevel::Debug,
        });
        config
    }

    /// The value of a property as the client will see it (user's value, else `default`).
    pub fn property<'a>(&'a self, key: &str) -> Option<&'a str> {
        self.properties
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Create an rdkafka client; librdkafka's complaints about properties come back
    /// as usage errors with secret values masked.
    pub fn create<T, C>(&self, defaults: &[(&str, &str)], context: C) -> Result<T>
    where
        T: FromClientConfigAndContext<C> + NativeHandle,
        C: rdkafka::ClientContext,
    {
        self.create_from(self.client_config(defaults), context)
    }

    /// Create an rdkafka client from a config made by [`Connection::client_config`] (and
    /// changed by the caller). Every kpipes client is made here: it is created without its
    /// brokers, given the guard against TCP self-connections ([`crate::self_connection`]),
    /// and only then told where the brokers are.
    pub fn create_from<T, C>(&self, mut config: ClientConfig, context: C) -> Result<T>
    where
        T: FromClientConfigAndContext<C> + NativeHandle,
        C: rdkafka::ClientContext,
    {
        let brokers = config
            .get("bootstrap.servers")
            .unwrap_or(&self.brokers)
            .to_string();
        config.remove("bootstrap.servers");
        crate::msk_iam::apply(&mut config, &brokers)?;
        crate::kerberos::apply(&mut config)?;
        let client: T = config.create_with_context(context).map_err(|err| {
            let why = match &err {
                rdkafka::error::KafkaError::ClientConfig(_, desc, key, _) => {
                    format!("bad librdkafka property '{key}': {desc}")
                }
                // Properties that are fine alone but not together.
                rdkafka::error::KafkaError::ClientCreation(why) => {
                    format!("bad librdkafka properties: {why}")
                }
                other => other.to_string(),
            };
            Failure::usage(self.redact(&why))
        })?;
        // SAFETY: a live client, created without bootstrap.servers a moment ago.
        unsafe { crate::msk_iam::set_first_token(client.native_handle(), &config)? };
        // SAFETY: as above.
        unsafe { crate::self_connection::guard_and_connect(client.native_handle(), &brokers)? };
        Ok(client)
    }

    /// `text` with every secret property value replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (key, value) in &self.properties {
            if is_secret_key(key) && !value.is_empty() {
                text = text.replace(value.as_str(), "***");
            }
        }
        text
    }

    pub fn timeout_ms(&self) -> String {
        self.timeout.as_millis().to_string()
    }
}

/// `tool@host`: the program's own name (kcons, kprod, ...) and this machine's.
pub fn client_id() -> String {
    let tool = std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "kpipes".to_string());
    format!("{tool}@{}", hostname())
}

/// This machine's host name ("localhost" if it has none).
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    if ok && !name.is_empty() {
        name
    } else {
        "localhost".to_string()
    }
}

/// Keys whose values must never be shown (error messages, debug output).
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "sasl.jaas",
        "oauthbearer.config",
        "ssl.key.pem",
        "private",
        // A Schema Registry's USER:PASSWORD (schema.registry.basic.auth.user.info).
        "basic.auth.user.info",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// Parse `host:port[,host:port...]`, allowing `[v6]:port` and a `scheme://` prefix.
pub fn parse_broker_list(raw: &str) -> std::result::Result<String, String> {
    let entries: Vec<&str> = raw
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if entries.is_empty() {
        return Err("it is empty (expected host:port[,host:port...])".into());
    }
    for entry in &entries {
        let address = entry.split_once("://").map_or(*entry, |(_, rest)| rest);
        let (host, port) = address
            .rsplit_once(':')
            .ok_or_else(|| format!("'{entry}' has no port (expected host:port)"))?;
        let host_ok = if let Some(inner) = host.strip_prefix('[') {
            inner.strip_suffix(']').is_some_and(|v6| !v6.is_empty())
        } else {
            !host.is_empty() && !host.contains(['[', ']', ':', ' ', '/'])
        };
        if !host_ok {
            return Err(format!("'{entry}' has a bad host (expected host:port)"));
        }
        match port.parse::<u32>() {
            Ok(1..=65535) => {}
            _ => {
                return Err(format!(
                    "'{entry}' has a bad port '{port}' (expected 1-65535)"
                ))
            }
        }
    }
    Ok(entries.join(","))
}

/// True when two broker lists name the same brokers (in any order).
fn same_brokers(a: &str, b: &str) -> bool {
    let set = |list: &str| {
        let mut items: Vec<String> = list
            .split(',')
            .map(|e| e.trim().to_ascii_lowercase())
            .filter(|e| !e.is_empty())
            .collect();
        items.sort();
        items
    };
    set(a) == set(b)
}

/// Parse one `-X key=value`.
pub fn parse_property(raw: &str) -> std::result::Result<(String, String), String> {
    // What may be echoed: for a secret key, the key alone. Without an `=`, the key is taken
    // to end at the first `:` or space, the separators people use by mistake (Java style).
    let shown = |key: &str| {
        if is_secret_key(key) {
            let end = key
                .find(|c: char| c == ':' || c.is_whitespace())
                .unwrap_or(key.len());
            format!("{}=***", &key[..end])
        } else {
            raw.to_string()
        }
    };
    let (key, value) = raw
        .split_once('=')
        .ok_or_else(|| format!("bad -X '{}': expected key=value", shown(raw)))?;
    let key = key.trim();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(format!(
            "bad -X '{}': the key is empty or has spaces",
            shown(key)
        ));
    }
    Ok((key.to_string(), value.to_string()))
}

/// Read `key=value` lines; blank lines and `#`/`!` comments are skipped.
pub fn read_properties_file(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))
        .map_err(|err| Failure::usage(crate::failure::one_line(&err)))?;
    parse_properties_text(&text)
        .map_err(|msg| Failure::usage(format!("{}:{}", path.display(), msg)).into())
}

/// The text of a properties file: `key=value` lines; blank lines and `#`/`!` comments
/// are skipped, keys and values trimmed. An error reads `LINE: what is wrong`.
pub fn parse_properties_text(text: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let mut properties = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let property = parse_property(line)
            .map_err(|msg| format!("{}: {}", index + 1, msg.replacen("-X ", "", 1)))?;
        properties.push((property.0, property.1.trim().to_string()));
    }
    Ok(properties)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_lists() {
        assert_eq!(parse_broker_list(" a:1 , b:2,").unwrap(), "a:1,b:2");
        assert!(parse_broker_list("[::1]:9092").is_ok());
        assert!(parse_broker_list("PLAINTEXT://kafka-1:9092").is_ok());
        assert!(parse_broker_list("").unwrap_err().contains("empty"));
        assert!(parse_broker_list(" , ").unwrap_err().contains("empty"));
        assert!(parse_broker_list("localhost")
            .unwrap_err()
            .contains("no port"));
        assert!(parse_broker_list("localhost:0")
            .unwrap_err()
            .contains("bad port"));
        assert!(parse_broker_list("localhost:99999")
            .unwrap_err()
            .contains("bad port"));
        assert!(parse_broker_list("localhost:x1")
            .unwrap_err()
            .contains("bad port"));
        assert!(parse_broker_list(":9092").unwrap_err().contains("bad host"));
        assert!(parse_broker_list("a b:9092")
            .unwrap_err()
            .contains("bad host"));
    }

    #[test]
    fn properties() {
        assert_eq!(
            parse_property("acks=all").unwrap(),
            ("acks".into(), "all".into())
        );
        assert_eq!(parse_property("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_property("acks")
            .unwrap_err()
            .contains("expected key=value"));
        assert!(parse_property("=x").unwrap_err().contains("key is empty"));
        assert!(parse_property("a b=x").unwrap_err().contains("spaces"));
    }

    #[test]
    fn secrets_are_not_echoed() {
        let err = parse_property("sasl.password").unwrap_err();
        assert!(!err.contains("sasl.password'"), "{err}");
        for raw in [
            "sasl.password:S3CRET",
            "sasl.password S3CRET",
            "ssl.key.password:\tS3CRET",
        ] {
            let err = parse_property(raw).unwrap_err();
            assert!(!err.contains("S3CRET"), "{err}");
            assert!(err.contains("password=***"), "{err}");
        }
        let conn = Connection {
            brokers: "a:1".into(),
            brokers_source: "test",
            properties: vec![("sasl.password".into(), "hunter2".into())],
            timeout: Duration::from_secs(1),
            verbose: 0,
            profile: None,
        };
        assert_eq!(
            conn.redact("bad value hunter2 for x"),
            "bad value *** for x"
        );
    }

    #[test]
    fn properties_file() {
        let dir = std::env::temp_dir().join(format!("kcore-props-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("client.properties");
        std::fs::write(&path, "# comment\n\nacks = all\nlinger.ms=5\n").unwrap();
        let props = read_properties_file(&path).unwrap();
        assert_eq!(
            props,
            vec![
                ("acks".into(), "all".into()),
                ("linger.ms".into(), "5".into())
            ]
        );
        std::fs::write(&path, "acks=all\nnonsense\n").unwrap();
        let err = read_properties_file(&path).unwrap_err().to_string();
        assert!(err.contains(":2:"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn timeout_must_be_positive() {
        let args = ConnectionArgs {
            brokers: Some("a:1".into()),
            timeout: 0.0,
            ..Default::default()
        };
        assert!(args.resolve().is_err());
    }

    /// The librdkafka kpipes links has every feature the README promises: a build that
    /// silently lacks one (libcurl not found when librdkafka was configured, say) fails
    /// here rather than at a user's login. librdkafka refuses a property of a missing
    /// feature when it is set, so setting one of each is the check.
    #[test]
    fn librdkafka_has_every_feature_kpipes_documents() {
        use rdkafka::producer::BaseProducer;
        for (feature, key, value) in [
            ("OIDC (libcurl)", "sasl.oauthbearer.method", "oidc"),
            ("OIDC (libcurl)", "sasl.oauthbearer.client.secret", "s"),
            ("Kerberos (GSSAPI)", "sasl.kerberos.service.name", "kafka"),
            (
                "TLS (OpenSSL)",
                "ssl.endpoint.identification.algorithm",
                "https",
            ),
            ("zstd", "compression.type", "zstd"),
            ("gzip (zlib)", "compression.type", "gzip"),
        ] {
            let made = ClientConfig::new()
                .set("bootstrap.servers", "localhost:1")
                .set(key, value)
                .create::<BaseProducer>();
            if let Err(e) = made {
                panic!("librdkafka was built without {feature}: {key}={value}: {e}");
            }
        }
    }
}
