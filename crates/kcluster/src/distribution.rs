//! Finding what a local broker needs: Java 17+ and an Apache Kafka distribution
//! (an extracted tarball in KAFKA_HOME, or jars fetched from Maven Central).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use kcore::Failure;

pub const DEFAULT_KAFKA_VERSION: &str = "4.3.1";

/// The last Apache Kafka release line with ZooKeeper mode (Kafka 4 removed it): `--mode zookeeper`.
pub const ZOOKEEPER_KAFKA_VERSION: &str = "3.9.1";

/// The fetch script, embedded so that an installed kcluster can fetch Kafka from any directory.
const FETCH_SCRIPT: &str = include_str!("../../../scripts/fetch-kafka");

/// The `java` to run: `$JAVA_HOME/bin/java`, else `java` on PATH; checked to be 17 or newer.
pub fn java() -> Result<PathBuf> {
    let java = std::env::var_os("JAVA_HOME")
        .map(|home| PathBuf::from(home).join("bin/java"))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from("java"));
    let output = Command::new(&java)
        .arg("-version")
        .stdin(Stdio::null())
        .output()
        .map_err(|_| {
            Failure::environment(
                "Java 17 or newer is needed to run local brokers, and `java` was not found \
             (install a JDK, e.g. `apt-get install openjdk-17-jre-headless`, or set JAVA_HOME)",
            )
        })?;
    let text = String::from_utf8_lossy(&output.stderr);
    let major = java_major_version(&text).unwrap_or(0);
    if major < 17 {
        return Err(Failure::environment(format!(
            "Java 17 or newer is needed to run Kafka 4, but {} is {} (set JAVA_HOME to a newer JDK)",
            java.display(),
            text.lines().next().unwrap_or("of unknown version")
        ))
        .into());
    }
    Ok(java)
}

/// `openjdk version "17.0.15" ...` → 17; `java version "1.8.0_202"` → 8.
fn java_major_version(version_output: &str) -> Option<u32> {
    let quoted = version_output.split('"').nth(1)?;
    let mut parts = quoted.split(['.', '-', '+', '_']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

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
    if !(home.join(".complete").is_file() && has_jars(&home)) {
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

/// Run the embedded fetch script (Maven Central through `mvn`), progress on stderr.
pub fn fetch(version: &str) -> Result<PathBuf> {
    eprintln!(
        "kcluster: fetching Apache Kafka {version} from Maven Central (once; cached afterwards)"
    );
    let output = Command::new("bash")
        .arg("-c")
        .arg(FETCH_SCRIPT)
        .arg("fetch-kafka")
        .arg(version)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("running bash for the Kafka fetch script")?;
    if !output.status.success() {
        return Err(Failure::environment(format!(
            "could not fetch Kafka {version} (see the lines above); or set KAFKA_HOME to an extracted Apache Kafka tarball"
        ))
        .into());
    }
    let dir = String::from_utf8_lossy(&output.stdout).trim().to_string();
    Ok(PathBuf::from(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_versions() {
        assert_eq!(
            java_major_version("openjdk version \"17.0.15\" 2025-04-15"),
            Some(17)
        );
        assert_eq!(java_major_version("java version \"1.8.0_202\""), Some(8));
        assert_eq!(
            java_major_version("openjdk version \"21\" 2023-09-19"),
            Some(21)
        );
        assert_eq!(java_major_version("nonsense"), None);
    }
}
