//! Model settings: every setting with its documented default, echoed in every output.
//!
//! A result's `model` object echoes the model's name and every setting that model reads
//! (defaults included), and only those: a DebtRank result does not list the clearing
//! engine's α and β, which would read as DebtRank parameters.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::error::{Diagnostic, Error, Location};

/// Which propagation model to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// Eisenberg–Noe clearing with optional Rogers–Veraart default costs.
    Clearing,
    /// Combined multi-channel cascade: margin calls, runs, fire sales and clearing, round by
    /// round.
    Cascade,
    /// DebtRank: distress propagation on the leverage matrix (see [`Variant`]).
    Debtrank,
    /// Furfine (2003) threshold cascade: sequential defaults with a recovery rate.
    Threshold,
}

impl Model {
    /// The name used in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Model::Clearing => "clearing",
            Model::Cascade => "cascade",
            Model::Debtrank => "debtrank",
            Model::Threshold => "threshold",
        }
    }

    /// Parses the name used in files and on the command line.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "clearing" => Ok(Model::Clearing),
            "cascade" => Ok(Model::Cascade),
            "debtrank" => Ok(Model::Debtrank),
            "threshold" => Ok(Model::Threshold),
            _ => Err(format!(
                "unknown model '{s}': expected clearing, cascade, debtrank or threshold"
            )),
        }
    }
}

/// Which member of the DebtRank family to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Variant {
    /// Battiston et al. (2012): impacts `min(1, Λ_ij)`, each distressed firm passes on its
    /// stress level exactly once.
    #[serde(rename = "single-hit")]
    SingleHit,
    /// Bardoscia et al. (2015): increments of stress propagate on `Λ` (default).
    #[serde(rename = "linear")]
    Linear,
    /// Bardoscia et al. (2016): increments of `p(h) = h·exp(α(h − 1))` propagate, α =
    /// [`Settings::nl_alpha`].
    #[serde(rename = "nonlinear")]
    Nonlinear,
}

impl Variant {
    /// The name used in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::SingleHit => "single-hit",
            Variant::Linear => "linear",
            Variant::Nonlinear => "nonlinear",
        }
    }

    /// Parses `single-hit` (or `single_hit`), `linear`, `nonlinear`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.replace('_', "-").as_str() {
            "single-hit" => Ok(Variant::SingleHit),
            "linear" => Ok(Variant::Linear),
            "nonlinear" | "non-linear" => Ok(Variant::Nonlinear),
            _ => Err(format!(
                "expected single-hit, linear or nonlinear, found '{s}'"
            )),
        }
    }
}

/// Rank of liabilities to parties outside the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Seniority {
    /// External creditors share pro rata with interbank creditors (default).
    #[serde(rename = "pari-passu")]
    PariPassu,
    /// External creditors are paid first; interbank creditors absorb losses first.
    #[serde(rename = "senior")]
    Senior,
}

impl Seniority {
    /// Parses `pari-passu` (or `pari_passu`) and `senior`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.replace('_', "-").as_str() {
            "pari-passu" => Ok(Seniority::PariPassu),
            "senior" => Ok(Seniority::Senior),
            _ => Err(format!("expected pari-passu or senior, found '{s}'")),
        }
    }
}

/// What depositors of a firm halted by a run make of their frozen deposits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrozenDeposits {
    /// Frozen claims stay claims on the halted firm: illiquid, valued at what clearing
    /// recovers from it (default).
    Recover,
    /// Depositors write frozen claims off at once; the halted firm still owes them, to a pool
    /// outside the network (so its other creditors are unaffected).
    Lose,
}

impl FrozenDeposits {
    /// Parses `recover` or `lose`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "recover" => Ok(FrozenDeposits::Recover),
            "lose" => Ok(FrozenDeposits::Lose),
            _ => Err(format!("expected recover or lose, found '{s}'")),
        }
    }
}

/// Which clearing vector to report when several exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Vector {
    /// The greatest clearing vector (default; what the Greatest Clearing Vector Algorithm
    /// returns).
    Greatest,
    /// The least clearing vector (only without default costs).
    Least,
}

/// How the clearing engine solves for the payments of defaulting firms in each round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Solver {
    /// Iterative, then an exact dense polish when at most 500 firms are in default.
    Auto,
    /// Always finish with the exact dense solve (`O(d³)` in the number `d` of defaults).
    Exact,
    /// Sparse fixed-point iteration only: `O(edges)` per sweep.
    Iterative,
}

