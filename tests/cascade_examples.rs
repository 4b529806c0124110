//! DebtRank (single-hit, linear, non-linear) and the Furfine threshold cascade: worked
//! examples whose every expected number is derived by hand in the comments, then property
//! tests against a closed form and the models' invariants.
//!
//! Notation: `Λ_ij = A_ij / E_i`, `i` the creditor, `j` the debtor; `h` the stress (relative
//! equity loss); round 0 is the shock.

use contagion::engine::Cause;
use contagion::engine::buffers::BufferOutcome;
use contagion::engine::debtrank::debtrank;
use contagion::engine::threshold::threshold;
use contagion::model::{Asset, Collateral, Holding};
use contagion::prelude::*;
use contagion::settings::{Model, Variant};
use proptest::prelude::*;

use crate::util::close;

/// A firm with `other_assets`, external liabilities, and optionally a capital and a weight.
pub fn firm(id: &str, other_assets: f64, capital: Option<f64>, weight: Option<f64>) -> Firm {
    Firm {
        id: id.to_string(),
        name: id.to_string(),
        kind: FirmKind::Bank,
        cash: 0.0,
        other_assets,
        external_liabilities: 0.0,
        capital,
        weight,
        failed_on: None,
        extra: vec![],
    }
}

/// A loan: `creditor` holds a claim of `amount` on `debtor` (indices).
pub fn claim(creditor: u32, debtor: u32, amount: f64) -> Exposure {
    Exposure {
        creditor,
        debtor,
        kind: ExposureKind::Loan,
        amount,
    }
}

/// A network from firms and exposures.
pub fn network(firms: Vec<Firm>, exposures: Vec<Exposure>) -> Network {
    Network::from_parts(Parts {
        firms,
        exposures,
        ..Default::default()
    })
    .expect("valid network")
}

/// Settings for a DebtRank variant.
pub fn dr(variant: Variant) -> Settings {
    Settings {
        model: Model::Debtrank,
        variant,
        ..Settings::default()
    }
}

/// Settings for the threshold model with recovery `r`.
pub fn furfine(r: f64) -> Settings {
    Settings {
        model: Model::Threshold,
        recovery: r,
        ..Settings::default()
    }
}

fn shocks(net: &Network, s: &[Shock]) -> Marks {
    Marks::apply(net, s).expect("valid shocks")
}

fn default(id: &str) -> Shock {
    Shock::Default {
        firm: id.to_string(),
    }
}

fn equity(id: &str, fraction: f64) -> Shock {
    Shock::EquityShock {
        firm: id.to_string(),
        fraction,
    }
}

fn ids(net: &Network, ix: &[u32]) -> Vec<String> {
    ix.iter()
        .map(|&i| net.firm_id(i as usize).to_string())
        .collect()
}

const TOL: f64 = 1e-9;

// ---------------------------------------------------------------------------------------
// A three-firm cycle: single-hit and linear DebtRank differ.
//
// A lends 5 to B, B lends 5 to C, C lends 5 to A; every buffer (capital column) is 10, so
// Λ_AB = Λ_BC = Λ_CA = 0.5. Losses travel debtor → creditor: A → C → B → A. Every firm has
// other assets 95 + a claim of 5 = total assets 100, so the weights are 1/3 each. The
// external liabilities (80) make book equity 15, which the capital column overrides.
// Shock: A loses 40% of its equity, h(1) = (0.4, 0, 0).
// ---------------------------------------------------------------------------------------

fn cycle() -> Network {
    let firms = ["A", "B", "C"]
        .iter()
        .map(|id| Firm {
            external_liabilities: 80.0,
            ..firm(id, 95.0, Some(10.0), None)
        })
        .collect();
    network(
        firms,
        vec![claim(0, 1, 5.0), claim(1, 2, 5.0), claim(2, 0, 5.0)],
    )
}

#[test]
fn cycle_linear_debtrank_matches_closed_form() {
    // No cap binds and ρ(Λ) = 0.5 < 1, so h = (I − Λ)⁻¹ h(1). Λ is a weighted cyclic
    // permutation with Λ³ = 0.125 I, hence (I − Λ)⁻¹ = (I + Λ + Λ²) / 0.875.
    //   Λ h(1)  = (0, 0, 0.2)        (C gets Λ_CA · 0.4)
    //   Λ² h(1) = (0, 0.1, 0)        (B gets Λ_BC · 0.2)
    //   h = (0.4, 0.1, 0.2) / 0.875 = (16/35, 4/35, 8/35).
    // DebtRank = Σ v (h − h(1)) = (2/35 + 4/35 + 8/35) / 3 = 2/15.
    let net = cycle();
    let c = debtrank(
        &net,
        &shocks(&net, &[equity("A", 0.4)]),
        &dr(Variant::Linear),
    );
    close("h_A", c.distress[0], 16.0 / 35.0, TOL);
    close("h_B", c.distress[1], 4.0 / 35.0, TOL);
    close("h_C", c.distress[2], 8.0 / 35.0, TOL);
    close("DebtRank", c.debtrank, 2.0 / 15.0, TOL);
    close("initial stress", c.initial_debtrank, 0.4 / 3.0, TOL);
    // Losses are the buffer times h: 10 h, in total 10 · 28/35 = 8.
    close("total loss", c.loss.iter().sum(), 8.0, TOL);
    // ρ(Λ) = (0.5³)^(1/3) = 0.5.
    close(
        "spectral radius",
        c.spectral_radius.unwrap().value,
        0.5,
        TOL,
    );
    assert!(c.converged);
    assert!(c.defaulted.iter().all(|d| !d));
    // Rounds: 0 is the shock (equity lost 10 · 0.4 = 4); then the increment goes round the
    // cycle halving at each step: C +0.2 (loss 2), B +0.1 (1), A +0.05 (0.5), C +0.025 (0.25).
    let losses: Vec<f64> = c.rounds.iter().take(5).map(|r| r.losses).collect();
    for (k, want) in [4.0, 2.0, 1.0, 0.5, 0.25].iter().enumerate() {
        close(&format!("round {k} losses"), losses[k], *want, TOL);
        assert_eq!(c.rounds[k].round, k as u32);
    }
}

