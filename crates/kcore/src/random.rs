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

/// Reproducible pseudo-random numbers for kcore's differential tests: one seed, the same
/// values on every run.
#[cfg(test)]
pub(crate) struct Seeded(rand_chacha::ChaCha8Rng);

#[cfg(test)]
impl Seeded {
    pub(crate) fn new(seed: u64) -> Seeded {
        use rand_chacha::rand_core::SeedableRng;
        Seeded(rand_chacha::ChaCha8Rng::seed_from_u64(seed))
    }

    pub(crate) fn next(&mut self) -> u64 {
        use rand_chacha::rand_core::RngCore;
        self.0.next_u64()
    }

    /// A number below `n`.
    pub(crate) fn pick(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A number below `n`, as a u64.
    pub(crate) fn pick_u64(&mut self, n: u64) -> u64 {
        self.next() % n
    }
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
