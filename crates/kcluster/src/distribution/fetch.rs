//! Fetching a distribution: Kafka's jars from Maven Central (through `mvn` and its
//! dependency plugin) plus kpipes's logging configuration, assembled in a staging
//! directory next to the destination and renamed into place in one step, so that a
//! directory in the cache is either complete or absent.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use kcore::progress::{self, Status};
use kcore::Failure;

use super::{cached_home, is_complete, COMPLETE_MARKER};

/// The maven-dependency-plugin, pinned so that every fetch resolves alike.
const DEPENDENCY_PLUGIN_VERSION: &str = "3.8.1";

/// Kafka 4.x logs through SLF4J to log4j2: the brokers' and the command-line tools' configuration.
const LOG4J2_XML: &str = include_str!("../../config/log4j2.xml");
const TOOLS_LOG4J2_XML: &str = include_str!("../../config/tools-log4j2.xml");
/// Kafka 3.x logs through SLF4J to reload4j (the log4j 1.x API).
const LOG4J_PROPERTIES: &str = include_str!("../../config/log4j.properties");
const TOOLS_LOG4J_PROPERTIES: &str = include_str!("../../config/tools-log4j.properties");

/// The cached distribution of `version`, fetched from Maven Central with `mvn` first if it
/// is not there yet (progress on stderr). Returns at once when it is already complete.
pub fn fetch(version: &str) -> Result<PathBuf> {
    if !is_version(version) {
        return Err(Failure::usage(format!(
            "invalid Kafka version '{version}' (expected e.g. {} or {})",
            super::DEFAULT_KAFKA_VERSION,
            super::ZOOKEEPER_KAFKA_VERSION
        ))
        .into());
    }
    let dest = cached_home(version);
    if is_complete(&dest) {
        return Ok(dest);
    }
    super::java()?;
    let mvn = find_on_path("mvn").ok_or_else(|| {
        Failure::environment(
            "mvn not found: fetching Apache Kafka from Maven Central needs Apache Maven \
             (e.g. `apt-get install maven`); or set KAFKA_HOME to an extracted Apache Kafka tarball",
        )
    })?;
    eprintln!(
        "kcluster: fetching Apache Kafka {version} from Maven Central into {} (once; cached afterwards)",
        dest.display()
    );
    fetch_into(&mvn, version, &dest)?;
    Ok(dest)
}

/// Assemble `version` with `mvn` in a staging directory beside `dest`, then move it to `dest`.
fn fetch_into(mvn: &Path, version: &str, dest: &Path) -> Result<()> {
    let root = dest.parent().context("the cache directory has no parent")?;
    fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    remove_abandoned_stages(root, version);
    let stage = Stage::create(root, version)?;
    let dist = stage.path.join("dist");
    let jars = assemble(mvn, version, &stage.path.join("build"), &dist)?;
    publish(&dist, dest)?;
    eprintln!("kcluster: Kafka {version} ready ({jars} jars)");
    Ok(())
}

/// The steps of a fetch, each one line on stderr when it starts and one when it is done,
/// with a spinner between them on a terminal: a fetch takes minutes the first time.
const STEPS: usize = 3;

/// Run step `number` of [`STEPS`]: say what it does, show a spinner while it runs (on a
/// terminal, after a second), then say what came of it (`outcome` of its result) and how long it took.
fn step<T>(
    number: usize,
    what: &str,
    work: impl FnOnce() -> Result<T>,
    outcome: impl FnOnce(&T) -> String,
) -> Result<T> {
    let started = Instant::now();
    eprintln!("kcluster: [{number}/{STEPS}] {what} ...");
    let spinner = Status::spinner("kcluster", format!("[{number}/{STEPS}] {what}"));
    let result = work();
    drop(spinner);
    if let Ok(done) = &result {
        eprintln!(
            "kcluster: [{number}/{STEPS}] {} ({})",
            outcome(done),
            progress::duration(started.elapsed())
        );
    }
    result
}

/// The total size of the files in `dir`, in decimal megabytes.
fn megabytes(dir: &Path) -> f64 {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| entry.metadata().ok())
                .map(|meta| meta.len())
                .sum::<u64>()
        })
        .unwrap_or(0) as f64
        / 1e6
}

