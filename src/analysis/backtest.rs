//! Back-testing: compare a simulation's defaults, and their order, with what happened.
//!
//! Each firm's `failed_on` (the date it actually failed or halted withdrawals) is the record
//! of what happened. A firm *failed in reality* when it has a `failed_on` on or before the
//! horizon (`until`; no horizon: any date counts). Against the model's verdict:
//!
//! | model \ reality | failed | did not fail |
//! |---|---|---|
//! | defaulted | `hit` | `false_alarm` |
//! | survived | `missed` | `correct_survivor` |
//!
//! `precision` = hits / (hits + false alarms), `recall` = hits / (hits + missed); `null` when
//! the denominator is zero.
//!
//! **Order agreement** is Kendall's tau-b between the model's default round and the real date
//! over the hits (the firms that failed in both). For every pair of hits: concordant when the
//! model and reality order them the same way, discordant when opposite; a pair in the same
//! round, or failing on the same day, is a tie. Ties are common (a whole wave of the cascade is
//! one round; a group of firms files the same day), so tau-b is used:
//! `τ_b = (C − D) / √((n₀ − n₁)(n₀ − n₂))` with `n₀` the number of pairs, `n₁` the pairs tied
//! in the model and `n₂` the pairs tied in reality (a pair tied in both counts in each). It is
//! 1 for the same order, −1 for the reverse, and `null` with fewer than two hits or when every
//! pair is tied on one side. The pair counts are reported alongside it, so a reader can see
//! how many comparisons it rests on.

use std::cmp::Ordering;
use std::fmt::Write;

use serde::Serialize;

use crate::engine::Cause;
use crate::error::{Error, Location};
use crate::model::Network;
use crate::report::{SimulationResult, cause_name};
use crate::scenario::Scenario;
use crate::settings::Settings;

/// How the model's verdict on a firm compares with what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Failed in reality and in the model.
    Hit,
    /// Failed in reality; survived in the model.
    Missed,
    /// Survived in reality; failed in the model.
    FalseAlarm,
    /// Survived in both.
    CorrectSurvivor,
}

impl Outcome {
    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Hit => "hit",
            Outcome::Missed => "missed",
            Outcome::FalseAlarm => "false_alarm",
            Outcome::CorrectSurvivor => "correct_survivor",
        }
    }
}

/// One firm's comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FirmCheck {
    /// Firm id.
    pub id: String,
    /// Real failure or halt date as recorded (also when it lies after the horizon).
    pub failed_on: Option<String>,
    /// Whether the firm counts as failed in reality: a `failed_on` on or before the horizon.
    pub failed: bool,
    /// Whether the model has the firm in default.
    pub model_defaulted: bool,
    /// Round of the model's default (0 = failed outright).
    pub model_round: Option<u32>,
    /// The model's cause of default.
    pub cause: Option<Cause>,
    /// Comparison.
    pub outcome: Outcome,
    /// Whether the firm owes anything at all (a firm without obligations cannot default in
    /// the clearing and cascade models, so its survival says little).
    pub owes: bool,
}

/// Pair counts behind Kendall's tau-b.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct OrderPairs {
    /// Pairs of hits compared.
    pub pairs: usize,
    /// Ordered the same way by the model and by reality.
    pub concordant: usize,
    /// Ordered opposite ways.
    pub discordant: usize,
    /// Same model round, different real dates.
    pub tied_model: usize,
    /// Same real date, different model rounds.
    pub tied_real: usize,
    /// Same round and same date.
    pub tied_both: usize,
}

/// Scores of a back-test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestSummary {
    /// Firms compared (every firm of the network).
    pub firms: usize,
    /// Failed in both.
    pub hits: usize,
    /// Failed in reality only.
    pub missed: usize,
    /// Failed in the model only.
    pub false_alarms: usize,
    /// Survived in both.
    pub correct_survivors: usize,
    /// Correct survivors that owe nothing (they cannot default in the model).
    pub survivors_without_debt: usize,
    /// hits / (hits + false alarms).
    pub precision: Option<f64>,
    /// hits / (hits + missed).
    pub recall: Option<f64>,
    /// Kendall's tau-b between model round and real date over the hits.
    pub kendall_tau: Option<f64>,
    /// The pair counts it rests on.
    pub order: OrderPairs,
}

/// A back-test of one simulation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backtest {
    /// Network name.
    pub network: Option<String>,
    /// Model and every setting used.
    pub model: Settings,
    /// Scenario as applied.
    pub scenario: Scenario,
    /// Horizon: real failures after this date count as survivals.
    pub until: Option<String>,
    /// Every firm, in input order.
    pub firms: Vec<FirmCheck>,
    /// Scores.
    pub summary: BacktestSummary,
    /// Remarks (overlay notes, firms without a failure date, …).
    pub notes: Vec<String>,
}

/// Checks a `YYYY-MM-DD` date (for the horizon).
pub fn check_date(s: &str) -> Result<(), Error> {
    crate::io::raw::check_date(s)
        .map_err(|m| Error::input(Location::file("command line").with_field("--until"), m))
}

