//! A Kerberos realm and a Kafka broker that logs clients in with it, both run by the test
//! itself on loopback, for the tests of kpipes' logins (`tests/kerberos.rs`, `tests/msk_iam.rs`).
//!
//! - [`KerberosBroker::shared`]: one per test binary, started by the first test that asks.
//!   An MIT KDC (Debian's `krb5-kdc`; `scripts/setup --tests` installs it) with a realm of
//!   its own, made in a temporary directory: its database, `kdc.conf`, `krb5.conf` and
//!   keytabs live there (`KRB5_CONFIG`, `KRB5_KDC_PROFILE`), nothing machine-wide changes.
//!   Principals: `kafka/localhost` (the broker's, in `broker.keytab`) and `alice` (a user,
//!   in `alice.keytab`).
//! - A one-node KRaft Kafka broker (controller too) with a PLAINTEXT listener and a
//!   SASL_PLAINTEXT listener taking GSSAPI (keytab `broker.keytab`) and OAUTHBEARER
//!   (Kafka's default validator, which takes only unsigned JWTs: what a real broker says
//!   to a token it does not accept). Its name is `localhost`, so its service principal is
//!   `kafka/localhost@REALM`: librdkafka asks for the ticket of the name the broker
//!   advertises.
//! - Both processes die with the test binary (`PR_SET_PDEATHSIG`, from a thread that lives
//!   as long as the process), whatever way it ends.

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

use crate::{eventually, free_port, one_node_kafka, run, unique_name};

pub const REALM: &str = "KPIPES.TEST";
pub const USER: &str = "alice";

pub struct KerberosBroker {
    /// The temporary directory of the realm and the broker (kept until the process ends).
    pub dir: PathBuf,
    pub krb5_conf: PathBuf,
    pub user_keytab: PathBuf,
    /// `localhost:PORT` of the SASL_PLAINTEXT listener (GSSAPI and OAUTHBEARER).
    pub sasl_bootstrap: String,
    /// `localhost:PORT` of the PLAINTEXT listener, for setting things up.
    pub plain_bootstrap: String,
}

/// Start `command` from a thread that never ends, so that it dies with this process: a
/// child's `PR_SET_PDEATHSIG` fires when the thread that spawned it ends, not the process.
fn spawn_for_life(command: Command) {
    type Request = (Command, mpsc::Sender<Result<(), String>>);
    static SPAWNER: OnceLock<std::sync::Mutex<mpsc::Sender<Request>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::spawn(move || {
            let mut children: Vec<Child> = Vec::new();
            for (mut command, reply) in rx {
                // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
                unsafe {
                    command.pre_exec(|| {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                        Ok(())
                    });
                }
                let spawned = command.spawn();
                let _ = reply.send(
                    spawned
                        .as_ref()
                        .map(|_| ())
                        .map_err(|e| format!("starting {:?}: {e}", command.get_program())),
                );
                children.extend(spawned);
            }
        });
        std::sync::Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner
        .lock()
        .unwrap()
        .send((command, reply_tx))
        .expect("the spawning thread lives");
    if let Err(why) = reply_rx.recv().expect("the spawning thread answers") {
        panic!("{why}");
    }
}

