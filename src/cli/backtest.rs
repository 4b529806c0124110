//! `contagion backtest`: run a scenario and compare the model's defaults, and their order,
//! with the firms' real failure dates (`failed_on`).

use contagion::analysis::backtest::backtest;

use super::args::{BacktestArgs, BacktestFormat};
use super::simulate::{inputs, prepare, simulate};
use super::{CmdResult, Failure, emit};

pub fn run(a: BacktestArgs) -> CmdResult {
    if let Some(u) = &a.until {
        contagion::analysis::backtest::check_date(u)?;
    }
    let prepared = prepare(&a.network, &a.run)?;
    let result = simulate(&prepared);
    let mut bt = backtest(&prepared.net, &result, a.until.as_deref()).map_err(Failure::from)?;
    bt.notes.splice(0..0, result.notes.iter().cloned());
    let text = match a.format {
        BacktestFormat::Table => bt.render_table(),
        BacktestFormat::Json => bt.to_json(),
    };
    emit(&text, a.output.as_deref(), &inputs(&a.network, &a.run))
}
