//! Benchmarks of the buffer-based cascade models on generated networks with average degree
//! 10: one DebtRank run at 10⁵ firms, and `rank` (every firm failing alone) at 10⁴ firms.
//!
//! Run with `cargo bench --bench cascade`. The networks are directed Erdős–Rényi multigraphs
//! (each of the `10 n` loans joins a uniformly drawn creditor and a different debtor, amount
//! uniform in [0.5, 1.5]) whose buffers (`capital`) make every row of the leverage matrix sum
//! to `leverage`, so that `ρ(Λ) = leverage`:
//! - `leverage = 0.5`: subcritical, no firm's failure topples another; distress reaches every
//!   firm in small amounts and decays by half per round — the most rounds at a 1e-12
//!   tolerance;
//! - `leverage = 4`: the Gai–Kapadia calibration (interbank assets 20% of total assets,
//!   capital 5%): supercritical, a single failure topples almost everyone.
//!
//! Other assets make interbank claims 20% of total assets (the weights). The draws come from
//! the crate's seeded [`Rng`], so every run benchmarks the same networks.

use std::sync::OnceLock;

use contagion::analysis::generate::Rng;
use contagion::analysis::rank::rank;
use contagion::engine::debtrank::{self, Leverage};
use contagion::prelude::*;
use contagion::settings::{Model, Variant};

fn main() {
    divan::main();
}

/// Uniform index in `0..n`.
fn below(rng: &mut Rng, n: usize) -> usize {
    rng.below(n as u64) as usize
}

/// `n` firms, `degree · n` loans, every row of `Λ` summing to `leverage`.
fn generate(n: usize, degree: usize, leverage: f64, seed: u64) -> Network {
    let mut rng = Rng::new(seed);
    let mut claims = vec![0.0; n];
    let exposures: Vec<Exposure> = (0..degree * n)
        .map(|_| {
            let creditor = below(&mut rng, n);
            let debtor = (creditor + 1 + below(&mut rng, n - 1)) % n;
            let amount = 0.5 + rng.uniform();
            claims[creditor] += amount;
            Exposure {
                creditor: creditor as u32,
                debtor: debtor as u32,
                kind: ExposureKind::Loan,
                amount,
            }
        })
        .collect();
    let firms = (0..n)
        .map(|i| Firm {
            id: format!("F{i}"),
            name: format!("F{i}"),
            kind: FirmKind::Bank,
            cash: 0.0,
            other_assets: 4.0 * claims[i].max(0.25),
            external_liabilities: 0.0,
            capital: Some(if claims[i] > 0.0 {
                claims[i] / leverage
            } else {
                1.0
            }),
            weight: None,
            failed_on: None,
            extra: vec![],
        })
        .collect();
    Network::from_parts(Parts {
        firms,
        exposures,
        ..Default::default()
    })
    .expect("generated network is valid")
}

const LEVERAGE: [f64; 2] = [0.5, 4.0];

fn network(n: usize, leverage: f64) -> &'static Network {
    static NETS: [[OnceLock<Network>; 2]; 2] = [
        [OnceLock::new(), OnceLock::new()],
        [OnceLock::new(), OnceLock::new()],
    ];
    let size = usize::from(n != 100_000);
    let lev = LEVERAGE.iter().position(|&l| l == leverage).unwrap();
    NETS[size][lev].get_or_init(|| generate(n, 10, leverage, 1 + size as u64))
}

fn settings(model: Model, variant: Variant) -> Settings {
    Settings {
        model,
        variant,
        ..Settings::default()
    }
}

/// Firm 0 fails, or every firm loses 5% of its equity.
fn marks(net: &Network, everyone: bool) -> Marks {
    let mut m = Marks::book(net);
    if everyone {
        m.equity_shock.iter_mut().for_each(|h| *h = 0.05);
    } else {
        m.failed[0] = true;
    }
    m
}

/// A whole linear DebtRank run at 10⁵ firms, as `simulate` does it: build `Λ`, propagate,
/// spectral radius, causes.
#[divan::bench(args = LEVERAGE, consts = [false, true], sample_count = 10, sample_size = 1)]
fn debtrank_1e5<const EVERYONE: bool>(bencher: divan::Bencher, leverage: f64) {
    let net = network(100_000, leverage);
    let m = marks(net, EVERYONE);
    let s = settings(Model::Debtrank, Variant::Linear);
    bencher.bench(|| debtrank::debtrank(net, &m, &s));
}

/// The propagation alone at 10⁵ firms, on a prepared `Λ` and workspace (what a sequence of
/// scenarios on one network repeats).
#[divan::bench(args = LEVERAGE, consts = [false, true], sample_count = 10, sample_size = 1)]
fn propagation_1e5<const EVERYONE: bool>(bencher: divan::Bencher, leverage: f64) {
    let net = network(100_000, leverage);
    let m = marks(net, EVERYONE);
    let s = settings(Model::Debtrank, Variant::Linear);
    let lev = Leverage::build(net, &m);
    let start = debtrank::initial_stress(lev.losses(), net, &m);
    let mut ws = debtrank::Workspace::new(&lev, &s);
    bencher.bench_local(|| ws.run(&lev, &s, &start, true).iterations);
}

/// `rank` over all 10⁴ firms.
#[divan::bench(
    args = ["linear", "nonlinear", "single-hit", "threshold"],
    consts = [0, 1],
    sample_count = 3,
    sample_size = 1
)]
fn rank_1e4<const LEV: usize>(bencher: divan::Bencher, model: &str) {
    let net = network(10_000, LEVERAGE[LEV]);
    let s = match model {
        "linear" => settings(Model::Debtrank, Variant::Linear),
        "nonlinear" => settings(Model::Debtrank, Variant::Nonlinear),
        "single-hit" => settings(Model::Debtrank, Variant::SingleHit),
        _ => settings(Model::Threshold, Variant::Linear),
    };
    bencher.bench(|| rank(net, &s, None));
}
