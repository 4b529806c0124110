//! Properties of the combined cascade on random networks with assets, holdings, secured
//! loans and deposits: forced sales never raise a price; with margin calls, runs and fire
//! sales off it is exactly clearing; interbank payments are received; through clearing alone
//! a larger price fall never yields fewer defaults; the whole outcome depends neither on the
//! order of the firm table nor on the thread count. Hand-derived cases show where
//! monotonicity ends and that firms selling in the same step (to raise cash or in
//! liquidation) share the price.

use contagion::engine::cascade::{Cascade, EventKind, cascade};
use contagion::prelude::*;
use contagion::settings::Model;
use proptest::prelude::*;

use crate::util::firm;

/// A loan: debtor, creditor, amount, whether it is a deposit, and optional collateral
/// (asset, units).
type Loan = (usize, usize, f64, bool, Option<(usize, f64)>);

/// A random network: `n` firms with cash, other assets and outside debts; loans and deposits
/// between them, some loans secured by units of one of two assets; holdings of those assets.
#[derive(Debug, Clone)]
struct Spec {
    firms: Vec<(f64, f64, f64)>,
    loans: Vec<Loan>,
    holdings: Vec<(usize, usize, f64)>,
    depth: [f64; 2],
}

fn spec() -> impl Strategy<Value = Spec> {
    (3usize..9).prop_flat_map(|n| {
        (
            prop::collection::vec((0.0f64..20.0, 0.0f64..40.0, 0.0f64..50.0), n),
            prop::collection::vec(
                (
                    0..n,
                    0..n,
                    0.5f64..30.0,
                    any::<bool>(),
                    prop::option::of((0usize..2, 0.5f64..20.0)),
                ),
                0..(3 * n),
            ),
            prop::collection::vec((0..n, 0usize..2, 0.5f64..40.0), 0..n),
            [10.0f64..200.0, 10.0f64..200.0],
        )
            .prop_map(|(firms, loans, holdings, depth)| Spec {
                firms,
                loans,
                holdings,
                depth,
            })
    })
}

impl Spec {
    /// The same system with the firm table in reverse order (firm `i` becomes `n − 1 − i`).
    fn reversed(&self) -> Spec {
        let n = self.firms.len();
        let r = |i: usize| n - 1 - i;
        Spec {
            firms: self.firms.iter().rev().copied().collect(),
            loans: self
                .loans
                .iter()
                .map(|&(d, c, amount, deposit, coll)| (r(d), r(c), amount, deposit, coll))
                .collect(),
            holdings: self
                .holdings
                .iter()
                .map(|&(f, a, units)| (r(f), a, units))
                .collect(),
            depth: self.depth,
        }
    }

    fn network(&self) -> Network {
        let firms = self
            .firms
            .iter()
            .enumerate()
            .map(|(i, &(cash, other, ext))| {
                let mut f = firm(&format!("F{i}"), cash, ext);
                f.other_assets = other;
                f
            })
            .collect();
        let mut exposures = Vec::new();
        let mut collateral = Vec::new();
        for &(d, c, amount, deposit, coll) in &self.loans {
            if d == c {
                continue;
            }
            let kind = if deposit {
                ExposureKind::Deposit
            } else {
                ExposureKind::Loan
            };
            if let (Some((asset, units)), false) = (coll, deposit) {
                collateral.push(Collateral {
                    exposure: exposures.len() as u32,
                    asset: asset as u32,
                    units,
                    haircut: 0.1,
                });
            }
            exposures.push(Exposure {
                creditor: c as u32,
                debtor: d as u32,
                kind,
                amount,
            });
        }
        let mut seen = std::collections::HashSet::new();
        let holdings = self
            .holdings
            .iter()
            .filter(|h| seen.insert((h.0, h.1)))
            .map(|&(f, a, units)| Holding {
                firm: f as u32,
                asset: a as u32,
                units,
            })
            .collect();
        let assets = (0..2)
            .map(|a| Asset {
                id: format!("T{a}"),
                name: format!("T{a}"),
                price: 1.0,
                depth: Some(self.depth[a]),
                extra: vec![],
            })
            .collect();
        Network::from_parts(Parts {
            firms,
            exposures,
            collateral,
            assets,
            holdings,
            ..Default::default()
        })
        .expect("valid network")
    }
}

