//! Secure clusters (`kcluster up --secure`, local backend, KRaft or ZooKeeper mode):
//! everything about TLS, SASL and ACLs lives here.
//!
//! - A CA of the cluster's own and one broker certificate signed by it (valid for
//!   `localhost` and `127.0.0.1`, for server and client use), made with `openssl`.
//!   `ca.pem` is in the cluster's directory; the keys are in `security/` (mode 0600).
//! - The client listeners speak SASL_SSL with SCRAM-SHA-512. Two users are created when
//!   the storage is formatted (Kafka's `--add-scram`): `admin`, a super user the brokers
//!   also use between themselves, and `reader`, who may describe and consume every topic
//!   and use every group, but not produce or create. Passwords are random per cluster.
//! - KRaft: the controller listener speaks TLS with client certificates (SCRAM cannot
//!   serve there: its credentials live in the metadata the controllers serve): only a
//!   holder of the broker key gets in, as the super user `CN=kcluster-broker`.
//!   ZooKeeper mode: the users are created in ZooKeeper (Kafka's ConfigCommand) before the
//!   first broker starts; ZooKeeper itself stays open, on loopback only.
//! - The standard authorizer denies what no ACL allows; the reader's ACLs are created
//!   with the admin's credentials once the brokers serve (every `up`: it is idempotent).
//! - `admin.properties` and `reader.properties` (mode 0600) hold each user's librdkafka
//!   settings; the tools read the admin's when they find the cluster by themselves, and
//!   `kcluster env [--user U]` points `KPIPES_CONFIG_FILE` at one.
//!
//! No secret is ever on a command line: openssl needs none (the keys are unencrypted in
//! a 0700 directory), and Kafka's tools read their arguments from an `@argfile`.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use kcore::admin::acls::{self, Allow, Operation, Resource};
use kcore::state::{ClusterState, NodeState};
use kcore::{Connection, Failure, QuietContext};
use rdkafka::admin::AdminClient;

/// The users of a secure cluster.
pub const ADMIN: &str = "admin";
pub const READER: &str = "reader";
pub const USERS: [&str; 2] = [ADMIN, READER];

/// The SASL mechanism of the client listeners.
const MECHANISM: &str = "SCRAM-SHA-512";

/// The broker certificate's subject: its principal on the controller listener.
const BROKER_CN: &str = "kcluster-broker";

/// Days the CA and the broker certificate are valid.
const VALID_DAYS: &str = "3650";

/// The directory of the keys and what made them.
fn secrets_dir(state: &ClusterState) -> PathBuf {
    state.dir().join("security")
}

/// The CA certificate clients trust.
pub fn ca_file(state: &ClusterState) -> PathBuf {
    state.dir().join("ca.pem")
}

/// The broker's key, its certificate and the CA's, in one PEM file (Kafka's PEM keystore).
fn keystore(state: &ClusterState) -> PathBuf {
    secrets_dir(state).join("broker-keystore.pem")
}

/// `--secure` is for the local backend (either mode).
pub fn check_supported(backend: kcore::state::Backend, _mode: kcore::state::Mode) -> Result<()> {
    if backend != kcore::state::Backend::Local {
        return Err(Failure::usage(
            "--secure needs the local backend (--backend local); the compose files are open clusters",
        )
        .into());
    }
    which("openssl").ok_or_else(|| {
        Failure::environment(
            "--secure needs `openssl` on PATH to make the cluster's CA (scripts/setup installs it)",
        )
    })?;
    Ok(())
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}

/// Make a new secure cluster's CA, broker keystore, passwords and client property files.
/// The cluster's directory becomes private to its owner (0700).
pub fn prepare(state: &ClusterState) -> Result<()> {
    let dir = state.dir();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} private", dir.display()))?;
    let secrets = secrets_dir(state);
    fs::create_dir_all(&secrets).with_context(|| format!("creating {}", secrets.display()))?;
    fs::set_permissions(&secrets, fs::Permissions::from_mode(0o700))?;
    make_certificates(state)?;
    for user in USERS {
        let password = random_password()?;
        write_private(
            &state.user_properties(user),
            &user_properties_text(state, user, &password),
        )?;
    }
    Ok(())
}

fn openssl(what: &str, args: &[&str], cwd: &Path) -> Result<()> {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running openssl ({what})"))?;
    if !output.status.success() {
        bail!(
            "openssl failed making {what}: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no output")
        );
    }
    Ok(())
}

