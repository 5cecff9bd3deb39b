//! A killed broker always comes back: on its own port, reported ready only once it
//! serves, while clients keep using the cluster (issue: the seed's failover scene).
//!
//! The brokers killed here belong to the fault-injection cluster ([`FaultCluster`]),
//! never to the shared one other tests use.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use kpipes_e2e::*;

/// The address of each broker of a cluster, from `kcluster status`.
fn broker_addresses(cluster: &FaultCluster) -> Vec<(u64, String)> {
    let ran = run(cluster.kcluster().arg("status"));
    ran.json_lines()
        .iter()
        .filter(|line| line["role"] == "broker")
        .map(|line| {
            (
                line["id"].as_u64().unwrap(),
                line["address"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Ask broker `id` itself, through its own address only, for the cluster metadata with
/// an independent client (kcat); the broker ids it lists, or why it did not answer.
fn ask_broker_itself(address: &str) -> Result<BTreeSet<u64>, String> {
    let out = kcat_process()
        .args(["-b", address, "-L", "-J", "-m", "3"])
        .output()
        .map_err(|e| format!("running kcat: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let metadata: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    Ok(metadata["brokers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["id"].as_u64())
        .collect())
}

/// `start N` right after `kill N` returns only once broker N serves: at that moment (no
/// waiting), broker N's own listener answers a metadata request and counts N live, and
/// `status` says every broker is up. Readiness taken from the other brokers' metadata,
/// which keeps listing a killed broker for seconds, fails this at once.
#[test]
fn start_right_after_kill_returns_once_the_broker_serves() {
    needs_cluster!();
    let cluster = FaultCluster::acquire();
    for (id, address) in broker_addresses(&cluster) {
        run(cluster.kcluster().args(["kill", &id.to_string()])).success();
        run(cluster.kcluster().args(["start", &id.to_string()])).success();
        match ask_broker_itself(&address) {
            Ok(live) => assert!(
                live.contains(&id),
                "broker {id} answered right after `start` but does not count itself live: {live:?}"
            ),
            Err(why) => panic!(
                "`kcluster start {id}` returned, but broker {id} ({address}) does not answer: {why}"
            ),
        }
        let status = run(cluster.kcluster().arg("status"));
        assert!(
            status.output.status.success()
                && status.json_lines().iter().all(|line| line["state"] == "up"),
            "status right after `start {id}` is not all up:\n{}",
            status.stdout()
        );
    }
}

/// Kill and restart each broker twice while a producer and a consumer keep working on
/// the cluster: every `start` succeeds, the producer delivers every line (exit 0), and
/// the consumer (a group) receives every one of them.
#[test]
fn brokers_restarted_under_live_clients_lose_nothing() {
    needs_cluster!();
    let cluster = FaultCluster::acquire();
    let topic = cluster.replicated_topic(3);
    let traffic = LiveTraffic::start(&cluster.brokers, &topic);
    let ids: Vec<u64> = broker_addresses(&cluster)
        .iter()
        .map(|(id, _)| *id)
        .collect();
    for round in 0..2 {
        for id in &ids {
            let before = traffic.sent();
            run(cluster.kcluster().args(["kill", &id.to_string()])).success();
            run(cluster.kcluster().args(["start", &id.to_string()])).success();
            eprintln!("round {round}: broker {id} restarted ({before} lines sent before)");
            // As an operator would: the next broker goes down only once the restarted one is
            // back in every in-sync replica set (else two replicas of three are missing, and
            // min.insync.replicas=2 rightly refuses writes).
            cluster.wait_fully_replicated(
                &topic,
                &format!("broker {id} back in every ISR of {topic}"),
            );
        }
    }
    traffic.finish_losing_nothing();
}

/// Each partition's (leader, first replica) as Kafka's own kafka-topics tool describes it.
fn leaders_by_kafka_topics(cluster: &FaultCluster, topic: &str) -> BTreeMap<i64, (i64, i64)> {
    let described = run(kafka_java("org.apache.kafka.tools.TopicCommand").args([
        "--bootstrap-server",
        &cluster.brokers,
        "--describe",
        "--topic",
        topic,
    ]))
    .success()
    .stdout();
    // "\tTopic: t\tPartition: 0\tLeader: 2\tReplicas: 1,2,3\tIsr: 2,3,1 ..."
    let field = |line: &str, name: &str| -> Option<String> {
        let rest = &line[line.find(&format!("{name}: "))? + name.len() + 2..];
        Some(rest.split_whitespace().next()?.to_string())
    };
    described
        .lines()
        .filter_map(|line| {
            let partition = field(line, "Partition")?.parse().ok()?;
            let leader = field(line, "Leader")?.parse().ok()?;
            let first = field(line, "Replicas")?.split(',').next()?.parse().ok()?;
            Some((partition, (leader, first)))
        })
        .collect()
}

/// After a broker comes back it leads nothing (Kafka's own rebalance waits 300 s):
/// `ktopic elect` gives every partition back to its preferred replica at once, as
/// Kafka's own kafka-topics sees it, under live traffic that loses nothing.
#[test]
fn preferred_election_after_a_restart_puts_leaders_back_losing_nothing() {
    needs_cluster!();
    let cluster = FaultCluster::acquire();
    let topic = cluster.replicated_topic(6);
    let traffic = LiveTraffic::start(&cluster.brokers, &topic);
    let leaders = leaders_by_kafka_topics(&cluster, &topic);
    assert_eq!(leaders.len(), 6, "kafka-topics described {leaders:?}");
    // The broker that is the preferred leader of partition 0 goes down and comes back.
    let victim = leaders[&0].1;
    run(cluster.kcluster().args(["kill", &victim.to_string()])).success();
    run(cluster.kcluster().args(["start", &victim.to_string()])).success();
    cluster.wait_fully_replicated(
        &topic,
        &format!("broker {victim} back in every ISR of {topic}"),
    );
    let moved: Vec<i64> = leaders_by_kafka_topics(&cluster, &topic)
        .iter()
        .filter(|(_, (leader, first))| leader != first)
        .map(|(p, _)| *p)
        .collect();
    assert!(
        !moved.is_empty(),
        "broker {victim} got its leadership back by itself"
    );

    let elected = run(cluster.tool("ktopic").args(["elect", &topic])).success();
    let lines = elected.json_lines();
    assert_eq!(lines.len(), 6, "one line per partition");
    for line in &lines {
        let partition = line["partition"].as_i64().unwrap();
        assert_eq!(
            line["elected"],
            moved.contains(&partition),
            "partition {partition}: {line}"
        );
        assert_eq!(line["leader"], line["preferred_leader"], "{line}");
    }
    let after = leaders_by_kafka_topics(&cluster, &topic);
    assert!(
        after.values().all(|(leader, first)| leader == first),
        "kafka-topics still shows partitions led by another replica: {after:?}"
    );
    // Nothing left to do: a second election changes nothing and says so.
    let again = run(cluster.tool("ktopic").args(["elect", &topic])).success();
    assert!(again
        .json_lines()
        .iter()
        .all(|l| l["elected"] == false && l["reason"] == "already led by its preferred replica"));
    traffic.finish_losing_nothing();
}

/// Run `command` (bash) in a network namespace of its own, whose only ephemeral port is
/// `port`: there every connect to `port` on loopback is a TCP self-connection, as
/// happens by chance on a real machine while a broker whose port lies in the range is
/// down. None when namespaces cannot be made here (not root, no user namespaces).
fn with_port_as_only_source_port(port: u16, command: &str) -> Option<std::process::Output> {
    let ready = Command::new("unshare").args(["-n", "true"]).output();
    if !ready.is_ok_and(|out| out.status.success()) {
        return None;
    }
    let setup = format!(
        "ip link set lo up && sysctl -qw net.ipv4.ip_local_port_range='{port} {port}' || exit 99; eval \"$KPIPES_COMMAND\""
    );
    let out = Command::new("unshare")
        .args(["-n", "bash", "-c", &setup])
        .env("KPIPES_COMMAND", command)
        .output()
        .unwrap();
    assert_ne!(
        out.status.code(),
        Some(99),
        "setting up the namespace failed: {out:?}"
    );
    Some(out)
}

/// Whether a server can listen on 127.0.0.1:`port` now (as a broker does: SO_REUSEADDR).
fn can_listen(port: u16) -> String {
    format!(
        "python3 -c 'import socket; s=socket.socket(); \
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"127.0.0.1\", {port}))' 2>/dev/null"
    )
}

/// kpipes' tools never hold a stopped broker's port: after each tool gave up on a broker
/// it could only reach through self-connections, a server can listen on the port at
/// once. A self-connection closed normally holds the port in TIME_WAIT for 60 s, and a
/// broker restarted meanwhile dies with "Address already in use".
#[test]
fn self_connections_never_hold_a_stopped_brokers_port() {
    needs_cluster!();
    let port = 39092;
    let broker = format!("127.0.0.1:{port}");
    // The control: a plain client's self-connection does hold the port, else this test
    // could not fail.
    let control = format!(
        "python3 -c 'import socket; c=socket.socket(); c.connect((\"127.0.0.1\", {port})); \
         assert c.getsockname() == c.getpeername(); c.close()' && ! {}",
        can_listen(port)
    );
    let Some(out) = with_port_as_only_source_port(port, &control) else {
        eprintln!(
            "skipped: provoking self-connections needs `unshare -n` (root or user namespaces)"
        );
        return;
    };
    assert!(
        out.status.success(),
        "the control failed: a plain client did not hold the port after a self-connection: {out:?}"
    );
    for (tool, args) in [
        ("ktopic", "list"),
        ("kcons", "some-topic -e"),
        ("kprod", "some-topic"),
    ] {
        let command = format!(
            "echo x | {} {args} -b {broker} --timeout 2; echo \"exit $?\"; {} && echo free || echo held",
            bin_path(tool).display(),
            can_listen(port)
        );
        let out = with_port_as_only_source_port(port, &command).unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("exit 5"),
            "{tool} should have found no broker (exit 5):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.trim_end().ends_with("free"),
            "{tool} left the broker's port {port} held (its self-connection was closed normally):\n{stdout}"
        );
    }
}

/// A server of another program on a stopped broker's port is an error at once, naming
/// the port and the program (exit 8); a mere connection holding it is waited for, and
/// the broker starts as soon as it is gone.
#[test]
fn a_port_held_by_another_program_is_named_and_a_connection_is_waited_for() {
    needs_cluster!();
    let cluster = FaultCluster::acquire();
    let (id, address) = broker_addresses(&cluster).pop().unwrap();
    let port: u16 = address.rsplit(':').next().unwrap().parse().unwrap();
    run(cluster.kcluster().args(["kill", &id.to_string()])).success();

    // Another program's server on the port: refused at once, naming it.
    let squatter = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let ran = run(cluster
        .kcluster()
        .args(["start", &id.to_string(), "--timeout", "30"]))
    .code_is(8)
    .one_error_line("kcluster");
    let pid = std::process::id().to_string();
    assert!(
        ran.stderr().contains(&port.to_string()) && ran.stderr().contains(&format!("pid {pid}")),
        "the error must name the port and the program holding it:\n{}",
        ran.stderr()
    );
    drop(squatter);

    // A connection whose local port is the broker's (as a client's may be, the port being
    // in the ephemeral range): `start` waits, and goes on once it is closed.
    let peer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer_port = peer.local_addr().unwrap().port();
    let holder = eventually(
        "the killed broker's closed connections to leave its port (TIME_WAIT: 60 s)",
        Duration::from_secs(90),
        || connect_from_port(port, peer_port),
    );
    let mut start = Command::new(bin_path("kcluster"))
        .args(["start", &id.to_string(), "--timeout", "120"])
        .env("KPIPES_CLUSTER", &cluster.name)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = start.stderr.take().unwrap();
    let said = Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let said = said.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut text = said.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        })
    };
    eventually(
        "kcluster to say it waits for the port",
        Duration::from_secs(60),
        || said.lock().unwrap().contains("still in use").then_some(()),
    );
    assert!(
        start.try_wait().unwrap().is_none(),
        "start must wait, not fail:\n{}",
        said.lock().unwrap()
    );
    close_abortively(holder);
    let status = start.wait().unwrap();
    reader.join().unwrap();
    assert!(
        status.success(),
        "start must succeed once the connection is gone:\n{}",
        said.lock().unwrap()
    );
}

/// A TCP connection from 127.0.0.1:`local` to 127.0.0.1:`remote`, its descriptor; None
/// while `local` cannot be bound yet.
///
/// Without SO_REUSEADDR, as a client's socket is: that is what keeps a server (which
/// binds with SO_REUSEADDR) off the port. For the same reason the bind fails while the
/// killed broker's own closed connections linger on the port in TIME_WAIT.
fn connect_from_port(local: u16, remote: u16) -> Option<i32> {
    let address = |port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor this function owns until it returns it.
    unsafe {
        // Close-on-exec: the kcluster started meanwhile must not inherit (and so hold) it.
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let (from, to) = (address(local), address(remote));
        if libc::bind(fd, &from as *const _ as *const libc::sockaddr, len) != 0 {
            libc::close(fd);
            return None;
        }
        assert_eq!(
            libc::connect(fd, &to as *const _ as *const libc::sockaddr, len),
            0,
            "connect"
        );
        Some(fd)
    }
}

/// Close with a reset, so that no TIME_WAIT keeps the port after it.
fn close_abortively(fd: i32) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor is ours; setsockopt reads `linger` only during the call.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
        libc::close(fd);
    }
}

