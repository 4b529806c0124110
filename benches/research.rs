//! Benchmarks of the researcher's tools: maximum-entropy reconstruction (RAS) at 10⁴ firms
//! and a 1,000-draw Monte Carlo on a 10⁴-firm network.
//!
//! Run with `cargo bench --bench research`.

use contagion::analysis::generate::{GenSpec, Rng, Topology, generate};
use contagion::analysis::reconstruct::{max_entropy_fit, min_density};
use contagion::analysis::stress::{MonteCarlo, monte_carlo};
use contagion::prelude::*;

fn main() {
    divan::main();
}

/// Lognormal marginals with equal totals for `n` firms.
fn marginals(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut rng = Rng::new(7);
    let a: Vec<f64> = (0..n).map(|_| rng.lognormal(0.0, 1.0)).collect();
    let mut l: Vec<f64> = (0..n).map(|_| rng.lognormal(0.0, 1.0)).collect();
    let (ta, tl): (f64, f64) = (a.iter().sum(), l.iter().sum());
    l.iter_mut().for_each(|x| *x *= ta / tl);
    (a, l)
}

/// RAS fit (O(n) per sweep, factored form); writing out all n(n − 1) links is not timed.
#[divan::bench(args = [1_000, 10_000], sample_count = 10)]
fn ras_fit(bencher: divan::Bencher, n: usize) {
    let (a, l) = marginals(n);
    bencher.bench(|| {
        divan::black_box(
            max_entropy_fit(&a, &l, &[], 1e-12, 100_000)
                .unwrap()
                .iterations,
        )
    });
}

#[divan::bench(args = [1_000, 10_000], sample_count = 5)]
fn min_density_fit(bencher: divan::Bencher, n: usize) {
    let (a, l) = marginals(n);
    bencher.bench(|| divan::black_box(min_density(&a, &l, &[], 1, 0).unwrap().links.len()));
}

#[divan::bench(sample_count = 3)]
fn monte_carlo_1000_draws_10k_firms(bencher: divan::Bencher) {
    let net = generate(&GenSpec::new(10_000, 10.0, Topology::ErdosRenyi, 3));
    let mc = MonteCarlo {
        draws: 1000,
        seed: 1,
        firm_probability: 0.01,
        max_loss: 1.0,
        price_falls: vec![],
    };
    let settings = Settings::default();
    bencher.bench(|| {
        divan::black_box(
            monte_carlo(&net, &Scenario::default(), &settings, &mc)
                .unwrap()
                .len(),
        )
    });
}