/// Resolve the jars into `dist/libs`, add the SLF4J binding and the logging configuration,
/// and write the marker last. Returns the number of jars.
fn assemble(mvn: &Path, version: &str, build: &Path, dist: &Path) -> Result<usize> {
    let libs = dist.join("libs");
    let config = dist.join("config");
    for dir in [build, &libs, &config] {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let pom = build.join("pom.xml");
    fs::write(&pom, pom_xml(version)).with_context(|| format!("writing {}", pom.display()))?;
    let maven = Maven {
        mvn,
        pom: &pom,
        version,
    };
    let output_dir = format!("-DoutputDirectory={}", libs.display());

    step(
        1,
        &format!(
            "resolving org.apache.kafka:kafka_2.13:{version} + kafka-tools:{version} and their \
             runtime dependencies with mvn"
        ),
        || {
            maven.run(&[
                "dependency:copy-dependencies",
                &output_dir,
                "-DincludeScope=runtime",
                "-DexcludeTypes=pom,test-jar",
            ])?;
            jar_names(&libs)
        },
        |jars| {
            let plural = if jars.len() == 1 { "" } else { "s" };
            format!(
                "resolved: {} jar{plural}, {:.1} MB",
                jars.len(),
                megabytes(&libs)
            )
        },
    )?;
    for jar in [
        format!("kafka_2.13-{version}.jar"),
        format!("kafka-tools-{version}.jar"),
    ] {
        if !libs.join(&jar).is_file() {
            return Err(fetch_failed(
                version,
                &format!("{jar} is missing after mvn"),
            ));
        }
    }

    let names = jar_names(&libs)?;
    let configs = slf4j_binding(&maven, version, &names, &output_dir)?;
    for (name, text) in configs {
        let path = config.join(name);
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!(
        "kcluster: [3/{STEPS}] logging configuration: config/{}, config/{}",
        configs[0].0, configs[1].0
    );

    let jars = jar_names(&libs)?.len();
    let marker = dist.join(COMPLETE_MARKER);
    fs::write(
        &marker,
        format!("version={version}\njars={jars}\ncreated={}\n", utc_now()),
    )
    .with_context(|| format!("writing {}", marker.display()))?;
    Ok(jars)
}

/// Step 2: make sure Kafka logs through SLF4J (adding log4j 2's binding for Kafka 4, whose
/// POMs lack it); the logging configuration files for the version, (name, text).
fn slf4j_binding(
    maven: &Maven<'_>,
    version: &str,
    names: &[String],
    output_dir: &str,
) -> Result<[(&'static str, &'static str); 2]> {
    if major(version) >= 4 {
        // Kafka 4's POMs pull log4j-api and log4j-core but not the SLF4J 1.x binding:
        // add log4j-slf4j-impl in the version of log4j-core.
        let log4j = names
            .iter()
            .find_map(|name| name.strip_prefix("log4j-core-")?.strip_suffix(".jar"))
            .ok_or_else(|| fetch_failed(version, "log4j-core is not among Kafka's dependencies"))?;
        let has_binding = names
            .iter()
            .any(|name| name.starts_with("log4j-slf4j") && name.contains("-impl-"));
        let artifact = format!("org.apache.logging.log4j:log4j-slf4j-impl:{log4j}");
        if has_binding {
            eprintln!("kcluster: [2/{STEPS}] the SLF4J binding is among Kafka's dependencies");
        } else {
            step(
                2,
                &format!("adding the SLF4J binding {artifact} with mvn"),
                || {
                    maven.run(&[
                        "dependency:copy",
                        &format!("-Dartifact={artifact}"),
                        output_dir,
                    ])
                },
                |()| format!("added log4j-slf4j-impl-{log4j}.jar"),
            )?;
        }
        Ok([
            ("log4j2.xml", LOG4J2_XML),
            ("tools-log4j2.xml", TOOLS_LOG4J2_XML),
        ])
    } else {
        // Kafka 3.x: kafka-tools pulls the reload4j binding itself.
        if !names.iter().any(|name| name.starts_with("slf4j-reload4j-")) {
            return Err(fetch_failed(
                version,
                "the slf4j-reload4j binding is not among Kafka's dependencies",
            ));
        }
        eprintln!("kcluster: [2/{STEPS}] the SLF4J binding (slf4j-reload4j) is among Kafka's dependencies");
        Ok([
            ("log4j.properties", LOG4J_PROPERTIES),
            ("tools-log4j.properties", TOOLS_LOG4J_PROPERTIES),
        ])
    }
}

/// Move the assembled `dist` to `dest`. A directory already at `dest` without its marker is
/// left over from an interrupted older layout and is replaced; losing a race with a
/// concurrent fetch is fine as long as that one completed.
fn publish(dist: &Path, dest: &Path) -> Result<()> {
    if dest.exists() && !is_complete(dest) {
        fs::remove_dir_all(dest)
            .with_context(|| format!("removing the incomplete {}", dest.display()))?;
    }
    match fs::rename(dist, dest) {
        Err(err) if !is_complete(dest) => {
            Err(err).with_context(|| format!("moving the distribution into {}", dest.display()))
        }
        _ => Ok(()),
    }
}

/// `mvn` run quietly on the fetch's POM; its output (errors, warnings) goes to stderr.
struct Maven<'a> {
    mvn: &'a Path,
    pom: &'a Path,
    version: &'a str,
}

impl Maven<'_> {
    fn run(&self, args: &[&str]) -> Result<()> {
        let mut child = Command::new(self.mvn)
            .args(["-q", "-B", "-Dstyle.color=never", "-f"])
            .arg(self.pom)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running {}", self.mvn.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let echo_stderr = std::thread::spawn(move || echo_to_stderr(stderr));
        echo_to_stderr(stdout);
        let _ = echo_stderr.join();
        let status = child
            .wait()
            .with_context(|| format!("waiting for {}", self.mvn.display()))?;
        if status.success() {
            return Ok(());
        }
        let version = self.version;
        Err(fetch_failed(
            version,
            &format!(
                "mvn {} failed (is version {version} on Maven Central, and can mvn reach it?)",
                args[0]
            ),
        ))
    }
}

