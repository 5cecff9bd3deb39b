//! AWS MSK IAM (`-X sasl.mechanism=AWS_MSK_IAM`). MSK itself cannot be reached from here, so:
//! - the token is checked against AWS's own signer for Python (`aws-msk-iam-sasl-signer-python`,
//!   in the tests' venv), with the same credentials and a fixed clock, field by field, for
//!   each source of credentials (environment, session token, shared credentials file with
//!   `AWS_PROFILE`, a named profile of the config file);
//! - a real broker that takes OAUTHBEARER but not this token refuses it: exit 10 at once,
//!   nothing secret printed; missing credentials and a missing region fail before connecting.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use kcore::msk_iam::{self, Env, Settings};
use kpipes_e2e::kerberos::KerberosBroker;
use kpipes_e2e::*;

const KEY_ID: &str = "AKIAKPIPESTEST000001";
const SECRET: &str = "kpipesTESTsecret/0123456789+abcdefghijklm";
const SESSION: &str = "FwoGZXIvYXdzEKPIPESsessionTOKEN/with+slashes==";

/// The tests' Python (scripts/setup --tests), if AWS's signer is installed in it.
fn signer_python() -> Option<PathBuf> {
    let python = kcore::state::cache_root().join("python/bin/python");
    let works = std::process::Command::new(&python)
        .args(["-c", "import aws_msk_iam_sasl_signer"])
        .output()
        .is_ok_and(|out| out.status.success());
    if works {
        return Some(python);
    }
    let why = format!(
        "no aws-msk-iam-sasl-signer-python in {} (scripts/setup --tests installs it)",
        python.display()
    );
    assert!(
        std::env::var_os("KPIPES_TEST_CLUSTER").is_none(),
        "{why}, yet scripts/test provides it"
    );
    eprintln!("{why}: the MSK IAM token test is skipped");
    None
}

/// AWS's signer's token for `region` at `at` (seconds), credentials from `vars` alone
/// (HOME too: no file of the machine's is read), `profile` as its `..._from_profile`.
fn python_token(
    python: &Path,
    vars: &[(&str, &str)],
    region: &str,
    at: u64,
    profile: Option<&str>,
) -> (String, i64) {
    // botocore signs at get_current_datetime(): fixed here, as kpipes' `now` is.
    let script = r#"
import datetime, json, sys
import botocore.auth
from aws_msk_iam_sasl_signer import MSKAuthTokenProvider as signer
fixed = datetime.datetime.fromtimestamp(int(sys.argv[2]), datetime.timezone.utc)
botocore.auth.get_current_datetime = lambda remove_tzinfo=True: fixed.replace(tzinfo=None) if remove_tzinfo else fixed
if len(sys.argv) > 3:
    token, expiry = signer.generate_auth_token_from_profile(sys.argv[1], sys.argv[3])
else:
    token, expiry = signer.generate_auth_token(sys.argv[1])
print(json.dumps({"token": token, "expiry_ms": expiry}))
"#;
    let mut cmd = std::process::Command::new(python);
    cmd.env_clear()
        .args(["-c", script, region, &at.to_string()])
        .args(profile)
        .envs(vars.iter().copied());
    let out = cmd.output().expect("running the tests' Python");
    assert!(
        out.status.success(),
        "AWS's signer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        answer["token"].as_str().unwrap().to_string(),
        answer["expiry_ms"].as_i64().unwrap(),
    )
}

/// A token's URL: (scheme, host and path; query fields, decoded).
fn fields(token: &str) -> (String, BTreeMap<String, String>) {
    assert!(
        !token.contains(['=', '+', '/']),
        "not base64url without padding: {token}"
    );
    // The harness decodes standard base64, padded.
    let mut standard = token.replace('-', "+").replace('_', "/");
    while !standard.len().is_multiple_of(4) {
        standard.push('=');
    }
    let url = String::from_utf8(base64_decode(&standard)).unwrap();
    let (base, query) = url.split_once('?').expect("a query");
    let fields = query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').expect("key=value");
            (k.to_string(), percent_decode(v))
        })
        .collect();
    (base.to_string(), fields)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// What is tested, the environment, the region, the profile given by name.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str, Option<&'a str>);

