//! Worked examples of Eisenberg–Noe and Rogers–Veraart clearing. Every expected number is
//! derived by hand in the comments, from the model's definition, never from the code.
//!
//! Notation: `e` external assets, `p̄` obligations, `Π_ij` the share of i's obligations owed
//! to j. A firm is solvent when `e_i + Σ_j Π_ji p_j ≥ p̄_i`; in default it pays
//! `α e_i + β Σ_j Π_ji p_j` (clamped to `[0, p̄_i]`).

use contagion::prelude::*;
use contagion::scenario::Loss;

use crate::util::{close, graph, network};

const TOL: f64 = 1e-9;

fn run(net: &Network, shocks: &[Shock], settings: &Settings) -> Clearing {
    let marks = Marks::apply(net, shocks).expect("valid shocks");
    clear(net, &marks, settings)
}

fn ids(net: &Network, c: &Clearing) -> Vec<String> {
    (0..net.n_firms())
        .filter(|&i| c.defaulted[i])
        .map(|i| net.firm_id(i).to_string())
        .collect()
}

/// Three firms in a chain, two defaults (graphs/textbook-3).
/// A (cash 4) owes B 10; B (cash 1) owes C 10; C has cash 1.
/// Round 1, everybody paying in full: A has 4 < 10 → default; B has 1 + 10 ≥ 10.
/// Solve with A in default: p_A = 4. Round 2: B has 1 + 4 = 5 < 10 → default; p_B = 5.
/// C receives 5 and owes nothing. Equity after: C = 1 + 5 = 6. Equity before (face value):
/// A 4 − 10 = −6, B 1 + 10 − 10 = 1, C 1 + 10 = 11.
#[test]
fn chain_of_three_two_defaults() {
    let net = contagion::io::load(&graph("textbook-3")).unwrap();
    let c = run(&net, &[], &Settings::default());
    for (i, want) in [4.0, 5.0, 0.0].into_iter().enumerate() {
        close("payment", c.payments[i], want, TOL);
    }
    assert_eq!(c.default_round, vec![Some(1), Some(2), None]);
    assert_eq!(ids(&net, &c), ["A", "B"]);
    for (i, want) in [-6.0, 1.0, 11.0].into_iter().enumerate() {
        close("equity before", c.equity_before[i], want, TOL);
    }
    for (i, want) in [0.0, 0.0, 6.0].into_iter().enumerate() {
        close("equity after", c.equity_after[i], want, TOL);
    }
    assert!(c.converged);
}

/// Defaults travelling round a cycle in three waves (graphs/ring-4).
/// A (e 2) owes B 10; B (e 2) owes C 10; C (e 0.5) owes A 5 and D 5; D has e 1.
/// Round 1: A has 2 + 5 = 7 < 10 → default; B 2 + 10 ≥ 10, C 0.5 + 10 ≥ 10.
/// p_A = 2 + ½·10 = 7. Round 2: B has 2 + 7 = 9 < 10 → default; p_B = 2 + p_A = 9.
/// Round 3: C has 0.5 + 9 = 9.5 < 10 → default. All three in default:
///   p_A = 2 + ½ p_C, p_B = 2 + p_A, p_C = 0.5 + p_B ⇒ p_C = 4.5 + ½ p_C ⇒ p_C = 9,
///   p_A = 6.5, p_B = 8.5. D receives ½·9 = 4.5: equity 5.5.
/// Conservation: total external assets 5.5 = total equity after (only D has any).
#[test]
fn three_waves_round_a_cycle() {
    let net = contagion::io::load(&graph("ring-4")).unwrap();
    let c = run(&net, &[], &Settings::default());
    for (i, want) in [6.5, 8.5, 9.0, 0.0].into_iter().enumerate() {
        close("payment", c.payments[i], want, TOL);
    }
    assert_eq!(c.default_round, vec![Some(1), Some(2), Some(3), None]);
    close("D equity", c.equity_after[3], 5.5, TOL);
    close("total equity", c.equity_after.iter().sum(), 5.5, TOL);
    assert_eq!(c.rounds.len(), 3);
}

