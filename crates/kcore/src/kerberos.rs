//! Kerberos (GSSAPI): librdkafka's own SASL GSSAPI, built in (Cyrus SASL and MIT Kerberos
//! compiled into the binaries: rdkafka's `gssapi-vendored`), with two ways to log in:
//!
//! - a ticket the user already has (`kinit`): the default ticket cache, or `KRB5CCNAME`.
//!   librdkafka's own `kinit` command names the keytab, and without one librdkafka refuses
//!   the whole configuration ("Invalid sasl.kerberos.kinit.cmd value: Property not
//!   available"). So without a keytab kpipes turns that command off
//!   (`sasl.kerberos.min.time.before.relogin=0`) unless the user set it.
//! - a keytab (`sasl.kerberos.keytab` and `sasl.kerberos.principal`): librdkafka runs
//!   `kinit -k -t KEYTAB PRINCIPAL` (its `sasl.kerberos.kinit.cmd`) before connecting and
//!   again to renew, so the `kinit` program must be installed; kpipes checks the keytab can
//!   be read and that `kinit` is there before it starts.
//!
//! `krb5.conf` is found as by every Kerberos program: `KRB5_CONFIG`, else `/etc/krb5.conf`.

use std::path::Path;

use anyhow::Result;
use rdkafka::ClientConfig;

use crate::failure::Failure;

/// Whether `config` asks for GSSAPI.
pub fn requested(config: &ClientConfig) -> bool {
    ["sasl.mechanism", "sasl.mechanisms"]
        .iter()
        .filter_map(|key| config.get(key))
        .any(|value| value.trim().eq_ignore_ascii_case("GSSAPI"))
}

/// Settle a GSSAPI config (see the module's text); does nothing to others.
pub fn apply(config: &mut ClientConfig) -> Result<()> {
    if !requested(config) {
        return Ok(());
    }
    let keytab = config
        .get("sasl.kerberos.keytab")
        .filter(|k| !k.trim().is_empty())
        .map(str::to_string);
    let Some(keytab) = keytab else {
        if config
            .get("sasl.kerberos.min.time.before.relogin")
            .is_none()
        {
            config.set("sasl.kerberos.min.time.before.relogin", "0");
        }
        return Ok(());
    };
    if let Err(err) = std::fs::File::open(&keytab) {
        return Err(
            Failure::usage(format!("cannot read sasl.kerberos.keytab {keytab}: {err}")).into(),
        );
    }
    let default_kinit = config.get("sasl.kerberos.kinit.cmd").is_none();
    if default_kinit && !on_path("kinit") {
        return Err(Failure::environment(
            "a Kerberos keytab needs the `kinit` program, which librdkafka runs to log in \
             (Debian: apt-get install krb5-user); or run kinit yourself and drop sasl.kerberos.keytab",
        )
        .into());
    }
    Ok(())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| Path::new(&dir).join(program).is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_cache_login_runs_no_kinit() {
        // Without it librdkafka refuses the config (tests/kerberos.rs fails so).
        let mut config = ClientConfig::new();
        config.set("sasl.mechanisms", "GSSAPI");
        apply(&mut config).unwrap();
        assert_eq!(
            config.get("sasl.kerberos.min.time.before.relogin"),
            Some("0")
        );
        let mut config = ClientConfig::new();
        config.set("sasl.mechanisms", "PLAIN");
        apply(&mut config).unwrap();
        assert_eq!(config.get("sasl.kerberos.min.time.before.relogin"), None);
    }

    #[test]
    fn a_missing_keytab_is_a_usage_error() {
        let mut config = ClientConfig::new();
        config.set("sasl.mechanism", "gssapi");
        config.set("sasl.kerberos.keytab", "/nonexistent/kpipes.keytab");
        let err = apply(&mut config).unwrap_err();
        assert_eq!(
            crate::failure::exit_code_for(&err),
            crate::ExitCode::Usage,
            "{err}"
        );
        assert!(err.to_string().contains("/nonexistent/kpipes.keytab"));
    }
}