#[test]
fn cycle_single_hit_debtrank_stops_after_one_pass() {
    // Battiston et al. (2012): each distressed firm passes on its level once.
    //   round 1: A (level 0.4) → C: h_C = 0.5 · 0.4 = 0.2; A becomes inactive.
    //   round 2: C (level 0.2) → B: h_B = 0.1; C inactive.
    //   round 3: B (level 0.1) → A: h_A = 0.4 + 0.05 = 0.45; A is inactive: nothing more.
    // h = (0.45, 0.1, 0.2); DebtRank = (0.05 + 0.1 + 0.2) / 3 = 7/60, less than linear 2/15.
    let net = cycle();
    let c = debtrank(
        &net,
        &shocks(&net, &[equity("A", 0.4)]),
        &dr(Variant::SingleHit),
    );
    close("h_A", c.distress[0], 0.45, TOL);
    close("h_B", c.distress[1], 0.1, TOL);
    close("h_C", c.distress[2], 0.2, TOL);
    close("DebtRank", c.debtrank, 7.0 / 60.0, TOL);
    assert_eq!(c.iterations, 3);
    let losses: Vec<f64> = c.rounds.iter().map(|r| r.losses).collect();
    assert_eq!(losses.len(), 4);
    for (k, want) in [4.0, 2.0, 1.0, 0.5].iter().enumerate() {
        close(&format!("round {k} losses"), losses[k], *want, TOL);
    }
    assert!(c.debtrank < 2.0 / 15.0);
}

// ---------------------------------------------------------------------------------------
// A chain with a default: A ← B ← C ← D (arrows: who lends to whom).
//
// Buffers 10 each (capital column), weights 1 each (weight column) so v = 1/4.
// B lends 15 to A: Λ_BA = 1.5 (more than B's buffer). C lends 4 to B: Λ_CB = 0.4. D holds an
// equity stake of 5 in C: Λ_DC = 0.5 (stakes count as exposures). Shock: A fails.
// ---------------------------------------------------------------------------------------

fn chain() -> Network {
    let firms = ["A", "B", "C", "D"]
        .iter()
        .map(|id| firm(id, 100.0, Some(10.0), Some(1.0)))
        .collect();
    let stake = Exposure {
        creditor: 3,
        debtor: 2,
        kind: ExposureKind::Equity,
        amount: 5.0,
    };
    network(firms, vec![claim(1, 0, 15.0), claim(2, 1, 4.0), stake])
}

#[test]
fn chain_default_linear_and_single_hit_agree() {
    // round 1: h_B = min(1, 1.5 · 1) = 1 → B defaults (cap binds).
    // round 2: B passes 1 − 0 → h_C = 0.4.
    // round 3: C passes 0.4 → h_D = 0.5 · 0.4 = 0.2. D has no creditor: the cascade stops.
    // Single-hit gives the same on a chain: W_BA = min(1, 1.5) = 1, then levels 1 and 0.4.
    // DebtRank = (1 + 0.4 + 0.2) / 4 = 0.4; losses 10 · (1, 1, 0.4, 0.2) = 26 in total.
    let net = chain();
    let marks = shocks(&net, &[default("A")]);
    for variant in [Variant::Linear, Variant::SingleHit] {
        let c = debtrank(&net, &marks, &dr(variant));
        let what = |x: &str| format!("{x} ({variant:?})");
        close(&what("h_B"), c.distress[1], 1.0, 0.0);
        close(&what("h_C"), c.distress[2], 0.4, TOL);
        close(&what("h_D"), c.distress[3], 0.2, TOL);
        close(&what("DebtRank"), c.debtrank, 0.4, TOL);
        close(&what("total loss"), c.loss.iter().sum(), 26.0, TOL);
        assert_eq!(c.default_round, vec![Some(0), Some(1), None, None]);
        assert_eq!(c.cause[0], Some(Cause::Shock));
        assert_eq!(c.cause[1], Some(Cause::CounterpartyDistress));
        // A passed on 1.5 × B's buffer of stress; B only had its buffer (10) to lose, so the
        // attribution is scaled to 10.
        assert_eq!(c.caused_by[1].len(), 1);
        assert_eq!(c.caused_by[1][0].firm, 0);
        close(&what("caused_by B"), c.caused_by[1][0].loss, 10.0, TOL);
        assert_eq!(c.iterations, 3);
        let rounds: Vec<(u32, Vec<String>)> = c
            .rounds
            .iter()
            .map(|r| (r.round, ids(&net, &r.defaults)))
            .collect();
        assert_eq!(
            rounds,
            vec![
                (0, vec!["A".to_string()]),
                (1, vec!["B".to_string()]),
                (2, vec![]),
                (3, vec![])
            ]
        );
        // Equity lost per round: A's whole buffer at the shock, then B 10, C 4, D 2.
        let losses: Vec<f64> = c.rounds.iter().map(|r| r.losses).collect();
        for (k, want) in [10.0, 10.0, 4.0, 2.0].iter().enumerate() {
            close(&what(&format!("round {k} losses")), losses[k], *want, TOL);
        }
    }
}