/// The classic non-unique system (Eisenberg & Noe 2001, appendix): two firms with no
/// external assets that owe each other 1. Every p = t·(1, 1), t ∈ [0, 1], clears: the
/// greatest vector is (1, 1), the least (0, 0), and equity is 0 in all of them.
#[test]
fn two_firm_cycle_greatest_and_least() {
    let net = network(
        &[("A", 0.0, 0.0), ("B", 0.0, 0.0)],
        &[(0, 1, 1.0), (1, 0, 1.0)],
    );
    let g = run(&net, &[], &Settings::default());
    close("greatest A", g.payments[0], 1.0, TOL);
    close("greatest B", g.payments[1], 1.0, TOL);
    assert!(g.defaulted.iter().all(|d| !d));
    assert!(g.least_checked);
    assert_eq!(g.differs_from_least, vec![0, 1]);

    let least = Settings {
        vector: Vector::Least,
        ..Settings::default()
    };
    let l = run(&net, &[], &least);
    close("least A", l.payments[0], 0.0, TOL);
    close("least B", l.payments[1], 0.0, TOL);
    assert!(l.defaulted.iter().all(|&d| d));
    assert_eq!(l.equity_after, vec![0.0, 0.0]);
}

/// With e = (0.01, 0) the same system is regular and its clearing vector unique: (1, 1).
/// A: 0.01 + 1 ≥ 1, B: 0 + 1 ≥ 1, both solvent; A keeps equity 0.01.
#[test]
fn two_firm_cycle_made_regular_is_unique() {
    let net = network(
        &[("A", 0.01, 0.0), ("B", 0.0, 0.0)],
        &[(0, 1, 1.0), (1, 0, 1.0)],
    );
    let g = run(&net, &[], &Settings::default());
    assert!(
        !g.least_checked,
        "a regular system needs no least-vector check"
    );
    let l = run(
        &net,
        &[],
        &Settings {
            vector: Vector::Least,
            ..Settings::default()
        },
    );
    for i in 0..2 {
        close("greatest", g.payments[i], 1.0, TOL);
        close("least", l.payments[i], 1.0, 1e-9);
    }
    close("A equity", g.equity_after[0], 0.01, TOL);
}

/// Rogers–Veraart default costs turn one default into three.
/// A (e 4) owes B 10; B (e 1) owes C 6; C (e 1) owes A 4.
/// Without costs (α = β = 1): round 1 A has 4 + 4 = 8 < 10 → default, B 1 + 10 ≥ 6,
/// C 1 + 6 ≥ 4; p_A = 4 + p_C = 8; round 2 B has 1 + 8 = 9 ≥ 6: only A defaults,
/// p = (8, 6, 4).
/// With α = β = ½: round 1 A defaults, p_A = ½·4 + ½·4 = 4. Round 2: B has 1 + 4 = 5 < 6 →
/// default; p_A = 2 + ½ p_C = 4, p_B = ½·1 + ½·4 = 2.5. Round 3: C has 1 + 2.5 = 3.5 < 4 →
/// default. All in default: p_A = 2 + ½ p_C, p_B = ½ + ½ p_A, p_C = ½ + ½ p_B ⇒
/// p_C = ¾ + ¼ p_A ⇒ p_A = 2 + ⅜ + ⅛ p_A ⇒ p_A = 19/7, p_B = 13/7, p_C = 10/7.
#[test]
fn default_costs_default_everyone() {
    let net = network(
        &[("A", 4.0, 0.0), ("B", 1.0, 0.0), ("C", 1.0, 0.0)],
        &[(0, 1, 10.0), (1, 2, 6.0), (2, 0, 4.0)],
    );
    let en = run(&net, &[], &Settings::default());
    assert_eq!(ids(&net, &en), ["A"]);
    for (i, want) in [8.0, 6.0, 4.0].into_iter().enumerate() {
        close("EN payment", en.payments[i], want, TOL);
    }
    let rv = run(
        &net,
        &[],
        &Settings {
            alpha: 0.5,
            beta: 0.5,
            ..Settings::default()
        },
    );
    assert_eq!(ids(&net, &rv), ["A", "B", "C"]);
    assert_eq!(rv.default_round, vec![Some(1), Some(2), Some(3)]);
    for (i, want) in [19.0 / 7.0, 13.0 / 7.0, 10.0 / 7.0].into_iter().enumerate() {
        close("RV payment", rv.payments[i], want, TOL);
    }
    // The iterative solver alone reaches the same vector.
    let it = run(
        &net,
        &[],
        &Settings {
            alpha: 0.5,
            beta: 0.5,
            solver: Solver::Iterative,
            ..Settings::default()
        },
    );
    for i in 0..3 {
        close("iterative", it.payments[i], rv.payments[i], TOL);
    }
}

