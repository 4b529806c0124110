//! Hand-computed scenarios for each channel of the combined cascade, and one where channels
//! interact. Every expected number is derived in the comments from the documented rules
//! (docs/models.md, "Combined cascade"), never taken from the code's output.

use contagion::engine::Cause;
use contagion::engine::cascade::{Cascade, EventKind, cascade};
use contagion::prelude::*;
use contagion::scenario::Loss;

use crate::util::{close, firm};

const TOL: f64 = 1e-9;

fn asset(id: &str, price: f64, depth: Option<f64>) -> Asset {
    Asset {
        id: id.into(),
        name: id.into(),
        price,
        depth,
        extra: vec![],
    }
}

fn exposure(debtor: u32, creditor: u32, kind: ExposureKind, amount: f64) -> Exposure {
    Exposure {
        creditor,
        debtor,
        kind,
        amount,
    }
}

fn run(net: &Network, shocks: &[Shock], settings: &Settings) -> Cascade {
    let marks = Marks::apply(net, shocks).expect("valid shocks");
    cascade(net, &marks, settings)
}

fn cascade_settings() -> Settings {
    Settings {
        model: contagion::settings::Model::Cascade,
        ..Settings::default()
    }
}

/// A margin call met from cash. A (cash 30) borrowed 100 from L against 100 units of T
/// (price 1.5, no haircut: cover 150). T falls 50% → cover 75 < 100: call 25. A pays 25 from
/// cash; the loan is paid down to 75, covered again (75 = 75). Nobody defaults; A paid 25 and
/// owes 75 to L at the end, which the final clearing pays in full: A pays 100 in all.
#[test]
fn margin_call_met_from_cash() {
    let mut f = vec![firm("A", 30.0, 0.0), firm("L", 0.0, 0.0)];
    f[1].kind = FirmKind::Lender;
    let net = Network::from_parts(Parts {
        firms: f,
        exposures: vec![exposure(0, 1, ExposureKind::Loan, 100.0)],
        collateral: vec![Collateral {
            exposure: 0,
            asset: 0,
            units: 100.0,
            haircut: 0.0,
        }],
        assets: vec![asset("T", 1.5, None)],
        ..Default::default()
    })
    .unwrap();
    let k = run(
        &net,
        &[Shock::Price {
            asset: "T".into(),
            change: -0.5,
        }],
        &cascade_settings(),
    );
    assert!(k.defaulted.iter().all(|d| !d));
    let call = k
        .events
        .iter()
        .find(|e| e.kind == EventKind::MarginCall)
        .expect("a margin call");
    close("call", call.amount, 25.0, TOL);
    close("met", call.paid, 25.0, TOL);
    close("A pays in all", k.payments[0], 100.0, TOL);
    close("A equity", k.clearing.equity_after[0], 5.0, TOL); // 30 − 25 cash + 75 collateral − 75 loan
    assert!(k.converged);
}