fn cascade_settings() -> Settings {
    Settings {
        model: Model::Cascade,
        ..Settings::default()
    }
}

fn shocks(fall: f64, run: f64) -> Vec<Shock> {
    vec![
        Shock::Price {
            asset: "T0".into(),
            change: -fall,
        },
        Shock::Withdrawal {
            firm: "F0".into(),
            fraction: run,
        },
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Prices only fall along the path, and every payment stays within what is owed.
    #[test]
    fn forced_sales_never_raise_a_price(s in spec(), fall in 0.0f64..0.9, run in 0.0f64..1.0) {
        let net = s.network();
        let marks = Marks::apply(&net, &shocks(fall, run)).unwrap();
        let k = cascade(&net, &marks, &cascade_settings());
        for w in k.price_path.windows(2) {
            for a in 0..2 {
                prop_assert!(w[1].1[a] <= w[0].1[a] * (1.0 + 1e-12), "price rose: {:?}", k.price_path);
            }
        }
        for i in 0..net.n_firms() {
            prop_assert!(k.payments[i] >= -1e-9 && k.payments[i] <= k.obligations[i] * (1.0 + 1e-9) + 1e-9);
        }
        prop_assert!(k.converged);
    }

    /// With margin calls, runs and fire sales off the cascade is exactly one clearing.
    #[test]
    fn channels_off_is_clearing(s in spec(), fall in 0.0f64..0.9) {
        let net = s.network();
        let off = Settings { margin_calls: false, runs: false, fire_sales: false, ..cascade_settings() };
        let marks = Marks::apply(&net, &shocks(fall, 0.5)).unwrap();
        let k = cascade(&net, &marks, &off);
        let c = clear(&net, &marks, &off);
        prop_assert_eq!(&k.payments, &c.payments);
        prop_assert_eq!(&k.defaulted, &c.defaulted);
        prop_assert_eq!(&k.default_round, &c.default_round);
    }

    /// In the final clearing, what firms pay each other is what they receive.
    #[test]
    fn interbank_payments_are_received(s in spec(), fall in 0.0f64..0.9, run in 0.0f64..1.0) {
        let net = s.network();
        let marks = Marks::apply(&net, &shocks(fall, run)).unwrap();
        let k = cascade(&net, &marks, &cascade_settings());
        let paid: f64 = k.clearing.interbank_payments.iter().sum();
        let received: f64 = k.clearing.interbank_receipts.iter().sum();
        prop_assert!((paid - received).abs() <= 1e-9 * paid.abs().max(1.0), "{paid} vs {received}");
    }

    /// The order of the firm table does not matter: with the table reversed, every firm
    /// defaults or not in the same round and pays the same, and prices end the same. (Forced
    /// sales of one round are pooled; clearing has one answer.)
    #[test]
    fn firm_order_does_not_matter(s in spec(), fall in 0.0f64..0.9, run in 0.0f64..1.0) {
        let n = s.firms.len();
        let (net, rev) = (s.network(), s.reversed().network());
        let k = cascade(&net, &Marks::apply(&net, &shocks(fall, run)).unwrap(), &cascade_settings());
        let rev_shocks = vec![
            Shock::Price { asset: "T0".into(), change: -fall },
            Shock::Withdrawal { firm: format!("F{}", n - 1), fraction: run },
        ];
        let r = cascade(&rev, &Marks::apply(&rev, &rev_shocks).unwrap(), &cascade_settings());
        for i in 0..n {
            let j = n - 1 - i;
            prop_assert_eq!(k.defaulted[i], r.defaulted[j], "firm {}", i);
            prop_assert_eq!(k.default_round[i], r.default_round[j], "firm {}", i);
            let (a, b) = (k.payments[i], r.payments[j]);
            prop_assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "firm {} pays {} or {}", i, a, b);
        }
        let (pk, pr) = (&k.price_path.last().unwrap().1, &r.price_path.last().unwrap().1);
        for a in 0..2 {
            prop_assert!((pk[a] - pr[a]).abs() <= 1e-9, "asset {}: {} or {}", a, pk[a], pr[a]);
        }
    }

    /// Through clearing alone, a larger fall of an asset never yields fewer defaults:
    /// everyone in default after the smaller fall is in default after the larger one. Neither
    /// the liquidity channels (timing of cash: `liquidity_can_make_a_larger_fall_kinder`) nor
    /// fire sales (timing of sales: `fire_sales_can_make_a_larger_fall_kinder`) keep this.
    #[test]
    fn larger_price_fall_never_fewer_defaults(s in spec(), fall in 0.0f64..0.8, more in 0.0f64..0.2) {
        let net = s.network();
        let solvency = Settings { margin_calls: false, runs: false, fire_sales: false, ..cascade_settings() };
        let run = |f: f64| {
            let marks = Marks::apply(&net, &[Shock::Price { asset: "T0".into(), change: -f }]).unwrap();
            cascade(&net, &marks, &solvency)
        };
        let (small, large) = (run(fall), run(fall + more));
        for i in 0..net.n_firms() {
            prop_assert!(!small.defaulted[i] || large.defaulted[i], "firm {} defaults at −{} but not at −{}", i, fall, fall + more);
        }
    }
}

