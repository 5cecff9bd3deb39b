//! The one owner of the Apache Kafka distribution a local broker runs from: the default
//! versions, where fetched versions are cached (`kcore::state::cache_root()`, which honours
//! `KPIPES_CACHE_DIR`), the Java check, and the fetch from Maven Central.
//!
//! A distribution is either an extracted tarball (`KAFKA_HOME`) or a directory assembled by
//! [`fetch`]:
//!
//! ```text
//! <cache>/kafka-<version>/
//!   libs/*.jar               broker + kafka-tools + the SLF4J binding (runtime scope only)
//!   config/log4j2.xml        4.x: broker logging into ${sys:kafka.logs.dir}, plus stdout
//!   config/tools-log4j2.xml  4.x: command-line tools, warnings to stderr
//!   config/log4j.properties, config/tools-log4j.properties   3.x equivalents (reload4j)
//!   .complete                marker: present only once the directory is fully assembled
//! ```

use std::path::{Path, PathBuf};

use anyhow::Result;
use kcore::Failure;

pub mod class_data;
mod fetch;
mod java;

pub use fetch::fetch;
pub use java::java;

pub const DEFAULT_KAFKA_VERSION: &str = "4.3.1";

/// The last Apache Kafka release line with ZooKeeper mode (Kafka 4 removed it): `--mode zookeeper`.
pub const ZOOKEEPER_KAFKA_VERSION: &str = "3.9.1";

/// The marker file of a fully assembled distribution in the cache.
const COMPLETE_MARKER: &str = ".complete";

/// A usable distribution: a directory with `libs/*.jar`.
#[derive(Debug, Clone)]
pub struct Distribution {
    pub home: PathBuf,
    pub version: String,
}

impl Distribution {
    pub fn libs_classpath(&self) -> String {
        format!("{}/libs/*", self.home.display())
    }

    /// The log4j2 configuration to give the brokers, if the distribution has one.
    pub fn log4j2_config(&self) -> Option<PathBuf> {
        [
            "config/log4j2.yaml",
            "config/log4j2.xml",
            "config/log4j2.properties",
        ]
        .iter()
        .map(|rel| self.home.join(rel))
        .find(|path| path.is_file())
    }

    /// The log4j2 configuration for command-line tools (warnings to stderr); an empty
    /// path when the distribution has none, which leaves log4j2 on its quiet default.
    pub fn tools_log4j2_config(&self) -> PathBuf {
        ["config/tools-log4j2.xml", "config/tools-log4j2.yaml"]
            .iter()
            .map(|rel| self.home.join(rel))
            .find(|path| path.is_file())
            .unwrap_or_default()
    }

    /// The log4j 1.x configuration (Kafka 3.x tarballs), if any.
    pub fn log4j1_config(&self) -> Option<PathBuf> {
        Some(self.home.join("config/log4j.properties")).filter(|path| path.is_file())
    }
}

/// Whether a cached distribution is fully assembled: its marker and its jars are there.
fn is_complete(home: &Path) -> bool {
    home.join(COMPLETE_MARKER).is_file() && has_jars(home)
}

fn has_jars(home: &Path) -> bool {
    std::fs::read_dir(home.join("libs"))
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("kafka_"))
        })
        .unwrap_or(false)
}

/// The cache directory a version is fetched into.
pub fn cached_home(version: &str) -> PathBuf {
    kcore::state::cache_root().join(format!("kafka-{version}"))
}

/// KAFKA_HOME if given, else the cached version, fetching it with Maven when missing.
pub fn locate(
    version: &str,
    kafka_home: Option<&Path>,
    fetch_if_missing: bool,
) -> Result<Distribution> {
    if let Some(home) = kafka_home {
        if !has_jars(home) {
            return Err(Failure::environment(format!(
                "KAFKA_HOME={} is not an extracted Apache Kafka distribution (no libs/kafka_*.jar)",
                home.display()
            ))
            .into());
        }
        let version = version_from_jars(home).unwrap_or_else(|| version.to_string());
        return Ok(Distribution {
            home: home.to_path_buf(),
            version,
        });
    }
    let home = cached_home(version);
    if !is_complete(&home) {
        if !fetch_if_missing {
            return Err(Failure::environment(format!(
                "no Kafka {version} distribution found in {}: run `kcluster fetch-kafka {version}` \
                 (needs mvn), or set KAFKA_HOME to an extracted Apache Kafka tarball",
                home.display()
            ))
            .into());
        }
        fetch(version)?;
    }
    Ok(Distribution {
        home,
        version: version.to_string(),
    })
}

/// `libs/kafka_2.13-4.3.1.jar` → `4.3.1`.
fn version_from_jars(home: &Path) -> Option<String> {
    std::fs::read_dir(home.join("libs"))
        .ok()?
        .flatten()
        .find_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let rest = name.strip_prefix("kafka_")?.strip_suffix(".jar")?;
            let (_, version) = rest.split_once('-')?;
            (!version.contains('-')).then(|| version.to_string())
        })
}
