//! `contagion simulate`: apply a scenario and propagate it.

use std::path::Path;

use contagion::error::Error;
use contagion::report::{SimulationResult, render_table};
use contagion::scenario::{Loss, Marks, Scenario, Shock, parse_scenario};
use contagion::settings::{Model, Seniority, Settings, Solver, Variant, Vector};

use super::args::{
    CascadeFlags, ExternalArg, Format, ModelArg, SimulateArgs, SolverArg, VariantArg,
};
use super::{CmdResult, Failure, emit};

/// Splits `KEY=VALUE`.
fn split_pair<'a>(flag: &str, s: &'a str) -> Result<(&'a str, &'a str), Failure> {
    s.split_once('=')
        .filter(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty())
        .map(|(k, v)| (k.trim(), v.trim()))
        .ok_or_else(|| Failure::BadInput(format!("--{flag} expects KEY=VALUE, found '{s}'")))
}

/// Parses `0.25`, `-0.9` or `-90%` as a fraction.
pub(crate) fn parse_fraction(flag: &str, v: &str) -> Result<f64, Failure> {
    let bad = || {
        Failure::BadInput(format!(
            "--{flag}: expected a number or a percentage such as -90%, found '{v}'"
        ))
    };
    match v.strip_suffix('%') {
        Some(p) => p
            .trim()
            .parse::<f64>()
            .map(|x| x / 100.0)
            .map_err(|_| bad()),
        None => v.parse::<f64>().map_err(|_| bad()),
    }
    .and_then(|x| if x.is_finite() { Ok(x) } else { Err(bad()) })
}

/// Shocks given as flags.
pub(crate) fn flag_shocks(
    defaults: &[String],
    prices: &[String],
    losses: &[String],
) -> Result<Vec<Shock>, Failure> {
    let mut shocks: Vec<Shock> = defaults
        .iter()
        .map(|f| Shock::Default { firm: f.clone() })
        .collect();
    for p in prices {
        let (asset, v) = split_pair("price", p)?;
        shocks.push(Shock::Price {
            asset: asset.to_string(),
            change: parse_fraction("price", v)?,
        });
    }
    for l in losses {
        let (firm, v) = split_pair("asset-loss", l)?;
        let loss = if v.ends_with('%') {
            Loss::Fraction(parse_fraction("asset-loss", v)?)
        } else {
            Loss::Amount(v.parse::<f64>().map_err(|_| {
                Failure::BadInput(format!(
                    "--asset-loss: expected an amount or a percentage such as 25%, found '{v}'"
                ))
            })?)
        };
        shocks.push(Shock::AssetLoss {
            firm: firm.to_string(),
            loss,
        });
    }
    Ok(shocks)
}

/// Parses `--equity-shock FIRM=FRACTION` flags (`0.05` or `5%`; firm `*` for every firm).
pub(crate) fn equity_shocks(flags: &[String]) -> Result<Vec<Shock>, Failure> {
    flags
        .iter()
        .map(|f| {
            let (firm, v) = split_pair("equity-shock", f)?;
            Ok(Shock::EquityShock {
                firm: firm.to_string(),
                fraction: parse_fraction("equity-shock", v)?,
            })
        })
        .collect()
}

pub(crate) fn model_of(m: ModelArg) -> Model {
    match m {
        ModelArg::Clearing => Model::Clearing,
        ModelArg::Debtrank => Model::Debtrank,
        ModelArg::Threshold => Model::Threshold,
    }
}

/// Applies the DebtRank and threshold flags, after rejecting flags that the chosen model
/// would ignore (`clearing_flags`: whether any clearing-only flag was given).
pub(crate) fn apply_cascade_flags(
    settings: &mut Settings,
    f: &CascadeFlags,
    clearing_flags: bool,
) -> Result<(), Failure> {
    let model = settings.model.as_str();
    if clearing_flags && settings.model != Model::Clearing {
        return Err(Failure::BadInput(format!(
            "--alpha, --beta, --external, --least and --solver apply to --model clearing, not {model}"
        )));
    }
    if (f.variant.is_some() || f.nl_alpha.is_some()) && settings.model != Model::Debtrank {
        return Err(Failure::BadInput(format!(
            "--variant and --nl-alpha apply to --model debtrank, not {model}"
        )));
    }
    if f.recovery.is_some() && settings.model != Model::Threshold {
        return Err(Failure::BadInput(format!(
            "--recovery applies to --model threshold, not {model}"
        )));
    }
    if let Some(v) = f.variant {
        settings.variant = match v {
            VariantArg::SingleHit => Variant::SingleHit,
            VariantArg::Linear => Variant::Linear,
            VariantArg::Nonlinear => Variant::Nonlinear,
        };
    }
    if let Some(x) = f.nl_alpha {
        match f.variant {
            None | Some(VariantArg::Nonlinear) => settings.variant = Variant::Nonlinear,
            Some(_) => {
                return Err(Failure::BadInput(
                    "--nl-alpha applies to --variant nonlinear".into(),
                ));
            }
        }
        settings.nl_alpha = x;
    }
    if let Some(r) = f.recovery {
        settings.recovery = r;
    }
    Ok(())
}

