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
            Model::Debtrank => "debtrank",
            Model::Threshold => "threshold",
        }
    }

    /// Parses the name used in files and on the command line.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "clearing" => Ok(Model::Clearing),
            "debtrank" => Ok(Model::Debtrank),
            "threshold" => Ok(Model::Threshold),
            _ => Err(format!(
                "unknown model '{s}': expected clearing, debtrank or threshold"
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
    /// Model to run. Default `clearing`.
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
    /// Tolerance. Clearing (relative): a firm defaults when its shortfall exceeds `tolerance ×
    /// max(1, obligations)`; iterations stop when no payment moves by more than that.
    /// DebtRank: a firm passes on a change of its stress `h` only when it exceeds the
    /// tolerance. Threshold: a loss within `tolerance × max(1, buffer)` of the buffer counts
    /// as reaching it. Default 1e-12.
    pub tolerance: f64,
    /// Cap on fixed-point sweeps (clearing) or propagation rounds (DebtRank, threshold);
    /// hitting it reports `converged: false`. Default 100000.
    pub max_iterations: usize,
}

impl Serialize for Settings {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("name", &self.model)?;
        match self.model {
            Model::Clearing => {
                m.serialize_entry("alpha", &self.alpha)?;
                m.serialize_entry("beta", &self.beta)?;
                m.serialize_entry("external", &self.external)?;
                m.serialize_entry("vector", &self.vector)?;
                m.serialize_entry("solver", &self.solver)?;
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
                "max_iterations" => val
                    .as_u64()
                    .ok_or_else(|| "expected a positive whole number".to_string())
                    .map(|x| self.max_iterations = x as usize),
                k if k.starts_with("x_") => Ok(()),
                _ => Err(format!(
                    "unknown setting '{k}': expected model, alpha, beta, external, vector, least, solver, variant, nl_alpha, recovery, tolerance or max_iterations"
                )),
            };
            if let Err(msg) = res {
                diags.push(Diagnostic::new(at(), msg));
            }
        }
        if let Err(Error::Invalid(msg)) = self.validate() {
            diags.push(Diagnostic::new(
                Location::file(file).with_field("settings"),
                msg,
            ));
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
    fn cascade_settings_from_json_and_their_echo() {
        let v = serde_json::json!({"model": "debtrank", "variant": "nonlinear", "nl_alpha": 3});
        let s = Settings::default().merge_json(&v, "s.json").unwrap();
        assert_eq!(
            (s.model, s.variant, s.nl_alpha),
            (Model::Debtrank, Variant::Nonlinear, 3.0)
        );
        let echo = serde_json::to_value(&s).unwrap();
        assert_eq!(
            echo,
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