/// Compares `result` (a simulation of `net`) with the firms' real failure dates. `until`
/// (`YYYY-MM-DD`) is the horizon; real failures after it count as survivals.
///
/// `result` must come from `net` (same firms in the same order); a mismatch is an error.
pub fn backtest(
    net: &Network,
    result: &SimulationResult,
    until: Option<&str>,
) -> Result<Backtest, Error> {
    if let Some(u) = until {
        check_date(u)?;
    }
    if result.firms.len() != net.n_firms()
        || result
            .firms
            .iter()
            .zip(net.firms())
            .any(|(r, f)| r.id != f.id)
    {
        return Err(Error::Invalid(
            "the simulation result does not belong to this network (its firms differ)".into(),
        ));
    }
    let mut firms = Vec::with_capacity(net.n_firms());
    for (f, r) in net.firms().iter().zip(&result.firms) {
        // Dates are validated as YYYY-MM-DD, so text order is date order.
        let failed = match (&f.failed_on, until) {
            (Some(d), Some(u)) => d.as_str() <= u,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let outcome = match (failed, r.defaulted) {
            (true, true) => Outcome::Hit,
            (true, false) => Outcome::Missed,
            (false, true) => Outcome::FalseAlarm,
            (false, false) => Outcome::CorrectSurvivor,
        };
        firms.push(FirmCheck {
            id: f.id.clone(),
            failed_on: f.failed_on.clone(),
            failed,
            model_defaulted: r.defaulted,
            model_round: if r.defaulted { r.default_round } else { None },
            cause: if r.defaulted { r.cause } else { None },
            outcome,
            owes: r.obligations.is_none_or(|o| o > 0.0),
        });
    }
    let count = |o: Outcome| firms.iter().filter(|f| f.outcome == o).count();
    let (hits, missed, false_alarms, correct_survivors) = (
        count(Outcome::Hit),
        count(Outcome::Missed),
        count(Outcome::FalseAlarm),
        count(Outcome::CorrectSurvivor),
    );
    let ratio = |a: usize, b: usize| (b > 0).then(|| a as f64 / b as f64);
    let hit_list: Vec<(u32, &str)> = firms
        .iter()
        .filter(|f| f.outcome == Outcome::Hit)
        .filter_map(|f| Some((f.model_round?, f.failed_on.as_deref()?)))
        .collect();
    let (kendall_tau, order) = kendall_tau_b(&hit_list);
    let mut notes = Vec::new();
    if net.firms().iter().all(|f| f.failed_on.is_none()) {
        notes.push("no firm has a failed_on date: every default is a false alarm".into());
    }
    Ok(Backtest {
        network: net.meta().name.clone(),
        model: result.model.clone(),
        scenario: result.scenario.clone(),
        until: until.map(String::from),
        summary: BacktestSummary {
            firms: firms.len(),
            hits,
            missed,
            false_alarms,
            correct_survivors,
            survivors_without_debt: firms
                .iter()
                .filter(|f| f.outcome == Outcome::CorrectSurvivor && !f.owes)
                .count(),
            precision: ratio(hits, hits + false_alarms),
            recall: ratio(hits, hits + missed),
            kendall_tau,
            order,
        },
        firms,
        notes,
    })
}

/// Kendall's tau-b between the first and second components (see the module docs), with the
/// pair counts. `None` with fewer than two items or when every pair is tied on one side.
pub fn kendall_tau_b<X: Ord, Y: Ord>(items: &[(X, Y)]) -> (Option<f64>, OrderPairs) {
    let mut o = OrderPairs::default();
    for i in 0..items.len() {
        for j in i + 1..items.len() {
            o.pairs += 1;
            match (items[i].0.cmp(&items[j].0), items[i].1.cmp(&items[j].1)) {
                (Ordering::Equal, Ordering::Equal) => o.tied_both += 1,
                (Ordering::Equal, _) => o.tied_model += 1,
                (_, Ordering::Equal) => o.tied_real += 1,
                (a, b) if a == b => o.concordant += 1,
                _ => o.discordant += 1,
            }
        }
    }
    let n0 = o.pairs as f64;
    let n1 = (o.tied_model + o.tied_both) as f64;
    let n2 = (o.tied_real + o.tied_both) as f64;
    let den = ((n0 - n1) * (n0 - n2)).sqrt();
    let tau = (den > 0.0).then(|| (o.concordant as f64 - o.discordant as f64) / den);
    (tau, o)
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.1}%", 100.0 * v))
}

