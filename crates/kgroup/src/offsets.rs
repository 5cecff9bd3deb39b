//! The first and end offset of partitions, asked for both at once.

use std::collections::BTreeMap;

use anyhow::Result;
use kcore::admin::offsets::{submit_list_offsets, OffsetSpec, PendingOffsets};
use kcore::admin::PartitionOffset;

use crate::session::{admin_failure, failure, Session};

pub type Partition = (String, i32);

/// `(earliest, latest)` of each partition.
pub fn watermarks(
    session: &Session,
    partitions: &[Partition],
) -> Result<BTreeMap<Partition, (i64, i64)>> {
    if partitions.is_empty() {
        return Ok(BTreeMap::new());
    }
    let earliest = submit(session, partitions, OffsetSpec::Earliest)?;
    let latest = submit(session, partitions, OffsetSpec::Latest)?;
    let earliest = read(earliest)?;
    let latest = read(latest)?;
    Ok(partitions
        .iter()
        .filter_map(|key| Some((key.clone(), (*earliest.get(key)?, *latest.get(key)?))))
        .collect())
}

pub fn submit(
    session: &Session,
    partitions: &[Partition],
    spec: OffsetSpec,
) -> Result<PendingOffsets> {
    submit_list_offsets(session.client(), partitions, spec, session.timeout())
        .map_err(|err| failure(err, "cannot read partition offsets"))
}

/// The answer as a map; a partition's own failure fails the whole.
pub fn read(pending: PendingOffsets) -> Result<BTreeMap<Partition, i64>> {
    let answer = pending
        .wait()
        .map_err(|err| failure(err, "cannot read partition offsets"))?;
    answer
        .into_iter()
        .map(
            |PartitionOffset {
                 topic,
                 partition,
                 offset,
                 error,
             }| match error {
                Some(error) => Err(admin_failure(
                    &error,
                    &format!("cannot read the offsets of {topic}/{partition}"),
                )),
                None => Ok(((topic, partition), offset)),
            },
        )
        .collect()
}
