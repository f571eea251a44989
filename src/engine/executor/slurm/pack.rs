//! Packing tasks into `sbatch` jobs.
//!
//! Small tasks of one node with the same resources (the shards of a sweep) go out as one job
//! array: each element runs a block of tasks, sized so that an element lasts about the target
//! duration (`--slurm-target-minutes`), and the array has at most `--slurm-max-array` elements.
//! Big tasks (a GPU, or an expected duration of the target or more) go as single jobs.

use crate::engine::memory::SLURM_FLOOR_GB;
use crate::kind::Resources;

/// What one job asks Slurm for, per element.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    /// `--cpus-per-task`.
    pub cpus: usize,
    /// `--gres=gpu:N` (0: none).
    pub gpus: usize,
    /// `--mem`, in MiB.
    pub mem_mb: u64,
    /// `--time`, in whole minutes.
    pub minutes: u64,
}

impl Request {
    /// The request of one element running `tasks` tasks of `r` one after another.
    pub fn new(r: &Resources, tasks: usize) -> Self {
        Request {
            cpus: r.cpus.max(1),
            gpus: r.gpus,
            mem_mb: (r.mem_gb.unwrap_or(SLURM_FLOOR_GB) * 1024.0).ceil().max(1.0) as u64,
            minutes: (r.minutes * tasks as f64).ceil().max(1.0) as u64,
        }
    }
}

/// One task to place: its group (node) and its resources, already scaled for its attempt.
#[derive(Debug, Clone)]
pub struct Item {
    /// Tasks of one group with equal resources may share an array.
    pub group: String,
    /// What the task needs.
    pub resources: Resources,
}

/// One job to submit: indices into the items, per element.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPlan {
    /// Items per element (one element: a single job).
    pub elements: Vec<Vec<usize>>,
    /// Whether it is submitted as an array.
    pub array: bool,
    /// What each element asks for.
    pub request: Request,
}

