//! Results of a simulation in one model-independent shape, and its writers (table, JSON,
//! CSV). The JSON field names are a contract (see `docs/formats.md`).

mod table;

use serde::Serialize;

use crate::engine::buffers::{BufferOutcome, WeightSource};
use crate::engine::cascade::{Cascade, EventKind};
use crate::engine::clearing::Clearing;
use crate::engine::{Cause, Round};
use crate::model::Network;
use crate::scenario::{Marks, Scenario};
use crate::settings::Settings;

pub use table::render_table;

/// What carried a default: a counterparty (a debtor in default, a creditor calling margin,
/// the firm whose failure started a run), an asset whose price fell, or both.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CausedBy {
    /// Counterparty id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firm: Option<String>,
    /// Asset id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    /// Amount carried (currency units): loss transmitted, unmet call or unpaid withdrawal.
    pub loss: f64,
}

/// Outcome for one firm. Amounts in the network's currency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FirmOutcome {
    /// Firm id.
    pub id: String,
    /// Firm name.
    pub name: String,
    /// Firm kind.
    pub kind: String,
    /// Whether the firm defaulted (or failed outright, or halted).
    pub defaulted: bool,
    /// Whether the default is a liquidity default (halted by a margin call or a run); cascade
    /// model only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub halted: Option<bool>,
    /// Round of first default (0 = failed outright).
    pub default_round: Option<u32>,
    /// Why it defaulted.
    pub cause: Option<Cause>,
    /// Counterparties that pushed it over, largest loss first.
    pub caused_by: Vec<CausedBy>,
    /// Book equity before the shock (may be negative).
    pub equity_before: f64,
    /// Equity after propagation (≥ 0 under limited liability).
    pub equity_after: f64,
    /// Equity lost: `max(0, equity_before) − equity_after`, floored at 0.
    pub loss: f64,
    /// Relative equity loss in `[0, 1]` (DebtRank's `h`); 1 for a firm in default.
    pub distress: f64,
    /// Total paid to creditors (clearing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<f64>,
    /// Total owed, `p̄` (clearing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub obligations: Option<f64>,
    /// `payment / obligations` (1 when nothing is owed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_rate: Option<f64>,
}

/// One round, with ids.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundOutcome {
    /// Round number.
    pub round: u32,
    /// Firms newly in default in this round.
    pub defaults: Vec<String>,
    /// Losses transmitted in this round.
    pub losses: f64,
}

/// System-wide figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Number of firms.
    pub firms: usize,
    /// Number of firms in default.
    pub defaults: usize,
    /// Equity lost by firms plus losses of external creditors (currency units).
    pub total_losses: f64,
    /// Equity lost by firms in the network.
    pub equity_losses: f64,
    /// Shortfall of payments to creditors outside the network.
    pub external_losses: f64,
    /// Total obligations minus total payments (clearing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_shortfall: Option<f64>,
    /// System DebtRank, when computed: `Σ v_i (h_i − h_i(1))`, the weighted stress added by
    /// propagation, excluding the initial shock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debtrank: Option<f64>,
    /// Weighted stress of the initial shock, `Σ v_i h_i(1)` (DebtRank, threshold).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_stress: Option<f64>,
    /// Spectral radius of the leverage matrix `Λ` (DebtRank): above 1 the linear dynamics
    /// amplify distress.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spectral_radius: Option<f64>,
    /// Asset prices after the shocks, by asset id.
    pub final_prices: serde_json::Map<String, serde_json::Value>,
}

/// Everything a simulation reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulationResult {
    /// Network name and currency.
    pub network: NetworkInfo,
    /// Model and every setting used.
    pub model: Settings,
    /// Scenario: name and shocks.
    pub scenario: Scenario,
    /// Whether the computation converged.
    pub converged: bool,
    /// Iterations performed.
    pub iterations: usize,
    /// Rounds of the cascade, in order.
    pub rounds: Vec<RoundOutcome>,
    /// Every firm, in input order.
    pub firms: Vec<FirmOutcome>,
    /// System-wide figures.
    pub summary: Summary,
    /// Remarks a reader should see (non-uniqueness, caps hit, …).
    pub notes: Vec<String>,
    /// Prices after each round in which they moved (cascade model).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub price_path: Vec<PricePoint>,
    /// Margin calls, seizures, withdrawals and liquidations, in order (cascade model).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventRecord>,
}