#[test]
fn chain_nonlinear_debtrank_has_closed_form() {
    // Non-linear DebtRank passes increments of p(h) = h · exp(α (h − 1)); α = 2.
    // round 1: B gets 1.5 · (p(1) − p(0)) = 1.5 → h_B = 1 (p(1) = 1 whatever α).
    // round 2: B passes p(1) − p(0) = 1 → h_C = 0.4.
    // round 3: C passes p(0.4) = 0.4 · e^(2 · (−0.6)) = 0.4 e^(−1.2) → h_D = 0.2 e^(−1.2).
    // DebtRank = (1 + 0.4 + 0.2 e^(−1.2)) / 4.
    let net = chain();
    let marks = shocks(&net, &[default("A")]);
    let s = Settings {
        nl_alpha: 2.0,
        ..dr(Variant::Nonlinear)
    };
    let c = debtrank(&net, &marks, &s);
    let h_d = 0.2 * (-1.2f64).exp();
    close("h_C", c.distress[2], 0.4, TOL);
    close("h_D", c.distress[3], h_d, TOL);
    close("DebtRank", c.debtrank, (1.4 + h_d) / 4.0, TOL);
    // With a large α only defaults propagate (threshold-like): p(0.4) = 0.4 e^(−30) ≈ 4e-14,
    // below the tolerance, so D keeps h_D = 0 while C still takes B's default.
    let s = Settings {
        nl_alpha: 50.0,
        ..dr(Variant::Nonlinear)
    };
    let c = debtrank(&net, &marks, &s);
    close("h_C (α = 50)", c.distress[2], 0.4, TOL);
    assert!(c.distress[3] < 1e-12, "h_D = {}", c.distress[3]);
}

#[test]
fn nonlinear_partial_stress_passes_p_of_h() {
    // A two-firm chain: B lends 8 to A; buffers 10: Λ_BA = 0.8. A loses half its equity.
    // B gets 0.8 · p(0.5); with α = 2, p(0.5) = 0.5 e^(−1): h_B = 0.4 / e. With α = 0
    // (linear), h_B = 0.4.
    let net = network(
        vec![
            firm("A", 50.0, Some(10.0), None),
            firm("B", 50.0, Some(10.0), None),
        ],
        vec![claim(1, 0, 8.0)],
    );
    let marks = shocks(&net, &[equity("A", 0.5)]);
    let nl = Settings {
        nl_alpha: 2.0,
        ..dr(Variant::Nonlinear)
    };
    close(
        "h_B (α = 2)",
        debtrank(&net, &marks, &nl).distress[1],
        0.4 / std::f64::consts::E,
        TOL,
    );
    let nl0 = Settings {
        nl_alpha: 0.0,
        ..dr(Variant::Nonlinear)
    };
    close(
        "h_B (α = 0)",
        debtrank(&net, &marks, &nl0).distress[1],
        0.4,
        TOL,
    );
}

// ---------------------------------------------------------------------------------------
// Buffers from book equity, a firm insolvent before any shock, weights from total assets.
//
// P: other assets 20, owes Q 30 → book equity −10: in default from the start.
// Q: other assets 10, claim on P 30, external liabilities 35, owes R 2 → equity 3.
// R: other assets 5, claim on Q 2 → equity 7.
// Total assets 20, 40, 7 (sum 67): weights 20/67, 40/67, 7/67.
// ---------------------------------------------------------------------------------------

fn book_equity_net() -> Network {
    let mut q = firm("Q", 10.0, None, None);
    q.external_liabilities = 35.0;
    network(
        vec![firm("P", 20.0, None, None), q, firm("R", 5.0, None, None)],
        vec![claim(1, 0, 30.0), claim(2, 1, 2.0)],
    )
}

#[test]
fn insolvent_firm_is_in_default_from_the_start_and_passes_nothing_unless_named() {
    let net = book_equity_net();
    let c = debtrank(&net, &Marks::book(&net), &dr(Variant::Linear));
    assert_eq!(c.buffer, vec![-10.0, 3.0, 7.0]);
    assert_eq!(c.default_round, vec![Some(0), None, None]);
    assert_eq!(c.cause[0], Some(Cause::InitiallyInsolvent));
    assert_eq!(c.distress, vec![1.0, 0.0, 0.0]);
    assert_eq!(c.loss, vec![0.0, 0.0, 0.0]);
    assert_eq!(c.debtrank, 0.0);
    // An equity shock on it changes nothing: it has no buffer left to lose.
    let c = debtrank(
        &net,
        &shocks(&net, &[equity("P", 0.5)]),
        &dr(Variant::Linear),
    );
    assert_eq!(c.distress, vec![1.0, 0.0, 0.0]);
    // Named by a default shock, its failure is part of the scenario:
    //   round 1: Λ_QP = 30 / 3 = 10 → h_Q = 1 (default);
    //   round 2: Λ_RQ = 2 / 7 → h_R = 2/7.
    // DebtRank = 40/67 · 1 + 7/67 · 2/7 = 42/67.
    let c = debtrank(&net, &shocks(&net, &[default("P")]), &dr(Variant::Linear));
    assert_eq!(c.default_round, vec![Some(0), Some(1), None]);
    assert_eq!(c.cause[0], Some(Cause::Shock));
    close("h_R", c.distress[2], 2.0 / 7.0, TOL);
    close("DebtRank", c.debtrank, 42.0 / 67.0, TOL);
    // Losses never exceed buffers: Q loses 3 (not 30), R loses 2.
    close("loss Q", c.loss[1], 3.0, TOL);
    close("loss R", c.loss[2], 2.0, TOL);
    // The same holds in the threshold model (recovery 0): Q loses 30 ≥ 3 → default in round
    // 1; R loses 2 < 7. Distress: R 2/7.
    let c = threshold(&net, &shocks(&net, &[default("P")]), &furfine(0.0));
    assert_eq!(c.default_round, vec![Some(0), Some(1), None]);
    close("threshold h_R", c.distress[2], 2.0 / 7.0, TOL);
    close("threshold loss Q", c.loss[1], 3.0, TOL);
}