/// A fire sale re-marks an overlapping portfolio.
/// F: other assets 500, 1000 units of T (price 1, depth 1000), owes outsiders 1400: equity 100.
/// H: 500 units of T, owes outsiders 300: equity 200.
/// F loses its 500 of other assets → 1000 < 1400: F defaults in round 1 (shock) and sells its
/// 1000 units: T → 1 · exp(−1 · 1000/1000) = e^−1 ≈ 0.3679. H is re-marked: 500 e^−1 ≈ 183.9
/// < 300 → H defaults in round 2 (price fall, via T) and sells its 500 units:
/// T → e^−1 · exp(−500/1000) = e^−1.5. Without fire sales H survives and T stays at 1.
#[test]
fn fire_sale_defaults_an_overlapping_holder() {
    let mut f = vec![firm("F", 0.0, 1400.0), firm("H", 0.0, 300.0)];
    f[0].other_assets = 500.0;
    let net = Network::from_parts(Parts {
        firms: f,
        assets: vec![asset("T", 1.0, Some(1000.0))],
        holdings: vec![
            Holding {
                firm: 0,
                asset: 0,
                units: 1000.0,
            },
            Holding {
                firm: 1,
                asset: 0,
                units: 500.0,
            },
        ],
        ..Default::default()
    })
    .unwrap();
    let shock = [Shock::AssetLoss {
        firm: "F".into(),
        loss: Loss::Amount(500.0),
    }];
    let k = run(&net, &shock, &cascade_settings());
    assert_eq!(k.default_round, vec![Some(1), Some(2)]);
    assert_eq!(k.cause, vec![Some(Cause::Shock), Some(Cause::PriceFall)]);
    assert_eq!(k.caused_by[1][0].asset, Some(0));
    let last = &k.price_path.last().unwrap().1;
    close("final T", last[0], (-1.5f64).exp(), TOL);
    // The path: post-shock 1, after F's sale e^−1, after H's sale e^−1.5.
    let path: Vec<f64> = k.price_path.iter().map(|(_, p)| p[0]).collect();
    assert_eq!(path.len(), 3, "path {path:?}");
    close("after F", path[1], (-1.0f64).exp(), TOL);
    // Forced sales never raise a price.
    assert!(path.windows(2).all(|w| w[1] <= w[0]));

    let calm = Settings {
        fire_sales: false,
        ..cascade_settings()
    };
    let k = run(&net, &shock, &calm);
    assert_eq!(k.default_round, vec![Some(1), None]);
    close("T untouched", k.price_path.last().unwrap().1[0], 1.0, TOL);
}

/// A run met by selling holdings along the impact curve, then a run that halts.
/// E: cash 10, 30 units of T (price 1, depth 100, β 1, so k = 0.01), other assets 40,
/// deposits of C 50: equity 10 + 30 + 40 − 50 = 30. Selling u units raises
/// (1 − e^(−u/100))·100 and leaves the price at e^(−u/100).
/// 60% run: demand 30 = cash 10 + 20 from sales: 100(1 − e^(−u/100)) = 20 ⇒ e^(−u/100) = 0.8,
/// u = 100 ln 1.25 = 22.314 units; T → 0.8. E keeps 7.686 units at 0.8 = 6.149, other
/// assets 40, deposits 20: equity 26.149 (it lost 2.314 selling below book and 1.537 on the
/// units it kept). No default.
/// 80% run: demand 40; all 30 units raise 100(1 − e^−0.3) = 25.918, so E raises 35.918,
/// pays that pro rata and halts (run); T → e^−0.3. Its depositor's remaining 14.082 are
/// frozen; in clearing E (in default) still has 40 of other assets for them: C is paid in
/// full by clearing and E keeps 40 − 14.082 = 25.918 — a liquidity default, not insolvency.
#[test]
fn run_met_then_run_that_halts() {
    let mut f = vec![firm("E", 10.0, 0.0), firm("C", 0.0, 0.0)];
    f[0].other_assets = 40.0;
    f[0].kind = FirmKind::Exchange;
    f[1].kind = FirmKind::CustomerPool;
    let net = Network::from_parts(Parts {
        firms: f,
        exposures: vec![exposure(0, 1, ExposureKind::Deposit, 50.0)],
        assets: vec![asset("T", 1.0, Some(100.0))],
        holdings: vec![Holding {
            firm: 0,
            asset: 0,
            units: 30.0,
        }],
        ..Default::default()
    })
    .unwrap();
    let k = run(
        &net,
        &[Shock::Withdrawal {
            firm: "E".into(),
            fraction: 0.6,
        }],
        &cascade_settings(),
    );
    assert!(k.defaulted.iter().all(|d| !d));
    close("T after sale", k.price_path.last().unwrap().1[0], 0.8, TOL);
    let kept = 30.0 - 100.0 * 1.25f64.ln();
    close(
        "E equity",
        k.clearing.equity_after[0],
        40.0 + kept * 0.8 - 20.0,
        TOL,
    );
    close("E paid", k.payments[0], 50.0, TOL); // 30 withdrawn + 20 cleared

    let k = run(
        &net,
        &[Shock::Withdrawal {
            firm: "E".into(),
            fraction: 0.8,
        }],
        &cascade_settings(),
    );
    assert!(k.halted[0]);
    assert_eq!(k.cause[0], Some(Cause::Run));
    assert_eq!(k.default_round[0], Some(1));
    let raised = 10.0 + 100.0 * (1.0 - (-0.3f64).exp());
    let w = k
        .events
        .iter()
        .find(|e| e.kind == EventKind::Withdrawal)
        .unwrap();
    close("demand", w.amount, 40.0, TOL);
    close("paid", w.paid, raised, TOL);
    close(
        "T after sale",
        k.price_path.last().unwrap().1[0],
        (-0.3f64).exp(),
        TOL,
    );
    close(
        "E keeps",
        k.clearing.equity_after[0],
        40.0 - (50.0 - raised),
        TOL,
    );
    close("C receives in all", k.payments[0], 50.0, TOL);
}

