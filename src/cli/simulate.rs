//! `contagion simulate`: apply a scenario and propagate it.

use std::path::Path;

use contagion::error::Error;
use contagion::model::Network;
use contagion::report::{SimulationResult, render_table};
use contagion::scenario::{Loss, Marks, Scenario, Shock, parse_scenario};
use contagion::settings::{Model, Seniority, Settings, Solver, Variant, Vector};

use super::args::{
    BufferFlags, ExternalArg, Format, ModelArg, RunArgs, SimulateArgs, SolverArg, VariantArg,
};
use super::engine::{Engine, engine_of};
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
    withdrawals: &[String],
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
    for w in withdrawals {
        let (firm, v) = split_pair("withdraw", w)?;
        shocks.push(Shock::Withdrawal {
            firm: firm.to_string(),
            fraction: parse_fraction("withdraw", v)?,
        });
    }
    Ok(shocks)
}

/// The scenario file as read: its name, its text and how many shocks it holds (the shocks
/// given as flags follow them).
struct ScenarioSource {
    file: String,
    text: String,
    shocks: usize,
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
        ModelArg::Cascade => Model::Cascade,
        ModelArg::Debtrank => Model::Debtrank,
        ModelArg::Threshold => Model::Threshold,
    }
}

/// Applies the DebtRank and threshold flags, after rejecting flags that the chosen model
/// would ignore (`clearing_flags`: whether any clearing-only flag was given).
pub(crate) fn apply_buffer_flags(
    settings: &mut Settings,
    f: &BufferFlags,
    clearing_flags: bool,
) -> Result<(), Failure> {
    let model = settings.model.as_str();
    if clearing_flags && matches!(settings.model, Model::Debtrank | Model::Threshold) {
        return Err(Failure::BadInput(format!(
            "--alpha, --beta, --external, --least and --solver apply to --model clearing or cascade, not {model}"
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

/// Reads the scenario file, if any, and merges the command line into it. The model defaults
/// to the combined cascade when the network has assets and nothing names a model.
fn scenario_and_settings(
    a: &RunArgs,
    net: &Network,
) -> Result<(Scenario, Settings, Option<ScenarioSource>), Failure> {
    let mut source = None;
    let mut scenario = match &a.scenario {
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|source| Error::Io {
                path: p.clone(),
                source,
            })?;
            let sc = parse_scenario(&file_name(p), &bytes)?;
            let text = String::from_utf8_lossy(&bytes);
            source = Some(ScenarioSource {
                file: file_name(p),
                text: text.strip_prefix('\u{feff}').unwrap_or(&text).to_string(),
                shocks: sc.shocks.len(),
            });
            sc
        }
        None => Scenario::default(),
    };
    let mut settings = match &scenario.settings {
        Some(v) => Settings::default()
            .merge_json(v, &a.scenario.as_deref().map(file_name).unwrap_or_default())?,
        None => Settings::default(),
    };
    scenario.shocks.extend(flag_shocks(
        &a.defaults,
        &a.prices,
        &a.asset_losses,
        &a.withdrawals,
    )?);
    scenario.shocks.extend(equity_shocks(&a.equity_shocks)?);
    let model_in_file = scenario
        .settings
        .as_ref()
        .is_some_and(|v| v.get("model").is_some());
    if let Some(m) = a.model {
        settings.model = model_of(m);
    } else if !model_in_file && !net.assets().is_empty() {
        settings.model = Model::Cascade;
    }
    let clearing_flags = a.alpha.is_some()
        || a.beta.is_some()
        || a.external.is_some()
        || a.least
        || a.solver.is_some();
    apply_buffer_flags(&mut settings, &a.buffers, clearing_flags)?;
    if matches!(settings.model, Model::Clearing | Model::Cascade)
        && scenario
            .shocks
            .iter()
            .any(|s| matches!(s, Shock::EquityShock { .. }))
    {
        return Err(Failure::BadInput(format!(
            "equity shocks apply to --model debtrank and --model threshold, not to {}",
            settings.model.as_str()
        )));
    }
    settings.margin_calls &= !a.no_margin_calls;
    settings.fire_sales &= !a.no_fire_sales;
    settings.runs &= !a.no_runs;
    settings.contagious_runs &= !a.no_contagious_runs;
    if let Some(x) = a.price_impact {
        settings.price_impact = x;
    }
    if let Some(x) = a.run_fraction {
        settings.run_fraction = x;
    }
    if let Some(x) = a.run_trigger {
        settings.run_trigger = x;
    }
    if let Some(x) = a.max_rounds {
        settings.max_rounds = x;
    }
    if let Some(f) = &a.frozen_deposits {
        settings.frozen_deposits = contagion::settings::FrozenDeposits::parse(f)
            .map_err(|e| Failure::BadInput(format!("--frozen-deposits: {e}")))?;
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
    Ok((scenario, settings, source))
}

/// Gives problems found while resolving shocks (reported as `shocks[k]`) their origin: the
/// scenario file, with line and column, or the command-line flag.
fn locate_shocks(e: Error, source: Option<&ScenarioSource>, a: &RunArgs) -> Error {
    let Error::Input(mut diags) = e else { return e };
    let from_file = source.map_or(0, |s| s.shocks);
    let flags: Vec<String> = a
        .defaults
        .iter()
        .map(|v| format!("--default {v}"))
        .chain(a.prices.iter().map(|v| format!("--price {v}")))
        .chain(a.asset_losses.iter().map(|v| format!("--asset-loss {v}")))
        .chain(a.withdrawals.iter().map(|v| format!("--withdraw {v}")))
        .chain(
            a.equity_shocks
                .iter()
                .map(|v| format!("--equity-shock {v}")),
        )
        .collect();
    for d in &mut diags.0 {
        let loc = &mut d.location;
        let Some(k) = loc
            .file
            .strip_prefix("shocks[")
            .and_then(|r| r.strip_suffix(']'))
            .and_then(|k| k.parse::<usize>().ok())
        else {
            continue;
        };
        match source {
            Some(s) if k < from_file => {
                loc.file = s.file.clone();
                loc.field = Some(match &loc.field {
                    Some(f) => format!("shocks[{k}].{f}"),
                    None => format!("shocks[{k}]"),
                });
            }
            _ => {
                if let Some(flag) = flags.get(k - from_file) {
                    loc.file = "command line".to_string();
                    loc.field = Some(flag.clone());
                }
            }
        }
    }
    if let Some(s) = source {
        contagion::io::locate_json(&s.text, &mut diags.0);
    }
    Error::Input(diags)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Everything a run needs, read and merged from the command line: the network (with the
/// overlay applied), the scenario (overlay shock sizes applied), the settings and the marks.
pub(crate) struct Prepared {
    pub net: Network,
    pub scenario: Scenario,
    pub settings: Settings,
    pub marks: Marks,
    /// Remarks to add to the result (overlay overrides that matched no shock).
    pub notes: Vec<String>,
}

/// Loads the network, applies the overlay, reads the scenario and merges the command line
/// into it: the one code path shared by `simulate` and `backtest`.
pub(crate) fn prepare(network: &Path, a: &RunArgs) -> Result<Prepared, Failure> {
    prepare_loaded(contagion::io::load(network)?, a)
}

/// [`prepare`] for a network already loaded.
pub(crate) fn prepare_loaded(mut net: Network, a: &RunArgs) -> Result<Prepared, Failure> {
    let overlay = a
        .overlay
        .as_deref()
        .map(contagion::io::read_overlay)
        .transpose()?;
    if let Some(ov) = &overlay {
        net = ov.apply(net)?;
    }
    let (mut scenario, settings, source) = scenario_and_settings(a, &net)?;
    let mut notes = Vec::new();
    if let Some(ov) = &overlay {
        notes = ov.apply_to_shocks(&net, &mut scenario.shocks)?;
        notes.insert(
            0,
            format!(
                "overlay {}{}: {} network edits, {} shock overrides",
                ov.file,
                ov.name
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default(),
                ov.network_edits(),
                ov.price_changes.len() + ov.withdrawals.len()
            ),
        );
    }
    let marks =
        Marks::apply(&net, &scenario.shocks).map_err(|e| locate_shocks(e, source.as_ref(), a))?;
    Ok(Prepared {
        net,
        scenario,
        settings,
        marks,
        notes,
    })
}

/// Runs the model the settings name and reports it (the dispatch lives in the library:
/// [`contagion::run::run_marks`]).
pub(crate) fn simulate(p: &Prepared) -> SimulationResult {
    let mut result = contagion::run::run_marks(&p.net, &p.scenario, &p.settings, &p.marks);
    result.notes.extend(p.notes.iter().cloned());
    result
}

pub fn run(a: SimulateArgs) -> CmdResult {
    match engine_of(&a.engine)? {
        Engine::Local => {}
        #[cfg(feature = "distributed")]
        Engine::Timely(cluster) => return run_timely(&a, &cluster),
    }
    let p = prepare(&a.network, &a.run)?;
    let result = simulate(&p);
    if let Some(id) = &a.explain {
        let text = result
            .explain(id)
            .ok_or_else(|| Failure::BadInput(format!("--explain: unknown firm '{id}'")))?;
        eprint!("{text}");
    }
    let text = match a.format {
        Format::Table => render_table(&result),
        Format::Json => result.to_json(),
        Format::Csv => result.to_csv(),
    };
    let ins = inputs(&a.network, &a.run);
    emit(&text, a.output.as_deref(), &ins)?;
    super::render::diagrams(
        &p.net,
        &result,
        &a.draw,
        [(&a.dot, "dot"), (&a.svg, "svg"), (&a.png, "png")],
        &ins,
    )
}

/// `simulate --engine timely`: graph-parallel clearing. Each process loads every firm but
/// only the exposures of the debtors its workers own; process 0 writes the result.
#[cfg(feature = "distributed")]
fn run_timely(a: &SimulateArgs, cluster: &contagion::distributed::Cluster) -> CmdResult {
    use contagion::distributed::clearing;
    use std::sync::Arc;
    let refuse = |what: &str| {
        Err(Failure::BadInput(format!(
            "{what} is not available with --engine timely (it needs the whole network in one \
             process): use --engine local"
        )))
    };
    if a.explain.is_some() {
        return refuse("--explain");
    }
    if a.dot.is_some() || a.svg.is_some() || a.png.is_some() {
        return refuse("a diagram (--dot, --svg, --png)");
    }
    if a.run.overlay.is_some() {
        return refuse("--overlay");
    }
    // This process's firms, computed once the number of firms is known.
    let mine = std::cell::OnceCell::new();
    let net = contagion::io::load_partition(&a.network, &|debtor, n| {
        mine.get_or_init(|| clearing::share(cluster, n))
            .contains(&(debtor as usize))
    })?;
    let p = prepare_loaded(net, &a.run)?;
    if p.settings.model != Model::Clearing {
        return Err(Failure::BadInput(format!(
            "--engine timely runs the clearing model, this run would run {}: add --model \
             clearing (rank and stress run every model on it)",
            p.settings.model.as_str()
        )));
    }
    let Prepared {
        net,
        scenario,
        settings,
        marks,
        notes,
    } = p;
    let (net, marks) = (Arc::new(net), Arc::new(marks));
    let run = || clearing::clear(cluster, Arc::clone(&net), Arc::clone(&marks), &settings);
    let Some(c) = super::engine::quietly(cluster, run)? else {
        // Another process writes the result.
        return Ok(());
    };
    let mut result = SimulationResult::from_clearing(&net, &scenario, &settings, &marks, &c);
    result.notes.extend(notes);
    let text = match a.format {
        Format::Table => render_table(&result),
        Format::Json => result.to_json(),
        Format::Csv => result.to_csv(),
    };
    emit(&text, a.output.as_deref(), &inputs(&a.network, &a.run))
}

/// Every input file of a run: outputs must never be written over them.
pub(crate) fn inputs<'a>(network: &'a Path, a: &'a RunArgs) -> Vec<&'a Path> {
    let mut v: Vec<&Path> = vec![network];
    v.extend(a.scenario.as_deref());
    v.extend(a.overlay.as_deref());
    v
}