/// Watching a failover: `kcluster status --watch` says when a broker goes down and comes
/// back, `ktopic describe --watch` when its partitions lose and regain it (ISR, leader);
/// each change once, as a JSON line naming the fields and their previous values;
/// Ctrl-C ends both with status 0.
#[test]
fn watches_show_a_broker_leaving_and_coming_back() {
    needs_cluster!();
    let cluster = FaultCluster::acquire();
    let topic = cluster.replicated_topic(2);
    let mut described = Proc::spawn(cluster.command("ktopic").args([
        "describe",
        &topic,
        "--watch",
        "--interval",
        "0.2",
    ]));
    let mut status = Proc::spawn(
        Command::new(bin_path("kcluster"))
            .args(["status", "--watch", "--interval", "0.2"])
            .env("KPIPES_CLUSTER", &cluster.name),
    );
    // Every row's current state first.
    described.wait_lines(2, Duration::from_secs(30));
    status.wait_lines(3, Duration::from_secs(30));
    let victim = 2;
    run(cluster.kcluster().args(["kill", &victim.to_string()])).success();
    let has = |p: &Proc, check: &dyn Fn(&Value) -> bool| {
        p.lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|l| check(&l))
    };
    status.wait_until("broker 2 reported down", Duration::from_secs(30), |p| {
        has(p, &|l| {
            l["event"] == "changed"
                && l["id"] == victim
                && l["state"] == "down"
                && l["previous"]["state"] == "up"
        })
    });
    described.wait_until("the ISRs losing broker 2", Duration::from_secs(60), |p| {
        has(p, &|l| {
            l["event"] == "changed"
                && l["changed"].as_array().unwrap().contains(&json!("isr"))
                && !l["isr"].as_array().unwrap().contains(&json!(victim))
        })
    });
    run(cluster.kcluster().args(["start", &victim.to_string()])).success();
    status.wait_until("broker 2 reported up again", Duration::from_secs(30), |p| {
        has(p, &|l| {
            l["event"] == "changed" && l["id"] == victim && l["state"] == "up"
        })
    });
    described.wait_until(
        "the ISRs regaining broker 2",
        Duration::from_secs(120),
        |p| {
            has(p, &|l| {
                l["event"] == "changed"
                    && l["isr"].as_array().unwrap().contains(&json!(victim))
                    && l["status"] == "ok"
            })
        },
    );
    for watch in [described, status] {
        watch.signal(libc::SIGINT);
        let ran = watch.finish(Duration::from_secs(10)).success();
        // No line repeats the one before it for the same row: only changes are printed.
        let lines = ran.json_lines();
        for line in lines.iter().filter(|l| l["event"] == "changed") {
            let fields = line["changed"].as_array().unwrap();
            assert!(!fields.is_empty(), "{line}");
            for field in fields {
                let field = field.as_str().unwrap();
                assert_ne!(line[field], line["previous"][field], "{line}");
            }
        }
    }
}