/// Reads the scenario file, if any, and merges the command line into it.
fn scenario_and_settings(a: &SimulateArgs) -> Result<(Scenario, Settings), Failure> {
    let mut scenario = match &a.scenario {
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|source| Error::Io {
                path: p.clone(),
                source,
            })?;
            parse_scenario(&file_name(p), &bytes)?
        }
        None => Scenario::default(),
    };
    let mut settings = match &scenario.settings {
        Some(v) => Settings::default()
            .merge_json(v, &a.scenario.as_deref().map(file_name).unwrap_or_default())?,
        None => Settings::default(),
    };
    scenario
        .shocks
        .extend(flag_shocks(&a.defaults, &a.prices, &a.asset_losses)?);
    scenario.shocks.extend(equity_shocks(&a.equity_shocks)?);
    if let Some(m) = a.model {
        settings.model = model_of(m);
    }
    let clearing_flags = a.alpha.is_some()
        || a.beta.is_some()
        || a.external.is_some()
        || a.least
        || a.solver.is_some();
    apply_cascade_flags(&mut settings, &a.cascade, clearing_flags)?;
    if settings.model == Model::Clearing
        && scenario
            .shocks
            .iter()
            .any(|s| matches!(s, Shock::EquityShock { .. }))
    {
        return Err(Failure::BadInput(
            "equity shocks apply to --model debtrank and --model threshold, not to clearing".into(),
        ));
    }
    if let Some(x) = a.alpha {
        settings.alpha = x;
    }
    if let Some(x) = a.beta {
        settings.beta = x;
    }
    if let Some(e) = a.external {
        settings.external = match e {
            ExternalArg::PariPassu => Seniority::PariPassu,
            ExternalArg::Senior => Seniority::Senior,
        };
    }
    if a.least {
        settings.vector = Vector::Least;
    }
    if let Some(s) = a.solver {
        settings.solver = match s {
            SolverArg::Auto => Solver::Auto,
            SolverArg::Exact => Solver::Exact,
            SolverArg::Iterative => Solver::Iterative,
        };
    }
    if let Some(t) = a.tolerance {
        settings.tolerance = t;
    }
    if let Some(m) = a.max_iterations {
        settings.max_iterations = m;
    }
    settings.validate()?;
    Ok((scenario, settings))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn run(a: SimulateArgs) -> CmdResult {
    let (scenario, settings) = scenario_and_settings(&a)?;
    let net = contagion::io::load(&a.network)?;
    let marks = Marks::apply(&net, &scenario.shocks)?;
    let result = match settings.model {
        Model::Clearing => {
            let c = contagion::engine::clearing::clear(&net, &marks, &settings);
            SimulationResult::from_clearing(&net, &scenario, &settings, &marks, &c)
        }
        Model::Debtrank => {
            let c = contagion::engine::debtrank::debtrank(&net, &marks, &settings);
            SimulationResult::from_buffers(&net, &scenario, &settings, &marks, &c)
        }
        Model::Threshold => {
            let c = contagion::engine::threshold::threshold(&net, &marks, &settings);
            SimulationResult::from_buffers(&net, &scenario, &settings, &marks, &c)
        }
    };
    let text = match a.format {
        Format::Table => render_table(&result),
        Format::Json => result.to_json(),
        Format::Csv => result.to_csv(),
    };
    let mut inputs: Vec<&Path> = vec![&a.network];
    if let Some(s) = &a.scenario {
        inputs.push(s);
    }
    emit(&text, a.output.as_deref(), &inputs)
}
