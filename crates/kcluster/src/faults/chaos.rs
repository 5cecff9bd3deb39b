//! `kcluster chaos`: random faults for a while, one at a time, reproducible from a seed.
//!
//! The schedule is drawn from a ChaCha8 generator seeded with `--seed`: which fault,
//! on which broker, how long it holds, how long the cluster then runs healthy. The same
//! seed on the same cluster draws the same schedule (the times a fault takes to apply,
//! a killed broker's restart above all, are not the seed's). One fault at a time keeps
//! a cluster of three brokers, with topics replicated three times and two in sync
//! required, writable throughout: a program that loses records there has a bug.
//! Stopped early (SIGINT, SIGTERM), it heals the fault in force before it exits.

use std::time::{Duration, Instant};

use anyhow::Result;
use kcore::state::Role;
use kcore::Failure;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::{network, Fault, Kind};
use crate::backend::Backend;
use crate::budget::Budget;

/// One step of a schedule: a fault on a broker, held a while, then a healthy pause.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub kind: Kind,
    pub id: u32,
    pub hold: Duration,
    pub gap: Duration,
}

/// The schedule a seed draws, step by step (endless: the caller stops at its deadline).
pub struct Schedule {
    rng: ChaCha8Rng,
    kinds: Vec<Kind>,
    brokers: Vec<u32>,
    hold: Duration,
}

impl Schedule {
    pub fn new(seed: u64, kinds: Vec<Kind>, brokers: Vec<u32>, hold: Duration) -> Schedule {
        Schedule {
            rng: ChaCha8Rng::seed_from_u64(seed),
            kinds,
            brokers,
            hold,
        }
    }

    /// Between half and one and a half times `base`.
    fn around(&mut self, base: Duration) -> Duration {
        base.mul_f64(0.5 + (self.rng.next_u64() % 1000) as f64 / 1000.0)
    }

    pub fn next_step(&mut self) -> Step {
        let kind = self.kinds[(self.rng.next_u64() % self.kinds.len() as u64) as usize];
        let id = self.brokers[(self.rng.next_u64() % self.brokers.len() as u64) as usize];
        let hold = self.around(self.hold);
        let gap = self.around(self.hold / 2);
        Step {
            kind,
            id,
            hold,
            gap,
        }
    }
}

/// The faults chaos draws from when `--faults` is not given: every kind, `fill` only on a
/// cluster whose brokers have disks of their own (`up --disk-limit`).
pub const DEFAULT_FAULTS: &str = "kill,pause,isolate,slow";

/// The kinds `--faults` names (or the default set), checked against the cluster: `fill`
/// needs `up --disk-limit` (usage error, exit 2, without it).
pub fn kinds_for(faults: Option<&str>, cluster: &str, disk_limit: bool) -> Result<Vec<Kind>> {
    let mut kinds = parse_kinds(faults.unwrap_or(DEFAULT_FAULTS))?;
    if faults.is_none() && disk_limit {
        kinds.push(Kind::Fill);
    }
    if kinds.contains(&Kind::Fill) && !disk_limit {
        return Err(Failure::usage(format!(
            "--faults fill needs brokers with disks of their own, and '{cluster}' has none: make it with `kcluster up --disk-limit SIZE` (as root)"
        ))
        .into());
    }
    Ok(kinds)
}

/// Parse `--faults kill,pause,isolate,slow,fill`.
pub fn parse_kinds(text: &str) -> Result<Vec<Kind>> {
    text.split(',')
        .map(|word| match word.trim() {
            "kill" => Ok(Kind::Kill),
            "pause" => Ok(Kind::Pause),
            "isolate" => Ok(Kind::Isolate),
            "slow" => Ok(Kind::Slow),
            "fill" => Ok(Kind::Fill),
            other => Err(Failure::usage(format!(
                "unknown fault '{other}' in --faults: use kill, pause, isolate, slow, fill"
            ))
            .into()),
        })
        .collect()
}

/// What `kcluster chaos` was asked.
pub struct Plan {
    pub seed: u64,
    pub duration: Duration,
    pub kinds: Vec<Kind>,
    pub hold: Duration,
}

/// Run the schedule until its duration is over (or SIGINT), healing each fault.
pub fn run(backend: &mut dyn Backend, plan: &Plan) -> Result<()> {
    backend.supports_faults()?;
    let interrupt = kcore::signals::Interrupt::install()?;
    let state = backend.state().clone();
    let brokers: Vec<u32> = state.brokers.iter().map(|n| n.id).collect();
    let mut schedule = Schedule::new(plan.seed, plan.kinds.clone(), brokers, plan.hold);
    let started = Instant::now();
    let end = started + plan.duration;
    let (mut faults, mut step_no) = (0u32, 0u32);
    let result = (|| -> Result<()> {
        while Instant::now() < end && !interrupt.requested() {
            let step = schedule.next_step();
            step_no += 1;
            let fault = inject_step(backend, &step, plan.seed, step_no)?;
            faults += 1;
            let stopped = sleep_until(Instant::now() + step.hold, end, &interrupt);
            heal_step(backend, &fault, plan.seed, step_no)?;
            if stopped {
                break;
            }
            sleep_until(Instant::now() + step.gap, end, &interrupt);
        }
        Ok(())
    })();
    // Whatever happened, nothing stays broken (a failed heal above is retried here).
    let healed = super::heal_where(&state, |_| true, false);
    eprintln!(
        "kcluster: chaos (seed {}) ran {faults} faults in {:.0}s{}",
        plan.seed,
        started.elapsed().as_secs_f64(),
        if interrupt.requested() {
            ", interrupted"
        } else {
            ""
        }
    );
    result?;
    healed?;
    if interrupt.requested() {
        return Err(Failure::interrupted("chaos interrupted; every fault healed").into());
    }
    Ok(())
}

