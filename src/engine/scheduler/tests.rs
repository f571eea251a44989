//! The scheduler without processes or clocks: the plan's moves on random graphs and the slots.
//! Whole runs through a fake executor, over real node kinds, are the integration tests'
//! (`tests/scheduler.rs`), so the engine's tests import no kind.

use std::collections::{BTreeSet, HashMap, HashSet};

use proptest::prelude::*;

use super::progress::{MAX_REQUEUES, Progress, Requeue, State};
use super::slots::{Need, Room, Slots};
use crate::engine::memory::Budget;
use crate::engine::task::Capacity;
use crate::kind::Resources;

/// Random producer lists: task `i` depends on a subset of `0..i`.
fn dag(max: usize) -> impl Strategy<Value = Vec<Vec<usize>>> {
    (1..=max).prop_flat_map(|n| {
        (0..n)
            .map(|i| {
                proptest::collection::btree_set(0..i.max(1), 0..=i.min(3))
                    .prop_map(move |s| s.into_iter().filter(|&d| d < i).collect::<Vec<_>>())
            })
            .collect::<Vec<_>>()
    })
}

/// Every task reachable from `roots` through `dependents`, the roots left out.
fn descendants(deps: &[Vec<usize>], roots: &BTreeSet<usize>) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    // Producers come before their consumers, so one pass in index order closes the set.
    for (i, ds) in deps.iter().enumerate() {
        if ds.iter().any(|d| roots.contains(d) || out.contains(d)) {
            out.insert(i);
        }
    }
    out
}

/// Drives a plan with scripted choices: which running task ends next, whether it fails (always
/// for `failing`, on the first try for `flaky`), and whether it finds a producer's output gone.
/// Returns the plan and how many times each task ended.
fn drive(
    deps: &[Vec<usize>],
    failing: &BTreeSet<usize>,
    flaky: &BTreeSet<usize>,
    choices: &[u8],
) -> (Progress, Vec<u32>) {
    let mut plan = Progress::new(deps.to_vec());
    let mut running: Vec<usize> = Vec::new();
    let mut ends = vec![0u32; deps.len()];
    let mut tried = vec![0u32; deps.len()];
    let mut choice = choices.iter().copied().cycle();
    loop {
        while let Some(id) = plan.next_ready() {
            assert!(!running.contains(&id), "task {id} handed out twice");
            plan.start(id);
            running.push(id);
        }
        if running.is_empty() {
            break;
        }
        let c = choice.next().unwrap_or(0) as usize;
        let id = running.swap_remove(c % running.len());
        assert_eq!(plan.state(id), State::Running);
        tried[id] += 1;
        let done_producer = deps[id].iter().copied().find(|&p| plan.state(p) == State::Done);
        if failing.contains(&id) || (flaky.contains(&id) && tried[id] == 1) {
            // Failing tasks get one retry, flaky ones succeed on it.
            if plan.retry(id, 1) {
                plan.start(id);
                running.push(id);
            } else {
                ends[id] += 1;
                for s in plan.fail(id) {
                    ends[s] += 1;
                }
            }
        } else if c % 7 == 3
            && let Some(p) = done_producer
        {
            match plan.requeue(p, id) {
                Requeue::Again => ends[p] -= 1,
                Requeue::Waits => {}
                Requeue::Refused => {
                    plan.complete(id);
                    ends[id] += 1;
                }
            }
        } else {
            plan.complete(id);
            ends[id] += 1;
        }
    }
    (plan, ends)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every task ends exactly once, whatever order tasks end in and however often outputs are
    /// lost; the skipped tasks are exactly the descendants of the failed ones.
    #[test]
    fn every_task_ends_once_and_skipped_are_the_descendants_of_failed(
        deps in dag(14),
        fail_mask in any::<u16>(),
        flaky_mask in any::<u16>(),
        choices in proptest::collection::vec(any::<u8>(), 1..64),
    ) {
        let n = deps.len();
        let failing: BTreeSet<usize> = (0..n).filter(|i| fail_mask >> i & 1 == 1 && i % 3 == 0).collect();
        let flaky: BTreeSet<usize> = (0..n).filter(|i| flaky_mask >> i & 1 == 1).collect();
        let (plan, ends) = drive(&deps, &failing, &flaky, &choices);
        prop_assert!(ends.iter().all(|&e| e == 1), "ends per task: {ends:?}");
        let failed: BTreeSet<usize> = (0..n).filter(|&i| plan.state(i) == State::Failed).collect();
        let skipped: BTreeSet<usize> = (0..n).filter(|&i| plan.state(i) == State::Skipped).collect();
        // A failing task is failed unless something it needs failed first.
        let expected_skipped = descendants(&deps, &failing);
        prop_assert_eq!(&skipped, &expected_skipped);
        prop_assert_eq!(&failed, &failing.difference(&expected_skipped).copied().collect::<BTreeSet<_>>());
        for i in 0..n {
            if !failed.contains(&i) && !skipped.contains(&i) {
                prop_assert_eq!(plan.state(i), State::Done);
            }
        }
    }

    /// Slots are never oversubscribed: the CPU slots taken never exceed the capacity, a GPU
    /// ordinal is held by one task at a time, and the memory held stays within the budget, but
    /// for one task alone above a soft budget; a task above a hard budget never starts.
    #[test]
    fn slots_are_never_oversubscribed(
        cpus in 1usize..6,
        gpus in 0usize..4,
        budget in proptest::option::of((1u64..100, any::<bool>())),
        ops in proptest::collection::vec((any::<bool>(), 0usize..8, 0usize..3, 0u64..120), 1..200),
    ) {
        let budget = budget.map(|(bytes, hard)| Budget { bytes, hard });
        let mut slots = Slots::new(Capacity { cpus, gpus }, budget, 8);
        let mut held: HashMap<usize, (Need, Vec<usize>)> = HashMap::new();
        for (take, id, g, mem) in ops {
            if take && !held.contains_key(&id) {
                let need = slots.need(&Resources { cpus: id % 3 + 1, gpus: g, ..Resources::default() }, mem);
                prop_assert_eq!(need.cpus, (id % 3 + 1).min(cpus));
                if slots.fits(need) {
                    let given = slots.take(id, need);
                    prop_assert_eq!(given.len(), g);
                    held.insert(id, (need, given));
                } else if slots.room(mem) == Room::Alone && held.is_empty() {
                    prop_assert!(g > gpus, "a task above a soft budget runs once nothing else does");
                }
            } else if held.remove(&id).is_some() {
                slots.release(id);
            }
            let used: usize = held.values().map(|(n, _)| n.cpus).sum();
            prop_assert!(used <= cpus);
            prop_assert_eq!(slots.full(), used >= cpus);
            if let Some(b) = budget {
                let mem: u64 = held.values().map(|(n, _)| n.mem).sum();
                let alone = held.len() == 1 && !b.hard;
                prop_assert!(mem <= b.bytes || alone, "{mem} bytes held of {b:?}: {held:?}");
                prop_assert!(!b.hard || held.values().all(|(n, _)| n.mem <= b.bytes));
            }
            let ordinals: Vec<usize> = held.values().flat_map(|(_, g)| g.iter().copied()).collect();
            let distinct: HashSet<usize> = ordinals.iter().copied().collect();
            prop_assert_eq!(distinct.len(), ordinals.len(), "a GPU held twice: {:?}", held);
            prop_assert!(ordinals.iter().all(|&o| o < gpus));
        }
    }
}