#[test]
fn asset_and_price_shocks_become_initial_stress() {
    // S: capital 20, other assets 50, holds 10 units of Y at price 2 (total assets 70).
    // T: capital 16, lends 8 to S (total assets 8): Λ_TS = 0.5. Weights 70/78, 8/78.
    // Shocks: S loses 5 of other assets; Y falls 50% (S loses 10 · (2 − 1) = 10); T loses
    // 10% of its equity. h_S(1) = (5 + 10) / 20 = 0.75; h_T(1) = 0.1.
    // round 1: h_T = 0.1 + 0.5 · 0.75 = 0.475. DebtRank = 8/78 · 0.375 = 3/78.
    let parts = Parts {
        firms: vec![
            firm("S", 50.0, Some(20.0), None),
            firm("T", 0.0, Some(16.0), None),
        ],
        exposures: vec![claim(1, 0, 8.0)],
        assets: vec![Asset {
            id: "Y".into(),
            name: "Y".into(),
            price: 2.0,
            depth: None,
            extra: vec![],
        }],
        holdings: vec![Holding {
            firm: 0,
            asset: 0,
            units: 10.0,
        }],
        ..Default::default()
    };
    let net = Network::from_parts(parts).unwrap();
    let marks = shocks(
        &net,
        &[
            Shock::AssetLoss {
                firm: "S".into(),
                loss: contagion::scenario::Loss::Amount(5.0),
            },
            Shock::Price {
                asset: "Y".into(),
                change: -0.5,
            },
            equity("T", 0.1),
        ],
    );
    let c = debtrank(&net, &marks, &dr(Variant::Linear));
    close("h_S(1)", c.initial_distress[0], 0.75, TOL);
    close("h_T(1)", c.initial_distress[1], 0.1, TOL);
    close("h_T", c.distress[1], 0.475, TOL);
    close("DebtRank", c.debtrank, 3.0 / 78.0, TOL);
    // `*` shocks every firm: 5% each; h_T = 0.05 + 0.5 · 0.05 = 0.075.
    let c = debtrank(
        &net,
        &shocks(&net, &[equity("*", 0.05)]),
        &dr(Variant::Linear),
    );
    close("h_T (all 5%)", c.distress[1], 0.075, TOL);
}

// ---------------------------------------------------------------------------------------
// Furfine threshold cascade, recovery R = 0.5 (so every loss below is exact in binary).
//
// Buffers: A 10, B 6, C 5, D 5, E 10; weights 1 each (v = 0.2).
// B lends 12 to A; C lends 4 to A and 6 to B; D lends 1 to A and 11 to C, the latter secured
// by 4 units of X (price 1, haircut 0.5: cover 2, unsecured 9); E lends 2 to D.
// Shock: A fails.
// ---------------------------------------------------------------------------------------

fn furfine_net(buffer_b: f64) -> Network {
    let firms = vec![
        firm("A", 100.0, Some(10.0), Some(1.0)),
        firm("B", 100.0, Some(buffer_b), Some(1.0)),
        firm("C", 100.0, Some(5.0), Some(1.0)),
        firm("D", 100.0, Some(5.0), Some(1.0)),
        firm("E", 100.0, Some(10.0), Some(1.0)),
    ];
    let exposures = vec![
        claim(1, 0, 12.0),
        claim(2, 0, 4.0),
        claim(2, 1, 6.0),
        claim(3, 0, 1.0),
        claim(3, 2, 11.0),
        claim(4, 3, 2.0),
    ];
    let parts = Parts {
        firms,
        exposures,
        assets: vec![Asset {
            id: "X".into(),
            name: "X".into(),
            price: 1.0,
            depth: None,
            extra: vec![],
        }],
        collateral: vec![Collateral {
            exposure: 4,
            asset: 0,
            units: 4.0,
            haircut: 0.5,
        }],
        ..Default::default()
    };
    Network::from_parts(parts).unwrap()
}