/// Sleep until `until` (or the schedule's end, or an interrupt); true if stopped early.
fn sleep_until(until: Instant, end: Instant, interrupt: &kcore::signals::Interrupt) -> bool {
    while Instant::now() < until.min(end) {
        if interrupt.requested() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    interrupt.requested()
}

fn inject_step(backend: &mut dyn Backend, step: &Step, seed: u64, no: u32) -> Result<Fault> {
    let extra = json!({ "seed": seed, "step": no, "hold_ms": step.hold.as_millis() as u64 });
    let mut fault = match step.kind {
        Kind::Isolate => network::isolate_fault(Role::Broker, step.id, network::Cut::All),
        Kind::Slow => network::slow_fault(Role::Broker, step.id, 30),
        kind => Fault::new(kind, Role::Broker, step.id, json!({})),
    };
    merge(&mut fault.detail, &extra);
    if step.kind == Kind::Kill {
        let node = crate::commands::node(backend.state(), Role::Broker, step.id)?.clone();
        let mut record = super::Record::load(backend.state());
        record.faults.push(fault.clone());
        record.save()?;
        backend.stop_node(Role::Broker, &node, false, Duration::from_secs(10))?;
        kcore::JsonLines::stdout().emit(&fault.event(&backend.state().name, "fault"))?;
        return Ok(fault);
    }
    super::apply_kind(backend, fault)
}

fn heal_step(backend: &mut dyn Backend, fault: &Fault, seed: u64, no: u32) -> Result<()> {
    let state = backend.state().clone();
    let target = fault.clone();
    super::heal_where(&state, |f| f.kind == target.kind && f.id == target.id, true)?;
    // A killed broker is started again; so is a filled one that Kafka stopped (a broker
    // whose only log directory failed shuts down). Either way the heal ends once it serves.
    if matches!(fault.kind, Kind::Kill | Kind::Fill) {
        let node = crate::commands::node(&state, Role::Broker, fault.id)?.clone();
        let budget = Budget::new(120.0);
        let running = backend
            .liveness()
            .get(&(Role::Broker, fault.id))
            .is_some_and(|live| live.running);
        if !running {
            backend.restart(Role::Broker, &node, budget)?;
        }
        crate::wait::wait_brokers(&state, &[fault.id], budget, backend.watch())?;
    }
    let mut line = fault.event(&state.name, "heal");
    line["seed"] = json!(seed);
    line["step"] = json!(no);
    kcore::JsonLines::stdout().emit(&line)?;
    Ok(())
}

fn merge(detail: &mut serde_json::Value, extra: &serde_json::Value) {
    if !detail.is_object() {
        *detail = json!({});
    }
    if let (Some(into), Some(from)) = (detail.as_object_mut(), extra.as_object()) {
        for (key, value) in from {
            into.insert(key.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_draws_the_same_schedule_every_time() {
        let kinds = vec![Kind::Kill, Kind::Pause, Kind::Isolate, Kind::Slow];
        let hold = Duration::from_secs(10);
        let draw = |seed| {
            let mut schedule = Schedule::new(seed, kinds.clone(), vec![1, 2, 3], hold);
            (0..20).map(|_| schedule.next_step()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        for step in draw(7) {
            assert!((1..=3).contains(&step.id));
            assert!(step.hold >= hold / 2 && step.hold <= hold * 3 / 2);
        }
    }

    #[test]
    fn fault_lists_are_checked() {
        assert_eq!(
            parse_kinds("kill,slow").unwrap(),
            vec![Kind::Kill, Kind::Slow]
        );
        assert!(parse_kinds("kill,flood").is_err());
    }

    #[test]
    fn fill_is_drawn_only_on_a_cluster_with_disks_of_its_own() {
        let every = vec![Kind::Kill, Kind::Pause, Kind::Isolate, Kind::Slow];
        assert_eq!(kinds_for(None, "c", false).unwrap(), every);
        let mut with_fill = every.clone();
        with_fill.push(Kind::Fill);
        assert_eq!(kinds_for(None, "c", true).unwrap(), with_fill);
        assert_eq!(
            kinds_for(Some("pause,fill"), "c", true).unwrap(),
            vec![Kind::Pause, Kind::Fill]
        );
        assert_eq!(
            kinds_for(Some("pause"), "c", true).unwrap(),
            vec![Kind::Pause]
        );
        let err = kinds_for(Some("kill,fill"), "c", false).unwrap_err();
        assert_eq!(kcore::failure::exit_code_for(&err).code(), 2);
        assert!(err.to_string().contains("--disk-limit"), "{err}");
    }
}