/// Frozen deposits: recovered through clearing, or written off at once.
/// The 80% run above halts E after it paid C 35.918 (10 of cash + 100(1 − e^−0.3) from T);
/// C's remaining 14.082 are frozen. C's book equity before is its deposit, 50.
/// `recover`: clearing pays C the 14.082 (E still has 40 of other assets): C ends with 50.
/// `lose`: C writes the 14.082 off at once and ends with 35.918; E still owes them, to a pool
/// outside the network, so E's own figures do not change (it keeps 25.918).
#[test]
fn frozen_deposits_recovered_or_lost() {
    let mut f = vec![firm("E", 10.0, 0.0), firm("C", 0.0, 0.0)];
    f[0].other_assets = 40.0;
    let net = Network::from_parts(Parts {
        firms: f,
        exposures: vec![exposure(0, 1, ExposureKind::Deposit, 50.0)],
        assets: vec![asset("T", 1.0, Some(100.0))],
        holdings: vec![Holding {
            firm: 0,
            asset: 0,
            units: 30.0,
        }],
        ..Default::default()
    })
    .unwrap();
    let raised = 10.0 + 100.0 * (1.0 - (-0.3f64).exp());
    let shock = [Shock::Withdrawal {
        firm: "E".into(),
        fraction: 0.8,
    }];
    let recover = run(&net, &shock, &cascade_settings());
    close("C recovers", recover.clearing.equity_after[1], 50.0, TOL);
    let lose = Settings {
        frozen_deposits: contagion::settings::FrozenDeposits::Lose,
        ..cascade_settings()
    };
    let lost = run(&net, &shock, &lose);
    assert!(lost.halted[0]);
    close("C writes off", lost.clearing.equity_after[1], raised, TOL);
    close("frozen", lost.frozen[0], 50.0 - raised, TOL);
    close(
        "E keeps",
        lost.clearing.equity_after[0],
        40.0 - (50.0 - raised),
        TOL,
    );
}