/// The CA (`ca.pem`, key in `security/ca.key`) and the broker's keystore.
fn make_certificates(state: &ClusterState) -> Result<()> {
    let secrets = secrets_dir(state);
    let config = secrets.join("openssl.cnf");
    fs::write(
        &config,
        "# Written by kcluster: extensions of the cluster's CA and broker certificates.\n\
         [req]\n\
         distinguished_name = dn\n\
         [dn]\n\
         [ca]\n\
         basicConstraints = critical,CA:TRUE\n\
         keyUsage = critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier = hash\n\
         [broker]\n\
         basicConstraints = CA:FALSE\n\
         keyUsage = critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage = serverAuth,clientAuth\n\
         subjectAltName = DNS:localhost,IP:127.0.0.1\n\
         subjectKeyIdentifier = hash\n\
         authorityKeyIdentifier = keyid\n",
    )?;
    let ca = ca_file(state);
    let (ca, config) = (ca.to_string_lossy(), config.to_string_lossy());
    let ca_subject = format!("/CN=kcluster CA of cluster {}", state.name);
    let broker_subject = format!("/CN={BROKER_CN}");
    let serial = format!("0x{}", hex(&kcore::random::bytes(16)?));
    let rsa = ["-newkey", "rsa:2048", "-nodes"];
    let mut ca_args = vec!["req", "-x509", "-new"];
    ca_args.extend(rsa);
    ca_args.extend([
        "-keyout",
        "ca.key",
        "-out",
        &ca,
        "-days",
        VALID_DAYS,
        "-config",
        &config,
        "-extensions",
        "ca",
        "-subj",
        &ca_subject,
    ]);
    openssl("the cluster's CA", &ca_args, &secrets)?;
    let mut csr_args = vec!["req", "-new"];
    csr_args.extend(rsa);
    csr_args.extend([
        "-keyout",
        "broker.key",
        "-out",
        "broker.csr",
        "-config",
        &config,
        "-subj",
        &broker_subject,
    ]);
    openssl("the broker's key", &csr_args, &secrets)?;
    openssl(
        "the broker's certificate",
        &[
            "x509",
            "-req",
            "-in",
            "broker.csr",
            "-CA",
            &ca,
            "-CAkey",
            "ca.key",
            "-set_serial",
            &serial,
            "-days",
            VALID_DAYS,
            "-extfile",
            &config,
            "-extensions",
            "broker",
            "-out",
            "broker.crt",
        ],
        &secrets,
    )?;
    let mut pem = String::new();
    for part in [
        secrets.join("broker.key"),
        secrets.join("broker.crt"),
        PathBuf::from(ca.as_ref()),
    ] {
        pem.push_str(
            &fs::read_to_string(&part).with_context(|| format!("reading {}", part.display()))?,
        );
    }
    write_private(&keystore(state), &pem)?;
    for key in ["ca.key", "broker.key"] {
        fs::set_permissions(secrets.join(key), fs::Permissions::from_mode(0o600))?;
    }
    let _ = fs::remove_file(secrets.join("broker.csr"));
    Ok(())
}

/// A file only its owner may read, written whole.
fn write_private(path: &Path, text: &str) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    // An existing file keeps its mode on open: make sure.
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 128 random bits as 32 hex digits: nothing to quote in JAAS or in `--add-scram`.
fn random_password() -> Result<String> {
    Ok(hex(&kcore::random::bytes(16)?))
}

fn user_properties_text(state: &ClusterState, user: &str, password: &str) -> String {
    format!(
        "# Written by kcluster: how user '{user}' reaches the secure cluster '{name}'.\n\
         # Keep it private (mode 0600): it holds the password.\n\
         security.protocol=sasl_ssl\n\
         sasl.mechanisms={MECHANISM}\n\
         sasl.username={user}\n\
         sasl.password={password}\n\
         ssl.ca.location={ca}\n\
         ssl.endpoint.identification.algorithm=https\n",
        name = state.name,
        ca = ca_file(state).display(),
    )
}

/// A user's librdkafka properties, as written in its file.
pub fn user_properties(state: &ClusterState, user: &str) -> Result<Vec<(String, String)>> {
    kcore::connection::read_properties_file(&state.user_properties(user))
}

/// What every kcluster client (the readiness probes, the ACL grant) adds: nothing for an
/// open cluster, the admin's properties for a secure one.
pub fn client_properties(state: &ClusterState) -> Vec<(String, String)> {
    if state.secure {
        user_properties(state, ADMIN).unwrap_or_default()
    } else {
        Vec::new()
    }
}

