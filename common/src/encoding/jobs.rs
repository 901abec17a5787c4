//! Data-parallel work on scoped threads, for the encoder's row and column passes.

/// Runs `jobs` on up to `threads` scoped threads, each with its own `state`, and returns the
/// results in job order.
pub(crate) fn run_jobs<J, R, S>(
    jobs: Vec<J>,
    threads: usize,
    state: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, J) -> R + Sync,
) -> Vec<R>
where
    J: Send,
    R: Send,
{
    let threads = threads.clamp(1, jobs.len().max(1));
    if threads == 1 {
        let mut s = state();
        return jobs.into_iter().map(|j| work(&mut s, j)).collect();
    }
    let total = jobs.len();
    let mut buckets: Vec<Vec<(usize, J)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, j) in jobs.into_iter().enumerate() {
        buckets[i % threads].push((i, j));
    }
    let mut results: Vec<Option<R>> = (0..total).map(|_| None).collect();
    std::thread::scope(|sc| {
        let handles: Vec<_> = buckets
            .into_iter()
            .map(|bucket| {
                let (state, work) = (&state, &work);
                sc.spawn(move || {
                    let mut s = state();
                    bucket
                        .into_iter()
                        .map(|(i, j)| (i, work(&mut s, j)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().expect("encoder worker panicked") {
                results[i] = Some(r);
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}
