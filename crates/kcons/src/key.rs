//! `--key K`: the one partition a key's records are in, and the records with that key.
//!
//! The partition is computed by librdkafka's own partitioner functions (the code kprod's
//! producer runs, `partitioner=murmur2_random`), not by a copy: murmur2 is the Java client's
//! default for keyed records (`toPositive(murmur2(key)) % partitions`, also Kafka Streams'),
//! consistent (CRC32) librdkafka's, fnv1a Sarama's. Checked against records the Java producer
//! wrote (tests/kcons.rs) and against Kafka's own murmur2 test vectors (below).

use std::ffi::c_void;

use clap::ValueEnum;

/// librdkafka's partitioner names (its `partitioner` property), as `--partitioner` takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Partitioner {
    /// murmur2 of the key, as the Java client and kprod (the default)
    Murmur2Random,
    /// murmur2 of the key (null keys to one partition)
    Murmur2,
    /// CRC32 of the key, librdkafka's default (empty keys spread at random)
    ConsistentRandom,
    /// CRC32 of the key
    Consistent,
    /// FNV-1a of the key, as Sarama (Go)
    Fnv1aRandom,
    /// FNV-1a of the key
    Fnv1a,
    /// no relation between key and partition: every partition is read
    Random,
}

type PartitionerFn = unsafe extern "C" fn(
    *const rdkafka::bindings::rd_kafka_topic_t,
    *const c_void,
    usize,
    i32,
    *mut c_void,
    *mut c_void,
) -> i32;

impl Partitioner {
    /// The partition this partitioner puts `key` in, of `partitions`; None when it spreads
    /// such records at random (then every partition must be read).
    pub fn partition(self, key: &[u8], partitions: i32) -> Option<i32> {
        use rdkafka::bindings as rd;
        let hash: PartitionerFn = match self {
            Partitioner::Murmur2Random | Partitioner::Murmur2 => {
                rd::rd_kafka_msg_partitioner_murmur2
            }
            Partitioner::ConsistentRandom if key.is_empty() => return None,
            Partitioner::ConsistentRandom | Partitioner::Consistent => {
                rd::rd_kafka_msg_partitioner_consistent
            }
            Partitioner::Fnv1aRandom | Partitioner::Fnv1a => rd::rd_kafka_msg_partitioner_fnv1a,
            Partitioner::Random => return None,
        };
        if partitions <= 0 {
            return None;
        }
        // SAFETY: these three functions only hash `keylen` bytes at `key` and take the
        // remainder: they never touch the topic or the opaques (the `_random` variants,
        // which do, are never called). A key is never a null pointer here (an empty slice's
        // pointer is dangling but non-null, and zero bytes are read), as in kprod.
        let partition = unsafe {
            hash(
                std::ptr::null(),
                key.as_ptr().cast(),
                key.len(),
                partitions,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        Some(partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka's own test vectors for its murmur2 (clients' UtilsTest.testMurmur2): the
    /// partition among i32::MAX partitions is the hash made positive.
    #[test]
    fn murmur2_matches_kafkas_vectors() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            (b"abc", 479470107),
        ];
        for (key, hash) in cases {
            let positive = hash & 0x7fff_ffff;
            assert_eq!(
                Partitioner::Murmur2.partition(key, i32::MAX),
                Some(positive % i32::MAX),
                "{}",
                String::from_utf8_lossy(key)
            );
        }
    }

    #[test]
    fn consistent_is_crc32() {
        // CRC-32 (IEEE) of "123456789" is 0xCBF43926.
        assert_eq!(
            Partitioner::Consistent.partition(b"123456789", i32::MAX),
            Some((0xCBF4_3926u32 % i32::MAX as u32) as i32)
        );
        assert_eq!(Partitioner::ConsistentRandom.partition(b"", 12), None);
        assert_eq!(Partitioner::Consistent.partition(b"", 12), Some(0));
        assert_eq!(Partitioner::Random.partition(b"k", 12), None);
    }

    #[test]
    fn fnv1a_is_the_32_bit_hash() {
        // FNV-1a 32 of "a" is 0xE40C292C, negative as an i32: made positive by its
        // absolute value, as Sarama does.
        let abs = (0xE40C_292Cu32 as i32).unsigned_abs();
        assert_eq!(
            Partitioner::Fnv1a.partition(b"a", i32::MAX),
            Some((abs % i32::MAX as u32) as i32)
        );
    }

    #[test]
    fn every_partition_in_range() {
        for n in 1..40 {
            let key = format!("customer-{n}");
            let p = Partitioner::Murmur2Random
                .partition(key.as_bytes(), 12)
                .unwrap();
            assert!((0..12).contains(&p));
        }
    }
}