impl Backtest {
    /// The back-test as pretty JSON text (with a final newline).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        s.push('\n');
        s
    }

    /// The back-test as text for people: the firms that failed in reality or in the model
    /// (by real date, then model round), the correct survivors in one list, and the scores.
    pub fn render_table(&self) -> String {
        let mut s = String::new();
        let m = &self.model;
        let _ = writeln!(
            s,
            "{}: backtest of {}, model {} (alpha {}, beta {}, external {}){}",
            self.network.as_deref().unwrap_or("network"),
            self.scenario
                .name
                .as_deref()
                .map_or("the shocks given".to_string(), |n| format!("scenario {n}")),
            m.model.as_str(),
            m.alpha,
            m.beta,
            serde_json::to_value(m.external)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            self.until
                .as_deref()
                .map(|u| format!("; real failures up to {u}"))
                .unwrap_or_default(),
        );
        let _ = writeln!(s);
        let mut shown: Vec<&FirmCheck> = self
            .firms
            .iter()
            .filter(|f| f.outcome != Outcome::CorrectSurvivor || f.failed_on.is_some())
            .collect();
        // Real failures by date, then false alarms and later failures by model round.
        shown.sort_by(|a, b| {
            let key = |f: &FirmCheck| {
                (
                    !f.failed,
                    if f.failed { f.failed_on.clone() } else { None },
                    f.model_round,
                )
            };
            key(a).cmp(&key(b))
        });
        let mut rows = vec![vec![
            "firm".to_string(),
            "failed on".to_string(),
            "model round".to_string(),
            "model cause".to_string(),
            "outcome".to_string(),
        ]];
        for f in &shown {
            let date = match (&f.failed_on, f.failed) {
                (Some(d), true) => d.clone(),
                (Some(d), false) => format!("{d} (after horizon)"),
                (None, _) => "-".to_string(),
            };
            rows.push(vec![
                f.id.clone(),
                date,
                f.model_round.map_or("-".into(), |r| r.to_string()),
                f.cause.map_or("-", cause_name).to_string(),
                f.outcome.as_str().replace('_', " "),
            ]);
        }
        let width: Vec<usize> = (0..5)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for r in &rows {
            let mut line = String::new();
            for (c, cell) in r.iter().enumerate() {
                let fill = width[c] - cell.chars().count();
                if c == 2 {
                    line.push_str(&" ".repeat(fill));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(fill));
                }
                line.push_str("  ");
            }
            let _ = writeln!(s, "{}", line.trim_end());
        }
        let survivors: Vec<&str> = self
            .firms
            .iter()
            .filter(|f| f.outcome == Outcome::CorrectSurvivor && f.failed_on.is_none())
            .map(|f| f.id.as_str())
            .collect();
        if !survivors.is_empty() {
            let _ = writeln!(s);
            let mut line = format!("Correct survivors ({}):", survivors.len());
            for id in survivors {
                if line.chars().count() + id.len() + 1 > 96 {
                    let _ = writeln!(s, "{line}");
                    line = " ".to_string();
                }
                line.push(' ');
                line.push_str(id);
                line.push(',');
            }
            let _ = writeln!(s, "{}", line.trim_end_matches(','));
        }
        let t = &self.summary;
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "Hits {}, missed {}, false alarms {}, correct survivors {} ({} of them owe nothing and cannot fail in the model).",
            t.hits, t.missed, t.false_alarms, t.correct_survivors, t.survivors_without_debt
        );
        let _ = writeln!(
            s,
            "Precision {}, recall {}.",
            pct(t.precision),
            pct(t.recall)
        );
        let o = &t.order;
        let _ = writeln!(
            s,
            "Order agreement over the {} hits (Kendall's tau-b between model round and real date): {} ({} pairs: {} concordant, {} discordant, {} tied in the model, {} tied in reality, {} tied in both).",
            t.hits,
            t.kendall_tau
                .map_or("undefined".into(), |x| format!("{x:.2}")),
            o.pairs,
            o.concordant,
            o.discordant,
            o.tied_model,
            o.tied_real,
            o.tied_both
        );
        for n in &self.notes {
            let _ = writeln!(s, "Note: {n}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tau_b_matches_hand_counts() {
        // Same order: 1; reverse: -1.
        assert_eq!(kendall_tau_b(&[(1, 1), (2, 2), (3, 3)]).0, Some(1.0));
        assert_eq!(kendall_tau_b(&[(1, 3), (2, 2), (3, 1)]).0, Some(-1.0));
        // x = (1, 1, 2), y = (1, 2, 3): pairs (a,b) tied in x, (a,c) and (b,c) concordant.
        // n0 = 3, n1 = 1, n2 = 0: tau_b = 2 / sqrt(2 * 3).
        let (t, o) = kendall_tau_b(&[(1, 1), (1, 2), (2, 3)]);
        assert_eq!(
            (o.concordant, o.discordant, o.tied_model, o.tied_real),
            (2, 0, 1, 0)
        );
        assert!((t.unwrap() - 2.0 / 6f64.sqrt()).abs() < 1e-15);
        // Everything tied on one side, or fewer than two items: undefined.
        assert_eq!(kendall_tau_b(&[(1, 1), (1, 2)]).0, None);
        assert_eq!(kendall_tau_b::<u32, u32>(&[(1, 1)]).0, None);
    }
}
