//! The combined cascade (margin calls, runs, fire sales, clearing) on synthetic networks of
//! 10³ to 10⁵ firms with assets.
//!
//! ```text
//! cargo bench --bench channels
//! ```
//!
//! Every firm holds two of four tokens (market depth proportional to the number of firms, so
//! that the fall a share of sellers causes is the same at every size), borrows from five
//! random lenders (a third of the loans secured by one of its tokens, covered 5% above the
//! haircut) and takes two deposits. The shock: token 0 falls by 30% — margin calls on the
//! loans it secures — and depositors withdraw 40% from a seeded 1% of the firms. Networks
//! are built once per size, outside the timed part.

use contagion::analysis::generate::Rng;
use contagion::engine::cascade::cascade;
use contagion::prelude::*;
use contagion::settings::Model;
use divan::Bencher;

fn main() {
    divan::main();
}

/// Numbers of firms.
const SIZES: &[usize] = &[1_000, 10_000, 100_000];

const TOKENS: usize = 4;

fn network(n: usize) -> Network {
    let mut rng = Rng::new(7);
    let firms = (0..n)
        .map(|i| Firm {
            id: format!("F{i}"),
            name: format!("F{i}"),
            kind: FirmKind::Fund,
            cash: 2.0 * rng.uniform(),
            other_assets: 5.0 + 15.0 * rng.uniform(),
            external_liabilities: 0.0,
            capital: None,
            weight: None,
            failed_on: None,
            extra: vec![],
        })
        .collect();
    let assets = (0..TOKENS)
        .map(|a| Asset {
            id: format!("T{a}"),
            name: format!("T{a}"),
            price: 1.0,
            depth: Some(5.0 * n as f64),
            extra: vec![],
        })
        .collect();
    let mut holdings = Vec::with_capacity(2 * n);
    let mut tokens = Vec::with_capacity(n);
    for i in 0..n {
        let first = rng.below(TOKENS as u64) as u32;
        let second = (first + 1 + rng.below(TOKENS as u64 - 1) as u32) % TOKENS as u32;
        for asset in [first, second] {
            holdings.push(Holding {
                firm: i as u32,
                asset,
                units: 5.0 + 10.0 * rng.uniform(),
            });
        }
        tokens.push(first);
    }
    let mut exposures = Vec::with_capacity(7 * n);
    let mut collateral = Vec::new();
    let other = |rng: &mut Rng, i: usize| (i + 1 + rng.below(n as u64 - 1) as usize) % n;
    for i in 0..n {
        for k in 0..5 {
            let amount = 1.0 + 4.0 * rng.uniform();
            if k < 2 && rng.uniform() < 0.8 {
                let haircut = 0.1;
                collateral.push(Collateral {
                    exposure: exposures.len() as u32,
                    asset: tokens[i],
                    units: 1.05 * amount / (1.0 - haircut),
                    haircut,
                });
            }
            exposures.push(Exposure {
                creditor: other(&mut rng, i) as u32,
                debtor: i as u32,
                kind: ExposureKind::Loan,
                amount,
            });
        }
        for _ in 0..2 {
            exposures.push(Exposure {
                creditor: other(&mut rng, i) as u32,
                debtor: i as u32,
                kind: ExposureKind::Deposit,
                amount: 2.0 + 6.0 * rng.uniform(),
            });
        }
    }
    Network::from_parts(Parts {
        firms,
        exposures,
        collateral,
        assets,
        holdings,
        ..Default::default()
    })
    .expect("generated network is valid")
}

fn shocked(net: &Network) -> Marks {
    let mut shocks = vec![Shock::Price {
        asset: "T0".into(),
        change: -0.3,
    }];
    shocks.extend(
        contagion::analysis::generate::random_firms(net.n_firms(), 0.01, 3)
            .into_iter()
            .map(|i| Shock::Withdrawal {
                firm: net.firm_id(i as usize).to_string(),
                fraction: 0.4,
            }),
    );
    Marks::apply(net, &shocks).expect("shocks name generated firms and assets")
}

#[divan::bench(args = SIZES, sample_count = 10, max_time = 8)]
fn cascade_after_shock(bencher: Bencher, firms: usize) {
    let net = network(firms);
    let marks = shocked(&net);
    let settings = Settings {
        model: Model::Cascade,
        ..Settings::default()
    };
    bencher.bench(|| cascade(&net, &marks, &settings));
}
