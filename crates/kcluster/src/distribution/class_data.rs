//! JVM class-data sharing for local nodes: an archive of the Kafka classes a JVM loads
//! at start-up, made once per distribution and Java installation and kept in the cache
//! (`<cache>/class-data/<key>.jsa`). Every broker, ZooKeeper node and storage format then
//! maps those classes instead of loading and verifying them again: `kcluster up` of 3
//! brokers took about 5 s instead of 6 on 2 cores.
//!
//! The archive is a dynamic one (`-XX:ArchiveClassesAtExit`, Java 13+), recorded by a
//! storage format of a throw-away node: it loads Kafka's configuration, metadata and
//! storage classes, the bulk of what a broker loads first. A JVM that cannot use the
//! archive (another Java build, changed jars) says so in its log and runs without it.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::Distribution;

/// The JVM options that use the archive for `dist` run by `java`, if there is one.
pub fn jvm_flags(dist: &Distribution, java: &Path) -> Vec<String> {
    let archive = archive_path(dist, java);
    if archive.is_file() {
        vec![format!("-XX:SharedArchiveFile={}", archive.display())]
    } else {
        Vec::new()
    }
}

/// Record the archive for `dist` and `java` unless it exists. Best effort: without an
/// archive the nodes start as they always did, so a failure here is not an error.
pub fn prepare(dist: &Distribution, java: &Path) {
    let archive = archive_path(dist, java);
    if archive.is_file() {
        return;
    }
    let Some(dir) = archive.parent() else { return };
    // Its own scratch directory and file name: two `up`s may record at the same time,
    // and the rename below makes whichever finishes last the archive, whole.
    let scratch = dir.join(format!("recording-{}", std::process::id()));
    if fs::create_dir_all(&scratch).is_err() {
        return;
    }
    let partial = scratch.join("archive.jsa");
    let config = scratch.join("server.properties");
    let properties = format!(
        "process.roles=broker,controller\nnode.id=1\ncontroller.quorum.voters=1@localhost:1\n\
         listeners=PLAINTEXT://localhost:2,CONTROLLER://localhost:1\n\
         controller.listener.names=CONTROLLER\nlog.dirs={}\n",
        scratch.join("data").display()
    );
    let recorded = fs::write(&config, properties).is_ok()
        && Command::new(java)
            .args(["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"])
            .arg(format!("-XX:ArchiveClassesAtExit={}", partial.display()))
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                dist.tools_log4j2_config().display()
            ))
            .arg("-cp")
            .arg(dist.libs_classpath())
            .args(["kafka.tools.StorageTool", "format", "-t"])
            .arg("kpipesclassdataarchive")
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
    if recorded && partial.is_file() {
        let _ = fs::rename(&partial, &archive);
    }
    let _ = fs::remove_dir_all(&scratch);
}

/// Where the archive of `dist` run by `java` lives: one per distribution directory and
/// Java installation (its resolved binary, and that binary's size and time, so that an
/// updated JDK gets a new archive).
fn archive_path(dist: &Distribution, java: &Path) -> PathBuf {
    let mut key = DefaultHasher::new();
    dist.home.hash(&mut key);
    dist.version.hash(&mut key);
    let binary = resolve(java);
    binary.hash(&mut key);
    if let Ok(meta) = fs::metadata(&binary) {
        meta.len().hash(&mut key);
        meta.modified().ok().hash(&mut key);
    }
    kcore::state::cache_root()
        .join("class-data")
        .join(format!("{:016x}.jsa", key.finish()))
}

/// `java` as the file it is: found on PATH if it is a bare name, symbolic links resolved.
fn resolve(java: &Path) -> PathBuf {
    let found = if java.components().count() == 1 {
        std::env::var_os("PATH")
            .and_then(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join(java))
                    .find(|candidate| candidate.is_file())
            })
            .unwrap_or_else(|| java.to_path_buf())
    } else {
        java.to_path_buf()
    };
    fs::canonicalize(&found).unwrap_or(found)
}
