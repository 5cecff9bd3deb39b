//! AWS MSK IAM: logging in to Amazon MSK's IAM listeners (port 9098) with AWS credentials.
//!
//! librdkafka has no `AWS_MSK_IAM` mechanism, but MSK also takes its IAM login as an
//! OAUTHBEARER token (as AWS's own signer libraries send it): a SigV4-presigned
//! `GET https://kafka.REGION.amazonaws.com/?Action=kafka-cluster:Connect`, valid for 15
//! minutes, base64url-encoded without padding. A user asks for it with
//! `-X sasl.mechanism=AWS_MSK_IAM` (or `sasl.mechanisms`); [`apply`] turns that into
//! OAUTHBEARER over SASL_SSL, and the token comes from [`token`]: once before the client
//! first connects ([`set_first_token`]), then from librdkafka's refresh event (at 80% of
//! the token's life) through [`crate::QuietContext`]'s `generate_oauth_token`.
//!
//! Credentials are read again at every refresh, as AWS's SDKs read them: a named profile
//! given in `sasl.oauthbearer.config` (`profile=NAME`) alone; else the environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), else the profile
//! named by `AWS_PROFILE` (or `default`) in the shared credentials and config files
//! (`~/.aws/credentials`, `~/.aws/config`, or `AWS_SHARED_CREDENTIALS_FILE` and
//! `AWS_CONFIG_FILE`). The region: `region=` in `sasl.oauthbearer.config`, else
//! `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, or the brokers' own names
//! (`b-1.NAME.ID.c2.kafka.REGION.amazonaws.com`).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use aws_credential_types::Credentials;
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_runtime::env_config::section::EnvConfigSections;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation};
use aws_sigv4::http_request::{SigningParams, SigningSettings};
/// The environment credentials and files are read from (tests make their own).
pub use aws_types::os_shim_internal::Env;
use aws_types::os_shim_internal::Fs;
use base64::Engine as _;
use rdkafka::client::OAuthToken;
use rdkafka::ClientConfig;

use crate::failure::Failure;

/// The `sasl.mechanism` value that asks for MSK IAM.
pub const MECHANISM: &str = "AWS_MSK_IAM";

/// How long a token is valid (MSK's and AWS's signers' choice).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// Marks the `sasl.oauthbearer.config` that [`apply`] wrote, so the refresh hook knows the
/// token is an MSK IAM one and not a user's own OAUTHBEARER setup.
const CONFIG_MARK: &str = "kpipes.aws_msk_iam";

/// What `User-Agent` the token names (the signers of AWS name themselves there).
const USER_AGENT: &str = concat!("kpipes/", env!("CARGO_PKG_VERSION"));

/// Where the token's credentials and region come from, as written in `sasl.oauthbearer.config`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub region: Option<String>,
    pub profile: Option<String>,
}

impl Settings {
    /// `region=R profile=P` (either may be missing), space or comma separated.
    pub fn parse(text: &str) -> Result<Settings> {
        let mut settings = Settings::default();
        for word in text.split([' ', ',']).filter(|w| !w.is_empty()) {
            match word.split_once('=') {
                Some(("region", value)) if !value.is_empty() => {
                    settings.region = Some(value.into())
                }
                Some(("profile", value)) if !value.is_empty() => {
                    settings.profile = Some(value.into())
                }
                Some((CONFIG_MARK, _)) => {}
                _ => bail!(
                    "bad sasl.oauthbearer.config for {MECHANISM}: '{word}' \
                     (expected region=REGION and/or profile=NAME)"
                ),
            }
        }
        Ok(settings)
    }

    /// The `sasl.oauthbearer.config` that [`apply`] writes for these settings.
    pub fn to_config(&self) -> String {
        let mut text = format!("{CONFIG_MARK}=1");
        if let Some(region) = &self.region {
            let _ = write!(text, " region={region}");
        }
        if let Some(profile) = &self.profile {
            let _ = write!(text, " profile={profile}");
        }
        text
    }
}

/// Whether `config` asks for MSK IAM (`sasl.mechanism` or `sasl.mechanisms`, any case).
pub fn requested(config: &ClientConfig) -> bool {
    ["sasl.mechanism", "sasl.mechanisms"]
        .iter()
        .filter_map(|key| config.get(key))
        .any(|value| value.trim().eq_ignore_ascii_case(MECHANISM))
}

/// Turn a config that asks for MSK IAM into what librdkafka knows: OAUTHBEARER (over
/// SASL_SSL unless the user chose another protocol), and a `sasl.oauthbearer.config` with
/// the region settled now, so a missing region is a usage error before any connection.
/// Does nothing to other configs.
pub fn apply(config: &mut ClientConfig, brokers: &str) -> Result<()> {
    if !requested(config) {
        return Ok(());
    }
    let mut settings = Settings::parse(config.get("sasl.oauthbearer.config").unwrap_or(""))
        .map_err(|err| Failure::usage(err.to_string()))?;
    if settings.region.is_none() {
        settings.region = default_region(&Env::real(), settings.profile.as_deref(), brokers);
    }
    if settings.region.is_none() {
        return Err(Failure::usage(format!(
            "{MECHANISM} needs the cluster's AWS region: set AWS_REGION, or -X \
             sasl.oauthbearer.config=region=REGION"
        ))
        .into());
    }
    config.remove("sasl.mechanism");
    config.set("sasl.mechanisms", "OAUTHBEARER");
    config.set("sasl.oauthbearer.config", settings.to_config());
    if config.get("security.protocol").is_none() {
        config.set("security.protocol", "SASL_SSL");
    }
    Ok(())
}