#[test]
fn furfine_cascade_round_by_round() {
    // round 1 (A's creditors): B +0.5·12 = 6 ≥ 6 → default (a loss equal to the buffer is a
    //          default); C +2; D +0.5.
    // round 2 (B's creditors): C +3 → 5 ≥ 5 → default.
    // round 3 (C's creditors): D +0.5 · (11 − 2) = 4.5 → 5 ≥ 5 → default.
    // round 4 (D's creditors): E +1 → 1 < 10. Distress E = 0.1.
    // Equity lost per round: 10 (A), 6 + 2 + 0.5 = 8.5, 3, 4.5, 1: 27 in total.
    // DebtRank = 0.2 · (1 + 1 + 1 + 0.1) = 0.62 (A's own shock excluded).
    let net = furfine_net(6.0);
    let c = threshold(&net, &shocks(&net, &[default("A")]), &furfine(0.5));
    assert_eq!(
        c.default_round,
        vec![Some(0), Some(1), Some(2), Some(3), None]
    );
    assert_eq!(c.iterations, 4);
    let per_round: Vec<(u32, Vec<String>, f64)> = c
        .rounds
        .iter()
        .map(|r| (r.round, ids(&net, &r.defaults), r.losses))
        .collect();
    let want = [
        (0, vec!["A"], 10.0),
        (1, vec!["B"], 8.5),
        (2, vec!["C"], 3.0),
        (3, vec!["D"], 4.5),
        (4, vec![], 1.0),
    ];
    assert_eq!(per_round.len(), want.len());
    for (got, want) in per_round.iter().zip(want) {
        assert_eq!(got.0, want.0);
        assert_eq!(got.1, want.1);
        close(&format!("round {} losses", want.0), got.2, want.2, 0.0);
    }
    assert_eq!(c.distress, vec![1.0, 1.0, 1.0, 1.0, 0.1]);
    assert_eq!(c.loss, vec![10.0, 6.0, 5.0, 5.0, 1.0]);
    close("DebtRank", c.debtrank, 0.62, TOL);
    // Causes name the counterparties that defaulted before: C lost 3 to B and 2 to A; D lost
    // 4.5 to C and 0.5 to A.
    assert_eq!(c.cause[3], Some(Cause::CounterpartyDefault));
    let by = |i: usize| -> Vec<(String, f64)> {
        c.caused_by[i]
            .iter()
            .map(|k| (net.firm_id(k.firm as usize).to_string(), k.loss))
            .collect()
    };
    assert_eq!(by(1), vec![("A".to_string(), 6.0)]);
    assert_eq!(by(2), vec![("B".to_string(), 3.0), ("A".to_string(), 2.0)]);
    assert_eq!(by(3), vec![("C".to_string(), 4.5), ("A".to_string(), 0.5)]);
}

#[test]
fn furfine_tie_rule_and_recovery() {
    // A buffer just above the loss: B survives (6 < 6.000001), with distress 6 / 6.000001;
    // then C only loses 2 and D 0.5: nobody else defaults.
    let net = furfine_net(6.000001);
    let c = threshold(&net, &shocks(&net, &[default("A")]), &furfine(0.5));
    assert_eq!(c.default_round, vec![Some(0), None, None, None, None]);
    close("h_B", c.distress[1], 6.0 / 6.000001, TOL);
    // Full recovery: creditors lose nothing.
    let net = furfine_net(6.0);
    let c = threshold(&net, &shocks(&net, &[default("A")]), &furfine(1.0));
    assert_eq!(c.loss, vec![10.0, 0.0, 0.0, 0.0, 0.0]);
    // Zero recovery: B loses 12 (but at most its buffer, 6).
    let c = threshold(&net, &shocks(&net, &[default("A")]), &furfine(0.0));
    assert_eq!(c.loss[1], 6.0);
}

#[test]
fn furfine_collateral_is_marked_at_current_prices() {
    // X falls 50%: D's cover on C becomes 4 · 0.5 · 0.5 = 1, unsecured 10. C, who pledged the
    // units, loses 4 · 0.5 = 2 at once (round 0).
    // round 1: B +6 → default; C 2 + 2 = 4; D +0.5.  round 2: C +3 = 7 ≥ 5 → default.
    // round 3: D +0.5 · 10 = 5 → 5.5 ≥ 5 → default; its reported loss is its buffer, 5, and
    // the attribution (A 0.5, C 5) is scaled by 5 / 5.5 to fit it.
    let net = furfine_net(6.0);
    let marks = shocks(
        &net,
        &[
            default("A"),
            Shock::Price {
                asset: "X".into(),
                change: -0.5,
            },
        ],
    );
    let c = threshold(&net, &marks, &furfine(0.5));
    assert_eq!(
        c.default_round,
        vec![Some(0), Some(1), Some(2), Some(3), None]
    );
    close("round 0 losses", c.rounds[0].losses, 12.0, TOL);
    close("loss D", c.loss[3], 5.0, 0.0);
    let d: Vec<f64> = c.caused_by[3].iter().map(|k| k.loss).collect();
    close("D from C", d[0], 5.0 * 5.0 / 5.5, TOL);
    close("D from A", d[1], 0.5 * 5.0 / 5.5, TOL);
}

// ---------------------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------------------

/// A random network: `n` firms with buffers (capital column), exposures between distinct
/// firms, and equity shocks.
#[derive(Debug, Clone)]
struct Random {
    net: Network,
    shocks: Vec<f64>,
}

