//! Scenario-parallel runs: `rank` and `stress` with their scenarios split across workers.
//!
//! Worker `w` of `W` runs block `w` of the scenarios with the single-machine engine (on one
//! thread, so that `W` workers use `W` cores) and sends its results to worker 0, which puts
//! the blocks in order. Every scenario's result is a pure function of the network and the
//! settings, and blocks are cut where a single run would cut its own batches, so the result
//! is identical to the single-process run.
//!
//! Every process loads the network and the scenario itself: only results cross the wire.

use std::sync::Arc;

use timely::ExchangeData;

use super::mailbox::Mailbox;
use super::{Cluster, even_blocks, run_workers};
use crate::analysis::rank::{Ranking, assemble, blocks, rank_part};
use crate::analysis::stress::{MonteCarlo, StressPoint, Sweep, monte_carlo_draws, sweep_steps};
use crate::error::Error;
use crate::model::Network;
use crate::scenario::Scenario;
use crate::settings::Settings;

/// Ranks every firm (see [`crate::analysis::rank::rank`]) with the scenarios split across
/// the cluster's workers. Returns `Some` on process 0 and `None` on the others.
pub fn rank(
    cluster: &Cluster,
    net: Arc<Network>,
    settings: &Settings,
) -> Result<Option<Ranking>, Error> {
    settings.validate()?;
    let n = net.n_firms();
    let (shared, s) = (Arc::clone(&net), settings.clone());
    let parts = gather(cluster, move |index, peers| {
        let block = blocks(n, peers)[index].clone();
        on_one_thread(|| rank_part(&shared, &s, block, None))
    })?;
    Ok(parts.map(|p| assemble(&net, settings, p)))
}

/// Runs a sweep (see [`crate::analysis::stress::sweep`]) with its steps split across the
/// cluster's workers. Returns `Some` on process 0 and `None` on the others.
pub fn sweep(
    cluster: &Cluster,
    net: Arc<Network>,
    base: &Scenario,
    settings: &Settings,
    sweep: &Sweep,
) -> Result<Option<Vec<StressPoint>>, Error> {
    // Problems (bad ids, settings) are found here, before any worker starts.
    sweep_steps(&net, base, settings, sweep, 0..0)?;
    let (base, s, sw) = (base.clone(), settings.clone(), sweep.clone());
    let steps = sweep.steps;
    let parts = gather(cluster, move |index, peers| {
        let block = even_blocks(steps, peers)[index].clone();
        on_one_thread(|| sweep_steps(&net, &base, &s, &sw, block)).map_err(|e| e.to_string())
    })?;
    concat(parts)
}

/// Runs Monte Carlo draws (see [`crate::analysis::stress::monte_carlo`]) split across the
/// cluster's workers. Returns `Some` on process 0 and `None` on the others.
pub fn monte_carlo(
    cluster: &Cluster,
    net: Arc<Network>,
    base: &Scenario,
    settings: &Settings,
    mc: &MonteCarlo,
) -> Result<Option<Vec<StressPoint>>, Error> {
    monte_carlo_draws(&net, base, settings, mc, 0..0)?;
    let (base, s, mc) = (base.clone(), settings.clone(), mc.clone());
    let parts = gather(cluster, move |index, peers| {
        let block = even_blocks(mc.draws, peers)[index].clone();
        on_one_thread(|| monte_carlo_draws(&net, &base, &s, &mc, block)).map_err(|e| e.to_string())
    })?;
    concat(parts)
}

/// The blocks' points in order, or the first block's error.
fn concat(
    parts: Option<Vec<Result<Vec<StressPoint>, String>>>,
) -> Result<Option<Vec<StressPoint>>, Error> {
    let Some(parts) = parts else { return Ok(None) };
    let mut points = Vec::new();
    for p in parts {
        points.extend(p.map_err(Error::Invalid)?);
    }
    Ok(Some(points))
}

/// Runs `work(worker index, number of workers)` on every worker and gathers the results at
/// worker 0, in worker order: `Some` on the process hosting worker 0, `None` elsewhere.
pub(crate) fn gather<T, F>(cluster: &Cluster, work: F) -> Result<Option<Vec<T>>, Error>
where
    T: ExchangeData + Clone,
    F: Fn(usize, usize) -> T + Send + Sync + 'static,
{
    let results = run_workers(cluster, move |worker| {
        let mut mailbox = Mailbox::<T>::new(worker);
        let (index, peers) = (worker.index(), worker.peers());
        let mine = work(index, peers);
        let got = mailbox.exchange(worker, [(0, mine)]);
        (index == 0).then(|| got.into_iter().map(|(_, t)| t).collect::<Vec<T>>())
    })?;
    Ok(results.into_iter().flatten().next())
}

/// Runs `f` on a one-thread rayon pool: a worker is one core.
fn on_one_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
        Ok(pool) => pool.install(f),
        Err(_) => f(),
    }
}