/// Whether a `sasl.oauthbearer.config` (as librdkafka hands it to the refresh hook) is one
/// [`apply`] wrote.
pub fn is_msk_config(oauthbearer_config: Option<&str>) -> bool {
    oauthbearer_config.is_some_and(|c| c.split(' ').any(|w| w.starts_with(CONFIG_MARK)))
}

/// The token for the settings of an [`apply`]d `sasl.oauthbearer.config`, signed at `now`.
pub fn token(oauthbearer_config: &str, now: SystemTime) -> Result<OAuthToken> {
    token_in(&Env::real(), oauthbearer_config, now)
}

/// [`token`] with the credentials of the environment `env` (a test's own, or the real one).
pub fn token_in(env: &Env, oauthbearer_config: &str, now: SystemTime) -> Result<OAuthToken> {
    let settings = Settings::parse(oauthbearer_config)?;
    let region = settings
        .region
        .ok_or_else(|| anyhow!("{MECHANISM}: no region (kpipes settles it at start)"))?;
    let credentials = credentials(env, settings.profile.as_deref())?;
    let url = signed_url(&credentials, &region, now)?;
    let expires = now + TOKEN_LIFETIME;
    Ok(OAuthToken {
        token: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url),
        principal_name: MECHANISM.into(),
        lifetime_ms: expires
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64 * 1000)
            .unwrap_or(0),
    })
}

/// The presigned `kafka-cluster:Connect` URL, with the signature in its query.
pub fn signed_url(credentials: &Credentials, region: &str, now: SystemTime) -> Result<String> {
    let host = format!("kafka.{region}.amazonaws.com");
    let base = format!("https://{host}/?Action=kafka-cluster%3AConnect");
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let params: SigningParams = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("kafka-cluster")
        .time(now)
        .settings(settings)
        .build()
        .context("AWS SigV4 signing parameters")?
        .into();
    let request = SignableRequest::new(
        "GET",
        base.as_str(),
        std::iter::once(("host", host.as_str())),
        SignableBody::Bytes(&[]),
    )
    .context("the MSK IAM request")?;
    let (instructions, _signature) = sign(request, &params)
        .context("signing the MSK IAM request")?
        .into_parts();
    let mut url = base;
    for (name, value) in instructions.params() {
        let _ = write!(url, "&{}={}", name, query_encode(value));
    }
    let _ = write!(url, "&User-Agent={}", query_encode(USER_AGENT));
    Ok(url)
}

/// Percent-encoding as SigV4 wants it: all but `A-Za-z0-9-_.~`.
fn query_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Set the first token on a client created a moment ago, before it connects: librdkafka
/// asks for one only through an event that some clients (admin clients) never poll.
/// A missing credential is exit 10 at once, with what was looked at.
///
/// # Safety
/// `client` must be a live librdkafka handle.
pub unsafe fn set_first_token(
    client: *mut rdkafka::bindings::rd_kafka_t,
    config: &ClientConfig,
) -> Result<()> {
    let Some(oauthbearer_config) = config
        .get("sasl.oauthbearer.config")
        .filter(|c| is_msk_config(Some(c)))
    else {
        return Ok(());
    };
    let token = token(oauthbearer_config, SystemTime::now())
        .map_err(|err| Failure::not_authorized(crate::failure::one_line(&err)))?;
    let value = std::ffi::CString::new(token.token)?;
    let principal = std::ffi::CString::new(token.principal_name)?;
    let mut error = [0 as std::ffi::c_char; 512];
    // SAFETY: the caller's handle; the strings outlive the call, which copies them.
    let code = unsafe {
        rdkafka::bindings::rd_kafka_oauthbearer_set_token(
            client,
            value.as_ptr(),
            token.lifetime_ms,
            principal.as_ptr(),
            std::ptr::null_mut(),
            0,
            error.as_mut_ptr(),
            error.len(),
        )
    };
    if code != rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        // SAFETY: librdkafka wrote a NUL-terminated message into the buffer.
        let why = unsafe { std::ffi::CStr::from_ptr(error.as_ptr()) };
        bail!("setting the {MECHANISM} token: {}", why.to_string_lossy());
    }
    Ok(())
}