fn password_of(state: &ClusterState, user: &str) -> Result<String> {
    user_properties(state, user)?
        .into_iter()
        .find(|(key, _)| key == "sasl.password")
        .map(|(_, value)| value)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{} has no sasl.password",
                state.user_properties(user).display()
            )
        })
}

/// The arguments Kafka's storage tool needs to create the users when formatting.
pub fn scram_arguments(state: &ClusterState) -> Result<Vec<String>> {
    let mut args = Vec::new();
    for user in USERS {
        args.push("--add-scram".to_string());
        args.push(format!(
            "{MECHANISM}=[name={user},password={}]",
            password_of(state, user)?
        ));
    }
    Ok(args)
}

/// A Java `@argfile` holding a main class and its arguments (some of them secret), so
/// that they are not on the command line; removed when dropped.
pub struct ArgFile(PathBuf);

impl ArgFile {
    pub fn write(state: &ClusterState, name: &str, args: &[String]) -> Result<ArgFile> {
        let path = secrets_dir(state).join(name);
        let text: Vec<String> = args
            .iter()
            .map(|arg| format!("\"{}\"", arg.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        write_private(&path, &(text.join("\n") + "\n"))?;
        Ok(ArgFile(path))
    }

    /// The `@path` argument for `java`.
    pub fn argument(&self) -> String {
        format!("@{}", self.0.display())
    }
}

impl Drop for ArgFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// The listener and security lines of a secure KRaft node's `server.properties`.
pub fn listener_properties(state: &ClusterState, node: &NodeState) -> Result<String> {
    Ok(format!(
        "# Secure cluster: SASL_SSL (SCRAM-SHA-512) for clients and between brokers; TLS with\n\
         # client certificates for the controllers; ACLs deny what they do not allow.\n\
         listeners=SASL_SSL://{host}:{port}{controller_listener}\n\
         advertised.listeners=SASL_SSL://{host}:{port}\n\
         listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL\n\
         controller.listener.names=CONTROLLER\n\
         listener.name.controller.ssl.client.auth=required\n\
         authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n\
         super.users=User:{ADMIN};User:CN={BROKER_CN}\n\
         {common}",
        host = node.host,
        port = node.port,
        // A broker `kcluster add` joined is no controller: it only talks to them.
        controller_listener = node
            .peer_ports
            .first()
            .map(|cport| format!(",CONTROLLER://{}:{cport}", node.host))
            .unwrap_or_default(),
        common = common_properties(state)?,
    ))
}

/// The listener and security lines of a secure ZooKeeper-mode broker's `server.properties`.
/// ZooKeeper itself stays open, on loopback only (as in Kafka's own quickstart).
pub fn zookeeper_mode_listener_properties(
    state: &ClusterState,
    node: &NodeState,
) -> Result<String> {
    Ok(format!(
        "# Secure cluster: SASL_SSL (SCRAM-SHA-512) for clients and between brokers; ACLs (kept\n\
         # in ZooKeeper) deny what they do not allow.\n\
         listeners=SASL_SSL://{host}:{port}\n\
         advertised.listeners=SASL_SSL://{host}:{port}\n\
         listener.security.protocol.map=SASL_SSL:SASL_SSL\n\
         authorizer.class.name=kafka.security.authorizer.AclAuthorizer\n\
         super.users=User:{ADMIN}\n\
         {common}",
        host = node.host,
        port = node.port,
        common = common_properties(state)?,
    ))
}

/// The SASL_SSL lines both modes share.
fn common_properties(state: &ClusterState) -> Result<String> {
    Ok(format!(
        "inter.broker.listener.name=SASL_SSL\n\
         sasl.enabled.mechanisms={MECHANISM}\n\
         sasl.mechanism.inter.broker.protocol={MECHANISM}\n\
         listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{ADMIN}\" password=\"{password}\";\n\
         ssl.keystore.type=PEM\n\
         ssl.keystore.location={keystore}\n\
         ssl.truststore.type=PEM\n\
         ssl.truststore.location={ca}\n\
         ssl.endpoint.identification.algorithm=https\n\
         allow.everyone.if.no.acl.found=false\n",
        password = password_of(state, ADMIN)?,
        keystore = keystore(state).display(),
        ca = ca_file(state).display(),
    ))
}

/// ZooKeeper mode: create the users in ZooKeeper (Kafka's ConfigCommand, through `run`,
/// which gets the tool's arguments and what it does), once, before the first broker starts.
pub fn create_zookeeper_users(
    state: &ClusterState,
    run: impl Fn(&[String], &str) -> Result<()>,
) -> Result<()> {
    let done = secrets_dir(state).join("users-created");
    if done.is_file() {
        return Ok(());
    }
    let connect: Vec<String> = state
        .zookeepers
        .iter()
        .map(|z| format!("127.0.0.1:{}", z.port))
        .collect();
    for user in USERS {
        let tool: Vec<String> = [
            "kafka.admin.ConfigCommand",
            "--zookeeper",
            &connect.join(","),
            "--alter",
            "--add-config",
            &format!("{MECHANISM}=[password={}]", password_of(state, user)?),
            "--entity-type",
            "users",
            "--entity-name",
            user,
        ]
        .map(String::from)
        .into();
        run(&tool, &format!("creating user '{user}' in ZooKeeper"))?;
    }
    fs::write(&done, "")?;
    Ok(())
}

/// `text` with the cluster's passwords replaced by `***`.
pub fn redact(state: &ClusterState, text: &str) -> String {
    let mut text = text.to_string();
    if state.secure {
        for user in USERS {
            if let Ok(password) = password_of(state, user) {
                text = text.replace(&password, "***");
            }
        }
    }
    text
}

/// Write a node's `server.properties`: private for a secure cluster (it holds the admin's
/// password).
pub fn write_server_properties(state: &ClusterState, path: &Path, text: &str) -> Result<()> {
    if state.secure {
        write_private(path, text)
    } else {
        fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }
}

/// What `reader` may do: describe and consume every topic, use every group.
pub fn reader_acls() -> Vec<Allow> {
    let principal = format!("User:{READER}");
    [
        (Resource::Topic, Operation::Describe),
        (Resource::Topic, Operation::DescribeConfigs),
        (Resource::Topic, Operation::Read),
        (Resource::Group, Operation::Describe),
        (Resource::Group, Operation::Read),
    ]
    .into_iter()
    .map(|(resource, operation)| Allow {
        resource,
        name: "*".into(),
        principal: principal.clone(),
        operation,
    })
    .collect()
}

/// Create the reader's ACLs, as `admin` (the brokers must serve).
pub fn grant_reader(state: &ClusterState, timeout: Duration) -> Result<()> {
    let connection = Connection {
        brokers: state.bootstrap(),
        brokers_source: "the cluster's state",
        properties: client_properties(state),
        timeout,
        verbose: 0,
    };
    let client: AdminClient<QuietContext> =
        connection.create(&[], QuietContext::new("kcluster", 0))?;
    acls::create_acls(client.inner(), &reader_acls(), timeout)
        .map_err(|err| anyhow::anyhow!(connection.redact(&kcore::failure::one_line(&err))))
        .context("granting user 'reader' its ACLs")
}

/// What `up` says about a secure cluster it started: how to reach it, where its files are.
pub fn summary(state: &ClusterState) -> String {
    let name = &state.name;
    let option = if name == "default" {
        String::new()
    } else {
        format!(" --name {name}")
    };
    format!(
        "secure cluster: SASL_SSL with SCRAM-SHA-512 as user admin or reader (ACLs); their properties in {}, the CA in {}; eval \"$(kcluster env{option} [--user reader])\"",
        state.dir().join("{admin,reader}.properties").display(),
        ca_file(state).display(),
    )
}

/// `kcluster env` of a secure cluster: the brokers and the user's properties file.
pub fn env_lines(state: &ClusterState, user: &str) -> Result<String> {
    if !USERS.contains(&user) {
        return Err(Failure::usage(format!(
            "cluster '{}' has no user '{user}' (its users are {})",
            state.name,
            USERS.join(", ")
        ))
        .into());
    }
    Ok(format!(
        "export KAFKA_BROKERS={}\nexport {}={}",
        state.bootstrap(),
        kcore::connection::CONFIG_FILE_VAR,
        shell_quote(&state.user_properties(user).to_string_lossy()),
    ))
}

/// A word the shell reads back as `text`.
fn shell_quote(text: &str) -> String {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:=,@".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_random_hex() {
        let (a, b) = (random_password().unwrap(), random_password().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn reader_may_read_and_describe_only() {
        let acls = reader_acls();
        assert!(acls
            .iter()
            .all(|a| a.principal == "User:reader" && a.name == "*"));
        assert!(!acls
            .iter()
            .any(|a| matches!(a.operation, Operation::Write | Operation::Create)));
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_quote("/a/b.properties"), "/a/b.properties");
        assert_eq!(shell_quote("/a b/it's"), "'/a b/it'\\''s'");
    }
}
