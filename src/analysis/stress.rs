//! Stress programmes: deterministic sweeps over a shock's size, and Monte Carlo draws of
//! random shocks from a seed. Every scenario runs through [`crate::run::run_marks`]; the
//! scenarios run in parallel on rayon and come back in a fixed order, and each Monte Carlo
//! draw has its own random stream derived from `(seed, draw)`, so results are identical
//! whatever the number of threads.

use std::ops::Range;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analysis::generate::{Rng, splitmix64};
use crate::error::Error;
use crate::model::Network;
use crate::report::SimulationResult;
use crate::scenario::{Loss, Marks, Scenario, Shock};
use crate::settings::Settings;

/// What a sweep varies.
#[derive(Debug, Clone, PartialEq)]
pub enum SweepTarget {
    /// The price change of one asset (replacing any price shock on it in the base scenario).
    Price(String),
    /// An asset-loss fraction applied to every firm's cash and other assets.
    AssetLoss,
}

/// A sweep: `steps` evenly spaced values from `from` to `to` (inclusive).
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// What is varied.
    pub target: SweepTarget,
    /// First value.
    pub from: f64,
    /// Last value.
    pub to: f64,
    /// Number of values, ≥ 1 (1 gives `from` alone).
    pub steps: usize,
}

impl From<&crate::scenario::SweepDef> for Sweep {
    /// The sweep a scenario file defines.
    fn from(d: &crate::scenario::SweepDef) -> Self {
        Self {
            target: d
                .asset
                .clone()
                .map_or(SweepTarget::AssetLoss, SweepTarget::Price),
            from: d.from,
            to: d.to,
            steps: d.steps,
        }
    }
}

impl Sweep {
    /// Parses `ASSET=FROM:TO:STEPS` (a price sweep, e.g. `FTT=0:-1:21`) or
    /// `asset_loss=FROM:TO:STEPS` (every firm loses that fraction of its external assets).
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "expected ASSET=FROM:TO:STEPS (e.g. FTT=0:-1:21) or asset_loss=FROM:TO:STEPS, found '{s}'"
            )
        };
        let (name, range) = s.split_once('=').ok_or_else(bad)?;
        let parts: Vec<&str> = range.split(':').collect();
        if parts.len() != 3 {
            return Err(bad());
        }
        let from: f64 = parts[0].trim().parse().map_err(|_| bad())?;
        let to: f64 = parts[1].trim().parse().map_err(|_| bad())?;
        let steps: usize = parts[2].trim().parse().map_err(|_| bad())?;
        if steps == 0 || !from.is_finite() || !to.is_finite() {
            return Err(bad());
        }
        let target = match name.trim() {
            "asset_loss" | "asset-loss" => SweepTarget::AssetLoss,
            "" => return Err(bad()),
            asset => SweepTarget::Price(asset.to_string()),
        };
        Ok(Self {
            target,
            from,
            to,
            steps,
        })
    }

    /// The swept values.
    pub fn values(&self) -> Vec<f64> {
        if self.steps == 1 {
            return vec![self.from];
        }
        (0..self.steps)
            .map(|k| self.from + (self.to - self.from) * k as f64 / (self.steps - 1) as f64)
            .collect()
    }
}

/// The Monte Carlo shock distribution. In each draw, independently: every firm suffers,
/// with probability `firm_probability`, an asset loss of a fraction uniform on
/// `[0, max_loss]` of its cash and other assets; every asset listed in `price_falls`
/// changes price by `−U` with `U` uniform on `[0, max_fall]`. Shocks of the base scenario
/// apply in every draw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonteCarlo {
    /// Number of draws.
    pub draws: usize,
    /// Seed: the same seed gives the same draws.
    pub seed: u64,
    /// Probability that a firm is hit in a draw, in `[0, 1]`.
    pub firm_probability: f64,
    /// Largest asset-loss fraction of a hit firm, in `[0, 1]`.
    pub max_loss: f64,
    /// Assets whose price falls at random, with the largest fall (fraction in `[0, 1]`).
    pub price_falls: Vec<(String, f64)>,
}

/// One scenario of a stress programme and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StressPoint {
    /// Step or draw number.
    pub index: usize,
    /// Swept value (sweeps) or the mean asset-loss fraction over firms (Monte Carlo).
    pub shock: f64,
    /// Number of firms in default.
    pub defaults: usize,
    /// Total losses (currency units).
    pub total_losses: f64,
    /// Equity lost by firms in the network.
    pub equity_losses: f64,
    /// Losses of external creditors.
    pub external_losses: f64,
    /// System DebtRank, when the model computes it.
    pub debtrank: Option<f64>,
    /// Whether the run converged.
    pub converged: bool,
}

impl StressPoint {
    fn from_result(index: usize, shock: f64, r: &SimulationResult) -> Self {
        Self {
            index,
            shock,
            defaults: r.summary.defaults,
            total_losses: r.summary.total_losses,
            equity_losses: r.summary.equity_losses,
            external_losses: r.summary.external_losses,
            debtrank: r.summary.debtrank,
            converged: r.converged,
        }
    }
}

/// Runs a sweep on top of the base scenario's shocks.
pub fn sweep(
    net: &Network,
    base: &Scenario,
    settings: &Settings,
    sweep: &Sweep,
) -> Result<Vec<StressPoint>, Error> {
    sweep_steps(net, base, settings, sweep, 0..sweep.steps)
}