/// The brokers the cluster's metadata lists, as kcat (an independent client) reads it.
fn brokers_listed_by_kcat(bootstrap: &str) -> BTreeSet<u64> {
    let out = kcat_process()
        .args(["-b", bootstrap, "-L", "-J", "-m", "10"])
        .output()
        .expect("running kcat");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
    metadata["brokers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["id"].as_u64())
        .collect()
}

/// A broker joins, a topic is spread onto it, then it is drained and removed, all under
/// live traffic that loses nothing; kcat sees it come and go; the brokers `up` made (the
/// KRaft controllers) are refused with exit 9.
#[test]
fn a_broker_joins_takes_replicas_and_is_drained_and_removed_losing_nothing() {
    needs_cluster!();
    let cluster = FaultCluster::acquire();
    let added = run(cluster.kcluster().arg("add")).success();
    let new_id = added
        .json_lines()
        .iter()
        .filter(|l| l["role"] == "broker")
        .filter_map(|l| l["id"].as_u64())
        .max()
        .unwrap();
    assert_eq!(new_id, 4, "{}", added.stdout());
    assert!(brokers_listed_by_kcat(&cluster.brokers).contains(&4));

    let topic = cluster.replicated_topic(6);
    let traffic = LiveTraffic::start(&cluster.brokers, &topic);
    // Spread over brokers 1-4 (whatever create did), then make sure 4 holds replicas.
    run(cluster
        .tool("ktopic")
        .args(["reassign", &topic, "--onto", "1,2,3,4", "--execute"]))
    .success();
    let on_four = |cluster: &FaultCluster| -> usize {
        let described = run(cluster.tool("ktopic").args(["describe", &topic])).success();
        described.json_lines()[0]["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["replicas"].as_array().unwrap().contains(&json!(4)))
            .count()
    };
    assert!(
        on_four(&cluster) >= 4,
        "18 replicas over 4 brokers: 4 or 5 on broker 4"
    );

    run(cluster.kcluster().args(["remove", "2"]))
        .code_is(9)
        .stderr_has("controller");
    let removed = run(cluster.kcluster().args(["remove", "4"])).success();
    assert!(removed.json_lines().iter().any(|l| l["removed"] == true));
    assert_eq!(on_four(&cluster), 0, "broker 4 still holds replicas");
    cluster.wait_fully_replicated(&topic, "every partition fully replicated without broker 4");
    eventually(
        "kcat to stop listing broker 4",
        Duration::from_secs(30),
        || (!brokers_listed_by_kcat(&cluster.brokers).contains(&4)).then_some(()),
    );
    let status = run(cluster.kcluster().arg("status")).success();
    assert_eq!(
        status
            .json_lines()
            .iter()
            .filter(|l| l["role"] == "broker")
            .count(),
        3
    );
    traffic.finish_losing_nothing();
}
