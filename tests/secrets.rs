//! Secret property values (`sasl.password`, `ssl.key.password`, ...) never appear in
//! what kpipes prints: error messages, `-v`/`-vv` output (librdkafka's own lines, its
//! debug output included), nor what `kcluster` shows. Each tool is run with a SASL
//! password against an unreachable broker, against the live test cluster (whose
//! PLAINTEXT listeners refuse the SASL handshake, so the tools fail after talking to
//! them), with a bad property value beside the secret, and with secrets in a `-F` file.
//!
//! Not covered, because kpipes does not control it: the process's own command line
//! (`/proc/PID/cmdline`, `ps`) shows `-X` arguments to other users of the machine,
//! which is why README.md recommends `-F FILE` for secrets.

use std::time::Duration;

use kpipes_e2e::*;

const SECRET: &str = "S3CRET-xyz";
const TOPIC: &str = "rel-secret-topic";
/// `--timeout` for runs against the live cluster whose output is checked only for the
/// secret. Runs whose output must show something (librdkafka's lines, its configuration
/// dump) wait for it instead: see [`run_until_shown`].
const LIVE_TIMEOUT: &str = "5";

/// The SASL settings of the issue, the password being the secret.
fn sasl() -> Vec<String> {
    [
        "sasl.password=S3CRET-xyz",
        "security.protocol=sasl_plaintext",
        "sasl.mechanism=PLAIN",
        "sasl.username=u",
    ]
    .iter()
    .flat_map(|p| ["-X".to_string(), p.to_string()])
    .collect()
}

/// Each tool with the arguments that make it connect.
fn tools() -> [(&'static str, Vec<&'static str>); 3] {
    [
        ("kprod", vec![TOPIC]),
        ("kcons", vec![TOPIC, "-e"]),
        ("ktopic", vec!["list"]),
    ]
}

fn run_tool(name: &str, args: &[&str], extra: &[String]) -> Ran {
    run(tool(name)
        .args(args)
        .args(extra)
        .write_stdin("one record\n"))
}

/// Tool `name` against the live cluster, with the SASL settings and `verbosity`, until
/// its stderr shows `expected`; then SIGKILL: what it printed so far. The tools show
/// librdkafka's lines as they get to them while they retry the connection, a few a
/// second, so the test waits for the line it needs rather than a time (`--timeout 5`
/// was too short on a loaded machine for kcons to reach the configuration dump).
fn run_until_shown(name: &str, args: &[&str], verbosity: &[&str], expected: &str) -> Ran {
    let mut extra = sasl();
    extra.extend(["--timeout", "300"].map(String::from));
    extra.extend(verbosity.iter().map(|s| s.to_string()));
    let mut proc = Proc::spawn(command(name).args(args).args(&extra));
    proc.write(b"one record\n");
    proc.wait_stderr(expected, Duration::from_secs(120));
    // The tool may have ended by itself meanwhile: the cluster refuses the bogus SASL
    // setup, and a refused login ends a tool at once (exit 10).
    if proc.running() {
        proc.signal(libc::SIGKILL);
    }
    proc.finish(Duration::from_secs(30))
}

/// The secret is in neither stdout nor stderr; the run did fail (it was meant to).
fn assert_hidden(ran: &Ran, expected_code: Option<i32>) {
    let (out, err) = (ran.stdout(), ran.stderr());
    assert!(
        !out.contains(SECRET) && !err.contains(SECRET),
        "the secret was printed by {}\n{err}{out}",
        ran.what
    );
    assert!(!err.contains("panicked"), "{err}");
    match expected_code {
        Some(code) => assert_eq!(ran.code(), Some(code), "{}\n{err}", ran.what),
        None => assert_ne!(
            ran.code(),
            Some(0),
            "{} succeeded with a bogus SASL setup\n{err}",
            ran.what
        ),
    }
}