/// The outcome on a network large enough for the parallel loops is identical with 1 and 4
/// threads.
#[test]
fn identical_whatever_the_thread_count() {
    let spec = contagion::analysis::generate::GenSpec::new(
        6000,
        5.0,
        contagion::analysis::generate::Topology::ErdosRenyi,
        9,
    );
    let net = contagion::analysis::generate::generate(&spec);
    let ids: Vec<String> = (0..net.n_firms())
        .step_by(40)
        .map(|i| net.firm_id(i).to_string())
        .collect();
    let shocks: Vec<Shock> = ids
        .into_iter()
        .map(|firm| Shock::Default { firm })
        .collect();
    let marks = Marks::apply(&net, &shocks).unwrap();
    let with = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| cascade(&net, &marks, &cascade_settings()))
    };
    let (one, four) = (with(1), with(4));
    assert_eq!(one, four);
    assert!(one.defaulted.iter().filter(|d| **d).count() > 150);
}

/// Liquidity channels are not monotone. F4 (cash 1.76, other assets 14.84) holds a deposit of
/// F0's (5.985) and lent F0 14.21 unsecured and 3.02 against 9.516 units of T (price 1,
/// haircut 0.1, depth 10). F0 has nothing else.
/// T −50%: cover 9.516 · 0.5 · 0.9 = 4.28 ≥ 3.02, no call. F0 is insolvent (it owes 17.23
/// and has 5.985 + the collateral's 4.76); F4 loses far more than 10% of its equity on it, so
/// F0 runs on F4 for 30% of 5.985 = 1.80 > F4's cash 1.76: F4 halts (run).
/// T −70%: cover 9.516 · 0.3 · 0.9 = 2.57 < 3.02: F0 cannot meet the call and halts; F4 seizes
/// the 9.516 units and sells them for 0.3 · 10 · (1 − e^−0.9516) = 1.84, so it has 3.60 of
/// cash when the run comes and pays it: F4 survives the larger fall.
#[test]
fn liquidity_can_make_a_larger_fall_kinder() {
    let mut f4 = firm("F4", 1.76, 0.0);
    f4.other_assets = 14.84;
    let net = Network::from_parts(Parts {
        firms: vec![firm("F0", 0.0, 0.0), f4],
        exposures: vec![
            Exposure {
                creditor: 0,
                debtor: 1,
                kind: ExposureKind::Deposit,
                amount: 5.985,
            },
            Exposure {
                creditor: 1,
                debtor: 0,
                kind: ExposureKind::Loan,
                amount: 14.21,
            },
            Exposure {
                creditor: 1,
                debtor: 0,
                kind: ExposureKind::Loan,
                amount: 3.02,
            },
        ],
        collateral: vec![Collateral {
            exposure: 2,
            asset: 0,
            units: 9.516,
            haircut: 0.1,
        }],
        assets: vec![thin_t()],
        ..Default::default()
    })
    .unwrap();
    let run = |fall: f64| fall_of_t(&net, fall, &cascade_settings());
    let (small, large) = (run(0.5), run(0.7));
    assert!(
        small.halted[1],
        "F4 halts under the run after the smaller fall"
    );
    assert_eq!(small.cause[1], Some(contagion::engine::Cause::Run));
    assert!(!large.defaulted[1], "F4 survives the larger fall");
    assert_eq!(large.cause[0], Some(contagion::engine::Cause::MarginCall));
}