#[test]
fn the_token_matches_aws_own_signer_field_by_field() {
    let Some(python) = signer_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().display().to_string();
    let credentials_file = dir.path().join("credentials");
    let config_file = dir.path().join("config");
    std::fs::write(
        &credentials_file,
        format!(
            "[default]\naws_access_key_id = AKIADEFAULTNOTUSED01\naws_secret_access_key = x\n\
             [team]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n\
             aws_session_token = {SESSION}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        &config_file,
        format!(
            "[default]\nregion = eu-west-1\n\
             [profile ops]\nregion = ap-southeast-2\naws_access_key_id = {KEY_ID}\n\
             aws_secret_access_key = {SECRET}\n"
        ),
    )
    .unwrap();
    let (credentials_path, config_path) = (
        credentials_file.display().to_string(),
        config_file.display().to_string(),
    );
    let files = [
        ("HOME", home.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials_path.as_str()),
        ("AWS_CONFIG_FILE", config_path.as_str()),
    ];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&str, &str)> {
        files.iter().copied().chain(extra.iter().copied()).collect()
    };
    let cases: Vec<Case> = vec![
        (
            "environment keys",
            with(&[
                ("AWS_ACCESS_KEY_ID", KEY_ID),
                ("AWS_SECRET_ACCESS_KEY", SECRET),
            ]),
            "us-east-1",
            None,
        ),
        (
            "environment keys and session token",
            with(&[
                ("AWS_ACCESS_KEY_ID", KEY_ID),
                ("AWS_SECRET_ACCESS_KEY", SECRET),
                ("AWS_SESSION_TOKEN", SESSION),
            ]),
            "eu-central-1",
            None,
        ),
        (
            "AWS_PROFILE in the shared credentials file, with a session token",
            with(&[("AWS_PROFILE", "team")]),
            "us-west-2",
            None,
        ),
        (
            "a named profile of the config file",
            with(&[]),
            "ap-southeast-2",
            Some("ops"),
        ),
    ];
    // A time of day whose date differs in local time zones east and west of UTC.
    for at in [1_700_000_000u64, 1_735_689_599] {
        for (what, vars, region, profile) in &cases {
            let settings = Settings {
                region: Some(region.to_string()),
                profile: profile.map(str::to_string),
            };
            let ours = msk_iam::token_in(
                &Env::from_slice(vars),
                &settings.to_config(),
                UNIX_EPOCH + Duration::from_secs(at),
            )
            .unwrap_or_else(|e| panic!("{what}: {e:#}"));
            let (theirs, their_expiry) = python_token(&python, vars, region, at, *profile);
            let (our_base, mut our_fields) = fields(&ours.token);
            let (their_base, mut their_fields) = fields(&theirs);
            assert_eq!(our_base, their_base, "{what}: the URL");
            assert_eq!(our_base, format!("https://kafka.{region}.amazonaws.com/"));
            // Each signer names itself; everything else is the same, signature included.
            let ua = (
                our_fields.remove("User-Agent"),
                their_fields.remove("User-Agent"),
            );
            assert!(ua.0.unwrap().starts_with("kpipes/"), "{what}");
            assert!(
                ua.1.unwrap().starts_with("aws-msk-iam-sasl-signer-python/"),
                "{what}"
            );
            assert_eq!(our_fields, their_fields, "{what} at {at}: the query fields");
            assert_eq!(our_fields["Action"], "kafka-cluster:Connect");
            assert!(our_fields["X-Amz-Credential"].starts_with(KEY_ID), "{what}");
            assert_eq!(
                our_fields.contains_key("X-Amz-Security-Token"),
                what.contains("session token"),
                "{what}"
            );
            assert_eq!(ours.lifetime_ms, their_expiry, "{what}: the expiry");
            assert_eq!(ours.lifetime_ms, (at as i64 + 900) * 1000);
        }
    }
}