fn random_network(max_firms: usize, max_row_sum: Option<f64>) -> impl Strategy<Value = Random> {
    (2..=max_firms)
        .prop_flat_map(move |n| {
            (
                Just(n),
                prop::collection::vec((0..n, 1..n, 0.1f64..10.0), 0..(3 * n)),
                prop::collection::vec(-5.0f64..20.0, n),
                prop::collection::vec(0.05f64..0.9, n),
                prop::collection::vec(0.0f64..1.0, n),
            )
        })
        .prop_map(move |(n, edges, capital, ratio, shocks)| {
            let exposures: Vec<Exposure> = edges
                .iter()
                .map(|&(c, d, a)| claim(c as u32, ((c + d) % n) as u32, a))
                .collect();
            let mut claims = vec![0.0; n];
            for e in &exposures {
                claims[e.creditor as usize] += e.amount;
            }
            let firms = (0..n)
                .map(|i| {
                    // Subcritical: buffers so that every row of Λ sums to `ratio < 0.9`.
                    let cap = match max_row_sum {
                        Some(_) if claims[i] > 0.0 => claims[i] / ratio[i],
                        Some(_) => 1.0,
                        None => capital[i],
                    };
                    firm(&format!("F{i}"), 10.0, Some(cap), None)
                })
                .collect();
            let scale = max_row_sum.map_or(1.0, |_| 0.05);
            Random {
                net: network(firms, exposures),
                shocks: shocks.iter().map(|s| s * scale).collect(),
            }
        })
}

impl Random {
    /// The same system with the firm table in reverse order (firm `i` becomes `n − 1 − i`);
    /// exposures keep their order.
    fn reversed(&self) -> Random {
        let n = self.net.n_firms() as u32;
        let r = |i: u32| n - 1 - i;
        let firms = self.net.firms().iter().rev().cloned().collect();
        let exposures = self
            .net
            .exposures()
            .iter()
            .map(|e| Exposure {
                creditor: r(e.creditor),
                debtor: r(e.debtor),
                ..*e
            })
            .collect();
        Random {
            net: network(firms, exposures),
            shocks: self.shocks.iter().rev().copied().collect(),
        }
    }
}

fn equity_marks(r: &Random, factor: f64) -> Marks {
    let mut m = Marks::book(&r.net);
    for (i, s) in r.shocks.iter().enumerate() {
        m.equity_shock[i] = (s * factor).min(1.0);
        m.shocked[i] = *s > 0.0;
    }
    m
}

/// Solves `(I − Λ) h = b` densely by Gaussian elimination with partial pivoting.
fn solve_closed_form(lambda: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let n = b.len();
    let mut a: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| if i == j { 1.0 } else { 0.0 } - lambda[i][j])
                .collect()
        })
        .collect();
    let mut x = b.to_vec();
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))
            .unwrap();
        a.swap(col, piv);
        x.swap(col, piv);
        for r in col + 1..n {
            let f = a[r][col] / a[col][col];
            for c in col..n {
                a[r][c] -= f * a[col][c];
            }
            x[r] -= f * x[col];
        }
    }
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|c| a[r][c] * x[c]).sum();
        x[r] = (x[r] - s) / a[r][r];
    }
    x
}

/// The threshold cascade or DebtRank, as `s.model` says.
fn buffer_model(net: &Network, m: &Marks, s: &Settings) -> BufferOutcome {
    if s.model == Model::Threshold {
        threshold(net, m, s)
    } else {
        debtrank(net, m, s)
    }
}