/// A and B each hold 10 units of T (price 1, depth 10, impact 1: `k = 0.1`, so a sale of
/// `u` units from price `p` raises `10 p (1 − e^(−u/10))`). A owes 100 outside and has
/// nothing else; B owes C 8.5; C owes 3 outside and has nothing but its claim on B.
fn two_sellers(a_first: bool) -> Network {
    let holder = |id: &str, ext: f64| firm(id, 0.0, ext);
    let (a, b) = if a_first { (0, 1) } else { (1, 0) };
    let mut firms = vec![holder("A", 100.0), holder("B", 0.0)];
    if !a_first {
        firms.swap(0, 1);
    }
    firms.push(holder("C", 3.0));
    Network::from_parts(Parts {
        firms,
        exposures: vec![Exposure {
            creditor: 2,
            debtor: b,
            kind: ExposureKind::Loan,
            amount: 8.5,
        }],
        assets: vec![thin_t()],
        holdings: ten_units_of_t([a, b]),
        ..Default::default()
    })
    .unwrap()
}

fn fall_on_two_sellers(net: &Network, fall: f64) -> Cascade {
    let solvency = Settings {
        margin_calls: false,
        runs: false,
        ..cascade_settings()
    };
    fall_of_t(net, fall, &solvency)
}

/// Holdings of 10 units of T (asset 0) for each of `firms`.
fn ten_units_of_t(firms: [u32; 2]) -> Vec<Holding> {
    firms
        .iter()
        .map(|&firm| Holding {
            firm,
            asset: 0,
            units: 10.0,
        })
        .collect()
}

/// Asset T of the hand-derived cases: price 1, depth 10.
fn thin_t() -> Asset {
    Asset {
        id: "T".into(),
        name: "T".into(),
        price: 1.0,
        depth: Some(10.0),
        extra: vec![],
    }
}

/// The cascade after T falls by `fall`.
fn fall_of_t(net: &Network, fall: f64, settings: &Settings) -> Cascade {
    let marks = Marks::apply(
        net,
        &[Shock::Price {
            asset: "T".into(),
            change: -fall,
        }],
    )
    .unwrap();
    cascade(net, &marks, settings)
}

