//! Reaching real clusters (README "Connecting to your cluster"): named profiles, OAUTHBEARER
//! with OIDC, and brokers whose advertised listeners cannot be reached.
//!
//! - Profiles on the command line (save, list, show with secrets masked, a missing one is
//!   exit 6) and in completions need no cluster.
//! - One test brings up a cluster of its own that takes OAUTHBEARER tokens, checked by
//!   Kafka's own validator against the JWKS of a small OIDC provider the test runs
//!   (tests/harness/oidc_provider.py, an RSA key made per run). It is also the second
//!   cluster of a user with two: every tool switches between it and the shared test
//!   cluster with `--profile` alone, and the precedence of -b, -X, the environment and
//!   `KPIPES_PROFILE` is checked there. Then each refusal, with its exit code, at once.
//! - One test brings up a cluster whose two brokers advertise an address that does not
//!   resolve and one that refuses connections: every tool says so in one line.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kpipes_e2e::*;

/// A config directory of this test's own (profiles live there).
fn config_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name("kpipes-profiles"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A tool reading profiles from `config`, with no connection settings from this process's
/// environment.
fn bare(name: &str, config: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin_path(name));
    cmd.env("KPIPES_CONFIG_DIR", config)
        .env_remove("KAFKA_BROKERS")
        .env_remove("KPIPES_CONFIG_FILE")
        .env_remove("KPIPES_PROFILE")
        .env_remove("KPIPES_SCHEMA_REGISTRY")
        .env_remove("NO_COLOR")
        .timeout(Duration::from_secs(120));
    cmd
}

#[test]
fn profiles_are_saved_listed_and_shown_with_secrets_masked() {
    let config = config_dir();
    let kcluster = |args: &[&str]| {
        let mut cmd = bare("kcluster", &config);
        cmd.args(args);
        cmd
    };
    run(&mut kcluster(&[
        "profile",
        "save",
        "prod",
        "-b",
        "b-1.example.com:9092,b-2.example.com:9092",
        "-X",
        "security.protocol=SASL_SSL",
        "-X",
        "sasl.mechanism=SCRAM-SHA-512",
        "-X",
        "sasl.username=app",
        "-X",
        "sasl.password=hunter2-secret",
        "--schema-registry",
        "https://sr.example.com",
    ]))
    .success();
    let path = config.join("profiles/prod.properties");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "a profile may hold passwords");
    // Saving over it needs --force.
    run(&mut kcluster(&["profile", "save", "prod", "-b", "x:1"]))
        .code_is(2)
        .one_error_line("kcluster")
        .stderr_has("--force");
    run(&mut kcluster(&[
        "profile",
        "save",
        "dev",
        "-b",
        "localhost:9092",
    ]))
    .success();
    let listed = run(&mut kcluster(&["profile", "list"]))
        .success()
        .json_lines();
    let names: Vec<&str> = listed.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["dev", "prod"]);
    assert_eq!(
        listed[1]["brokers"],
        "b-1.example.com:9092,b-2.example.com:9092"
    );
    assert_eq!(listed[1]["schema_registry"], "https://sr.example.com");
    let shown = run(&mut kcluster(&["profile", "show", "prod"])).success();
    assert!(
        shown.stdout().contains("sasl.password=***"),
        "{}",
        shown.stdout()
    );
    assert!(shown.stdout().contains("sasl.username=app"));
    assert!(!shown.stdout().contains("hunter2") && !shown.stderr().contains("hunter2"));
    // A missing profile: exit 6, one line naming it and the profiles there are, for every tool.
    for tool in ["kcluster", "ktopic", "kprod", "kcons", "kgroup"] {
        let mut cmd = bare(tool, &config);
        if tool == "kcluster" {
            cmd.args(["profile", "show", "prdo"]);
        } else {
            cmd.args(["--profile", "prdo"]).args(match tool {
                "ktopic" | "kgroup" => vec!["list"],
                _ => vec!["some-topic"],
            });
        }
        run(&mut cmd)
            .code_is(6)
            .one_error_line(tool)
            .stderr_has("no profile named 'prdo'")
            .stderr_has("dev, prod");
    }
    // From the environment too, saying so.
    run(bare("ktopic", &config)
        .env("KPIPES_PROFILE", "nope")
        .arg("list"))
    .code_is(6)
    .stderr_has("from KPIPES_PROFILE");
    // An unreadable one (a directory in its place): exit 2, naming it.
    std::fs::create_dir_all(config.join("profiles/broken.properties")).unwrap();
    run(bare("ktopic", &config).args(["--profile", "broken", "list"]))
        .code_is(2)
        .one_error_line("ktopic")
        .stderr_has("cannot read profile 'broken'");
    // A malformed line: its file and line number.
    std::fs::write(
        config.join("profiles/bad.properties"),
        "bootstrap.servers=a:1\nnonsense\n",
    )
    .unwrap();
    run(bare("kcons", &config).args(["--profile", "bad", "t"]))
        .code_is(2)
        .one_error_line("kcons")
        .stderr_has("bad.properties:2:");
    run(&mut kcluster(&["profile", "delete", "dev"])).success();
    assert!(!config.join("profiles/dev.properties").exists());
    std::fs::remove_dir_all(&config).unwrap();
}