impl Solver {
    /// Parses `auto`, `exact`, `iterative`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Solver::Auto),
            "exact" => Ok(Solver::Exact),
            "iterative" => Ok(Solver::Iterative),
            _ => Err(format!("expected auto, exact or iterative, found '{s}'")),
        }
    }
}

/// Every model setting. Serialised as the `model` object of a result: the model's `name`
/// and the settings that model reads (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Model to run. Default `clearing` (`cascade` for networks with assets on the command
    /// line).
    pub model: Model,
    /// Rogers–Veraart α: fraction of external assets a defaulting firm realises, in (0, 1].
    /// Default 1 (no default cost).
    pub alpha: f64,
    /// Rogers–Veraart β: fraction of interbank claims a defaulting firm realises, in (0, 1].
    /// Default 1.
    pub beta: f64,
    /// Rank of external liabilities. Default pari passu.
    pub external: Seniority,
    /// Clearing vector reported. Default greatest.
    pub vector: Vector,
    /// Solver for the payments of defaulting firms. Default auto.
    pub solver: Solver,
    /// DebtRank variant. Default linear.
    pub variant: Variant,
    /// Non-linear DebtRank α ≥ 0 in `p(h) = h·exp(α(h − 1))`: 0 is linear DebtRank, large
    /// values approach a threshold cascade. Read only by the nonlinear variant. Default 1.
    pub nl_alpha: f64,
    /// Threshold cascade: fraction `R` in `[0, 1]` of an unsecured exposure a creditor recovers
    /// from a defaulted debtor (it loses `1 − R`). Default 0.
    pub recovery: f64,
    /// Relative tolerance: a firm defaults when its shortfall exceeds `tolerance × max(1,
    /// obligations)`; iterations stop when no payment moves by more than that. Default 1e-12.
    pub tolerance: f64,
    /// Cap on fixed-point sweeps; hitting it reports `converged: false`. Default 100000.
    pub max_iterations: usize,
    /// Cascade: creditors of under-collateralised loans call for margin. Default on.
    pub margin_calls: bool,
    /// Cascade: forced sales move prices and firms in default liquidate their holdings.
    /// Default on.
    pub fire_sales: bool,
    /// Cascade: withdrawals are processed (shocked ones and contagious ones). Default on.
    pub runs: bool,
    /// Cascade: depositors run on a firm that lost at least `run_trigger` of its equity on a
    /// counterparty in default or halted. Default on.
    pub contagious_runs: bool,
    /// Cascade: price impact β of forced sales, `p ← p · exp(−β · units_sold / depth)`.
    /// Default 1.
    pub price_impact: f64,
    /// Cascade: fraction of its deposits withdrawn from a firm hit by a contagious run.
    /// Default 0.3.
    pub run_fraction: f64,
    /// Cascade: loss on failed counterparties, as a fraction of book equity, that makes
    /// depositors run. Default 0.1.
    pub run_trigger: f64,
    /// Cascade: cap on rounds; hitting it reports `converged: false`. Default 1000.
    pub max_rounds: usize,
    /// Cascade: what depositors make of deposits frozen at a halted firm. Default recover.
    pub frozen_deposits: FrozenDeposits,
}

