//! A librdkafka client context that keeps the terminal quiet.
//!
//! librdkafka logs every connection refusal, retry and metadata refresh. Users of a
//! pipe tool want one clear error line instead, so its log lines are shown only with
//! `-v`, each distinct line once. The last error is kept so that a timeout can say why.

use std::collections::HashSet;
use std::sync::Mutex;

use rdkafka::client::{ClientContext, OAuthToken};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// Distinct log lines remembered for de-duplication; past this, nothing more is printed.
const MAX_DISTINCT_LINES: usize = 10_000;

pub struct QuietContext {
    tool: &'static str,
    verbose: u8,
    seen: Mutex<HashSet<String>>,
    last_error: Mutex<Option<String>>,
    refusal: Mutex<Option<Refusal>>,
    /// Advertised brokers (named by the cluster, not by the user) that failed to connect:
    /// address -> broker id. See [`crate::listeners`].
    advertised_failures: Mutex<std::collections::BTreeMap<String, i32>>,
}

/// The brokers answered, but refused this client's TLS or SASL for good: retrying cannot
/// help, so a tool stops at once instead of waiting out its timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// SASL authentication failed: a wrong password or an unknown user.
    Authentication(String),
    /// The TLS handshake failed for good: the broker's certificate is not trusted (a CA
    /// that does not match), or the listener does not speak TLS.
    Tls(String),
    /// An OAUTHBEARER token could not be had: the OIDC token endpoint cannot be reached.
    TokenEndpoint(String),
}

impl Refusal {
    /// The refusal a librdkafka error or log line reports, if it is one.
    pub fn of(code: Option<RDKafkaErrorCode>, text: &str) -> Option<Refusal> {
        // No token, no login: the endpoint is away (exit 5) or refused the client (exit 10).
        if text.contains(crate::oidc::TOKEN_FAILURE) {
            return Some(if crate::oidc::endpoint_unreachable(text) {
                Refusal::TokenEndpoint(text.to_string())
            } else {
                Refusal::Authentication(text.to_string())
            });
        }
        if code == Some(RDKafkaErrorCode::Authentication)
            || text.contains("SASL authentication error")
        {
            return Some(Refusal::Authentication(text.to_string()));
        }
        let definitive = ["certificate verify failed", "wrong version number"];
        if text.contains("SSL handshake failed") && definitive.iter().any(|d| text.contains(d)) {
            return Some(Refusal::Tls(text.to_string()));
        }
        None
    }
}

impl QuietContext {
    pub fn new(tool: &'static str, verbose: u8) -> Self {
        QuietContext {
            tool,
            verbose,
            seen: Mutex::new(HashSet::new()),
            last_error: Mutex::new(None),
            refusal: Mutex::new(None),
            advertised_failures: Mutex::new(Default::default()),
        }
    }

    /// The first refusal of this client's TLS or SASL by the brokers (see [`Refusal`]).
    pub fn refusal(&self) -> Option<Refusal> {
        self.refusal.lock().ok().and_then(|r| r.clone())
    }

    fn note_refusal(&self, code: Option<RDKafkaErrorCode>, text: &str) {
        if let Some(refusal) = Refusal::of(code, text) {
            if let Ok(mut kept) = self.refusal.lock() {
                kept.get_or_insert(refusal);
            }
        }
    }

    /// The advertised brokers that failed to connect so far: `(address, broker id)`.
    pub fn advertised_failures(&self) -> Vec<(String, i32)> {
        self.advertised_failures
            .lock()
            .map(|f| f.iter().map(|(a, id)| (a.clone(), *id)).collect())
            .unwrap_or_default()
    }

    fn note_advertised_failure(&self, text: &str) {
        if let Some((address, id)) = crate::listeners::advertised_broker(text) {
            if let Ok(mut failures) = self.advertised_failures.lock() {
                failures.insert(address, id);
            }
        }
    }