#[test]
fn bash_completes_profile_names() {
    let config = config_dir();
    for name in ["prod", "staging"] {
        run(bare("kcluster", &config).args(["profile", "save", name, "-b", "h:1"])).success();
    }
    let script = run(bare("kcons", &config).args(["--generate", "bash"]))
        .success()
        .stdout();
    let script_file = config.join("kcons.bash");
    std::fs::write(&script_file, script).unwrap();
    // What bash does on `kcons --profile st<TAB>`, with kcluster found on PATH.
    let bin_dir = bin_path("kcluster").parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let complete = |word: &str| -> Vec<String> {
        let script = format!(
            "source {}; COMP_WORDS=(kcons --profile '{word}'); COMP_CWORD=2; COMP_LINE='kcons --profile {word}'; COMP_POINT=${{#COMP_LINE}}; _kcons kcons '{word}' --profile; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script_file.display()
        );
        let out = Command::new("bash")
            .args(["-c", &script])
            .env("PATH", &path)
            .env("KPIPES_CONFIG_DIR", &config)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    };
    assert_eq!(complete(""), ["prod", "staging"]);
    assert_eq!(complete("st"), ["staging"]);
    std::fs::remove_dir_all(&config).unwrap();
}

/// The OIDC provider of tests/harness/oidc_provider.py, running until dropped.
struct Provider {
    child: std::process::Child,
    port: u16,
}

