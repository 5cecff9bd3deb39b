//! The Java check: local brokers (and Maven, which fetches them) need Java 17 or newer.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::Result;
use kcore::Failure;

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