#[test]
fn a_requeued_producer_holds_back_every_dependent_still_waiting() {
    // 0 → 1, 0 → 2, 3 → 2: task 1 finds 0's output gone while 2 still waits for 3.
    let mut plan = Progress::new(vec![vec![], vec![0], vec![0, 3], vec![]]);
    let (a, b) = (plan.next_ready().unwrap(), plan.next_ready().unwrap());
    assert_eq!((a, b), (0, 3));
    plan.start(0);
    plan.start(3);
    plan.complete(0);
    assert_eq!(plan.next_ready(), Some(1));
    plan.start(1);
    assert_eq!(plan.requeue(0, 1), Requeue::Again);
    plan.complete(3);
    // Task 2 must not start before 0 has run again.
    assert_eq!(plan.state(2), State::Waiting);
    assert_eq!(plan.next_ready(), Some(0));
    assert_eq!(plan.next_ready(), None);
    plan.start(0);
    plan.complete(0);
    assert_eq!((plan.next_ready(), plan.next_ready()), (Some(1), Some(2)));
}

#[test]
fn a_producer_runs_again_at_most_twice_and_a_consumer_of_a_failed_one_is_refused() {
    let mut plan = Progress::new(vec![vec![], vec![0]]);
    for round in 0..=MAX_REQUEUES {
        assert_eq!(plan.next_ready(), Some(0));
        plan.start(0);
        plan.complete(0);
        assert_eq!(plan.next_ready(), Some(1));
        plan.start(1);
        let expected = if round < MAX_REQUEUES { Requeue::Again } else { Requeue::Refused };
        assert_eq!(plan.requeue(0, 1), expected);
    }
    assert_eq!(plan.state(1), State::Running, "a refused requeue changes nothing");
    let mut plan = Progress::new(vec![vec![], vec![0], vec![0]]);
    plan.next_ready();
    plan.start(0);
    plan.complete(0);
    for id in [1, 2] {
        assert_eq!(plan.next_ready(), Some(id));
        plan.start(id);
    }
    assert_eq!(plan.requeue(0, 1), Requeue::Again);
    assert_eq!(plan.requeue(0, 2), Requeue::Waits, "the second consumer waits for the same rerun");
    assert_eq!(plan.next_ready(), Some(0));
    plan.start(0);
    assert_eq!(plan.fail(0), vec![2, 1], "both consumers wait for the rerun, so both are skipped");
}