/// Packs `items` into jobs; every item lands in exactly one element, in order.
pub fn pack(items: &[Item], target_minutes: f64, max_array: usize) -> Vec<JobPlan> {
    let mut jobs = Vec::new();
    let mut groups: Vec<(String, Resources, Vec<usize>)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let r = item.resources;
        if r.gpus > 0 || r.minutes >= target_minutes {
            jobs.push(JobPlan { elements: vec![vec![i]], array: false, request: Request::new(&r, 1) });
            continue;
        }
        match groups.iter_mut().find(|(g, gr, _)| *g == item.group && *gr == r) {
            Some((_, _, members)) => members.push(i),
            None => groups.push((item.group.clone(), r, vec![i])),
        }
    }
    for (_, r, members) in groups {
        let n = members.len();
        let per_element = ((target_minutes / r.minutes.max(1e-9)).floor() as usize).max(1);
        let elements = n.div_ceil(per_element).clamp(1, max_array.max(1));
        let size = n.div_ceil(elements);
        let blocks: Vec<Vec<usize>> = members.chunks(size).map(<[usize]>::to_vec).collect();
        let request = Request::new(&r, size);
        jobs.push(JobPlan { array: blocks.len() > 1, elements: blocks, request });
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize, group: &str, minutes: f64) -> Vec<Item> {
        let resources = Resources { minutes, ..Resources::default() };
        (0..n).map(|_| Item { group: group.into(), resources }).collect()
    }

    fn covered(jobs: &[JobPlan], n: usize) -> bool {
        let mut all: Vec<usize> = jobs.iter().flat_map(|j| j.elements.iter().flatten().copied()).collect();
        all.sort_unstable();
        all == (0..n).collect::<Vec<_>>()
    }

    #[test]
    fn many_small_shards_fill_elements_of_about_the_target_duration() {
        let jobs = pack(&items(12_000, "sweep", 0.01), 10.0, 1000);
        assert_eq!(jobs.len(), 1);
        assert!(jobs[0].array);
        assert_eq!(jobs[0].elements.len(), 12);
        assert!(jobs[0].elements.iter().all(|e| e.len() == 1000));
        assert_eq!(jobs[0].request.minutes, 10);
        assert!(covered(&jobs, 12_000));
    }

    #[test]
    fn the_array_size_is_capped_and_blocks_grow_instead() {
        let jobs = pack(&items(12_000, "sweep", 5.0), 10.0, 100);
        assert_eq!(jobs[0].elements.len(), 100);
        assert_eq!(jobs[0].elements[0].len(), 120);
        assert_eq!(jobs[0].request.minutes, 600, "the time limit covers the whole block");
        assert!(covered(&jobs, 12_000));
    }

    #[test]
    fn big_and_gpu_tasks_go_as_single_jobs() {
        let mut all = items(3, "vae", 30.0);
        all.push(Item { group: "ae".into(), resources: Resources { gpus: 1, minutes: 1.0, ..Resources::default() } });
        let jobs = pack(&all, 10.0, 1000);
        assert_eq!(jobs.len(), 4);
        assert!(jobs.iter().all(|j| !j.array && j.elements.len() == 1));
        assert_eq!(jobs[3].request.gpus, 1);
        assert_eq!(jobs[0].request.minutes, 30);
    }

    #[test]
    fn groups_and_resources_split_arrays() {
        let mut all = items(4, "a", 1.0);
        all.extend(items(4, "b", 1.0));
        all.push(Item { group: "a".into(), resources: Resources { cpus: 4, minutes: 1.0, ..Resources::default() } });
        let jobs = pack(&all, 2.0, 1000);
        assert_eq!(jobs.len(), 3);
        assert_eq!(jobs[0].elements, vec![vec![0, 1], vec![2, 3]]);
        assert_eq!(jobs[1].elements, vec![vec![4, 5], vec![6, 7]]);
        assert_eq!((jobs[2].array, jobs[2].request.cpus), (false, 4));
        assert_eq!(jobs[0].request.mem_mb, 1024, "no `mem_gb`: the floor");
    }

    proptest::proptest! {
        /// Every item lands in exactly one element; an element holds tasks of one group with one
        /// set of resources; no array exceeds the cap; GPU and long tasks go alone.
        #[test]
        fn pack_covers_every_item_exactly_once(
            specs in proptest::collection::vec((0u8..3, 0usize..2, 1usize..3, 0u8..4), 0..300),
            target in 1.0f64..30.0,
            max_array in 1usize..50,
        ) {
            let minutes = [0.01, 0.5, 3.0, 40.0];
            let all: Vec<Item> = specs
                .iter()
                .map(|&(g, gpus, cpus, m)| Item {
                    group: format!("g{g}"),
                    resources: Resources { cpus, gpus, minutes: minutes[m as usize], ..Resources::default() },
                })
                .collect();
            let jobs = pack(&all, target, max_array);
            proptest::prop_assert!(covered(&jobs, all.len()));
            for job in &jobs {
                proptest::prop_assert!(job.elements.len() <= max_array && !job.elements.is_empty());
                proptest::prop_assert_eq!(job.array, job.elements.len() > 1);
                let first = &all[job.elements[0][0]];
                for &i in job.elements.iter().flatten() {
                    proptest::prop_assert_eq!(&all[i].group, &first.group);
                    proptest::prop_assert_eq!(all[i].resources, first.resources);
                }
                let big = first.resources.gpus > 0 || first.resources.minutes >= target;
                if big {
                    proptest::prop_assert_eq!(&job.elements, &vec![job.elements[0].clone()]);
                    proptest::prop_assert_eq!(job.elements[0].len(), 1);
                }
                let longest = job.elements.iter().map(Vec::len).max().unwrap_or(0);
                proptest::prop_assert!(job.request.minutes as f64 >= first.resources.minutes * longest as f64 - 1e-9);
            }
        }
    }
}
