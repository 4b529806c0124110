//! The timely engine (feature `distributed`) on one machine: graph-parallel clearing of the
//! networks of `benches/clearing.rs` (Erdős–Rényi, average degree 10, a seeded random 3% of
//! the firms lose their outside assets) on 1 and 2 workers, and scenario-parallel `rank` of a
//! 10⁴-firm network (linear DebtRank) on 1 and 2 workers. Compare with
//! `cargo bench --bench clearing` and `cargo bench --bench cascade` for the local engines.
//!
//! ```text
//! cargo bench --features distributed --bench distributed
//! ```
//!
//! Multi-process figures need several processes and a hosts file: see docs/distributed.md.

use std::sync::Arc;

use contagion::analysis::generate::{GenSpec, Topology, generate, random_firms};
use contagion::distributed::{Cluster, clearing, scenarios};
use contagion::model::Network;
use contagion::scenario::{Loss, Marks, Shock};
use contagion::settings::{Model, Settings};
use divan::Bencher;

fn main() {
    divan::main();
}

/// Numbers of firms.
const SIZES: &[usize] = &[10_000, 100_000, 1_000_000];

/// Wipes out cash and other assets of a seeded random 3% of the firms.
fn shocked(net: &Network) -> Marks {
    let shocks: Vec<Shock> = random_firms(net.n_firms(), 0.03, 2)
        .into_iter()
        .map(|i| Shock::AssetLoss {
            firm: net.firm_id(i as usize).to_string(),
            loss: Loss::Fraction(1.0),
        })
        .collect();
    Marks::apply(net, &shocks).expect("shocks name generated firms")
}

#[divan::bench(args = SIZES, consts = [1, 2], sample_count = 10, max_time = 8)]
fn graph_parallel_clearing<const WORKERS: usize>(bencher: Bencher, firms: usize) {
    let net = Arc::new(generate(&GenSpec::new(
        firms,
        10.0,
        Topology::ErdosRenyi,
        1,
    )));
    let marks = Arc::new(shocked(&net));
    let settings = Settings::default();
    let cluster = Cluster::local(WORKERS);
    bencher.bench(|| {
        clearing::clear(&cluster, Arc::clone(&net), Arc::clone(&marks), &settings).expect("runs")
    });
}

#[divan::bench(consts = [1, 2], sample_count = 3, sample_size = 1)]
fn scenario_parallel_rank_1e4<const WORKERS: usize>(bencher: Bencher) {
    let net = Arc::new(generate(&GenSpec::new(
        10_000,
        10.0,
        Topology::ErdosRenyi,
        3,
    )));
    let settings = Settings {
        model: Model::Debtrank,
        ..Settings::default()
    };
    let cluster = Cluster::local(WORKERS);
    bencher.bench(|| scenarios::rank(&cluster, Arc::clone(&net), &settings).expect("runs"));
}
