//! Results of a simulation in one model-independent shape, and its writers (table, JSON,
//! CSV). The JSON field names are a contract (see `docs/formats.md`).

mod table;

use serde::Serialize;

use crate::engine::buffers::{BufferOutcome, WeightSource};
use crate::engine::clearing::Clearing;
use crate::engine::{Cause, Round};
use crate::model::Network;
use crate::scenario::{Marks, Scenario};
use crate::settings::Settings;

pub use table::render_table;

/// A counterparty that transmitted losses to a defaulting firm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CausedBy {
    /// Counterparty id.
    pub firm: String,
    /// Loss it transmitted (currency units).
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
    /// Whether the firm defaulted (or failed outright).
    pub defaulted: bool,
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
}

/// Identification of the network a result refers to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkInfo {
    /// Dataset name.
    pub name: Option<String>,
    /// Currency of every amount.
    pub currency: String,
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
                default_round: c.default_round[i],
                cause: c.cause[i],
                caused_by: c.caused_by[i]
                    .iter()
                    .map(|k| CausedBy {
                        firm: net.firm_id(k.firm as usize).to_string(),
                        loss: finite(k.loss),
                    })
                    .collect(),
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
            network: NetworkInfo {
                name: net.meta().name.clone(),
                currency: net.meta().currency.clone(),
            },
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
                    default_round: c.default_round[i],
                    cause: c.cause[i],
                    caused_by: c.caused_by[i]
                        .iter()
                        .map(|k| CausedBy {
                            firm: net.firm_id(k.firm as usize).to_string(),
                            loss: finite(k.loss),
                        })
                        .collect(),
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
            network: NetworkInfo {
                name: net.meta().name.clone(),
                currency: net.meta().currency.clone(),
            },
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
                .map(|c| format!("{}:{}", c.firm, c.loss))
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
