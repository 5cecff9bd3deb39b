//! Random bytes from the operating system (through `getrandom`): cluster ids, passwords,
//! and where to look for free ports.

use anyhow::{anyhow, Result};

/// `count` random bytes.
pub fn bytes(count: usize) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; count];
    getrandom::fill(&mut bytes).map_err(|err| anyhow!("reading random bytes: {err}"))?;
    Ok(bytes)
}

/// A random u32.
pub fn u32() -> Result<u32> {
    getrandom::u32().map_err(|err| anyhow!("reading random bytes: {err}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_are_random() {
        let (a, b) = (super::bytes(16).unwrap(), super::bytes(16).unwrap());
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
    }
}