/// Runs the steps `steps` of a sweep (a block of [`sweep`]'s points, with the same indices
/// and values): blocks run anywhere concatenate to the whole sweep.
pub fn sweep_steps(
    net: &Network,
    base: &Scenario,
    settings: &Settings,
    sweep: &Sweep,
    steps: Range<usize>,
) -> Result<Vec<StressPoint>, Error> {
    settings.validate()?;
    // Resolve the base once, so that a bad id is reported before any work.
    Marks::apply(net, &base.shocks)?;
    if let SweepTarget::Price(a) = &sweep.target
        && net.asset_ix(a).is_none()
    {
        return Err(Error::Invalid(format!("--sweep: unknown asset '{a}'")));
    }
    let values = sweep.values();
    let steps = steps.start.min(values.len())..steps.end.min(values.len());
    values[steps.clone()]
        .par_iter()
        .zip(steps)
        .map(|(&v, k)| {
            let mut sc = base.clone();
            match &sweep.target {
                SweepTarget::Price(asset) => {
                    sc.shocks
                        .retain(|s| !matches!(s, Shock::Price { asset: a, .. } if a == asset));
                    sc.shocks.push(Shock::Price {
                        asset: asset.clone(),
                        change: v,
                    });
                }
                SweepTarget::AssetLoss => {
                    for f in net.firms() {
                        sc.shocks.push(Shock::AssetLoss {
                            firm: f.id.clone(),
                            loss: Loss::Fraction(v),
                        });
                    }
                }
            }
            let marks = Marks::apply(net, &sc.shocks)?;
            let r = crate::run::run_marks(net, &sc, settings, &marks);
            Ok(StressPoint::from_result(k, v, &r))
        })
        .collect()
}

/// Runs Monte Carlo draws on top of the base scenario's shocks.
pub fn monte_carlo(
    net: &Network,
    base: &Scenario,
    settings: &Settings,
    mc: &MonteCarlo,
) -> Result<Vec<StressPoint>, Error> {
    monte_carlo_draws(net, base, settings, mc, 0..mc.draws)
}

/// Runs the draws `draws` of a Monte Carlo programme (each draw has its own random stream,
/// so blocks run anywhere concatenate to the whole of [`monte_carlo`]).
pub fn monte_carlo_draws(
    net: &Network,
    base: &Scenario,
    settings: &Settings,
    mc: &MonteCarlo,
    draws: Range<usize>,
) -> Result<Vec<StressPoint>, Error> {
    settings.validate()?;
    let unit = |name: &str, v: f64| {
        if v.is_finite() && (0.0..=1.0).contains(&v) {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "{name} must be in [0, 1], found {v}"
            )))
        }
    };
    unit("firm probability", mc.firm_probability)?;
    unit("max loss", mc.max_loss)?;
    for (a, f) in &mc.price_falls {
        unit("price fall", *f)?;
        if net.asset_ix(a).is_none() {
            return Err(Error::Invalid(format!("unknown asset '{a}'")));
        }
    }
    let base_marks = Marks::apply(net, &base.shocks)?;
    let n = net.n_firms();
    let points = (draws.start.min(mc.draws)..draws.end.min(mc.draws))
        .into_par_iter()
        .map(|draw| {
            let mut state = mc.seed ^ (draw as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut rng = Rng::new(splitmix64(&mut state));
            let mut marks = base_marks.clone();
            let mut total_fraction = 0.0;
            for i in 0..n {
                if rng.uniform() < mc.firm_probability {
                    let f = rng.uniform() * mc.max_loss;
                    total_fraction += f;
                    let loss = f * (marks.cash[i] + marks.other_assets[i]);
                    let from_other = loss.min(marks.other_assets[i]);
                    marks.other_assets[i] -= from_other;
                    marks.cash[i] = (marks.cash[i] - (loss - from_other)).max(0.0);
                    marks.shocked[i] = true;
                }
            }
            for (a, max_fall) in &mc.price_falls {
                if let Some(ix) = net.asset_ix(a) {
                    marks.prices[ix as usize] *= 1.0 - rng.uniform() * max_fall;
                }
            }
            let r = crate::run::run_marks(net, base, settings, &marks);
            StressPoint::from_result(draw, total_fraction / n.max(1) as f64, &r)
        })
        .collect();
    Ok(points)
}

/// Stress results as CSV (one row per scenario).
pub fn to_csv(points: &[StressPoint]) -> String {
    let mut s = String::from(
        "index,shock,defaults,total_losses,equity_losses,external_losses,debtrank,converged\n",
    );
    for p in points {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            p.index,
            p.shock,
            p.defaults,
            p.total_losses,
            p.equity_losses,
            p.external_losses,
            p.debtrank.map(|d| d.to_string()).unwrap_or_default(),
            p.converged
        ));
    }
    s
}

/// Mean and the 5%, 50% and 95% quantiles (nearest rank) of a sample.
pub fn summary(values: &[f64]) -> (f64, f64, f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0, 0.0, 0.0);
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    (
        v.iter().sum::<f64>() / v.len() as f64,
        q(0.05),
        q(0.5),
        q(0.95),
    )
}