/// Pari passu and senior external liabilities give different default sets.
/// A: e 6, owes B 4 and outsiders 4. B: e 1, owes outsiders 3.5.
/// Pari passu: p̄_A = 8 > 6 → A defaults and pays 6, half to B (Π_AB = 4/8): B receives 3,
/// has 1 + 3 = 4 ≥ 3.5 → solvent with equity 0.5. Defaults {A}.
/// Senior: outsiders first: A has 6 − 4 = 2 for B's claim of 4 → default, pays B 2 (and
/// outsiders 4). B has 1 + 2 = 3 < 3.5 → default (round 2), pays outsiders 3. Defaults {A, B}.
#[test]
fn seniority_changes_the_default_set() {
    let net = network(&[("A", 6.0, 4.0), ("B", 1.0, 3.5)], &[(0, 1, 4.0)]);
    let pp = run(&net, &[], &Settings::default());
    assert_eq!(ids(&net, &pp), ["A"]);
    close("A pays", pp.payments[0], 6.0, TOL);
    close("A pays B", pp.interbank_payments[0], 3.0, TOL);
    close("B pays", pp.payments[1], 3.5, TOL);
    close("B equity", pp.equity_after[1], 0.5, TOL);

    let sr = run(
        &net,
        &[],
        &Settings {
            external: Seniority::Senior,
            ..Settings::default()
        },
    );
    assert_eq!(ids(&net, &sr), ["A", "B"]);
    assert_eq!(sr.default_round, vec![Some(1), Some(2)]);
    close("A pays", sr.payments[0], 6.0, TOL);
    close("A pays B", sr.interbank_payments[0], 2.0, TOL);
    close("B pays", sr.payments[1], 3.0, TOL);
}

/// Secured creditors are paid from their collateral first.
/// A (cash 7) owes B 10, secured by 5 units of T (price 1.5, haircut 0.2), and owes C 4
/// unsecured. Cover = 5 × 1.5 × 0.8 = 6, so B's secured part is 6 and 4 joins the pool.
/// A's pool assets: cash 7 + collateral surplus (7.5 − 6) = 8.5 ≥ pool obligations 8 →
/// solvent, equity 0.5 (= 7 + 7.5 − 14 at face value).
/// T falls 50% → price 0.75: market value 3.75, cover 3, pool obligations 7 + 4 = 11,
/// pool assets 7 + 0.75 = 7.75 < 11 → A defaults (price fall) and pays the pool 7.75:
/// B receives 3 + 7.75 × 7/11 = 7.9318…, C receives 7.75 × 4/11 = 2.8181…; A pays 10.75.
#[test]
fn secured_creditor_paid_from_collateral_first() {
    let mut parts = network(
        &[("A", 7.0, 0.0), ("B", 0.0, 0.0), ("C", 0.0, 0.0)],
        &[(0, 1, 10.0), (0, 2, 4.0)],
    )
    .into_parts();
    parts.assets.push(Asset {
        id: "T".into(),
        name: "Token".into(),
        price: 1.5,
        depth: None,
        extra: vec![],
    });
    parts.collateral.push(Collateral {
        exposure: 0,
        asset: 0,
        units: 5.0,
        haircut: 0.2,
    });
    let net = Network::from_parts(parts).unwrap();

    let before = run(&net, &[], &Settings::default());
    assert!(before.defaulted.iter().all(|d| !d));
    close("A equity", before.equity_after[0], 0.5, TOL);
    close("A equity before", before.equity_before[0], 0.5, TOL);

    let shock = [Shock::Price {
        asset: "T".into(),
        change: -0.5,
    }];
    let after = run(&net, &shock, &Settings::default());
    assert_eq!(ids(&net, &after), ["A"]);
    assert_eq!(after.cause[0], Some(contagion::engine::Cause::PriceFall));
    close("A pays", after.payments[0], 3.0 + 7.75, TOL);
    close(
        "B receives",
        after.interbank_receipts[1],
        3.0 + 7.75 * 7.0 / 11.0,
        TOL,
    );
    close(
        "C receives",
        after.interbank_receipts[2],
        7.75 * 4.0 / 11.0,
        TOL,
    );
}

