//! Clearing on synthetic Erdős–Rényi networks of 10³ to 10⁶ firms (average degree 10, so up
//! to 10⁷ exposures), after a shock that wipes out the assets outside the network of a seeded
//! random 3% of the firms. Networks are generated once per size, outside the timed part;
//! generation is timed on its own.
//!
//! ```text
//! cargo bench --bench clearing
//! ```
//!
//! Each size gets at most 20 samples and 8 seconds, so the 10⁶-firm cases record only a few.

use contagion::analysis::generate::{GenSpec, Topology, generate, random_firms};
use contagion::engine::clearing::clear;
use contagion::model::Network;
use contagion::scenario::{Loss, Marks, Shock};
use contagion::settings::Settings;
use divan::Bencher;

fn main() {
    divan::main();
}

/// Numbers of firms.
const SIZES: &[usize] = &[1_000, 10_000, 100_000, 1_000_000];

/// The benchmarked network: Erdős–Rényi, 10 exposures per firm on average.
fn spec(firms: usize) -> GenSpec {
    GenSpec::new(firms, 10.0, Topology::ErdosRenyi, 1)
}

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

#[divan::bench(args = SIZES, sample_count = 20, max_time = 8)]
fn generation(bencher: Bencher, firms: usize) {
    let spec = spec(firms);
    bencher.bench(|| generate(&spec));
}

#[divan::bench(args = SIZES, sample_count = 20, max_time = 8)]
fn clearing_after_shock(bencher: Bencher, firms: usize) {
    let net = generate(&spec(firms));
    let marks = shocked(&net);
    let settings = Settings::default();
    bencher.bench(|| clear(&net, &marks, &settings));
}

/// Fixed cost of a run: building the system and one pass over the exposures, no defaults.
#[divan::bench(args = SIZES, sample_count = 20, max_time = 8)]
fn clearing_without_shock(bencher: Bencher, firms: usize) {
    let net = generate(&spec(firms));
    let marks = Marks::book(&net);
    let settings = Settings::default();
    bencher.bench(|| clear(&net, &marks, &settings));
}