/// Prices at the end of a round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PricePoint {
    /// Round.
    pub round: u32,
    /// Price of each asset, by id.
    pub prices: serde_json::Map<String, serde_json::Value>,
}

/// One event of the cascade, with ids.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    /// Round.
    pub round: u32,
    /// `margin_call`, `seizure`, `withdrawal` or `liquidation`.
    pub kind: &'static str,
    /// Firm acting (debtor called, firm paying depositors, seller).
    pub firm: String,
    /// Counterparty, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterparty: Option<String>,
    /// Asset, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    /// Amount demanded (currency) or units sold.
    pub amount: f64,
    /// Amount paid or raised (currency).
    pub paid: f64,
}

/// Identification of the network a result refers to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkInfo {
    /// Dataset name.
    pub name: Option<String>,
    /// Currency of every amount.
    pub currency: String,
}

impl NetworkInfo {
    /// Name and currency of `net`.
    fn of(net: &Network) -> Self {
        Self {
            name: net.meta().name.clone(),
            currency: net.meta().currency.clone(),
        }
    }
}

/// Counterparties that pushed a firm over, with ids.
fn counterparties(net: &Network, by: &[crate::engine::Contribution]) -> Vec<CausedBy> {
    by.iter()
        .map(|k| CausedBy {
            firm: Some(net.firm_id(k.firm as usize).to_string()),
            asset: None,
            loss: finite(k.loss),
        })
        .collect()
}

/// Finite or zero: JSON never carries NaN or infinities.
fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