impl Serialize for Settings {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("name", &self.model)?;
        if matches!(self.model, Model::Clearing | Model::Cascade) {
            m.serialize_entry("alpha", &self.alpha)?;
            m.serialize_entry("beta", &self.beta)?;
            m.serialize_entry("external", &self.external)?;
            m.serialize_entry("vector", &self.vector)?;
            m.serialize_entry("solver", &self.solver)?;
        }
        match self.model {
            Model::Clearing => {}
            Model::Cascade => {
                m.serialize_entry("margin_calls", &self.margin_calls)?;
                m.serialize_entry("fire_sales", &self.fire_sales)?;
                m.serialize_entry("runs", &self.runs)?;
                m.serialize_entry("contagious_runs", &self.contagious_runs)?;
                m.serialize_entry("price_impact", &self.price_impact)?;
                m.serialize_entry("run_fraction", &self.run_fraction)?;
                m.serialize_entry("run_trigger", &self.run_trigger)?;
                m.serialize_entry("max_rounds", &self.max_rounds)?;
                m.serialize_entry("frozen_deposits", &self.frozen_deposits)?;
            }
            Model::Debtrank => {
                m.serialize_entry("variant", &self.variant)?;
                if self.variant == Variant::Nonlinear {
                    m.serialize_entry("nl_alpha", &self.nl_alpha)?;
                }
            }
            Model::Threshold => {
                m.serialize_entry("recovery", &self.recovery)?;
            }
        }
        m.serialize_entry("tolerance", &self.tolerance)?;
        m.serialize_entry("max_iterations", &self.max_iterations)?;
        m.end()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: Model::Clearing,
            alpha: 1.0,
            beta: 1.0,
            external: Seniority::PariPassu,
            vector: Vector::Greatest,
            solver: Solver::Auto,
            variant: Variant::Linear,
            nl_alpha: 1.0,
            recovery: 0.0,
            tolerance: 1e-12,
            max_iterations: 100_000,
            margin_calls: true,
            fire_sales: true,
            runs: true,
            contagious_runs: true,
            price_impact: 1.0,
            run_fraction: 0.3,
            run_trigger: 0.1,
            max_rounds: 1000,
            frozen_deposits: FrozenDeposits::Recover,
        }
    }
}