fn check_invariants(what: &str, c: &BufferOutcome) {
    for i in 0..c.distress.len() {
        let h = c.distress[i];
        assert!((0.0..=1.0).contains(&h), "{what}: h_{i} = {h}");
        assert!(c.initial_distress[i] <= h, "{what}: stress fell at {i}");
        let cap = c.buffer[i].max(0.0);
        assert!(
            c.loss[i] >= 0.0 && c.loss[i] <= cap * (1.0 + 1e-12),
            "{what}: loss {} > buffer {cap} at {i}",
            c.loss[i]
        );
        let attributed: f64 = c.caused_by[i].iter().map(|k| k.loss).sum();
        assert!(
            attributed <= c.loss[i] * (1.0 + 1e-9) + 1e-12,
            "{what}: attributions {attributed} exceed the loss {} at {i}",
            c.loss[i]
        );
        assert_eq!(c.defaulted[i], h >= 1.0, "{what}: default flag at {i}");
        assert_eq!(c.defaulted[i], c.cause[i].is_some(), "{what}: cause at {i}");
    }
    let total: f64 = c.rounds.iter().map(|r| r.losses).sum();
    let lost: f64 = c.loss.iter().sum();
    assert!(
        (total - lost).abs() <= 1e-9 * lost.max(1.0),
        "{what}: rounds lose {total}, firms {lost}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn linear_debtrank_is_the_closed_form_below_instability(r in random_network(6, Some(0.9))) {
        // Every row of Λ sums to less than 0.9, so ρ(Λ) < 0.9; shocks ≤ 0.05 keep
        // h ≤ 0.05 / (1 − 0.9) = 0.5: no cap binds and h = (I − Λ)⁻¹ h(1).
        let n = r.net.n_firms();
        let mut lambda = vec![vec![0.0; n]; n];
        for e in r.net.exposures() {
            let (i, j) = (e.creditor as usize, e.debtor as usize);
            lambda[i][j] += e.amount / r.net.firms()[i].capital.unwrap();
        }
        let want = solve_closed_form(&lambda, &r.shocks);
        let c = debtrank(&r.net, &equity_marks(&r, 1.0), &dr(Variant::Linear));
        prop_assert!(c.converged);
        for i in 0..n {
            prop_assert!((c.distress[i] - want[i]).abs() <= 1e-9,
                "h_{} = {}, closed form {}", i, c.distress[i], want[i]);
        }
        prop_assert!(c.spectral_radius.unwrap().upper < 0.9 + 1e-9);
    }

    /// The order of the firm table does not matter: with it reversed, every firm ends at
    /// the same stress and defaults or not in the same round, in every variant.
    #[test]
    fn firm_order_does_not_matter(r in random_network(7, None)) {
        let rev = r.reversed();
        let n = r.net.n_firms();
        for s in [
            dr(Variant::Linear),
            dr(Variant::SingleHit),
            Settings { nl_alpha: 3.0, ..dr(Variant::Nonlinear) },
            furfine(0.3),
        ] {
            let run = |x: &Random| buffer_model(&x.net, &equity_marks(x, 1.0), &s);
            let (a, b) = (run(&r), run(&rev));
            for i in 0..n {
                let j = n - 1 - i;
                prop_assert!((a.distress[i] - b.distress[j]).abs() <= 1e-9,
                    "{:?} {:?} firm {}: {} or {}", s.model, s.variant, i, a.distress[i], b.distress[j]);
                prop_assert_eq!(a.defaulted[i], b.defaulted[j]);
                prop_assert_eq!(a.default_round[i], b.default_round[j]);
            }
            prop_assert!((a.debtrank - b.debtrank).abs() <= 1e-9);
        }
    }

    #[test]
    fn nonlinear_with_zero_alpha_is_linear(r in random_network(7, None)) {
        let m = equity_marks(&r, 1.0);
        let lin = debtrank(&r.net, &m, &dr(Variant::Linear));
        let nl = debtrank(&r.net, &m, &Settings { nl_alpha: 0.0, ..dr(Variant::Nonlinear) });
        prop_assert_eq!(lin.distress, nl.distress);
        prop_assert_eq!(lin.debtrank, nl.debtrank);
        prop_assert_eq!(lin.default_round, nl.default_round);
    }

    #[test]
    fn stress_stays_in_bounds_and_losses_within_buffers(r in random_network(7, None)) {
        let m = equity_marks(&r, 1.0);
        for s in [
            dr(Variant::Linear),
            dr(Variant::SingleHit),
            Settings { nl_alpha: 3.0, ..dr(Variant::Nonlinear) },
            furfine(0.0),
            furfine(0.4),
        ] {
            let c = buffer_model(&r.net, &m, &s);
            check_invariants(&format!("{:?} {:?}", s.model, s.variant), &c);
        }
    }

    #[test]
    fn larger_shocks_never_reduce_stress(r in random_network(7, None), k in 1.0f64..4.0) {
        let small = equity_marks(&r, 1.0);
        let large = equity_marks(&r, k);
        for s in [
            dr(Variant::Linear),
            dr(Variant::SingleHit),
            Settings { nl_alpha: 3.0, ..dr(Variant::Nonlinear) },
            furfine(0.3),
        ] {
            let run = |m: &Marks| buffer_model(&r.net, m, &s);
            let (a, b) = (run(&small), run(&large));
            for i in 0..a.distress.len() {
                prop_assert!(b.distress[i] >= a.distress[i] - 1e-9,
                    "{:?}: h_{} fell from {} to {}", s.model, i, a.distress[i], b.distress[i]);
                prop_assert!(b.defaulted[i] || !a.defaulted[i]);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Command line: `simulate --model debtrank|threshold`.
// ---------------------------------------------------------------------------------------

/// The chain above as a CSV directory.
fn chain_dir() -> tempfile::TempDir {
    crate::util::temp_network(&[
        (
            "firms.csv",
            "id,name,kind,cash,other_assets,external_liabilities,capital,weight\n\
             A,A,bank,0,100,0,10,1\nB,B,bank,0,100,0,10,1\nC,C,bank,0,100,0,10,1\nD,D,fund,0,100,0,10,1\n",
        ),
        (
            "exposures.csv",
            "creditor,debtor,kind,amount\nB,A,loan,15\nC,B,loan,4\nD,C,equity,5\n",
        ),
    ])
}

fn simulate_json(dir: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = crate::util::cli()
        .arg("simulate")
        .arg(dir)
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort_unstable();
    k
}

#[test]
fn cli_debtrank_json() {
    let dir = chain_dir();
    let v = simulate_json(dir.path(), &["--model", "debtrank", "--default", "A"]);
    // Only the settings DebtRank reads are echoed.
    assert_eq!(
        keys(&v["model"]),
        ["max_iterations", "name", "tolerance", "variant"]
    );
    assert_eq!(v["model"]["variant"], "linear");
    assert_eq!(v["converged"], true);
    assert_eq!(v["iterations"], 3);
    let s = &v["summary"];
    assert!((s["debtrank"].as_f64().unwrap() - 0.4).abs() < 1e-12);
    assert!((s["initial_stress"].as_f64().unwrap() - 0.25).abs() < 1e-12);
    assert_eq!(s["spectral_radius"], 0.0);
    assert_eq!(s["defaults"], 2);
    assert!((s["total_losses"].as_f64().unwrap() - 26.0).abs() < 1e-12);
    let b = &v["firms"][1];
    assert_eq!(b["defaulted"], true);
    assert_eq!(b["default_round"], 1);
    assert_eq!(b["cause"], "counterparty_distress");
    assert_eq!(b["caused_by"][0]["firm"], "A");
    assert_eq!(b["caused_by"][0]["loss"], 10.0);
    assert_eq!(b["distress"], 1.0);
    assert_eq!(b["equity_before"], 10.0);
    assert_eq!(b["equity_after"], 0.0);
    assert!(b.get("payment").is_none() && b.get("recovery_rate").is_none());
    let d = &v["firms"][3];
    assert!((d["distress"].as_f64().unwrap() - 0.2).abs() < 1e-12);
    assert_eq!(d["default_round"], serde_json::Value::Null);
    assert_eq!(v["rounds"][1]["defaults"][0], "B");
}

#[test]
fn cli_debtrank_variants_and_threshold_echo_their_settings() {
    let dir = chain_dir();
    let v = simulate_json(
        dir.path(),
        &[
            "--model",
            "debtrank",
            "--variant",
            "single-hit",
            "--default",
            "A",
        ],
    );
    assert_eq!(v["model"]["variant"], "single-hit");
    // --nl-alpha implies the non-linear variant; h_D = 0.2 e^(−1.2) as derived above.
    let v = simulate_json(
        dir.path(),
        &["--model", "debtrank", "--nl-alpha", "2", "--default", "A"],
    );
    assert_eq!(v["model"]["variant"], "nonlinear");
    assert_eq!(v["model"]["nl_alpha"], 2.0);
    let h_d = v["firms"][3]["distress"].as_f64().unwrap();
    assert!((h_d - 0.2 * (-1.2f64).exp()).abs() < 1e-12);
    let v = simulate_json(
        dir.path(),
        &[
            "--model",
            "threshold",
            "--recovery",
            "0.5",
            "--default",
            "A",
        ],
    );
    assert_eq!(
        keys(&v["model"]),
        ["max_iterations", "name", "recovery", "tolerance"]
    );
    // B loses 0.5 · 15 = 7.5 < 10: no contagion.
    assert_eq!(v["summary"]["defaults"], 1);
    assert_eq!(v["firms"][1]["distress"], 0.75);
    // The clearing echo is unchanged.
    let v = simulate_json(dir.path(), &["--default", "A"]);
    assert_eq!(
        keys(&v["model"]),
        [
            "alpha",
            "beta",
            "external",
            "max_iterations",
            "name",
            "solver",
            "tolerance",
            "vector"
        ]
    );
}

#[test]
fn cli_equity_shocks_and_scenario_settings() {
    let dir = chain_dir();
    // 5% on everyone: h(1) = 0.05 each. The chain has no cycle and no cap binds, so each
    // firm ends at its own shock plus Λ times its debtor's final stress:
    // h_B = 0.05 + 1.5 · 0.05 = 0.125, h_C = 0.05 + 0.4 · 0.125 = 0.1,
    // h_D = 0.05 + 0.5 · 0.1 = 0.1.
    let v = simulate_json(
        dir.path(),
        &["--model", "debtrank", "--equity-shock", "*=5%"],
    );
    let h: Vec<f64> = (0..4)
        .map(|i| v["firms"][i]["distress"].as_f64().unwrap())
        .collect();
    for (got, want) in h.iter().zip([0.05, 0.125, 0.1, 0.1]) {
        assert!((got - want).abs() < 1e-12, "{h:?}");
    }
    // Settings from a scenario file; flags add shocks.
    let sc = dir.path().join("scenario.json");
    std::fs::write(
        &sc,
        r#"{"name": "a-fails", "shocks": [{"type": "default", "firm": "A"}],
            "settings": {"model": "debtrank", "variant": "single-hit"}}"#,
    )
    .unwrap();
    let v = simulate_json(dir.path(), &["--scenario", sc.to_str().unwrap()]);
    assert_eq!(v["model"]["name"], "debtrank");
    assert_eq!(v["model"]["variant"], "single-hit");
    assert!((v["summary"]["debtrank"].as_f64().unwrap() - 0.4).abs() < 1e-12);
}

#[test]
fn cli_table_names_the_model_and_the_debtrank() {
    let dir = chain_dir();
    let out = crate::util::cli()
        .arg("simulate")
        .arg(dir.path())
        .args(["--model", "debtrank", "--default", "A"])
        .output()
        .unwrap();
    let t = String::from_utf8(out.stdout).unwrap();
    assert!(t.contains("model debtrank (linear)"), "{t}");
    assert!(t.contains("Round 1: B (counterparty_distress: A)"), "{t}");
    assert!(t.contains("DebtRank 0.400000"), "{t}");
}

#[test]
fn cli_rejects_flags_the_model_would_ignore() {
    let dir = chain_dir();
    for args in [
        vec!["--variant", "linear"],
        vec!["--equity-shock", "A=0.1"],
        vec!["--model", "debtrank", "--recovery", "0.4"],
        vec!["--model", "debtrank", "--alpha", "0.5"],
        vec!["--model", "threshold", "--nl-alpha", "1"],
        vec![
            "--model",
            "debtrank",
            "--variant",
            "linear",
            "--nl-alpha",
            "1",
        ],
        vec!["--model", "debtrank", "--nl-alpha", "-1"],
        vec!["--model", "debtrank", "--equity-shock", "A=1.5"],
        vec!["--model", "debtrank", "--equity-shock", "A"],
        vec!["--model", "threshold", "--recovery", "2"],
    ] {
        let out = crate::util::cli()
            .arg("simulate")
            .arg(dir.path())
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}