fn distress(before: f64, after: f64, defaulted: bool) -> f64 {
    if defaulted {
        1.0
    } else if before > 0.0 {
        ((before - after) / before).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

fn rounds_with_ids(net: &Network, rounds: &[Round]) -> Vec<RoundOutcome> {
    rounds
        .iter()
        .map(|r| RoundOutcome {
            round: r.round,
            defaults: r
                .defaults
                .iter()
                .map(|&i| net.firm_id(i as usize).to_string())
                .collect(),
            losses: finite(r.losses),
        })
        .collect()
}

fn final_prices(net: &Network, marks: &Marks) -> serde_json::Map<String, serde_json::Value> {
    net.assets()
        .iter()
        .zip(&marks.prices)
        .map(|(a, &p)| (a.id.clone(), serde_json::json!(finite(p))))
        .collect()
}

impl SimulationResult {
    /// Builds the report of a clearing run.
    pub fn from_clearing(
        net: &Network,
        scenario: &Scenario,
        settings: &Settings,
        marks: &Marks,
        c: &Clearing,
    ) -> Self {
        let n = net.n_firms();
        let mut firms = Vec::with_capacity(n);
        let mut equity_losses = 0.0;
        let mut external_losses = 0.0;
        for i in 0..n {
            let f = &net.firms()[i];
            let loss = (c.equity_before[i].max(0.0) - c.equity_after[i]).max(0.0);
            equity_losses += loss;
            let external_paid = c.payments[i] - c.interbank_payments[i];
            external_losses += (f.external_liabilities - external_paid).max(0.0);
            firms.push(FirmOutcome {
                id: f.id.clone(),
                name: f.name.clone(),
                kind: f.kind.to_string(),
                defaulted: c.defaulted[i],
                halted: None,
                default_round: c.default_round[i],
                cause: c.cause[i],
                caused_by: counterparties(net, &c.caused_by[i]),
                equity_before: finite(c.equity_before[i]),
                equity_after: finite(c.equity_after[i]),
                loss: finite(loss),
                distress: distress(c.equity_before[i], c.equity_after[i], c.defaulted[i]),
                payment: Some(finite(c.payments[i])),
                obligations: Some(finite(c.obligations[i])),
                recovery_rate: Some(if c.obligations[i] > 0.0 {
                    finite((c.payments[i] / c.obligations[i]).clamp(0.0, 1.0))
                } else {
                    1.0
                }),
            });
        }
        let mut notes = Vec::new();
        if !c.converged {
            notes.push(format!(
                "the iteration cap ({}) was reached before convergence: payments are upper bounds",
                settings.max_iterations
            ));
        }
        if c.least_checked {
            if c.differs_from_least.is_empty() {
                notes.push("the greatest and least clearing vectors coincide".into());
            } else {
                let ids: Vec<&str> = c
                    .differs_from_least
                    .iter()
                    .map(|&i| net.firm_id(i as usize))
                    .collect();
                notes.push(format!(
                    "the clearing vector is not unique: greatest and least differ for {}; {} reported",
                    ids.join(", "),
                    match settings.vector {
                        crate::settings::Vector::Greatest => "greatest",
                        crate::settings::Vector::Least => "least",
                    }
                ));
            }
        }
        let total_obl: f64 = c.obligations.iter().sum();
        let total_paid: f64 = c.payments.iter().sum();
        Self {
            network: NetworkInfo::of(net),
            model: settings.clone(),
            scenario: scenario.clone(),
            converged: c.converged,
            iterations: c.iterations,
            rounds: rounds_with_ids(net, &c.rounds),
            summary: Summary {
                firms: n,
                defaults: c.defaulted.iter().filter(|&&d| d).count(),
                total_losses: finite(equity_losses + external_losses),
                equity_losses: finite(equity_losses),
                external_losses: finite(external_losses),
                payment_shortfall: Some(finite((total_obl - total_paid).max(0.0))),
                debtrank: None,
                initial_stress: None,
                spectral_radius: None,
                final_prices: final_prices(net, marks),
            },
            firms,
            notes,
            price_path: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Builds the report of a buffer-based cascade (DebtRank or threshold). `equity_before`
    /// is the buffer the model used (capital when given, else book equity), `equity_after`
    /// what is left of it, `loss` the difference; `payment`, `obligations` and
    /// `recovery_rate` are absent (these models do not clear payments), and external
    /// creditors' losses are not modelled (0).
    pub fn from_buffers(
        net: &Network,
        scenario: &Scenario,
        settings: &Settings,
        marks: &Marks,
        c: &BufferOutcome,
    ) -> Self {
        let n = net.n_firms();
        let firms: Vec<FirmOutcome> = (0..n)
            .map(|i| {
                let f = &net.firms()[i];
                let buffer = c.buffer[i];
                FirmOutcome {
                    id: f.id.clone(),
                    name: f.name.clone(),
                    kind: f.kind.to_string(),
                    defaulted: c.defaulted[i],
                    halted: None,
                    default_round: c.default_round[i],
                    cause: c.cause[i],
                    caused_by: counterparties(net, &c.caused_by[i]),
                    equity_before: finite(buffer),
                    equity_after: finite((buffer.max(0.0) - c.loss[i]).max(0.0)),
                    loss: finite(c.loss[i]),
                    distress: finite(c.distress[i]),
                    payment: None,
                    obligations: None,
                    recovery_rate: None,
                }
            })
            .collect();
        let equity_losses: f64 = c.loss.iter().sum();
        let mut notes = Vec::new();
        if !c.converged {
            notes.push(format!(
                "the round cap ({}) was reached before the cascade stopped: stresses and losses are lower bounds",
                settings.max_iterations
            ));
        }
        let insolvent = c.buffer.iter().filter(|&&e| e <= 0.0).count();
        if insolvent > 0 {
            notes.push(format!(
                "{insolvent} firm(s) have a zero or negative buffer: reported in default from round 0 (initially_insolvent); such a firm passes on losses only when a default shock names it"
            ));
        }
        if c.weight_source == WeightSource::Column && c.missing_weights > 0 {
            notes.push(format!(
                "{} firm(s) have no weight: they count as 0 in the system DebtRank",
                c.missing_weights
            ));
        }
        if let Some(r) = c.spectral_radius {
            if !r.converged {
                notes.push(format!(
                    "the spectral radius did not converge in {} power-iteration sweeps: it lies in [{}, {}]",
                    r.sweeps, r.lower, r.upper
                ));
            }
            if r.lower >= 1.0 {
                notes.push(format!(
                    "the spectral radius of the leverage matrix is {:.6} ≥ 1: the linear dynamics amplify distress",
                    r.value
                ));
            }
        }
        if marks.withdrawal.iter().any(|&w| w > 0.0) {
            notes.push(format!(
                "withdrawal shocks have no effect in the {} model (it propagates solvency losses, not liquidity)",
                settings.model.as_str()
            ));
        }
        Self {
            network: NetworkInfo::of(net),
            model: settings.clone(),
            scenario: scenario.clone(),
            converged: c.converged,
            iterations: c.iterations,
            rounds: rounds_with_ids(net, &c.rounds),
            summary: Summary {
                firms: n,
                defaults: c.defaulted.iter().filter(|&&d| d).count(),
                total_losses: finite(equity_losses),
                equity_losses: finite(equity_losses),
                external_losses: 0.0,
                payment_shortfall: None,
                debtrank: Some(finite(c.debtrank)),
                initial_stress: Some(finite(c.initial_debtrank)),
                spectral_radius: c.spectral_radius.map(|r| finite(r.value)),
                final_prices: final_prices(net, marks),
            },
            firms,
            notes,
            price_path: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Builds the report of a combined cascade: the final clearing's figures, with the
    /// cascade's rounds, causes, halts, payments, price path and events.
    pub fn from_cascade(
        net: &Network,
        scenario: &Scenario,
        settings: &Settings,
        marks: &Marks,
        k: &Cascade,
    ) -> Self {
        let mut r = Self::from_clearing(net, scenario, settings, marks, &k.clearing);
        let prices_map = |p: &[f64]| -> serde_json::Map<String, serde_json::Value> {
            net.assets()
                .iter()
                .zip(p)
                .map(|(a, &x)| (a.id.clone(), serde_json::json!(finite(x))))
                .collect()
        };
        let mut external_losses = 0.0;
        for (i, f) in r.firms.iter_mut().enumerate() {
            f.defaulted = k.defaulted[i];
            f.halted = Some(k.halted[i]);
            f.default_round = k.default_round[i];
            f.cause = k.cause[i];
            f.caused_by = k.caused_by[i]
                .iter()
                .map(|l| CausedBy {
                    firm: l.firm.map(|x| net.firm_id(x as usize).to_string()),
                    asset: l.asset.map(|a| net.assets()[a as usize].id.clone()),
                    loss: finite(l.loss),
                })
                .collect();
            f.payment = Some(finite(k.payments[i]));
            f.obligations = Some(finite(k.obligations[i]));
            f.recovery_rate = Some(if k.obligations[i] > 0.0 {
                finite((k.payments[i] / k.obligations[i]).clamp(0.0, 1.0))
            } else {
                1.0
            });
            f.distress = distress(f.equity_before, f.equity_after, f.defaulted);
            // Outside creditors proper; deposits frozen and written off by depositors
            // (`frozen_deposits: lose`) are their depositors' losses, not counted twice.
            let ext = net.firms()[i].external_liabilities;
            let paid_out = k.clearing.payments[i] - k.clearing.interbank_payments[i];
            let ext_paid = if ext + k.frozen[i] > 0.0 {
                paid_out * ext / (ext + k.frozen[i])
            } else {
                0.0
            };
            external_losses += (ext - ext_paid).max(0.0);
        }
        r.rounds = rounds_with_ids(net, &k.rounds);
        r.converged = k.converged;
        r.iterations = k.iterations;
        r.summary.defaults = k.defaulted.iter().filter(|&&d| d).count();
        r.summary.external_losses = finite(external_losses);
        r.summary.total_losses = finite(r.summary.equity_losses + external_losses);
        let total_obl: f64 = k.obligations.iter().sum();
        let total_paid: f64 = k.payments.iter().sum();
        r.summary.payment_shortfall = Some(finite((total_obl - total_paid).max(0.0)));
        if let Some((_, last)) = k.price_path.last() {
            r.summary.final_prices = prices_map(last);
        }
        r.price_path = k
            .price_path
            .iter()
            .map(|(round, p)| PricePoint {
                round: *round,
                prices: prices_map(p),
            })
            .collect();
        r.events = k
            .events
            .iter()
            .map(|e| EventRecord {
                round: e.round,
                kind: match e.kind {
                    EventKind::MarginCall => "margin_call",
                    EventKind::Seizure => "seizure",
                    EventKind::Withdrawal => "withdrawal",
                    EventKind::Liquidation => "liquidation",
                },
                firm: net.firm_id(e.firm as usize).to_string(),
                counterparty: e.counterparty.map(|x| net.firm_id(x as usize).to_string()),
                asset: e.asset.map(|a| net.assets()[a as usize].id.clone()),
                amount: finite(e.amount),
                paid: finite(e.paid),
            })
            .collect();
        if !k.converged {
            r.notes.push(format!(
                "the cascade did not settle within {} rounds",
                settings.max_rounds
            ));
        }
        r
    }

    /// The chain of events from the initial shocks to `id`'s default, with amounts; `None`
    /// when there is no such firm.
    pub fn explain(&self, id: &str) -> Option<String> {
        use std::fmt::Write;
        let start = self.firms.iter().position(|f| f.id == id)?;
        let mut out = String::new();
        let f = &self.firms[start];
        if !f.defaulted {
            let _ = writeln!(
                out,
                "{id} did not default (equity {} → {}).",
                human_amount(f.equity_before),
                human_amount(f.equity_after)
            );
            return Some(out);
        }
        let mut seen = vec![false; self.firms.len()];
        self.explain_into(start, 0, &mut seen, &mut out);
        Some(out)
    }

    fn explain_into(&self, i: usize, depth: usize, seen: &mut [bool], out: &mut String) {
        use std::fmt::Write;
        let f = &self.firms[i];
        let pad = "  ".repeat(depth);
        let cause = f.cause.map(cause_name).unwrap_or("-");
        let round = f.default_round.map_or("-".to_string(), |r| r.to_string());
        let _ = writeln!(out, "{pad}{} defaulted in round {round}: {cause}", f.id);
        if seen[i] {
            return;
        }
        seen[i] = true;
        for c in &f.caused_by {
            let what = match (&c.firm, &c.asset) {
                (Some(x), Some(a)) => format!("{x} via {a}"),
                (Some(x), None) => x.clone(),
                (None, Some(a)) => format!("price of {a}"),
                (None, None) => "withdrawal shock".to_string(),
            };
            let _ = writeln!(
                out,
                "{pad}  ← {what}: {} {}",
                human_amount(c.loss),
                self.network.currency
            );
            if let Some(x) = &c.firm
                && let Some(j) = self.firms.iter().position(|g| &g.id == x)
                && self.firms[j].defaulted
                && self.firms[j].default_round <= f.default_round
                && j != i
            {
                self.explain_into(j, depth + 2, seen, out);
            }
        }
    }

    /// The result as pretty JSON text (with a final newline).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        s.push('\n');
        s
    }

    /// One CSV row per firm, with the same fields as the JSON `firms` array (`caused_by` as
    /// `id:loss` pairs separated by `;`).
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record([
            "id",
            "name",
            "kind",
            "defaulted",
            "default_round",
            "cause",
            "caused_by",
            "equity_before",
            "equity_after",
            "loss",
            "distress",
            "payment",
            "obligations",
            "recovery_rate",
        ]);
        let opt = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
        for f in &self.firms {
            let cause = f
                .cause
                .map(|c| {
                    serde_json::to_value(c)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default()
                })
                .unwrap_or_default();
            let by: Vec<String> = f
                .caused_by
                .iter()
                .map(|c| {
                    let who = c
                        .firm
                        .clone()
                        .or_else(|| c.asset.clone())
                        .unwrap_or_default();
                    format!("{who}:{}", c.loss)
                })
                .collect();
            let _ = w.write_record([
                f.id.clone(),
                f.name.clone(),
                f.kind.clone(),
                f.defaulted.to_string(),
                f.default_round.map(|r| r.to_string()).unwrap_or_default(),
                cause,
                by.join(";"),
                f.equity_before.to_string(),
                f.equity_after.to_string(),
                f.loss.to_string(),
                f.distress.to_string(),
                opt(f.payment),
                opt(f.obligations),
                opt(f.recovery_rate),
            ]);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }
}

/// Name of a cause as written in outputs.
pub fn cause_name(c: Cause) -> &'static str {
    match c {
        Cause::Shock => "shock",
        Cause::CounterpartyDefault => "counterparty_default",
        Cause::CounterpartyDistress => "counterparty_distress",
        Cause::MarginCall => "margin_call",
        Cause::Run => "run",
        Cause::PriceFall => "price_fall",
        Cause::InitiallyInsolvent => "initially_insolvent",
    }
}

/// Formats an amount for people: `9.30B`, `275.0M`, `12.5k`, `3.25`.
pub fn human_amount(x: f64) -> String {
    let a = x.abs();
    let sign = if x < 0.0 { "-" } else { "" };
    if a >= 1e12 {
        format!("{sign}{:.2}T", a / 1e12)
    } else if a >= 1e9 {
        format!("{sign}{:.2}B", a / 1e9)
    } else if a >= 1e6 {
        format!("{sign}{:.1}M", a / 1e6)
    } else if a >= 1e4 {
        format!("{sign}{:.1}k", a / 1e3)
    } else {
        format!("{sign}{a:.2}")
    }
}
