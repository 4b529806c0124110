//! Clears the same synthetic network (Erdős–Rényi, every seventh firm loses half its outside
//! assets) with the single-process engine and with graph-parallel clearing on timely workers
//! of this process, and prints both times (clearing only: the network is generated in
//! memory) and the largest gap between the two payment vectors.
//!
//! ```text
//! cargo run --release --features distributed --example clear_timely -- [FIRMS] [WORKERS]
//! ```
//!
//! Defaults: 1000000 firms (average degree 10, seed 1), 2 workers.

use std::sync::Arc;
use std::time::Instant;

use contagion::analysis::generate::{GenSpec, Topology, generate};
use contagion::distributed::{Cluster, clearing};
use contagion::engine::clearing::clear;
use contagion::scenario::{Loss, Marks, Shock};
use contagion::settings::Settings;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse().unwrap_or_else(|_| {
                eprintln!("usage: clear_timely [FIRMS] [WORKERS]; could not read '{a}'");
                std::process::exit(2)
            })
        })
        .collect();
    let firms = args.first().copied().unwrap_or(1_000_000);
    let workers = args.get(1).copied().unwrap_or(2);
    let net = generate(&GenSpec::new(firms, 10.0, Topology::ErdosRenyi, 1));
    let shocks: Vec<Shock> = (0..firms)
        .step_by(7)
        .map(|i| Shock::AssetLoss {
            firm: net.firm_id(i).to_string(),
            loss: Loss::Fraction(0.5),
        })
        .collect();
    let marks = Marks::apply(&net, &shocks).expect("shocks resolve");
    let s = Settings::default();

    let t = Instant::now();
    let single = clear(&net, &marks, &s);
    let single_time = t.elapsed();

    let (net, marks) = (Arc::new(net), Arc::new(marks));
    let t = Instant::now();
    let dist = clearing::clear(&Cluster::local(workers), net, marks, &s)
        .expect("runs")
        .expect("this process holds worker 0");
    let dist_time = t.elapsed();

    let gap = (0..firms)
        .map(|i| (single.payments[i] - dist.payments[i]).abs() / single.obligations[i].max(1.0))
        .fold(0.0f64, f64::max);
    let defaults = dist.defaulted.iter().filter(|&&d| d).count();
    println!(
        "{firms} firms, {defaults} defaults in {} waves",
        dist.rounds.len()
    );
    println!(
        "single process: {:.3} s ({} sweeps)",
        single_time.as_secs_f64(),
        single.iterations
    );
    println!(
        "timely, {workers} worker(s): {:.3} s ({} sweeps); largest relative gap {gap:.1e}",
        dist_time.as_secs_f64(),
        dist.iterations
    );
}