#[test]
fn secrets_never_show_in_errors_or_verbose_output() {
    needs_cluster!();
    for (name, args) in tools() {
        // Nobody there.
        let mut extra = sasl();
        extra.extend(["-b", "localhost:1", "--timeout", "2"].map(String::from));
        assert_hidden(&run_tool(name, &args, &extra), Some(5));

        // The live cluster, quiet: the tool fails, and its error does not show the secret.
        let mut extra = sasl();
        extra.extend(["--timeout", LIVE_TIMEOUT].map(String::from));
        assert_hidden(&run_tool(name, &args, &extra), None);
        // -v, -vv and -vv with all of librdkafka's debug output, which includes a dump of
        // the configuration: it names the property, never its value.
        for (verbosity, shows) in [
            (&["-v"][..], "librdkafka:"),
            (&["-vv"], "librdkafka:"),
            (&["-vv", "-X", "debug=all"], "sasl.password"),
        ] {
            let ran = run_until_shown(name, &args, verbosity, shows);
            assert_hidden(&ran, None);
        }

        // A bad value beside the secret, a secret value librdkafka itself refuses, and
        // TLS settings it refuses together with a key password (when the client is made).
        for bad in [
            &["linger.ms=S3CRET-xyz"][..],
            &["sasl.mechanism=BOGUS"],
            &["ssl.key.pem=S3CRET-xyz", "security.protocol=sasl_ssl"],
            &[
                "security.protocol=sasl_ssl",
                "ssl.key.location=/nonexistent/key.pem",
                "ssl.key.password=S3CRET-xyz",
            ],
        ] {
            let mut extra = sasl();
            for property in bad {
                extra.extend(["-X".to_string(), property.to_string()]);
            }
            extra.push("-v".to_string());
            assert_hidden(&run_tool(name, &args, &extra), Some(2));
        }
    }
}

#[test]
fn secrets_from_a_config_file_never_show() {
    needs_cluster!();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("client.properties");
    std::fs::write(
        &file,
        "# secrets belong in a file\nsasl.username=u\nsasl.password=S3CRET-xyz\nsecurity.protocol=sasl_ssl\n\
         sasl.mechanism=PLAIN\nssl.key.location=/nonexistent/key.pem\nssl.key.password=S3CRET-xyz\n",
    )
    .unwrap();
    let path = file.to_str().unwrap().to_string();
    for (name, args) in tools() {
        // The TLS key cannot be read: the error names the setting, not the password.
        let ran = run_tool(name, &args, &["-F".into(), path.clone(), "-vv".into()]);
        assert_hidden(&ran, Some(2));
        assert!(
            ran.stderr().contains("ssl.key.location"),
            "{}",
            ran.stderr()
        );
        // Without TLS, the tools connect and fail the SASL handshake, verbosely.
        let with_tls = std::fs::read_to_string(&file).unwrap();
        std::fs::write(
            &file,
            with_tls
                .replace("sasl_ssl", "sasl_plaintext")
                .replace("ssl.key.", "# ssl.key."),
        )
        .unwrap();
        let ran = run_tool(
            name,
            &args,
            &[
                "-F".into(),
                path.clone(),
                "-vv".into(),
                "--timeout".into(),
                LIVE_TIMEOUT.into(),
            ],
        );
        assert_hidden(&ran, None);
        std::fs::write(&file, with_tls).unwrap();
    }
}

/// A malformed entry holding a secret: `-X sasl.password:VALUE` (a typo), or a
/// `-F` file in Java's `key: value` / `key value` syntax. The error must name the
/// entry without its value.
#[test]
fn malformed_secret_entries_are_not_echoed() {
    needs_cluster!();
    for (name, args) in tools() {
        for entry in ["sasl.password:S3CRET-xyz", "sasl.password S3CRET-xyz"] {
            assert_hidden(
                &run_tool(name, &args, &["-X".into(), entry.into()]),
                Some(2),
            );
        }
        let dir = tempfile::tempdir().unwrap();
        for line in ["ssl.key.password: S3CRET-xyz", "sasl.password S3CRET-xyz"] {
            let file = dir.path().join("java-style.properties");
            std::fs::write(&file, format!("{line}\n")).unwrap();
            let ran = run_tool(name, &args, &["-F".into(), file.to_str().unwrap().into()]);
            assert_hidden(&ran, Some(2));
            assert!(
                ran.stderr().contains(":1:"),
                "the error names the file's line: {}",
                ran.stderr()
            );
        }
    }
}

/// kcluster shows no command lines (status has pids, not arguments), and the brokers'
/// logs it shows hold no password: the SASL handshake fails before one is sent.
#[test]
fn kcluster_shows_no_secret() {
    needs_cluster!();
    let mut extra = sasl();
    extra.extend(["--timeout", LIVE_TIMEOUT].map(String::from));
    run_tool("ktopic", &["list"], &extra);
    for args in [&["status"][..], &["logs"]] {
        let ran = run(kcluster(&test_cluster()).args(args));
        assert!(
            !ran.stdout().contains(SECRET) && !ran.stderr().contains(SECRET),
            "kcluster {args:?} shows the secret"
        );
    }
}
