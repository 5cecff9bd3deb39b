//! Clusters for trying logins and listeners that kcluster's ordinary clusters lack
//! (local backend, KRaft mode, new clusters only):
//!
//! - `up --oauth JWKS_URL`: the client listeners speak SASL_PLAINTEXT and take OAUTHBEARER
//!   tokens (JWTs from an OIDC provider's token endpoint), checked by Kafka's own validator
//!   (`OAuthBearerValidatorCallbackHandler`) against the keys the JWKS URL serves. Kafka 4
//!   fetches no URL it is not allowed to (`org.apache.kafka.sasl.oauthbearer.allowed.urls`,
//!   a JVM system property): the brokers are allowed exactly that one. The listener also
//!   takes PLAIN for one user, `admin` (random password, in the cluster's `admin.properties`,
//!   mode 0600): what the brokers use between themselves and kcluster's own checks use,
//!   since neither has an OIDC client of its own. No ACLs: any valid token may do anything.
//! - `up --advertise ID=HOST:PORT`: broker ID advertises that address to clients instead
//!   of its own, to see what a wrong `advertised.listeners` does to a client.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;

use anyhow::{Context, Result};
use kcore::connection::parse_broker_list;
use kcore::state::{BackendKind, ClusterState, Mode, NodeState, Role};
use kcore::Failure;

use crate::cli::UpArgs;

/// `--oauth` and `--advertise` are for a new local KRaft cluster.
pub fn check_supported(kind: BackendKind, mode: Mode, args: &UpArgs) -> Result<()> {
    let flag = if args.oauth.is_some() {
        "--oauth"
    } else if !args.advertise.is_empty() {
        "--advertise"
    } else {
        return Ok(());
    };
    if kind != BackendKind::Local || mode != Mode::Kraft {
        return Err(Failure::usage(format!(
            "{flag} needs a local KRaft cluster (--backend local --mode kraft)"
        ))
        .into());
    }
    if let Some(url) = &args.oauth {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Failure::usage(format!(
                "--oauth wants the JWKS endpoint's http(s):// URL, got '{url}'"
            ))
            .into());
        }
    }
    Ok(())
}

/// The `--advertise ID=HOST:PORT` flags, checked against the broker count.
pub fn advertised(flags: &[String], brokers: usize) -> Result<BTreeMap<u32, String>> {
    let mut advertised = BTreeMap::new();
    for flag in flags {
        let bad = |why: &str| -> anyhow::Error {
            Failure::usage(format!(
                "bad --advertise '{flag}': {why} (expected ID=HOST:PORT)"
            ))
            .into()
        };
        let (id, address) = flag.split_once('=').ok_or_else(|| bad("no '='"))?;
        let id: u32 = id
            .trim()
            .parse()
            .map_err(|_| bad("the broker id is not a number"))?;
        if id == 0 || id as usize > brokers {
            return Err(bad(&format!("the brokers are 1..{brokers}")));
        }
        let address = parse_broker_list(address).map_err(|why| bad(&why))?;
        if address.contains(',') {
            return Err(bad("one address per broker"));
        }
        advertised.insert(id, address);
    }
    Ok(advertised)
}

/// The admin's PLAIN password and client properties of a new OAuth cluster.
pub fn prepare(state: &ClusterState) -> Result<()> {
    let dir = state.dir();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} private", dir.display()))?;
    let password = crate::security::random_password()?;
    crate::security::write_private(
        &state.user_properties(crate::security::ADMIN),
        &format!(
            "# Written by kcluster: how kcluster itself reaches the OAuth cluster '{}' (PLAIN).\n\
             # Clients log in with OAUTHBEARER tokens instead (README: Connecting to your cluster).\n\
             security.protocol=sasl_plaintext\n\
             sasl.mechanisms=PLAIN\n\
             sasl.username={}\n\
             sasl.password={password}\n",
            state.name,
            crate::security::ADMIN
        ),
    )
}

/// The listener and SASL lines of an OAuth cluster's broker.
pub fn listener_properties(state: &ClusterState, node: &NodeState) -> Result<String> {
    let jwks = state.oauth_jwks.as_deref().unwrap_or_default();
    let admin = crate::security::ADMIN;
    let password = kcore::connection::read_properties_file(&state.user_properties(admin))?
        .into_iter()
        .find(|(key, _)| key == "sasl.password")
        .map(|(_, value)| value)
        .context("the OAuth cluster's admin.properties has no sasl.password")?;
    Ok(format!(
        "# OAuth cluster: OAUTHBEARER (JWTs checked against {jwks}) for clients, PLAIN for admin.\n\
         listeners=SASL_PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}\n\
         advertised.listeners=SASL_PLAINTEXT://{advertised}\n\
         listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT\n\
         controller.listener.names=CONTROLLER\n\
         inter.broker.listener.name=SASL_PLAINTEXT\n\
         sasl.enabled.mechanisms=OAUTHBEARER,PLAIN\n\
         sasl.mechanism.inter.broker.protocol=PLAIN\n\
         listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"{admin}\" password=\"{password}\" user_{admin}=\"{password}\";\n\
         listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;\n\
         listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler\n\
         sasl.oauthbearer.jwks.endpoint.url={jwks}\n",
        host = node.host,
        port = node.port,
        cport = node.peer_ports[0],
        advertised = state.advertised_address(node),
    ))
}

/// The JVM flags of an OAuth cluster's broker: the one URL Kafka may fetch.
pub fn jvm_flags(state: &ClusterState, role: Role) -> Vec<String> {
    match (&state.oauth_jwks, role) {
        (Some(jwks), Role::Broker) => {
            vec![format!(
                "-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={jwks}"
            )]
        }
        _ => Vec::new(),
    }
}
