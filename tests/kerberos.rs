//! Kerberos (GSSAPI) against a real MIT KDC and a broker with a keytab, both run by the test
//! binary itself on loopback (see `kpipes_e2e::kerberos`): a user's ticket from `kinit`, a
//! keytab, and no ticket at all (exit 10 at once). Kafka's own Java consumer, logged in with
//! Kerberos too, reads what kprod wrote.

use std::path::Path;
use std::time::{Duration, Instant};

use kpipes_e2e::kerberos::{KerberosBroker, REALM, USER};
use kpipes_e2e::*;

/// A tool on the GSSAPI listener; `ccache` is its ticket cache (it may not exist).
fn gssapi(broker: &KerberosBroker, name: &str, ccache: &Path) -> assert_cmd::Command {
    let mut cmd = broker.tool(name, ccache);
    cmd.args(["-X", "sasl.mechanisms=GSSAPI"]);
    cmd
}

fn new_topic(broker: &KerberosBroker) -> String {
    let topic = unique_name("kerberos");
    run(tool("ktopic").args([
        "create",
        &topic,
        "-p",
        "1",
        "-r",
        "1",
        "-b",
        &broker.plain_bootstrap,
    ]))
    .success();
    topic
}

#[test]
fn a_keytab_and_a_kinit_ticket_both_log_in() {
    needs_cluster!();
    let broker = KerberosBroker::shared();
    let dir = tempfile::tempdir().unwrap();
    let topic = new_topic(broker);

    // kprod logs in from the keytab (librdkafka runs kinit into its own cache).
    let keytab = format!("sasl.kerberos.keytab={}", broker.user_keytab.display());
    let principal = format!("sasl.kerberos.principal={USER}@{REALM}");
    run(gssapi(broker, "kprod", &dir.path().join("kprod.cc"))
        .args([&topic, "-X", &keytab, "-X", &principal])
        .write_stdin("one\ntwo\nthree\n"))
    .success()
    .quiet();

    // kcons with the user's own ticket: kinit first, as a person does.
    let ccache = dir.path().join("alice.cc");
    broker.kinit(&ccache);
    let ran = run(gssapi(broker, "kcons", &ccache).args([&topic, "-e"])).success();
    let values: Vec<String> = ran
        .json_lines()
        .iter()
        .map(|r| r["value"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        values,
        ["one", "two", "three"],
        "{}",
        ran.explain("every record")
    );
    assert!(ran.stderr().is_empty(), "{}", ran.explain("no kinit noise"));

    // Kafka's Java consumer, logged in with the keytab, reads the same records.
    let config = dir.path().join("java-consumer.properties");
    std::fs::write(
        &config,
        format!(
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=GSSAPI\n\
             sasl.kerberos.service.name=kafka\n\
             sasl.jaas.config=com.sun.security.auth.module.Krb5LoginModule required \
             useKeyTab=true storeKey=true keyTab=\"{}\" principal=\"{USER}@{REALM}\";\n",
            broker.user_keytab.display()
        ),
    )
    .unwrap();
    let ran = run(
        kafka_java("org.apache.kafka.tools.consumer.ConsoleConsumer")
            .env(
                "JDK_JAVA_OPTIONS",
                format!("-Djava.security.krb5.conf={}", broker.krb5_conf.display()),
            )
            .args([
                "--bootstrap-server",
                &broker.sasl_bootstrap,
                "--topic",
                &topic,
            ])
            .args([
                "--from-beginning",
                "--max-messages",
                "3",
                "--timeout-ms",
                "30000",
            ])
            .arg("--command-config")
            .arg(&config),
    )
    .success();
    assert_eq!(
        ran.stdout().lines().collect::<Vec<_>>(),
        ["one", "two", "three"]
    );
}

#[test]
fn no_ticket_is_exit_10_at_once() {
    needs_cluster!();
    let broker = KerberosBroker::shared();
    let dir = tempfile::tempdir().unwrap();
    let topic = new_topic(broker);
    let missing = dir.path().join("no-such-ticket-cache");
    for (name, args) in [
        ("ktopic", vec!["list"]),
        ("kcons", vec![topic.as_str(), "-e"]),
        ("kprod", vec![topic.as_str()]),
    ] {
        let started = Instant::now();
        let ran = run(gssapi(broker, name, &missing)
            .args(&args)
            .args(["--timeout", "30"])
            .write_stdin("never sent\n"))
        .code_is(10)
        .one_error_line(name)
        .no_panic();
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{}",
            ran.explain("the refusal ends the run, not the 30 s timeout")
        );
        for says in [
            "refused the Kerberos login",
            "kinit",
            "No Kerberos credentials",
        ] {
            assert!(ran.stderr().contains(says), "{}", ran.explain(says));
        }
    }
    // Nothing reached the topic.
    let ran = run(tool("kcons").args([&topic, "-e", "-b", &broker.plain_bootstrap])).success();
    assert!(ran.stdout().is_empty(), "{}", ran.explain("no record"));
}