/// The directories of earlier test binaries' realms (`kpipes-kerberos-PID-...`) whose
/// process is gone: a static's directory is never dropped, so each run clears the last's.
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name
            .strip_prefix("kpipes-kerberos-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Run a Kerberos admin command in the realm's environment; panic with its output if it fails.
fn krb5_command(env: &[(&str, &Path)], program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {program} (scripts/setup --tests installs it): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether the Kerberos tools the tests need are installed.
pub fn kdc_available() -> bool {
    [
        "/usr/sbin/krb5kdc",
        "/usr/sbin/kdb5_util",
        "/usr/sbin/kadmin.local",
    ]
    .iter()
    .all(|p| Path::new(p).is_file())
        && which("kinit")
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

impl KerberosBroker {
    /// The broker of this test binary, started on first use (about 10 s).
    pub fn shared() -> &'static KerberosBroker {
        static BROKER: OnceLock<Result<KerberosBroker, String>> = OnceLock::new();
        // A start that failed fails every test that wanted it, without starting again.
        let started = BROKER.get_or_init(|| {
            std::panic::catch_unwind(KerberosBroker::start).map_err(|panic| {
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            })
        });
        match started {
            Ok(broker) => broker,
            Err(why) => panic!("the Kerberos test broker did not start: {why}"),
        }
    }

    fn start() -> KerberosBroker {
        assert!(
            kdc_available(),
            "the Kerberos tests need an MIT KDC and kinit (Debian: krb5-kdc krb5-admin-server \
             krb5-user): run scripts/setup --tests"
        );
        remove_stale_dirs();
        let dir = std::env::temp_dir().join(unique_name("kpipes-kerberos"));
        std::fs::create_dir_all(&dir).unwrap();
        let kdc_port = free_port();
        let krb5_conf = dir.join("krb5.conf");
        let kdc_conf = dir.join("kdc.conf");
        // TCP only (udp_preference_limit = 1), for MIT's clients and Java's alike; no `tcp/`
        // prefix on the KDC's address: Java's krb5.conf reader takes it for a host name.
        std::fs::write(
            &krb5_conf,
            format!(
                "[libdefaults]\n\
                 \tdefault_realm = {REALM}\n\
                 \tdns_lookup_kdc = false\n\
                 \tdns_lookup_realm = false\n\
                 \tdns_canonicalize_hostname = false\n\
                 \trdns = false\n\
                 \tudp_preference_limit = 1\n\
                 \tticket_lifetime = 1h\n\
                 [realms]\n\
                 \t{REALM} = {{\n\t\tkdc = 127.0.0.1:{kdc_port}\n\t}}\n\
                 [domain_realm]\n\
                 \tlocalhost = {REALM}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            &kdc_conf,
            format!(
                "[kdcdefaults]\n\
                 \tkdc_listen = 127.0.0.1:{kdc_port}\n\
                 \tkdc_tcp_listen = 127.0.0.1:{kdc_port}\n\
                 [realms]\n\
                 \t{REALM} = {{\n\
                 \t\tdatabase_name = {db}\n\
                 \t\tkey_stash_file = {stash}\n\
                 \t\tacl_file = {acl}\n\
                 \t\tsupported_enctypes = aes256-cts-hmac-sha1-96:normal\n\
                 \t}}\n\
                 [logging]\n\
                 \tkdc = FILE:{log}\n",
                db = dir.join("principal").display(),
                stash = dir.join("stash").display(),
                acl = dir.join("kadm5.acl").display(),
                log = dir.join("kdc.log").display(),
            ),
        )
        .unwrap();
        std::fs::write(dir.join("kadm5.acl"), "").unwrap();
        let env = [
            ("KRB5_CONFIG", krb5_conf.as_path()),
            ("KRB5_KDC_PROFILE", kdc_conf.as_path()),
        ];
        // A master password for a database that lives as long as this test run.
        krb5_command(
            &env,
            "kdb5_util",
            &["create", "-s", "-r", REALM, "-P", "kpipes-test-master"],
        );
        let broker_keytab = dir.join("broker.keytab");
        let user_keytab = dir.join("alice.keytab");
        for query in [
            "addprinc -randkey kafka/localhost".to_string(),
            format!("addprinc -randkey {USER}"),
            format!("ktadd -k {} kafka/localhost", broker_keytab.display()),
            format!("ktadd -k {} {USER}", user_keytab.display()),
        ] {
            krb5_command(&env, "kadmin.local", &["-r", REALM, "-q", &query]);
        }
        let mut kdc = Command::new("krb5kdc");
        kdc.args(["-n", "-r", REALM])
            .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("krb5kdc.out")).unwrap());
        spawn_for_life(kdc);
        eventually("the KDC to listen", Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", kdc_port)).ok()
        });

        let (plain, sasl, controller) = (free_port(), free_port(), free_port());
        let broker_dir = dir.join("broker");
        std::fs::create_dir_all(&broker_dir).unwrap();
        let mut broker = one_node_kafka(
            &broker_dir,
            &format!(
                "controller.quorum.voters=1@localhost:{controller}\n\
                 listeners=PLAINTEXT://localhost:{plain},SASL_PLAINTEXT://localhost:{sasl},CONTROLLER://localhost:{controller}\n\
                 advertised.listeners=PLAINTEXT://localhost:{plain},SASL_PLAINTEXT://localhost:{sasl}\n\
                 listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT\n\
                 controller.listener.names=CONTROLLER\n\
                 inter.broker.listener.name=PLAINTEXT\n\
                 sasl.enabled.mechanisms=GSSAPI,OAUTHBEARER\n\
                 sasl.kerberos.service.name=kafka\n\
                 listener.name.sasl_plaintext.gssapi.sasl.jaas.config=com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true storeKey=true keyTab=\"{keytab}\" principal=\"kafka/localhost@{REALM}\";\n\
                 listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;\n",
                keytab = broker_keytab.display(),
            ),
            &[format!("-Djava.security.krb5.conf={}", krb5_conf.display())],
        );
        broker
            .stdout(std::fs::File::create(broker_dir.join("kafka.out")).unwrap())
            .stderr(std::fs::File::create(broker_dir.join("kafka.err")).unwrap());
        spawn_for_life(broker);
        let plain_bootstrap = format!("localhost:{plain}");
        // Ready when it answers a metadata request on its plain listener.
        eventually(
            "the Kerberos test broker to serve",
            Duration::from_secs(60),
            || {
                let ran = run(crate::tool("ktopic").args([
                    "list",
                    "-b",
                    &plain_bootstrap,
                    "--timeout",
                    "2",
                ]));
                ran.output.status.success().then_some(())
            },
        );
        KerberosBroker {
            krb5_conf,
            user_keytab,
            sasl_bootstrap: format!("localhost:{sasl}"),
            plain_bootstrap,
            dir,
        }
    }

    /// A tool pointed at the SASL listener, in the realm's environment (its `krb5.conf`, and
    /// a ticket cache of the test's own `ccache`, which may not exist: no ticket).
    pub fn tool(&self, name: &str, ccache: &Path) -> assert_cmd::Command {
        let mut cmd = crate::tool(name);
        cmd.env("KAFKA_BROKERS", &self.sasl_bootstrap)
            .env("KRB5_CONFIG", &self.krb5_conf)
            .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
            .env_remove("KPIPES_CONFIG_FILE")
            .args(["-X", "security.protocol=SASL_PLAINTEXT"]);
        cmd
    }

    /// `kinit` the user from its keytab into `ccache` (what a user does with a password).
    pub fn kinit(&self, ccache: &Path) {
        let out = Command::new("kinit")
            .args(["-k", "-t"])
            .arg(&self.user_keytab)
            .arg(format!("{USER}@{REALM}"))
            .env("KRB5_CONFIG", &self.krb5_conf)
            .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
            .stdin(Stdio::null())
            .output()
            .expect("running kinit");
        assert!(
            out.status.success(),
            "kinit failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