/// The region when none is given: the environment, the profile's config, else the first
/// broker name of the form `...kafka.REGION.amazonaws.com`.
fn default_region(env: &Env, profile: Option<&str>, brokers: &str) -> Option<String> {
    for var in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        if let Some(region) = env.get(var).ok().filter(|r| !r.trim().is_empty()) {
            return Some(region.trim().to_string());
        }
    }
    if let Ok(sections) = config_sections(env, profile) {
        let chosen = profile.unwrap_or(sections.selected_profile()).to_string();
        if let Some(region) = sections.get_profile(&chosen).and_then(|p| p.get("region")) {
            return Some(region.to_string());
        }
    }
    brokers.split(',').find_map(|broker| {
        let host = broker.rsplit_once(':').map_or(broker, |(h, _)| h);
        let host = host.split_once("://").map_or(host, |(_, h)| h);
        let rest = host.strip_suffix(".amazonaws.com")?;
        let (before, region) = rest.rsplit_once('.')?;
        (before.ends_with(".kafka") || before == "kafka").then(|| region.to_string())
    })
}

/// The shared config and credentials files, parsed by AWS's own parser (profiles, their
/// `[profile NAME]` form in the config file, `AWS_CONFIG_FILE`, `AWS_PROFILE` and the rest).
fn config_sections(env: &Env, profile: Option<&str>) -> Result<EnvConfigSections> {
    let (files, fs) = (EnvConfigFiles::default(), Fs::real());
    let load = aws_runtime::env_config::source::load(env, &fs, &files);
    let mut source = block_on(load).context("reading the AWS config files")?;
    if let Some(profile) = profile {
        source.profile = profile.to_string().into();
    }
    EnvConfigSections::parse(source).context("parsing the AWS config files")
}

/// Run a future that never waits (AWS's loader reads the files with blocking calls).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::yield_now();
    }
}

/// The credentials, from the sources in the order AWS's SDKs use (see the module's text).
pub fn credentials(env: &Env, profile: Option<&str>) -> Result<Credentials> {
    if profile.is_none() {
        let var = |name: &str| env.get(name).ok().filter(|v| !v.is_empty());
        if let (Some(id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            let token = var("AWS_SESSION_TOKEN").or_else(|| var("AWS_SECURITY_TOKEN"));
            return Ok(Credentials::new(id, secret, token, None, "environment"));
        }
    }
    let sections = config_sections(env, profile)?;
    let name = profile.unwrap_or(sections.selected_profile()).to_string();
    let found = sections.get_profile(&name).ok_or_else(|| {
        anyhow!(
            "no AWS credentials for {MECHANISM}: neither AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY are set nor is there a profile '{name}' in the AWS \
             credentials or config file"
        )
    })?;
    match (
        found.get("aws_access_key_id"),
        found.get("aws_secret_access_key"),
    ) {
        (Some(id), Some(secret)) => {
            let token = found
                .get("aws_session_token")
                .or_else(|| found.get("aws_security_token"))
                .map(str::to_string);
            Ok(Credentials::new(id, secret, token, None, "profile"))
        }
        _ => Err(anyhow!(
            "no AWS credentials for {MECHANISM}: AWS profile '{name}' has no \
             aws_access_key_id and aws_secret_access_key (kpipes reads keys only: no SSO, \
             role or process credentials)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip() {
        let s = Settings::parse("region=eu-west-1, profile=prod").unwrap();
        assert_eq!(s.region.as_deref(), Some("eu-west-1"));
        assert_eq!(s.profile.as_deref(), Some("prod"));
        assert_eq!(Settings::parse(&s.to_config()).unwrap(), s);
        assert!(is_msk_config(Some(&s.to_config())));
        assert!(!is_msk_config(Some("principal=admin")));
        assert!(Settings::parse("principal=admin").is_err());
    }

    #[test]
    fn region_from_broker_names() {
        let brokers = "b-1.demo.abc123.c2.kafka.eu-central-1.amazonaws.com:9098";
        let env = Env::from_slice(&[("HOME", "/nonexistent")]);
        assert_eq!(
            default_region(&env, None, brokers).as_deref(),
            Some("eu-central-1")
        );
        let env = Env::from_slice(&[("HOME", "/nonexistent"), ("AWS_REGION", "ap-south-1")]);
        assert_eq!(
            default_region(&env, None, brokers).as_deref(),
            Some("ap-south-1")
        );
        assert_eq!(
            default_region(&env_without_aws(), None, "localhost:9092"),
            None
        );
        assert_eq!(query_encode("a b/c:d~"), "a%20b%2Fc%3Ad~");
    }

    fn env_without_aws() -> Env {
        Env::from_slice(&[("HOME", "/nonexistent")])
    }

    #[test]
    fn no_credentials_says_where_it_looked() {
        let err = credentials(&env_without_aws(), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
        assert!(err.contains("profile 'default'"), "{err}");
    }

    #[test]
    fn the_token_is_a_presigned_url() {
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let url = signed_url(&credentials, "us-east-1", at).unwrap();
        assert!(url.starts_with(
            "https://kafka.us-east-1.amazonaws.com/?Action=kafka-cluster%3AConnect&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Fus-east-1%2Fkafka-cluster%2Faws4_request&X-Amz-Date=20231114T221320Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature="
        ), "{url}");
        assert!(!url.contains("secret"));
    }
}