/// T −20% (price 0.8): A (8 < 100) and B (8 < 8.5) default in the first clearing and sell
/// their 20 units together for `8 (1 − e^−2)` = 6.91732, 3.45866 each whatever the order of
/// their rows; the price ends at `0.8 e^−2`.
#[test]
fn firms_liquidating_in_one_round_share_the_price() {
    let total = 8.0 * (1.0 - (-2.0f64).exp());
    for a_first in [true, false] {
        let net = two_sellers(a_first);
        let k = fall_on_two_sellers(&net, 0.2);
        let (a, b) = if a_first { (0, 1) } else { (1, 0) };
        assert!(k.defaulted[a] && k.defaulted[b]);
        for firm in [a, b] {
            let sale = k
                .events
                .iter()
                .find(|e| e.firm == firm as u32 && e.kind == EventKind::Liquidation)
                .expect("a liquidation");
            crate::util::close("units sold", sale.amount, 10.0, 1e-12);
            crate::util::close("proceeds", sale.paid, total / 2.0, 1e-9);
        }
        let last = &k.price_path.last().unwrap().1;
        crate::util::close("price", last[0], 0.8 * (-2.0f64).exp(), 1e-12);
        crate::util::close("B pays C", k.payments[b], total / 2.0, 1e-9);
    }
}

/// Fire sales are not monotone either: a larger fall can make a seller fail earlier, when
/// the price is still high.
/// T −10% (price 0.9): A defaults (9 < 100), B does not (9 ≥ 8.5). A sells its 10 units for
/// `9 (1 − e^−1)` = 5.689 and leaves the price at `0.9 e^−1` = 0.33109; B's holding is now
/// worth 3.3109 < 8.5, so B defaults in the next clearing and sells for
/// `3.3109 (1 − e^−1)` = 2.0929, all C gets: 2.0929 < 3, C defaults.
/// T −20%: B defaults at once beside A and gets 3.45866 from the joint sale
/// (`firms_liquidating_in_one_round_share_the_price`), which covers C's 3: C survives.
#[test]
fn fire_sales_can_make_a_larger_fall_kinder() {
    let net = two_sellers(true);
    let (small, large) = (
        fall_on_two_sellers(&net, 0.1),
        fall_on_two_sellers(&net, 0.2),
    );
    let b_gets = 0.9 * (-1.0f64).exp() * 10.0 * (1.0 - (-1.0f64).exp());
    crate::util::close("B's sale after A's", small.payments[1], b_gets, 1e-9);
    assert_eq!(small.default_round[1], Some(2));
    assert!(small.defaulted[2], "C fails after the smaller fall");
    assert!(!large.defaulted[2], "C survives the larger fall");
    assert!(large.defaulted[0] && large.defaulted[1]);
}

/// A and B each hold 10 units of T (price 1, `k = 0.1`), 10 of other assets and no cash; C
/// has 100 of cash.
/// By `channel`: C lent each of them 5 against 5 units of U (price 1, no market impact,
/// haircut 0), or holds a deposit of 10 with each. Listed in either order.
fn two_raisers(a_first: bool, margin: bool) -> Network {
    let raiser = |id: &str| {
        let mut f = firm(id, 0.0, 0.0);
        f.other_assets = 10.0;
        f
    };
    let mut firms = vec![raiser("A"), raiser("B")];
    if !a_first {
        firms.swap(0, 1);
    }
    firms.push(firm("C", 100.0, 0.0));
    let (a, b) = if a_first { (0, 1) } else { (1, 0) };
    let lent = |debtor: u32| Exposure {
        creditor: 2,
        debtor,
        kind: if margin {
            ExposureKind::Loan
        } else {
            ExposureKind::Deposit
        },
        amount: if margin { 5.0 } else { 10.0 },
    };
    let pledge = |exposure: u32| Collateral {
        exposure,
        asset: 1,
        units: 5.0,
        haircut: 0.0,
    };
    let u = Asset {
        id: "U".into(),
        name: "U".into(),
        price: 1.0,
        depth: None,
        extra: vec![],
    };
    Network::from_parts(Parts {
        firms,
        exposures: vec![lent(a), lent(b)],
        collateral: if margin {
            vec![pledge(0), pledge(1)]
        } else {
            Vec::new()
        },
        assets: vec![thin_t(), u],
        holdings: ten_units_of_t([a, b]),
        ..Default::default()
    })
    .unwrap()
}