/// A tool with AWS credentials of its own and none of the machine's.
fn with_aws(
    mut cmd: assert_cmd::Command,
    home: &Path,
    vars: &[(&str, &str)],
) -> assert_cmd::Command {
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home).envs(vars.iter().copied());
    cmd
}

#[test]
fn a_broker_that_does_not_take_the_token_refuses_it_at_once() {
    needs_cluster!();
    let broker = KerberosBroker::shared();
    let home = tempfile::tempdir().unwrap();
    let vars = [
        ("AWS_ACCESS_KEY_ID", KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_SESSION_TOKEN", SESSION),
        ("AWS_REGION", "us-east-1"),
    ];
    let topic = unique_name("msk-iam");
    // The token's start, as base64url: the same for any signing time and credentials.
    let token_start = "aHR0cHM6Ly9rYWZrYS51cy1lYXN0LTEuYW1hem9uYXdzLmNvbS8_QWN0aW9u";
    // -vv: not even librdkafka's debug lines show a secret or the token.
    for (name, args) in [
        ("ktopic", vec!["list"]),
        ("kcons", vec![topic.as_str(), "-e", "-vv"]),
    ] {
        let mut cmd = with_aws(tool(name), home.path(), &vars);
        cmd.env("KAFKA_BROKERS", &broker.sasl_bootstrap)
            .env_remove("KPIPES_CONFIG_FILE")
            .args(&args)
            .args([
                "-X",
                "security.protocol=SASL_PLAINTEXT",
                "-X",
                "sasl.mechanism=AWS_MSK_IAM",
                "--timeout",
                "30",
            ]);
        let started = Instant::now();
        let mut ran = run(&mut cmd).code_is(10).no_panic();
        if !args.contains(&"-vv") {
            ran = ran.one_error_line(name);
        }
        // Not waited out: the refusal ends the run, not the 30 s timeout.
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{}",
            ran.explain("a refusal at once")
        );
        let text = format!("{}{}", ran.stdout(), ran.stderr());
        for secret in [SECRET, SESSION] {
            assert!(
                !text.contains(secret),
                "{}",
                ran.explain("no secret printed")
            );
        }
        for token in [KEY_ID, token_start] {
            assert!(!text.contains(token), "{}", ran.explain("no token printed"));
        }
        assert!(
            ran.stderr().contains("refused the AWS MSK IAM token"),
            "{}",
            ran.explain("says what was refused")
        );
    }
}

#[test]
fn missing_credentials_or_region_fail_before_connecting() {
    let home = tempfile::tempdir().unwrap();
    let ktopic = |vars: &[(&str, &str)]| {
        let mut cmd = with_aws(
            assert_cmd::Command::new(bin_path("ktopic")),
            home.path(),
            vars,
        );
        // Nothing listens there: an error about it would mean kpipes tried to connect.
        cmd.args([
            "list",
            "-b",
            "localhost:1",
            "-X",
            "sasl.mechanism=AWS_MSK_IAM",
        ])
        .timeout(Duration::from_secs(60));
        run(&mut cmd)
    };
    let ran = ktopic(&[("AWS_REGION", "us-east-1")])
        .code_is(10)
        .one_error_line("ktopic");
    assert!(
        ran.stderr().contains("no AWS credentials"),
        "{}",
        ran.explain("says what is missing")
    );
    let ran = ktopic(&[
        ("AWS_ACCESS_KEY_ID", KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
    ])
    .code_is(2)
    .one_error_line("ktopic");
    assert!(
        ran.stderr().contains("AWS_REGION"),
        "{}",
        ran.explain("says how to name a region")
    );
    assert!(!ran.stderr().contains(SECRET));
}
