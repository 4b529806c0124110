//! Aligned text tables for people.

use std::fmt::Write;

use super::{SimulationResult, cause_name, human_amount};
use crate::settings::{Model, Variant};

fn pad(rows: &[Vec<String>], right_align: &[bool]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            let w = width[c];
            let fill = w - cell.chars().count();
            if c > 0 {
                line.push_str("  ");
            }
            if right_align.get(c).copied().unwrap_or(false) {
                line.push_str(&" ".repeat(fill));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(fill));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The result as text: settings, the cascade round by round, a per-firm table sorted by
/// default round (then input order), and totals.
pub fn render_table(r: &SimulationResult) -> String {
    if matches!(r.model.model, Model::Debtrank | Model::Threshold) {
        return render_buffers(r);
    }
    let mut s = String::new();
    let cur = &r.network.currency;
    let name = r.network.name.as_deref().unwrap_or("network");
    let m = &r.model;
    let _ = writeln!(
        s,
        "{name}: {} firms, model {} (alpha {}, beta {}, external {}, {} vector){}",
        r.summary.firms,
        m.model.as_str(),
        m.alpha,
        m.beta,
        serde_json::to_value(m.external)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        serde_json::to_value(m.vector)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        r.scenario
            .name
            .as_ref()
            .map(|n| format!(", scenario {n}"))
            .unwrap_or_default(),
    );
    if r.scenario.shocks.is_empty() {
        let _ = writeln!(s, "No shocks: the network is cleared as it stands.");
    }
    let _ = writeln!(s);
    if r.rounds.is_empty() {
        let _ = writeln!(s, "No firm defaults.");
    }
    for round in &r.rounds {
        let names: Vec<String> = round
            .defaults
            .iter()
            .map(|id| {
                let f = r.firms.iter().find(|f| &f.id == id);
                let cause = f.and_then(|f| f.cause).map(cause_name).unwrap_or("");
                let by = f
                    .map(|f| {
                        f.caused_by
                            .iter()
                            .take(3)
                            .map(|c| {
                                c.firm
                                    .as_deref()
                                    .or(c.asset.as_deref())
                                    .unwrap_or("withdrawal shock")
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                if by.is_empty() {
                    format!("{id} ({cause})")
                } else {
                    format!("{id} ({cause}: {by})")
                }
            })
            .collect();
        let _ = writeln!(
            s,
            "Round {}: {}{}",
            round.round,
            names.join("; "),
            if round.losses > 0.0 {
                format!("  [shortfall +{} {cur}]", human_amount(round.losses))
            } else {
                String::new()
            }
        );
    }
    if r.price_path.len() > 1 {
        let _ = writeln!(s);
        for (a, id) in r.summary.final_prices.keys().enumerate() {
            let path: Vec<String> = r
                .price_path
                .iter()
                .filter_map(|p| p.prices.get(id).and_then(|v| v.as_f64()))
                .map(price_text)
                .collect();
            let mut shown: Vec<String> = Vec::new();
            for p in path {
                if shown.last() != Some(&p) {
                    shown.push(p);
                }
            }
            if shown.len() > 1 || a < 8 {
                let _ = writeln!(s, "Price of {id}: {}", shown.join(" → "));
            }
        }
    }
    let _ = writeln!(s);
    let mut order: Vec<usize> = (0..r.firms.len()).collect();
    order.sort_by_key(|&i| (r.firms[i].default_round.map_or(u32::MAX, |x| x), i));
    let mut rows = vec![vec![
        "firm".to_string(),
        "kind".into(),
        "round".into(),
        "cause".into(),
        format!("equity before ({cur})"),
        "equity after".into(),
        "paid".into(),
        "owed".into(),
        "recovery".into(),
    ]];
    for &i in &order {
        let f = &r.firms[i];
        rows.push(vec![
            f.id.clone(),
            f.kind.clone(),
            f.default_round
                .map(|x| x.to_string())
                .unwrap_or_else(|| "-".into()),
            match (f.cause, f.halted) {
                (Some(c), Some(true)) => format!("{} (halted)", cause_name(c)),
                (Some(c), _) => cause_name(c).to_string(),
                (None, _) => "-".to_string(),
            },
            human_amount(f.equity_before),
            human_amount(f.equity_after),
            f.payment.map(human_amount).unwrap_or_default(),
            f.obligations.map(human_amount).unwrap_or_default(),
            f.recovery_rate
                .map(|x| format!("{:.1}%", 100.0 * x))
                .unwrap_or_default(),
        ]);
    }
    let tot = |g: fn(&super::FirmOutcome) -> f64| r.firms.iter().map(g).sum::<f64>();
    rows.push(vec![
        "TOTAL".into(),
        String::new(),
        String::new(),
        format!("{} defaults", r.summary.defaults),
        human_amount(tot(|f| f.equity_before)),
        human_amount(tot(|f| f.equity_after)),
        human_amount(tot(|f| f.payment.unwrap_or(0.0))),
        human_amount(tot(|f| f.obligations.unwrap_or(0.0))),
        String::new(),
    ]);
    s.push_str(&pad(
        &rows,
        &[false, false, true, false, true, true, true, true, true],
    ));
    let _ = writeln!(
        s,
        "\nLosses: {} {cur} in total ({} equity of firms in the network, {} external creditors).",
        human_amount(r.summary.total_losses),
        human_amount(r.summary.equity_losses),
        human_amount(r.summary.external_losses),
    );
    if !r.converged {
        let _ = writeln!(
            s,
            "WARNING: did not converge in {} iterations.",
            r.iterations
        );
    }
    for n in &r.notes {
        let _ = writeln!(s, "Note: {n}");
    }
    s
}

/// A price for people: four decimals, or three significant digits when it is tiny.
fn price_text(x: f64) -> String {
    if x == 0.0 || x.abs() >= 0.01 {
        format!("{x:.4}")
    } else {
        format!("{x:.3e}")
    }
}

/// Table of a buffer-based cascade (DebtRank, threshold): rounds with defaults, then every
/// firm sorted by default round, then by distress (largest first), then input order.
fn render_buffers(r: &SimulationResult) -> String {
    let mut s = String::new();
    let cur = &r.network.currency;
    let name = r.network.name.as_deref().unwrap_or("network");
    let m = &r.model;
    let detail = match m.model {
        Model::Debtrank if m.variant == Variant::Nonlinear => {
            format!("nonlinear, nl_alpha {}", m.nl_alpha)
        }
        Model::Debtrank => m.variant.as_str().to_string(),
        _ => format!("recovery {}", m.recovery),
    };
    let _ = writeln!(
        s,
        "{name}: {} firms, model {} ({detail}){}",
        r.summary.firms,
        m.model.as_str(),
        r.scenario
            .name
            .as_ref()
            .map(|n| format!(", scenario {n}"))
            .unwrap_or_default(),
    );
    if r.scenario.shocks.is_empty() {
        let _ = writeln!(s, "No shocks.");
    }
    let _ = writeln!(s);
    let with_defaults: Vec<_> = r.rounds.iter().filter(|x| !x.defaults.is_empty()).collect();
    if with_defaults.is_empty() {
        let _ = writeln!(s, "No firm defaults.");
    }
    for round in with_defaults {
        let names: Vec<String> = round
            .defaults
            .iter()
            .map(|id| {
                let f = r.firms.iter().find(|f| &f.id == id);
                let cause = f.and_then(|f| f.cause).map(cause_name).unwrap_or("");
                let by: Vec<&str> = f
                    .map(|f| {
                        f.caused_by
                            .iter()
                            .take(3)
                            .map(|c| c.firm.as_deref().unwrap_or("-"))
                            .collect()
                    })
                    .unwrap_or_default();
                if by.is_empty() {
                    format!("{id} ({cause})")
                } else {
                    format!("{id} ({cause}: {})", by.join(", "))
                }
            })
            .collect();
        let _ = writeln!(s, "Round {}: {}", round.round, names.join("; "));
    }
    let _ = writeln!(s, "{} propagation rounds.\n", r.iterations);
    let mut order: Vec<usize> = (0..r.firms.len()).collect();
    order.sort_by(|&a, &b| {
        let (fa, fb) = (&r.firms[a], &r.firms[b]);
        fa.default_round
            .unwrap_or(u32::MAX)
            .cmp(&fb.default_round.unwrap_or(u32::MAX))
            .then(fb.distress.total_cmp(&fa.distress))
            .then(a.cmp(&b))
    });
    let mut rows = vec![vec![
        "firm".to_string(),
        "kind".into(),
        "round".into(),
        "cause".into(),
        format!("buffer ({cur})"),
        "loss".into(),
        "distress".into(),
    ]];
    for &i in &order {
        let f = &r.firms[i];
        rows.push(vec![
            f.id.clone(),
            f.kind.clone(),
            f.default_round
                .map(|x| x.to_string())
                .unwrap_or_else(|| "-".into()),
            f.cause.map(cause_name).unwrap_or("-").to_string(),
            human_amount(f.equity_before),
            human_amount(f.loss),
            format!("{:.2}%", 100.0 * f.distress),
        ]);
    }
    rows.push(vec![
        "TOTAL".into(),
        String::new(),
        String::new(),
        format!("{} defaults", r.summary.defaults),
        human_amount(r.firms.iter().map(|f| f.equity_before.max(0.0)).sum()),
        human_amount(r.summary.equity_losses),
        String::new(),
    ]);
    s.push_str(&pad(&rows, &[false, false, true, false, true, true, true]));
    if let Some(d) = r.summary.debtrank {
        let _ = writeln!(
            s,
            "\nDebtRank {d:.6} (stress added by propagation, weighted), initial stress {:.6}.",
            r.summary.initial_stress.unwrap_or(0.0)
        );
    }
    if let Some(rho) = r.summary.spectral_radius {
        let _ = writeln!(s, "Spectral radius of the leverage matrix: {rho:.6}.");
    }
    let _ = writeln!(
        s,
        "Losses: {} {cur} of equity.",
        human_amount(r.summary.equity_losses)
    );
    if !r.converged {
        let _ = writeln!(s, "WARNING: did not converge in {} rounds.", r.iterations);
    }
    for n in &r.notes {
        let _ = writeln!(s, "Note: {n}");
    }
    s
}