impl Provider {
    fn start(secret: &str) -> Provider {
        let python = kcore::state::cache_root().join("python/bin/python");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/harness/oidc_provider.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(secret)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "{} (scripts/setup --tests installs it): {err}",
                    python.display()
                )
            });
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the OIDC provider did not start: {line:?}"));
        Provider { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A cluster of a test's own, in a state directory of its own; `down` when dropped.
struct OwnCluster {
    name: String,
    state_dir: PathBuf,
}

impl OwnCluster {
    fn up(prefix: &str, args: &[&str]) -> OwnCluster {
        let cluster = OwnCluster {
            name: unique_name(prefix).chars().take(40).collect(),
            state_dir: std::env::temp_dir().join(unique_name("kpipes-connecting-state")),
        };
        run(cluster.kcluster().arg("up").args(args)).success();
        cluster
    }

    fn kcluster(&self) -> assert_cmd::Command {
        let mut cmd = kcluster(&self.name);
        cmd.env("KPIPES_STATE_DIR", &self.state_dir)
            .env("KPIPES_BACKEND", "local")
            .env_remove("KAFKA_VERSION")
            .env_remove("KAFKA_HOME");
        cmd
    }

    /// Its brokers, from its state (`kcluster env`: no health check, which a cluster with
    /// unreachable advertised listeners may not pass at every moment).
    fn bootstrap(&self) -> String {
        let env = run(self.kcluster().arg("env")).success().stdout();
        env.lines()
            .find_map(|line| line.strip_prefix("export KAFKA_BROKERS="))
            .expect("kcluster env names the brokers")
            .to_string()
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = self.kcluster().arg("down").output();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// The OIDC client settings for `client` (a librdkafka properties file's lines).
fn oidc_properties(provider: &Provider, client: &str, secret: &str) -> String {
    format!(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=OAUTHBEARER\nsasl.oauthbearer.method=oidc\n\
         sasl.oauthbearer.token.endpoint.url={}\nsasl.oauthbearer.client.id={client}\n\
         sasl.oauthbearer.client.secret={secret}\n",
        provider.url("/token")
    )
}

#[test]
fn oidc_logins_and_profiles_switch_between_two_clusters() {
    needs_cluster!();
    let secret = format!("s3cret-{}", unique_name("oidc"));
    let provider = Provider::start(&secret);
    let oauth = OwnCluster::up(
        "conn-oauth",
        &["--brokers", "1", "--oauth", &provider.url("/jwks")],
    );
    let oauth_brokers = oauth.bootstrap();
    let config = config_dir();
    let seen = std::cell::RefCell::new(String::new());
    let ran = |cmd: &mut assert_cmd::Command| {
        let ran = run(cmd);
        seen.borrow_mut().push_str(&(ran.stdout() + &ran.stderr()));
        ran
    };
    // Two profiles: the shared test cluster (plain) and the OAuth cluster (OIDC).
    // The shared test cluster saved as a profile by kcluster itself.
    run(bare("kcluster", &config).args([
        "env",
        "--name",
        &test_cluster(),
        "--save-profile",
        "shared",
    ]))
    .success();
    let saved = std::fs::read_to_string(config.join("profiles/shared.properties")).unwrap();
    assert!(
        saved.contains(&format!("bootstrap.servers={}", brokers())),
        "{saved}"
    );
    // The OAuth cluster's, written by hand as a user would.
    std::fs::write(
        config.join("profiles/oauth.properties"),
        format!(
            "bootstrap.servers={oauth_brokers}\n{}",
            oidc_properties(&provider, "app", &secret)
        ),
    )
    .unwrap();
    // The shell was set up for something else entirely: --profile alone must switch.
    let elsewhere = config.join("elsewhere.properties");
    std::fs::write(&elsewhere, "security.protocol=SSL\n").unwrap();
    let tool = |name: &str, profile: &str| {
        let mut cmd = bare(name, &config);
        cmd.env("KAFKA_BROKERS", "localhost:1")
            .env("KPIPES_CONFIG_FILE", &elsewhere)
            .args(["--profile", profile]);
        cmd
    };
    let topic = unique_name("conn-topic");
    for (profile, replication) in [("shared", "3"), ("oauth", "1")] {
        ran(tool("ktopic", profile).args(["create", &topic, "-r", replication])).success();
        ran(tool("kprod", profile)
            .arg(&topic)
            .write_stdin(format!("from {profile}\n")))
        .success();
        let group = unique_name("conn-group");
        let got = ran(tool("kcons", profile).args([&topic, "-e", "-g", &group]))
            .success()
            .json_lines();
        assert_eq!(
            values(&got),
            [json!(format!("from {profile}"))],
            "{profile}"
        );
        let groups = ran(tool("kgroup", profile).arg("list")).success().stdout();
        assert!(groups.contains(&group), "{profile}: {groups}");
        let described = ran(tool("ktopic", profile).args(["describe", &topic]))
            .success()
            .stdout();
        assert!(described.contains(&topic));
    }
    // Each cluster kept its own record: the switch really switched.
    let shared_records = records(&topic);
    assert_eq!(values(&shared_records), [json!("from shared")]);

    // Precedence. -b beats the profile's brokers (nothing listens on localhost:1).
    fails_unreachable_in_time(
        tool("ktopic", "oauth").args(["-b", "localhost:1", "--timeout", "2", "list"]),
        "ktopic",
    );
    // -X beats the profile's properties: a wrong secret given on the command line is used.
    ran(tool("ktopic", "oauth").args(["-X", "sasl.oauthbearer.client.secret=wrong", "list"]))
        .code_is(10)
        .one_error_line("ktopic");
    // KPIPES_PROFILE is the environment's: KAFKA_BROKERS beats it, and it beats nothing set.
    let mut from_env = bare("ktopic", &config);
    from_env
        .env("KPIPES_PROFILE", "oauth")
        .args(["describe", &topic]);
    let described = ran(&mut from_env).success().json_lines();
    assert_eq!(described[0]["replication_factor"], 1, "{described:?}");
    let mut env_wins = bare("ktopic", &config);
    env_wins
        .env("KPIPES_PROFILE", "oauth")
        .env("KAFKA_BROKERS", brokers())
        .env_remove("KPIPES_CONFIG_FILE")
        .args(["-X", "security.protocol=plaintext", "describe", &topic]);
    let described = ran(&mut env_wins).success().json_lines();
    assert_eq!(described[0]["replication_factor"], 3, "{described:?}");

    // Refusals: each at once (well inside --timeout 30), with its exit code and cause.
    let refusal = |properties: String, code: i32, cause: &str| {
        let file = config.join(unique_name("client"));
        std::fs::write(&file, properties).unwrap();
        for name in ["ktopic", "kprod", "kcons", "kgroup"] {
            let mut cmd = bare(name, &config);
            cmd.args(["-b", &oauth_brokers, "-F"])
                .arg(&file)
                .args(["--timeout", "30"]);
            match name {
                "ktopic" | "kgroup" => cmd.arg("list"),
                "kprod" => cmd.arg(&topic).write_stdin("x\n"),
                _ => cmd.args([&topic, "-e"]),
            };
            let started = Instant::now();
            ran(&mut cmd)
                .code_is(code)
                .one_error_line(name)
                .stderr_has(cause);
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{name} took {:?}",
                started.elapsed()
            );
        }
    };
    refusal(
        oidc_properties(&provider, "app", "wrong-secret"),
        10,
        "bad client secret",
    );
    refusal(
        oidc_properties(&provider, "expired-app", &secret),
        10,
        "unexpired token",
    );
    refusal(
        oidc_properties(&provider, "forged-app", &secret),
        10,
        "refused the client's OAUTHBEARER token",
    );
    let unreachable = oidc_properties(&provider, "app", &secret)
        .replace(&provider.url("/token"), "http://127.0.0.1:1/token");
    refusal(
        unreachable,
        5,
        "the token endpoint http://127.0.0.1:1/token cannot be reached",
    );
    // Nothing records from a refused client reached the topic.
    let got = ran(tool("kcons", "oauth").args([&topic, "-e"]))
        .success()
        .json_lines();
    assert_eq!(values(&got), [json!("from oauth")]);
    assert!(
        !seen.borrow().contains(&secret),
        "the client secret was shown"
    );
    std::fs::remove_dir_all(&config).unwrap();
}

#[test]
fn unreachable_advertised_listeners_are_explained_by_every_tool() {
    needs_cluster!();
    // Broker 1 advertises a name that does not resolve (the seed's own mistake: a
    // container's name), broker 2 a port nothing listens on.
    let cluster = OwnCluster::up(
        "conn-adv",
        &[
            "--brokers",
            "2",
            "--advertise",
            "1=broker-1.kpipes.invalid:9092",
            "--advertise",
            "2=127.0.0.1:1",
        ],
    );
    let bootstrap = cluster.bootstrap();
    let first = bootstrap.split(',').next().unwrap().to_string();
    let config = config_dir();
    for name in ["ktopic", "kprod", "kcons", "kgroup"] {
        let mut cmd = bare(name, &config);
        cmd.args(["-b", &first, "--timeout", "5"]);
        match name {
            "ktopic" | "kgroup" => cmd.arg("list"),
            "kprod" => cmd.arg("t").write_stdin("x\n"),
            _ => cmd.args(["t", "-e"]),
        };
        let started = Instant::now();
        run(&mut cmd)
            .code_is(5)
            .one_error_line(name)
            .stderr_has(&format!("the bootstrap server {first} answered"))
            .stderr_has("broker 1 at broker-1.kpipes.invalid:9092 does not resolve")
            .stderr_has("broker 2 at 127.0.0.1:1 refused the connection")
            .stderr_has("advertised.listeners");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{name} took {:?}",
            started.elapsed()
        );
    }
    std::fs::remove_dir_all(&config).unwrap();
}
