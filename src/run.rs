//! One entry point from a scenario to a report: apply the shocks, run the model the settings
//! name, and build the [`SimulationResult`]. Used by the command line, stress sweeps and
//! back-tests alike.

use crate::error::Error;
use crate::model::Network;
use crate::report::SimulationResult;
use crate::scenario::{Marks, Scenario};
use crate::settings::{Model, Settings};

/// Runs `scenario` on `net` under `settings` (which must be valid).
pub fn run(
    net: &Network,
    scenario: &Scenario,
    settings: &Settings,
) -> Result<SimulationResult, Error> {
    settings.validate()?;
    let marks = Marks::apply(net, &scenario.shocks)?;
    Ok(run_marks(net, scenario, settings, &marks))
}

/// Runs the model on shocks already applied (`marks`).
pub fn run_marks(
    net: &Network,
    scenario: &Scenario,
    settings: &Settings,
    marks: &Marks,
) -> SimulationResult {
    let mut result = match settings.model {
        Model::Clearing => {
            let c = crate::engine::clearing::clear(net, marks, settings);
            SimulationResult::from_clearing(net, scenario, settings, marks, &c)
        }
        Model::Cascade => {
            let k = crate::engine::cascade::cascade(net, marks, settings);
            SimulationResult::from_cascade(net, scenario, settings, marks, &k)
        }
        Model::Debtrank => {
            let c = crate::engine::debtrank::debtrank(net, marks, settings);
            SimulationResult::from_buffers(net, scenario, settings, marks, &c)
        }
        Model::Threshold => {
            let c = crate::engine::threshold::threshold(net, marks, settings);
            SimulationResult::from_buffers(net, scenario, settings, marks, &c)
        }
    };
    if settings.model == Model::Clearing && marks.withdrawal.iter().any(|&w| w > 0.0) {
        result.notes.push(
            "withdrawal shocks are only processed by the cascade model (--model cascade)".into(),
        );
    }
    result
}