/// Copy a child's output to our stderr line by line, without colour codes or blank lines
/// (Debian's mvn prints bare ANSI resets even with `-q`).
fn echo_to_stderr(from: impl Read) {
    for line in BufReader::new(from).split(b'\n').map_while(Result::ok) {
        let line = strip_ansi(&String::from_utf8_lossy(&line));
        if !line.trim().is_empty() {
            // Around the spinner of the step, if one is drawn.
            progress::suspend(|| eprintln!("{}", line.trim_end()));
        }
    }
}

/// `text` without ANSI SGR sequences (`ESC [ digits/semicolons m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('\x1b') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let params = after
            .strip_prefix('[')
            .map(|p| p.trim_start_matches(|c: char| c.is_ascii_digit() || c == ';'));
        match params.and_then(|p| p.strip_prefix('m')) {
            Some(tail) => rest = tail,
            None => {
                out.push('\x1b');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn fetch_failed(version: &str, why: &str) -> anyhow::Error {
    Failure::environment(format!(
        "could not fetch Kafka {version}: {why}; or set KAFKA_HOME to an extracted Apache Kafka tarball"
    ))
    .into()
}

/// The POM whose runtime dependencies are the distribution: the broker and the tools.
fn pom_xml(version: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kpipes.local</groupId>
  <artifactId>fetch-kafka</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{version}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>{version}</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>{DEPENDENCY_PLUGIN_VERSION}</version>
      </plugin>
    </plugins>
  </build>
</project>
"#
    )
}

/// `4.3.1`, `3.9.1`, `4.1.0-rc2`: three numbers, then optionally `.` or `-` and a suffix
/// of letters, digits, dots and dashes. Anything else could escape the cache directory.
fn is_version(version: &str) -> bool {
    let mut rest = version;
    for part in 0..3 {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        if part < 2 {
            match rest.strip_prefix('.') {
                Some(tail) => rest = tail,
                None => return false,
            }
        }
    }
    match rest.strip_prefix(['.', '-']) {
        None => rest.is_empty(),
        Some(suffix) => {
            !suffix.is_empty()
                && suffix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        }
    }
}

fn major(version: &str) -> u32 {
    version
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .unwrap_or(0)
}

/// The `*.jar` file names in `libs`.
fn jar_names(libs: &Path) -> Result<Vec<String>> {
    let entries = fs::read_dir(libs).with_context(|| format!("reading {}", libs.display()))?;
    Ok(entries
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.ends_with(".jar"))
        .collect())
}