    /// The last error librdkafka reported (e.g. "Connect to ipv4#127.0.0.1:1 failed").
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|last| last.clone())
    }

    fn show_once(&self, line: String) {
        let mut seen = match self.seen.lock() {
            Ok(seen) => seen,
            Err(poisoned) => poisoned.into_inner(),
        };
        if seen.len() < MAX_DISTINCT_LINES && seen.insert(line.clone()) {
            eprintln!("{}: librdkafka: {}", self.tool, line);
        }
    }

    /// The part of the logging behaviour a wrapping context forwards to.
    pub fn on_log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        // Clients are created without brokers and given them right after (see
        // kcore::self_connection), so librdkafka's notice about that is not news.
        if fac == "CONFWARN" && message.starts_with("No `bootstrap.servers` configured") {
            return;
        }
        // Connection failures arrive as log lines at once, while error events wait for a
        // poll: keep the latest serious one, so a timeout can say "Connection refused".
        if (level as i32) <= (RDKafkaLogLevel::Error as i32) || fac == "FAIL" {
            self.note_refusal(None, message);
            self.note_advertised_failure(message);
            if let Ok(mut last) = self.last_error.lock() {
                // As in on_error: the "N/N brokers are down" line must not hide the reason.
                let generic = message.ends_with("brokers are down");
                if !(generic && last.is_some()) {
                    *last = Some(message.to_string());
                }
            }
        }
        let threshold = if self.verbose >= 2 {
            RDKafkaLogLevel::Debug
        } else {
            RDKafkaLogLevel::Info
        };
        if self.verbose > 0 && (level as i32) <= (threshold as i32) {
            self.show_once(format!("{fac}: {message}"));
        }
    }

    /// A new OAUTHBEARER token, when librdkafka asks for one (a wrapping context forwards
    /// its `generate_oauth_token` here). Only tokens kpipes makes itself are made here.
    pub fn refresh_oauth_token(
        &self,
        oauthbearer_config: Option<&str>,
    ) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        match oauthbearer_config {
            Some(config) if crate::msk_iam::is_msk_config(Some(config)) => {
                crate::msk_iam::token(config, std::time::SystemTime::now()).map_err(|err| {
                    let line = crate::failure::one_line(&err);
                    if let Ok(mut last) = self.last_error.lock() {
                        *last = Some(line.clone());
                    }
                    line.into()
                })
            }
            _ => Err("no OAUTHBEARER token source configured (kpipes makes tokens only for sasl.mechanism=AWS_MSK_IAM)".into()),
        }
    }

    pub fn on_error(&self, error: KafkaError, reason: &str) {
        let text = if reason.is_empty() {
            error.to_string()
        } else {
            reason.to_string()
        };
        if self.verbose > 0 {
            self.show_once(format!("error: {text}"));
        }
        self.note_refusal(error.rdkafka_error_code(), &text);
        self.note_advertised_failure(&text);
        if let Ok(mut last) = self.last_error.lock() {
            // "1/1 brokers are down" says less than the connection failure logged before it.
            let generic = matches!(
                error.rdkafka_error_code(),
                Some(RDKafkaErrorCode::AllBrokersDown)
            );
            if !(generic && last.is_some()) {
                *last = Some(text);
            }
        }
    }
}

impl ClientContext for QuietContext {
    // Tokens kpipes makes itself (AWS MSK IAM) are refreshed through librdkafka's event.
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(
        &self,
        oauthbearer_config: Option<&str>,
    ) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        self.refresh_oauth_token(oauthbearer_config)
    }

    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.on_log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.on_error(error, reason);
    }
}

impl ConsumerContext for QuietContext {}

impl AsRef<QuietContext> for QuietContext {
    fn as_ref(&self) -> &QuietContext {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_tokens_kpipes_makes_are_made() {
        let quiet = QuietContext::new("test", 0);
        assert!(quiet.refresh_oauth_token(None).is_err());
        assert!(quiet.refresh_oauth_token(Some("principal=admin")).is_err());
        // An MSK IAM refresh with a profile that exists nowhere: why it failed is kept.
        let config = crate::msk_iam::Settings {
            region: Some("us-east-1".into()),
            profile: Some("kpipes-test-no-such-profile".into()),
        }
        .to_config();
        let Err(err) = quiet.refresh_oauth_token(Some(&config)) else {
            panic!("a token without credentials");
        };
        assert!(err.to_string().contains("no AWS credentials"), "{err}");
        assert_eq!(quiet.last_error(), Some(err.to_string()));
    }

    #[test]
    fn refusals_are_told_from_passing_failures() {
        let auth = "sasl_ssl://localhost:1/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512";
        assert!(matches!(
            Refusal::of(None, auth),
            Some(Refusal::Authentication(_))
        ));
        assert!(matches!(
            Refusal::of(Some(RDKafkaErrorCode::Authentication), "x"),
            Some(Refusal::Authentication(_))
        ));
        let tls = "SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified";
        assert!(matches!(Refusal::of(None, tls), Some(Refusal::Tls(_))));
        // A broker going away in the middle of a handshake may be back soon: not a refusal.
        assert_eq!(
            Refusal::of(None, "SSL handshake failed: Disconnected"),
            None
        );
        assert_eq!(
            Refusal::of(
                None,
                "Connect to ipv4#127.0.0.1:1 failed: Connection refused"
            ),
            None
        );
    }
}
