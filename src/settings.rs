//! Model settings: every setting with its documented default, echoed in every output.

use serde::Serialize;
use serde_json::Value;

use crate::error::{Diagnostic, Error, Location};

/// Which propagation model to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// Eisenberg–Noe clearing with optional Rogers–Veraart default costs.
    Clearing,
}

impl Model {
    /// The name used in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Model::Clearing => "clearing",
        }
    }

    /// Parses the name used in files and on the command line.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "clearing" => Ok(Model::Clearing),
            _ => Err(format!("unknown model '{s}': expected clearing")),
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

/// Every model setting. Serialised as the `model` object of a result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Model to run. Default `clearing`.
    #[serde(rename = "name")]
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
    /// Relative tolerance: a firm defaults when its shortfall exceeds `tolerance × max(1,
    /// obligations)`; iterations stop when no payment moves by more than that. Default 1e-12.
    pub tolerance: f64,
    /// Cap on fixed-point sweeps; hitting it reports `converged: false`. Default 100000.
    pub max_iterations: usize,
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
                "tolerance" => num().map(|x| self.tolerance = x),
                "max_iterations" => val
                    .as_u64()
                    .ok_or_else(|| "expected a positive whole number".to_string())
                    .map(|x| self.max_iterations = x as usize),
                k if k.starts_with("x_") => Ok(()),
                _ => Err(format!(
                    "unknown setting '{k}': expected model, alpha, beta, external, vector, least, solver, tolerance or max_iterations"
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