/// Channels interacting: a price fall triggers a margin call that triggers a default that
/// triggers a run.
/// A: cash 10, owes L 100 secured by 100 units of T (price 1.5, no haircut, depth 1000) and
/// owes B 20 unsecured. L: cash 0, owes outsiders 50. B: cash 5, other assets 40, claim on A
/// 20, deposits of C 30: equity 35. C: a customer pool.
/// Round 1: T −50% → 0.75, cover 75 < 100: call 25; A raises its 10 of cash and halts
/// (margin call; unmet 15). The loan is down to 90; L seizes the collateral and sells along
/// the impact curve (k = 1/1000): covering 90 would take −1000 ln(1 − 90/750) = 127.8 units,
/// more than the 100 pledged, so it sells all 100 for 750(1 − e^−0.1) = 71.372 and T falls to
/// 0.75 e^−0.1; 18.628 stays owed. Clearing: A has nothing left → pays 0; B has 5 + 40 ≥ 30
/// → solvent, but it lost 20 ≥ 10% of its equity 35 → its depositors run (30% of 30 = 9).
/// Round 2: B raises its 5 of cash and halts (run, triggered by A; unpaid 4); C's deposit
/// falls to 25. Clearing: B (in default) has 40 for 25 → pays in full, keeps 15.
/// Totals: A paid 10 + 71.372 = 81.372 of 120; B paid 5 + 25 = 30 of 30.
#[test]
fn price_fall_margin_call_default_run() {
    let mut f = vec![
        firm("A", 10.0, 0.0),
        firm("L", 0.0, 50.0),
        firm("B", 5.0, 0.0),
        firm("C", 0.0, 0.0),
    ];
    f[2].other_assets = 40.0;
    let net = Network::from_parts(Parts {
        firms: f,
        exposures: vec![
            exposure(0, 1, ExposureKind::Loan, 100.0),
            exposure(0, 2, ExposureKind::Loan, 20.0),
            exposure(2, 3, ExposureKind::Deposit, 30.0),
        ],
        collateral: vec![Collateral {
            exposure: 0,
            asset: 0,
            units: 100.0,
            haircut: 0.0,
        }],
        assets: vec![asset("T", 1.5, Some(1000.0))],
        ..Default::default()
    })
    .unwrap();
    let k = run(
        &net,
        &[Shock::Price {
            asset: "T".into(),
            change: -0.5,
        }],
        &cascade_settings(),
    );
    assert_eq!(k.default_round, vec![Some(1), None, Some(2), None]);
    assert_eq!(k.cause[0], Some(Cause::MarginCall));
    assert_eq!(k.cause[2], Some(Cause::Run));
    assert!(k.halted[0] && k.halted[2]);
    assert_eq!(k.caused_by[0][0].firm, Some(1));
    assert_eq!(k.caused_by[0][0].asset, Some(0));
    close("unmet call", k.caused_by[0][0].loss, 15.0, TOL);
    assert_eq!(
        k.caused_by[2][0].firm,
        Some(0),
        "the run on B was started by A's failure"
    );
    close("unpaid withdrawal", k.caused_by[2][0].loss, 4.0, TOL);
    let proceeds = 750.0 * (1.0 - (-0.1f64).exp());
    close("A paid", k.payments[0], 10.0 + proceeds, TOL);
    close("B paid", k.payments[2], 30.0, TOL);
    close("B keeps", k.clearing.equity_after[2], 15.0, TOL);
    close("L paid outsiders", k.payments[1], 50.0, TOL);
    let seizure = k
        .events
        .iter()
        .find(|e| e.kind == EventKind::Seizure)
        .unwrap();
    close("units seized", seizure.amount, 100.0, TOL);
    close("proceeds", seizure.paid, proceeds, TOL);
    close(
        "T after the seizure sale",
        k.price_path.last().unwrap().1[0],
        0.75 * (-0.1f64).exp(),
        TOL,
    );
}

/// With margin calls, runs and fire sales off, the cascade is exactly one clearing.
#[test]
fn channels_off_is_clearing() {
    let net = contagion::io::load(&crate::util::graph("ring-4")).unwrap();
    let off = Settings {
        margin_calls: false,
        fire_sales: false,
        runs: false,
        ..cascade_settings()
    };
    let marks = Marks::apply(&net, &[Shock::Default { firm: "D".into() }]).unwrap();
    let k = cascade(&net, &marks, &off);
    let c = clear(&net, &marks, &off);
    assert_eq!(k.payments, c.payments);
    assert_eq!(k.defaulted, c.defaulted);
    assert_eq!(k.default_round, c.default_round);
    assert_eq!(k.rounds, c.rounds);
}
