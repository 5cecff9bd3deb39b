//! Where a topic's replicas should live: a balanced placement over a set of brokers that
//! keeps each partition's current replicas where it can, for reassignments (spreading a
//! topic onto a new broker, draining one, changing the replication factor).
//!
//! Replicas end spread evenly (every broker of the set holds the same number, give or
//! take one), and so do preferred leaders (the first replica of each partition), where
//! the replicas allow it. Pure: no cluster is asked.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::Failure;

/// A balanced placement of one topic's partitions (`current[p]`: partition p's replicas,
/// preferred leader first) over `brokers`, each with `replication_factor` replicas (each
/// partition's current count when None). The new replica lists, in partition order.
pub fn balanced(
    current: &[Vec<i32>],
    brokers: &[i32],
    replication_factor: Option<usize>,
) -> Result<Vec<Vec<i32>>> {
    let mut brokers = brokers.to_vec();
    brokers.sort_unstable();
    brokers.dedup();
    let wanted = |p: usize| replication_factor.unwrap_or(current[p].len()).max(1);
    if let Some(too_many) = (0..current.len()).map(wanted).find(|r| *r > brokers.len()) {
        return Err(Failure::usage(format!(
            "a replication factor of {too_many} needs at least {too_many} brokers; the set has {}",
            brokers.len()
        ))
        .into());
    }
    let total: usize = (0..current.len()).map(wanted).sum();
    let cap = total.div_ceil(brokers.len().max(1));

    // Keep current replicas on brokers of the set, up to each broker's fair share.
    let mut load: BTreeMap<i32, usize> = brokers.iter().map(|b| (*b, 0)).collect();
    let mut placement: Vec<Vec<i32>> = Vec::with_capacity(current.len());
    for (p, replicas) in current.iter().enumerate() {
        let mut kept = Vec::new();
        for broker in replicas {
            if kept.len() < wanted(p)
                && load.get(broker).is_some_and(|n| *n < cap)
                && !kept.contains(broker)
            {
                *load.get_mut(broker).unwrap() += 1;
                kept.push(*broker);
            }
        }
        placement.push(kept);
    }
    // Fill the missing replicas from the least loaded brokers.
    for (p, replicas) in placement.iter_mut().enumerate() {
        while replicas.len() < wanted(p) {
            let broker = *brokers
                .iter()
                .filter(|b| !replicas.contains(b))
                .min_by_key(|b| (load[b], **b))
                .expect("enough brokers, checked above");
            *load.get_mut(&broker).unwrap() += 1;
            replicas.push(broker);
        }
    }
    // Even out what keeping left uneven: move a follower from the fullest broker to
    // the emptiest, one at a time, while they differ by more than one.
    loop {
        let (&most, &most_n) = load.iter().max_by_key(|(b, n)| (**n, -**b)).unwrap();
        let (&least, &least_n) = load.iter().min_by_key(|(b, n)| (**n, **b)).unwrap();
        if most_n <= least_n + 1 {
            break;
        }
        let Some(replicas) = placement
            .iter_mut()
            .rev()
            .find(|r| r.contains(&most) && !r.contains(&least))
        else {
            break;
        };
        let at = replicas.iter().position(|b| *b == most).unwrap();
        replicas[at] = least;
        *load.get_mut(&most).unwrap() -= 1;
        *load.get_mut(&least).unwrap() += 1;
    }
    balance_leaders(&mut placement, current, &brokers);
    Ok(placement)
}

/// Choose each partition's preferred leader among its replicas: its current leader where
/// that keeps leaders even, then move leadership from the broker leading most to one
/// leading fewest while a partition allows it.
fn balance_leaders(placement: &mut [Vec<i32>], current: &[Vec<i32>], brokers: &[i32]) {
    let cap = placement.len().div_ceil(brokers.len().max(1));
    let mut leads: BTreeMap<i32, usize> = brokers.iter().map(|b| (*b, 0)).collect();
    for (p, replicas) in placement.iter_mut().enumerate() {
        let keep = current[p]
            .first()
            .filter(|l| replicas.contains(l) && leads[l] < cap)
            .copied();
        let leader =
            keep.unwrap_or_else(|| *replicas.iter().min_by_key(|b| (leads[b], **b)).unwrap());
        let at = replicas.iter().position(|b| *b == leader).unwrap();
        replicas[..=at].rotate_right(1);
        *leads.get_mut(&leader).unwrap() += 1;
    }
    loop {
        let (&most, &most_n) = leads.iter().max_by_key(|(b, n)| (**n, -**b)).unwrap();
        let Some((replicas, least)) = placement.iter_mut().rev().find_map(|r| {
            if r[0] != most {
                return None;
            }
            let least = *r[1..].iter().min_by_key(|b| (leads[b], **b))?;
            (leads[&least] + 1 < most_n).then_some((r, least))
        }) else {
            break;
        };
        let at = replicas.iter().position(|b| *b == least).unwrap();
        replicas[..=at].rotate_right(1);
        *leads.get_mut(&most).unwrap() -= 1;
        *leads.get_mut(&least).unwrap() += 1;
    }
}

