//! Rollout order: the canary region alone, then the others in waves of up to N at once. A failure
//! (or a refused approval) lets the running regions of its wave finish and starts no later wave.
//!
//! Pure over per-region results: the deploy step is a closure, so tests drive it without AWS.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// How one region's rollout ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionResult {
    /// Nothing needed to change.
    Unchanged,
    /// Changes were applied.
    Changed,
    /// It failed; the message says why and the stack's status afterwards.
    Failed(String),
    /// The user (or the approval policy) did not approve; nothing was executed.
    Declined(String),
    /// Deployed (or already deployed), but the rollout stops here: the canary's alarms fired
    /// during its bake, or its gate failed. The message says which.
    Halted(String),
    /// Not started, because an earlier wave failed.
    NotStarted,
}

impl RegionResult {
    /// True when later waves must not start.
    pub fn stops_rollout(&self) -> bool {
        matches!(
            self,
            RegionResult::Failed(_) | RegionResult::Declined(_) | RegionResult::Halted(_)
        )
    }
}

/// The waves: `[canary]`, then the remaining items in order, `parallel` at a time (at least one).
pub fn plan<T: Clone>(regions: &[T], parallel: usize) -> Vec<Vec<T>> {
    let Some((canary, rest)) = regions.split_first() else {
        return Vec::new();
    };
    let mut waves = vec![vec![canary.clone()]];
    waves.extend(rest.chunks(parallel.max(1)).map(<[T]>::to_vec));
    waves
}

/// Runs `deploy` over the waves in order, the regions of a wave concurrently, and stops after a
/// wave in which any region [stopped the rollout](RegionResult::stops_rollout). Every region
/// appears in the result, in wave order; those never started as [`RegionResult::NotStarted`].
pub async fn run<T, F, Fut>(waves: &[Vec<T>], deploy: F) -> Vec<(T, RegionResult)>
where
    T: Clone,
    F: FnMut(T) -> Fut,
    Fut: Future<Output = RegionResult>,
{
    run_gated(waves, deploy, |_| async { Ok(()) }).await
}

/// [`run`], with `after_canary` between the first wave (the canary) and the next: called only
/// when the canary succeeded and more waves follow. `Err` halts the rollout: the canary's result
/// becomes [`RegionResult::Halted`] with the message, and no later wave starts.
pub async fn run_gated<T, F, Fut, G, GFut>(
    waves: &[Vec<T>],
    mut deploy: F,
    after_canary: G,
) -> Vec<(T, RegionResult)>
where
    T: Clone,
    F: FnMut(T) -> Fut,
    Fut: Future<Output = RegionResult>,
    G: FnOnce(Vec<T>) -> GFut,
    GFut: Future<Output = Result<(), String>>,
{
    let mut results: Vec<(T, RegionResult)> = Vec::new();
    let mut stopped = false;
    let mut after_canary = Some(after_canary);
    for wave in waves {
        if stopped {
            results.extend(wave.iter().map(|r| (r.clone(), RegionResult::NotStarted)));
            continue;
        }
        if !results.is_empty()
            && let Some(gate) = after_canary.take()
            && let Err(why) = gate(results.iter().map(|(r, _)| r.clone()).collect()).await
        {
            for (_, result) in &mut results {
                *result = RegionResult::Halted(why.clone());
            }
            stopped = true;
            results.extend(wave.iter().map(|r| (r.clone(), RegionResult::NotStarted)));
            continue;
        }
        let outcomes = join_all(wave.iter().cloned().map(&mut deploy).collect()).await;
        stopped = outcomes.iter().any(RegionResult::stops_rollout);
        results.extend(wave.iter().cloned().zip(outcomes));
    }
    results
}

/// The process exit code for a rollout: 0 when every region is unchanged or changed, else 1.
pub fn exit_code<T>(results: &[(T, RegionResult)]) -> u8 {
    if results
        .iter()
        .all(|(_, r)| matches!(r, RegionResult::Unchanged | RegionResult::Changed))
    {
        0
    } else {
        1
    }
}