impl Settings {
    /// Checks ranges; the message names the setting and what is accepted.
    pub fn validate(&self) -> Result<(), Error> {
        let unit = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 && v <= 1.0 {
                Ok(())
            } else {
                Err(Error::Invalid(format!(
                    "{name} must be in (0, 1], found {v}"
                )))
            }
        };
        unit("alpha", self.alpha)?;
        unit("beta", self.beta)?;
        if !(self.nl_alpha.is_finite() && self.nl_alpha >= 0.0) {
            return Err(Error::Invalid(format!(
                "nl_alpha must be a finite number ≥ 0, found {}",
                self.nl_alpha
            )));
        }
        if !(self.recovery.is_finite() && (0.0..=1.0).contains(&self.recovery)) {
            return Err(Error::Invalid(format!(
                "recovery must be in [0, 1], found {}",
                self.recovery
            )));
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0 && self.tolerance < 1.0) {
            return Err(Error::Invalid(format!(
                "tolerance must be in (0, 1), found {}",
                self.tolerance
            )));
        }
        if !(self.price_impact.is_finite() && self.price_impact >= 0.0) {
            return Err(Error::Invalid(format!(
                "price_impact must be a finite number ≥ 0, found {}",
                self.price_impact
            )));
        }
        for (name, v) in [
            ("run_fraction", self.run_fraction),
            ("run_trigger", self.run_trigger),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(Error::Invalid(format!(
                    "{name} must be in [0, 1], found {v}"
                )));
            }
        }
        if self.max_rounds == 0 {
            return Err(Error::Invalid("max_rounds must be at least 1".into()));
        }
        if self.max_iterations == 0 {
            return Err(Error::Invalid("max_iterations must be at least 1".into()));
        }
        if self.vector == Vector::Least && (self.alpha < 1.0 || self.beta < 1.0) {
            return Err(Error::Invalid(
                "the least clearing vector is only available without default costs (alpha = beta = 1)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Applies the keys of a scenario's `settings` object; unknown keys and bad values are
    /// reported with their path (`settings.alpha`).
    pub fn merge_json(mut self, v: &Value, file: &str) -> Result<Self, Error> {
        let mut diags = Vec::new();
        let Some(obj) = v.as_object() else {
            return Err(Error::input(
                Location::file(file),
                "expected an object of settings",
            ));
        };
        for (k, val) in obj {
            let at = || Location::file(file).with_field(format!("settings.{k}"));
            let num = || val.as_f64().ok_or_else(|| "expected a number".to_string());
            let text = || val.as_str().ok_or_else(|| "expected text".to_string());
            let flag = || {
                val.as_bool()
                    .ok_or_else(|| "expected true or false".to_string())
            };
            let count = || {
                val.as_u64()
                    .filter(|&x| x > 0)
                    .map(|x| x as usize)
                    .ok_or_else(|| "expected a positive whole number".to_string())
            };
            let res: Result<(), String> = match k.as_str() {
                "model" => text().and_then(Model::parse).map(|m| self.model = m),
                "alpha" => num().map(|x| self.alpha = x),
                "beta" => num().map(|x| self.beta = x),
                "external" => text().and_then(Seniority::parse).map(|s| self.external = s),
                "vector" => text()
                    .and_then(|s| match s {
                        "greatest" => Ok(Vector::Greatest),
                        "least" => Ok(Vector::Least),
                        _ => Err(format!("expected greatest or least, found '{s}'")),
                    })
                    .map(|x| self.vector = x),
                "least" => val
                    .as_bool()
                    .ok_or_else(|| "expected true or false".to_string())
                    .map(|b| self.vector = if b { Vector::Least } else { Vector::Greatest }),
                "solver" => text().and_then(Solver::parse).map(|s| self.solver = s),
                "variant" => text().and_then(Variant::parse).map(|v| self.variant = v),
                "nl_alpha" => num().map(|x| self.nl_alpha = x),
                "recovery" => num().map(|x| self.recovery = x),
                "tolerance" => num().map(|x| self.tolerance = x),
                "max_iterations" => count().map(|x| self.max_iterations = x),
                "margin_calls" => flag().map(|b| self.margin_calls = b),
                "fire_sales" => flag().map(|b| self.fire_sales = b),
                "runs" => flag().map(|b| self.runs = b),
                "contagious_runs" => flag().map(|b| self.contagious_runs = b),
                "price_impact" => num().map(|x| self.price_impact = x),
                "run_fraction" => num().map(|x| self.run_fraction = x),
                "run_trigger" => num().map(|x| self.run_trigger = x),
                "max_rounds" => count().map(|x| self.max_rounds = x),
                "frozen_deposits" => text()
                    .and_then(FrozenDeposits::parse)
                    .map(|f| self.frozen_deposits = f),
                k if k.starts_with("x_") => Ok(()),
                _ => Err(format!(
                    "unknown setting '{k}': expected one of model, alpha, beta, external, vector, least, solver, variant, nl_alpha, recovery, tolerance, max_iterations, margin_calls, fire_sales, runs, contagious_runs, price_impact, run_fraction, run_trigger, max_rounds, frozen_deposits"
                )),
            };
            if let Err(msg) = res {
                diags.push(Diagnostic::new(at(), msg));
            }
        }
        if let Err(Error::Invalid(msg)) = self.validate() {
            // Messages start with the setting's name; point at that key when it was given.
            let key = msg.split_whitespace().next().unwrap_or("");
            let field = if obj.contains_key(key) {
                format!("settings.{key}")
            } else {
                "settings".to_string()
            };
            diags.push(Diagnostic::new(Location::file(file).with_field(field), msg));
        }
        if diags.is_empty() {
            Ok(self)
        } else {
            Err(Error::Input(diags.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_settings_from_json_and_their_echo() {
        let v = serde_json::json!({"model": "debtrank", "variant": "nonlinear", "nl_alpha": 3});
        let s = Settings::default().merge_json(&v, "s.json").unwrap();
        assert_eq!(
            (s.model, s.variant, s.nl_alpha),
            (Model::Debtrank, Variant::Nonlinear, 3.0)
        );
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"name": "debtrank", "variant": "nonlinear", "nl_alpha": 3.0,
                "tolerance": 1e-12, "max_iterations": 100000})
        );
        let v = serde_json::json!({"model": "threshold", "recovery": 0.4});
        let s = Settings::default().merge_json(&v, "s.json").unwrap();
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"name": "threshold", "recovery": 0.4, "tolerance": 1e-12,
                "max_iterations": 100000})
        );
        let cascade = serde_json::to_value(Settings {
            model: Model::Cascade,
            ..Settings::default()
        })
        .unwrap();
        for key in [
            "alpha",
            "beta",
            "external",
            "margin_calls",
            "fire_sales",
            "runs",
            "price_impact",
            "run_fraction",
            "run_trigger",
        ] {
            assert!(cascade.get(key).is_some(), "cascade echoes {key}");
        }
        for bad in [
            serde_json::json!({"recovery": 1.5}),
            serde_json::json!({"nl_alpha": -1}),
            serde_json::json!({"variant": "quadratic"}),
            serde_json::json!({"model": "fire-sale"}),
        ] {
            assert!(
                Settings::default().merge_json(&bad, "s.json").is_err(),
                "{bad}"
            );
        }
    }
}