/// Firms raising cash in the same round sell together: each gets the pooled sale's average
/// price, whatever the order of their rows.
/// Margin: U −40% leaves cover `5 · 0.6 = 3` on each loan of 5, a call of 2 each. Run: C
/// withdraws 20% of each deposit of 10, 2 each. Either way A and B must each raise 2 by
/// selling `q` units of T. Sold together, `2q` units raise `10 (1 − e^(−2q/10))`, half each:
/// `5 (1 − e^(−q/5)) = 2` gives `q = 5 ln(5/3)` = 2.5541 units each, and the price ends at
/// `e^(−2q/10) = 0.6`. (One after the other, the first would sell `10 ln(1/0.8)` = 2.231
/// units and the second `10 ln(0.8/0.6)` = 2.877.) Both keep `10 − q` units at 0.6, beside
/// their other assets of 10: equity `10 + 0.6 (10 − q)` with margin calls (collateral
/// `5 · 0.6` against the loan paid down to 3), 8 less with runs (deposits of 8 left). The
/// difference between A and B is what the order of their rows used to decide.
#[test]
fn firms_raising_cash_in_one_round_share_the_price() {
    let q = 5.0 * (5.0f64 / 3.0).ln();
    for margin in [true, false] {
        for a_first in [true, false] {
            let net = two_raisers(a_first, margin);
            let shocks = if margin {
                vec![Shock::Price {
                    asset: "U".into(),
                    change: -0.4,
                }]
            } else {
                ["A", "B"]
                    .iter()
                    .map(|f| Shock::Withdrawal {
                        firm: (*f).into(),
                        fraction: 0.2,
                    })
                    .collect()
            };
            let marks = Marks::apply(&net, &shocks).unwrap();
            let k = cascade(&net, &marks, &cascade_settings());
            let (a, b) = if a_first { (0, 1) } else { (1, 0) };
            let kind = if margin {
                EventKind::MarginCall
            } else {
                EventKind::Withdrawal
            };
            for f in [a, b] {
                assert!(!k.defaulted[f], "firm {f} meets its call");
                let paid = k
                    .events
                    .iter()
                    .find(|e| e.firm == f as u32 && e.kind == kind)
                    .expect("a call or a withdrawal");
                crate::util::close("paid", paid.paid, 2.0, 1e-9);
                let equity = 10.0 + 0.6 * (10.0 - q) - if margin { 0.0 } else { 8.0 };
                crate::util::close("equity left", k.clearing.equity_after[f], equity, 1e-9);
            }
            let last = &k.price_path.last().unwrap().1;
            crate::util::close("price of T", last[0], 0.6, 1e-12);
            assert!(k.converged);
        }
    }
}

/// When the market cannot give the sellers of a step what they need together, they all sell
/// everything at the pooled price and all fall short, whichever comes first in the table.
/// C withdraws 50% of each deposit of 10: A and B must each raise 5. All 20 units of T fetch
/// `10 (1 − e^−2)` = 8.6466, 4.3233 each < 5: both halt (`run`) and pay that. (One after the
/// other, the first would have raised its 5 from 6.93 units and only the second would halt.)
#[test]
fn sellers_that_saturate_the_market_fall_short_together() {
    let each = 5.0 * (1.0 - (-2.0f64).exp());
    for a_first in [true, false] {
        let net = two_raisers(a_first, false);
        let shocks: Vec<Shock> = ["A", "B"]
            .iter()
            .map(|f| Shock::Withdrawal {
                firm: (*f).into(),
                fraction: 0.5,
            })
            .collect();
        let marks = Marks::apply(&net, &shocks).unwrap();
        let k = cascade(&net, &marks, &cascade_settings());
        for f in [0, 1] {
            assert!(k.halted[f], "firm {f} halts");
            assert_eq!(k.cause[f], Some(contagion::engine::Cause::Run));
            let paid = k
                .events
                .iter()
                .find(|e| e.firm == f as u32 && e.kind == EventKind::Withdrawal)
                .expect("a withdrawal");
            crate::util::close("paid", paid.paid, each, 1e-9);
        }
    }
}