/// The first executable `program` in a PATH directory.
fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| {
            path.metadata()
                .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// A staging directory `<cache>/.kafka-<version>.tmp.<pid>.<nanos>`, removed when dropped
/// (after a successful fetch it only holds Maven's build directory).
struct Stage {
    path: PathBuf,
}

impl Stage {
    fn create(root: &Path, version: &str) -> Result<Stage> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = root.join(format!(
            "{}{}.{nanos:x}",
            stage_prefix(version),
            std::process::id()
        ));
        fs::create_dir(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Stage { path })
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

fn stage_prefix(version: &str) -> String {
    format!(".kafka-{version}.tmp.")
}

/// Staging directories of `version` whose fetch was killed (its process is gone).
fn remove_abandoned_stages(root: &Path, version: &str) {
    let prefix = stage_prefix(version);
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|name| name.strip_prefix(&prefix))
            .and_then(|rest| rest.split('.').next())
            .and_then(|pid| pid.parse::<libc::pid_t>().ok());
        if let Some(pid) = pid {
            if pid > 0 && !process_exists(pid) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

fn process_exists(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    alive || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The current time as `2026-12-01T10:48:37Z`.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as libc::time_t;
    // SAFETY: gmtime_r writes only into the `tm` it is given.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::gmtime_r(&secs, &mut tm) }.is_null() {
        return secs.to_string();
    }
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for good in ["4.3.1", "3.9.1", "10.0.0", "4.1.0-rc2", "4.0.0.beta-1"] {
            assert!(is_version(good), "{good}");
        }
        for bad in [
            "", "4", "4.3", "4.3.", "4.3.1-", "a.b.c", "4.3.1/..", "../4.3.1", "4.3.1 x",
        ] {
            assert!(!is_version(bad), "{bad}");
        }
        assert_eq!(major("4.3.1"), 4);
        assert_eq!(major("3.9.1"), 3);
    }

    #[test]
    fn colour_codes_are_stripped() {
        assert_eq!(strip_ansi("\x1b[m"), "");
        assert_eq!(strip_ansi("\x1b[1;31mERROR\x1b[m x"), "ERROR x");
        assert_eq!(strip_ansi("plain \x1b text"), "plain \x1b text");
    }

    #[test]
    fn the_pom_names_both_artifacts_in_the_version() {
        let pom = pom_xml("4.3.1");
        assert!(pom.contains("<artifactId>kafka_2.13</artifactId>\n      <version>4.3.1</version>"));
        assert!(
            pom.contains("<artifactId>kafka-tools</artifactId>\n      <version>4.3.1</version>")
        );
        assert!(pom.contains("<version>3.8.1</version>"));
    }

    #[test]
    fn timestamps_look_like_iso_8601() {
        let now = utc_now();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z'), "{now}");
    }

    /// A scratch directory for one test, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(what: &str) -> Scratch {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            let dir = std::env::temp_dir()
                .join(format!("kcluster-{what}-{}-{nanos:x}", std::process::id()));
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// A stand-in for `mvn` that "resolves" the given jars into `-DoutputDirectory` (the
    /// log4j2 binding for `dependency:copy`), or fails.
    fn fake_mvn(dir: &Path, jars: &[&str], succeed: bool) -> PathBuf {
        let path = dir.join("mvn");
        let script = format!(
            "#!/bin/sh\n\
             for a in \"$@\"; do case $a in -DoutputDirectory=*) out=${{a#-DoutputDirectory=}};; \
             dependency:*) goal=$a;; esac; done\n\
             echo '\x1b[mfake mvn' \"$goal\" >&2\n\
             {}\n\
             cd \"$out\" || exit 1\n\
             if [ \"$goal\" = dependency:copy ]; then touch log4j-slf4j-impl-2.9.jar; else touch {}; fi\n",
            if succeed { "" } else { "exit 1" },
            jars.join(" ")
        );
        fs::write(&path, script).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_fetch_assembles_the_layout_and_leaves_no_staging_behind() {
        let scratch = Scratch::new("fetch");
        let mvn = fake_mvn(
            &scratch.0,
            &[
                "kafka_2.13-4.9.0.jar",
                "kafka-tools-4.9.0.jar",
                "log4j-core-2.9.jar",
            ],
            true,
        );
        let cache = scratch.0.join("cache");
        let dest = cache.join("kafka-4.9.0");
        fetch_into(&mvn, "4.9.0", &dest).unwrap();
        assert!(is_complete(&dest));
        assert_eq!(files(&cache), ["kafka-4.9.0"], "no staging directory left");
        assert_eq!(
            files(&dest.join("libs")),
            [
                "kafka-tools-4.9.0.jar",
                "kafka_2.13-4.9.0.jar",
                "log4j-core-2.9.jar",
                "log4j-slf4j-impl-2.9.jar"
            ]
        );
        assert_eq!(
            fs::read_to_string(dest.join("config/log4j2.xml")).unwrap(),
            LOG4J2_XML
        );
        assert_eq!(
            files(&dest.join("config")),
            ["log4j2.xml", "tools-log4j2.xml"]
        );
        let marker = fs::read_to_string(dest.join(COMPLETE_MARKER)).unwrap();
        assert!(
            marker.starts_with("version=4.9.0\njars=4\ncreated=20"),
            "{marker}"
        );

        // Kafka 3.x: the reload4j binding comes with the jars, log4j 1.x configuration.
        let mvn = fake_mvn(
            &scratch.0,
            &[
                "kafka_2.13-3.9.0.jar",
                "kafka-tools-3.9.0.jar",
                "slf4j-reload4j-1.7.jar",
            ],
            true,
        );
        let old = cache.join("kafka-3.9.0");
        fs::create_dir_all(old.join("libs")).unwrap(); // an interrupted older layout
        fetch_into(&mvn, "3.9.0", &old).unwrap();
        assert_eq!(
            files(&old.join("config")),
            ["log4j.properties", "tools-log4j.properties"]
        );
        assert_eq!(files(&old.join("libs")).len(), 3);
    }

    #[test]
    fn a_failed_fetch_leaves_nothing() {
        let scratch = Scratch::new("fetch-fails");
        let cache = scratch.0.join("cache");
        let dest = cache.join("kafka-4.9.0");
        let mvn = fake_mvn(&scratch.0, &[], false);
        let err = fetch_into(&mvn, "4.9.0", &dest).unwrap_err();
        assert!(
            err.to_string()
                .contains("mvn dependency:copy-dependencies failed"),
            "{err}"
        );
        assert_eq!(kcore::failure::exit_code_for(&err).code(), 8);
        // mvn "succeeds" without the broker's jar: not a distribution either.
        let mvn = fake_mvn(&scratch.0, &["kafka-tools-4.9.0.jar"], true);
        let err = fetch_into(&mvn, "4.9.0", &dest).unwrap_err();
        assert!(
            err.to_string().contains("kafka_2.13-4.9.0.jar is missing"),
            "{err}"
        );
        assert!(files(&cache).is_empty(), "{:?}", files(&cache));
    }

    #[test]
    fn abandoned_staging_directories_are_removed() {
        let scratch = Scratch::new("stages");
        // pid 0x7fffffff does not exist; ours does.
        let dead = scratch.0.join(".kafka-4.3.1.tmp.2147483647.1");
        let ours = scratch
            .0
            .join(format!(".kafka-4.3.1.tmp.{}.2", std::process::id()));
        let other_version = scratch.0.join(".kafka-3.9.1.tmp.2147483647.3");
        for dir in [&dead, &ours, &other_version] {
            fs::create_dir_all(dir.join("dist")).unwrap();
        }
        remove_abandoned_stages(&scratch.0, "4.3.1");
        assert!(!dead.exists() && ours.exists() && other_version.exists());
    }
}
