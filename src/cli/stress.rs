//! `contagion stress`: sweeps over a shock's size, and Monte Carlo draws from a seed.

use std::io::IsTerminal;
use std::sync::Arc;

use contagion::analysis::stress::{self, MonteCarlo, Sweep};

#[cfg(feature = "distributed")]
use contagion::distributed;

use super::args::StressArgs;
use super::engine::{Engine, engine_of};
use super::simulate::{inputs, prepare};
use super::{CmdResult, Failure, emit};

pub fn run(a: StressArgs) -> CmdResult {
    let engine = engine_of(&a.engine)?;
    let p = prepare(&a.network, &a.run)?;
    let (scenario, settings) = (p.scenario, p.settings);
    let net = Arc::new(p.net);
    let from_file = scenario.sweep.as_ref().map(Sweep::from);
    let sweep = match &a.sweep {
        Some(s) => Some(Sweep::parse(s).map_err(|e| Failure::BadInput(format!("--sweep: {e}")))?),
        None => from_file,
    };
    let progress = std::io::stderr().is_terminal();
    let points = match (sweep, a.draws) {
        (Some(_), Some(_)) => {
            return Err(Failure::BadInput(
                "give either a sweep or --draws, not both".into(),
            ));
        }
        (Some(sw), None) => {
            if progress {
                eprintln!("running {} scenarios …", sw.steps);
            }
            match &engine {
                Engine::Local => stress::sweep(&net, &scenario, &settings, &sw)?,
                #[cfg(feature = "distributed")]
                Engine::Timely(cluster) => {
                    let shared = Arc::clone(&net);
                    let run = || {
                        distributed::scenarios::sweep(cluster, shared, &scenario, &settings, &sw)
                    };
                    match super::engine::quietly(cluster, run)? {
                        Some(points) => points,
                        // Another process writes the result.
                        None => return Ok(()),
                    }
                }
            }
        }
        (None, Some(draws)) => {
            let mut price_falls = Vec::new();
            for s in &a.mc_price {
                let (asset, v) = s.split_once('=').ok_or_else(|| {
                    Failure::BadInput(format!("--mc-price expects ASSET=MAX_FALL, found '{s}'"))
                })?;
                let f = super::simulate::parse_fraction("mc-price", v.trim())?;
                price_falls.push((asset.trim().to_string(), f.abs()));
            }
            let mc = MonteCarlo {
                draws,
                seed: a.seed,
                firm_probability: a.mc_prob,
                max_loss: a.mc_max_loss,
                price_falls,
            };
            if progress {
                eprintln!("running {draws} draws (seed {}) …", a.seed);
            }
            let pts = match &engine {
                Engine::Local => stress::monte_carlo(&net, &scenario, &settings, &mc)?,
                #[cfg(feature = "distributed")]
                Engine::Timely(cluster) => {
                    let shared = Arc::clone(&net);
                    let run = || {
                        distributed::scenarios::monte_carlo(
                            cluster, shared, &scenario, &settings, &mc,
                        )
                    };
                    match super::engine::quietly(cluster, run)? {
                        Some(points) => points,
                        None => return Ok(()),
                    }
                }
            };
            let defaults: Vec<f64> = pts.iter().map(|x| x.defaults as f64).collect();
            let losses: Vec<f64> = pts.iter().map(|x| x.total_losses).collect();
            let (m, q5, q50, q95) = stress::summary(&defaults);
            eprintln!("defaults: mean {m:.3}, 5% {q5}, median {q50}, 95% {q95}");
            let (m, q5, q50, q95) = stress::summary(&losses);
            let c = &net.meta().currency;
            eprintln!(
                "total losses ({c}): mean {m:.6e}, 5% {q5:.6e}, median {q50:.6e}, 95% {q95:.6e}"
            );
            pts
        }
        (None, None) => {
            return Err(Failure::BadInput(
                "nothing to run: give --sweep ASSET=FROM:TO:STEPS, a scenario with a sweep, or --draws N".into(),
            ));
        }
    };
    if let Some(chart) = &a.chart {
        super::guard_output(chart, &inputs(&a.network, &a.run))?;
        let svg = super::stress_chart_svg(&points, &net.meta().currency)?;
        contagion::io::write_atomic(chart, svg.as_bytes())?;
    }
    emit(
        &stress::to_csv(&points),
        a.output.as_deref(),
        &inputs(&a.network, &a.run),
    )
}