/// Polls every future to completion concurrently on the current task and returns their outputs in
/// order. (A handful of regions: no need for a task per region or for `'static` futures.)
pub async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::time::Duration;

    use super::*;

    #[test]
    fn canary_first_then_chunks() {
        let regions = ["a", "b", "c", "d", "e"];
        assert_eq!(
            plan(&regions, 2),
            vec![vec!["a"], vec!["b", "c"], vec!["d", "e"]]
        );
        assert_eq!(
            plan(&regions, 0),
            vec![vec!["a"], vec!["b"], vec!["c"], vec!["d"], vec!["e"]]
        );
        assert_eq!(plan(&["a"], 3), vec![vec!["a"]]);
        assert!(plan::<&str>(&[], 3).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_canary_starts_nothing_else() {
        let started = RefCell::new(Vec::new());
        let results = run(&plan(&["a", "b", "c"], 2), |r| {
            started.borrow_mut().push(r);
            async move {
                if r == "a" {
                    RegionResult::Failed("boom".into())
                } else {
                    RegionResult::Changed
                }
            }
        })
        .await;
        assert_eq!(*started.borrow(), ["a"]);
        assert_eq!(
            results,
            [
                ("a", RegionResult::Failed("boom".into())),
                ("b", RegionResult::NotStarted),
                ("c", RegionResult::NotStarted)
            ]
        );
        assert_eq!(exit_code(&results), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_in_a_wave_lets_the_others_finish_and_stops_later_waves() {
        let started = RefCell::new(Vec::new());
        let results = run(&plan(&["a", "b", "c", "d"], 2), |r| {
            started.borrow_mut().push(r);
            async move {
                match r {
                    // b fails fast while c is still working: c must still finish.
                    "b" => RegionResult::Failed("b broke".into()),
                    "c" => {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        RegionResult::Changed
                    }
                    _ => RegionResult::Unchanged,
                }
            }
        })
        .await;
        assert_eq!(*started.borrow(), ["a", "b", "c"]);
        assert_eq!(
            results,
            [
                ("a", RegionResult::Unchanged),
                ("b", RegionResult::Failed("b broke".into())),
                ("c", RegionResult::Changed),
                ("d", RegionResult::NotStarted),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn regions_of_a_wave_run_at_the_same_time() {
        let start = tokio::time::Instant::now();
        let results = run(&plan(&["a", "b", "c", "d"], 3), |_| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            RegionResult::Changed
        })
        .await;
        // Two waves of 10 s each, not four regions of 10 s.
        assert_eq!(start.elapsed(), Duration::from_secs(20));
        assert_eq!(exit_code(&results), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_gate_after_the_canary_halts_the_rollout() {
        let started = RefCell::new(Vec::new());
        let gated = RefCell::new(Vec::new());
        let results = run_gated(
            &plan(&["a", "b", "c"], 2),
            |r| {
                started.borrow_mut().push(r);
                async { RegionResult::Changed }
            },
            |canary| {
                gated.borrow_mut().extend(canary);
                async { Err("verify: the InfluxDB hop failed".to_owned()) }
            },
        )
        .await;
        assert_eq!(*started.borrow(), ["a"]);
        assert_eq!(*gated.borrow(), ["a"]);
        assert_eq!(
            results,
            [
                (
                    "a",
                    RegionResult::Halted("verify: the InfluxDB hop failed".into())
                ),
                ("b", RegionResult::NotStarted),
                ("c", RegionResult::NotStarted),
            ]
        );
        assert_eq!(exit_code(&results), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_gate_runs_once_between_the_canary_and_the_next_wave_only() {
        let calls = RefCell::new(0);
        let results = run_gated(
            &plan(&["a", "b", "c"], 1),
            |_| async { RegionResult::Changed },
            |_| {
                *calls.borrow_mut() += 1;
                async { Ok(()) }
            },
        )
        .await;
        assert_eq!(*calls.borrow(), 1);
        assert_eq!(exit_code(&results), 0);
        // A lone canary has no next wave: no gate.
        let results = run_gated(
            &plan(&["a"], 1),
            |_| async { RegionResult::Changed },
            |_| async { Err::<(), _>("never".to_owned()) },
        )
        .await;
        assert_eq!(results, [("a", RegionResult::Changed)]);
        // A failed canary stops before the gate.
        let results = run_gated(
            &plan(&["a", "b"], 1),
            |_| async { RegionResult::Failed("x".into()) },
            |_| async { Err::<(), _>("never".to_owned()) },
        )
        .await;
        assert_eq!(results[0].1, RegionResult::Failed("x".into()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_declined_region_stops_the_rollout() {
        let results = run(&plan(&["a", "b"], 1), |r| async move {
            if r == "a" {
                RegionResult::Declined("not approved".into())
            } else {
                RegionResult::Changed
            }
        })
        .await;
        assert_eq!(results[1], ("b", RegionResult::NotStarted));
    }
}