/// The fewest moves that take `broker` out of a topic: in each partition that has a
/// replica on it, that replica goes to the broker of `remaining` holding fewest of the
/// topic's replicas (and not already one of the partition's), in the same position, so
/// a preferred leader is replaced by a preferred leader. None for a partition that
/// cannot keep its replica count.
pub fn drained(current: &[Vec<i32>], broker: i32, remaining: &[i32]) -> Vec<Option<Vec<i32>>> {
    let mut load: BTreeMap<i32, usize> = remaining.iter().map(|b| (*b, 0)).collect();
    for replicas in current {
        for b in replicas {
            if let Some(n) = load.get_mut(b) {
                *n += 1;
            }
        }
    }
    current
        .iter()
        .map(|replicas| {
            let mut replicas = replicas.clone();
            if let Some(at) = replicas.iter().position(|b| *b == broker) {
                let to = *remaining
                    .iter()
                    .filter(|b| !replicas.contains(b))
                    .min_by_key(|b| (load[b], **b))?;
                *load.get_mut(&to).unwrap() += 1;
                replicas[at] = to;
            }
            Some(replicas)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(placement: &[Vec<i32>]) -> (BTreeMap<i32, usize>, BTreeMap<i32, usize>) {
        let mut replicas = BTreeMap::new();
        let mut leaders = BTreeMap::new();
        for r in placement {
            *leaders.entry(r[0]).or_default() += 1;
            for b in r {
                *replicas.entry(*b).or_default() += 1;
            }
        }
        (replicas, leaders)
    }

    fn spread(counts: &BTreeMap<i32, usize>) -> usize {
        counts.values().max().unwrap() - counts.values().min().unwrap()
    }

    #[test]
    fn a_balanced_topic_stays_as_it_is() {
        let current = vec![vec![1, 2, 3], vec![2, 3, 1], vec![3, 1, 2]];
        assert_eq!(balanced(&current, &[1, 2, 3], None).unwrap(), current);
    }

    #[test]
    fn a_new_broker_gets_its_share_of_replicas_and_leaders() {
        let current: Vec<Vec<i32>> = (0..6)
            .map(|p| (0..3).map(|i| (p + i) % 3 + 1).collect())
            .collect();
        let placed = balanced(&current, &[1, 2, 3, 4], None).unwrap();
        let (replicas, leaders) = counts(&placed);
        assert_eq!(replicas.len(), 4);
        assert!(spread(&replicas) <= 1, "{placed:?}");
        assert!(spread(&leaders) <= 1, "{placed:?}");
        // Only what must move moves: 18 replicas over 4 brokers is 4 or 5 each, so
        // broker 4 takes 4 or 5, and every other replica stays where it was.
        let moved: usize = placed
            .iter()
            .zip(&current)
            .map(|(new, old)| new.iter().filter(|b| !old.contains(b)).count())
            .sum();
        assert_eq!(moved, replicas[&4]);
        assert!(placed
            .iter()
            .all(|r| r.len() == 3 && !r[1..].contains(&r[0])));
    }

    #[test]
    fn draining_a_broker_moves_everything_off_it() {
        let current = vec![vec![1, 2], vec![2, 3], vec![3, 4], vec![4, 1]];
        let placed = balanced(&current, &[1, 2, 3], None).unwrap();
        assert!(placed.iter().all(|r| !r.contains(&4) && r.len() == 2));
        let (replicas, _) = counts(&placed);
        assert!(spread(&replicas) <= 1);
        assert_eq!(
            placed[0],
            vec![1, 2],
            "untouched partitions keep their replicas"
        );
    }

    #[test]
    fn draining_replaces_only_the_drained_broker_in_place() {
        let current = vec![vec![4, 1], vec![1, 2], vec![2, 4], vec![3, 1]];
        let moved = drained(&current, 4, &[1, 2, 3]);
        assert_eq!(moved[1], Some(vec![1, 2]));
        assert_eq!(moved[3], Some(vec![3, 1]));
        let first = moved[0].clone().unwrap();
        assert!(first[0] != 4 && first[0] != 1 && first[1] == 1, "{first:?}");
        assert!(!moved[2].clone().unwrap().contains(&4));
        assert_eq!(drained(&[vec![1, 2]], 2, &[1]), vec![None]);
    }

    #[test]
    fn raising_the_replication_factor_adds_replicas_and_keeps_the_old() {
        let current = vec![vec![1, 2], vec![2, 3], vec![3, 1]];
        let placed = balanced(&current, &[1, 2, 3], Some(3)).unwrap();
        for (new, old) in placed.iter().zip(&current) {
            assert_eq!(new.len(), 3);
            assert!(old.iter().all(|b| new.contains(b)));
            assert_eq!(new[0], old[0], "leaders stay");
        }
        assert!(balanced(&current, &[1, 2], Some(3)).is_err());
    }
}