/// An equity stake is junior and loses value with the issuer's equity.
/// B has cash 10 and no debt (equity 10). A holds a stake in B at book 5, has cash 1 and
/// owes C 3.5: equity before 1 + 5 − 3.5 = 2.5. B loses 6 of assets → equity 4, so the stake
/// is worth 5 × 4/10 = 2 and A has 1 + 2 = 3 < 3.5 → A defaults because of B (round 1),
/// paying C 3. B itself stays solvent.
#[test]
fn equity_stake_loses_value_with_issuer() {
    let mut parts = network(
        &[("A", 1.0, 0.0), ("B", 10.0, 0.0), ("C", 0.0, 0.0)],
        &[(0, 2, 3.5)],
    )
    .into_parts();
    parts.exposures.push(Exposure {
        creditor: 0,
        debtor: 1,
        kind: ExposureKind::Equity,
        amount: 5.0,
    });
    let net = Network::from_parts(parts).unwrap();
    let shock = [Shock::AssetLoss {
        firm: "B".into(),
        loss: Loss::Amount(6.0),
    }];
    let c = run(&net, &shock, &Settings::default());
    assert_eq!(ids(&net, &c), ["A"]);
    close("A equity before", c.equity_before[0], 2.5, TOL);
    close("A pays", c.payments[0], 3.0, TOL);
    close("B equity", c.equity_after[1], 4.0, TOL);
    assert_eq!(
        c.cause[0],
        Some(contagion::engine::Cause::CounterpartyDefault)
    );
    assert_eq!(c.caused_by[0].len(), 1);
    assert_eq!(c.caused_by[0][0].firm, 1);
    close("loss from B", c.caused_by[0][0].loss, 3.0, TOL);
}

/// A firm that fails outright loses its own assets and passes on what it receives.
/// textbook-3 with B failing: B's cash 1 is written off (round 0). A defaults on its own
/// (4 < 10, round 1) and pays 4; B passes the 4 on to C. C ends with 1 + 4 = 5.
#[test]
fn outright_default_passes_on_receipts() {
    let net = contagion::io::load(&graph("textbook-3")).unwrap();
    let c = run(
        &net,
        &[Shock::Default { firm: "B".into() }],
        &Settings::default(),
    );
    assert_eq!(c.default_round, vec![Some(1), Some(0), None]);
    close("A pays", c.payments[0], 4.0, TOL);
    close("B pays", c.payments[1], 4.0, TOL);
    close("C equity", c.equity_after[2], 5.0, TOL);
    assert_eq!(c.rounds[0].round, 0);
    assert_eq!(c.rounds[0].defaults, vec![1]);
}

/// An asset-loss shock given as a fraction takes other assets first, then cash.
/// A with cash 4 and other assets 6 loses 50% of 10 = 5: other assets 1, cash 4.
#[test]
fn asset_loss_fraction_takes_other_assets_first() {
    let mut parts = network(&[("A", 4.0, 0.0)], &[]).into_parts();
    parts.firms[0].other_assets = 6.0;
    let net = Network::from_parts(parts).unwrap();
    let m = Marks::apply(
        &net,
        &[Shock::AssetLoss {
            firm: "A".into(),
            loss: Loss::Fraction(0.5),
        }],
    )
    .unwrap();
    close("other", m.other_assets[0], 1.0, TOL);
    close("cash", m.cash[0], 4.0, TOL);
}
