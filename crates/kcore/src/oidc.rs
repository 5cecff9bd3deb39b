//! OAUTHBEARER with OIDC: librdkafka's own client-credentials support
//! (`sasl.oauthbearer.method=oidc`, built in with its libcurl feature) asks the token
//! endpoint for a JWT, hands it to the brokers and refreshes it before it expires. What
//! kpipes adds is telling its failures apart, so that a tool stops at once with the cause
//! instead of retrying until `--timeout`: librdkafka reports a token it could not get as
//! "Failed to acquire SASL OAUTHBEARER token: WHY", WHY being curl's words for an endpoint
//! that cannot be reached, or the endpoint's own answer (a wrong secret), or why the token
//! is unusable (expired).

use crate::connection::Connection;

/// How librdkafka begins a failure to get a token.
pub const TOKEN_FAILURE: &str = "Failed to acquire SASL OAUTHBEARER token";

/// Whether a token failure says the endpoint could not be reached (curl's messages).
pub fn endpoint_unreachable(text: &str) -> bool {
    [
        "Couldn't connect",
        "Failed to connect",
        "Could not resolve",
        "Couldn't resolve",
        "Timeout was reached",
        "timed out",
        "Connection refused",
    ]
    .iter()
    .any(|words| text.contains(words))
}

/// Whether the client logs in with OAUTHBEARER.
pub fn uses_oauthbearer(conn: &Connection) -> bool {
    ["sasl.mechanism", "sasl.mechanisms"]
        .iter()
        .filter_map(|key| conn.property(key))
        .any(|m| m.eq_ignore_ascii_case("OAUTHBEARER"))
}

/// Where the tokens come from, for messages.
pub fn token_endpoint(conn: &Connection) -> String {
    conn.property("sasl.oauthbearer.token.endpoint.url")
        .unwrap_or("(sasl.oauthbearer.token.endpoint.url unset)")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_endpoints_are_told_from_refusals() {
        assert!(endpoint_unreachable("Failed to acquire SASL OAUTHBEARER token: Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server"));
        assert!(!endpoint_unreachable(
            "Failed to acquire SASL OAUTHBEARER token: {\"error\": \"invalid_client\"}"
        ));
    }
}
