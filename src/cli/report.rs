//! `contagion report`: one self-contained HTML file with the diagram, the round-by-round
//! timeline, the per-firm table, charts, the settings used and the dataset's sources.

use contagion::analysis::stress::{self, Sweep, SweepTarget};
use contagion::render::chart::{self, SweepPoint};
use contagion::render::exec::{self, dot_beside};
use contagion::render::html::{Report, report_html};
use contagion::render::{ImageFormat, RenderError};

use super::args::ReportArgs;
use super::render::{failure, network_and_result, options};
use super::simulate::{inputs, prepare};
use super::{CmdResult, Failure, guard_output};

pub fn run(a: ReportArgs) -> CmdResult {
    let mut run = a.run;
    if let Some(s) = a.scenario_file {
        if run.scenario.is_some() {
            return Err(Failure::BadInput(
                "give the scenario once: as the second argument or with --scenario".into(),
            ));
        }
        run.scenario = Some(s);
    }
    let ext = a
        .output
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("html" | "htm")) {
        return Err(Failure::BadInput(format!(
            "--output: expected a file name ending in .html, found {}",
            a.output.display()
        )));
    }
    let opts = options(&a.draw)?;
    let mut ins = inputs(&a.network, &run);
    ins.extend(a.result.as_deref());
    guard_output(&a.output, &ins)?;
    let beside = dot_beside(&a.output);
    guard_output(&beside, &ins)?;

    let (net, result) = network_and_result(&a.network, a.result.as_deref(), &run, true)?;
    let result = result.ok_or_else(|| Failure::Runtime("no result to report".into()))?;

    // Diagram.
    let d = contagion::render::dot::diagram(&net, Some(&result), &opts);
    let dot_text = d.to_dot();
    let (diagram, render_error) = match exec::render(&dot_text, d.engine, ImageFormat::Svg) {
        Ok(bytes) => (Ok(String::from_utf8_lossy(&bytes).into_owned()), None),
        Err(e @ (RenderError::DotNotFound { .. } | RenderError::DotFailed { .. })) => (
            Err(format!(
                "{e}. The diagram's DOT text is in {}.",
                beside.display()
            )),
            Some(e),
        ),
        Err(e) => return Err(failure(e)),
    };

    // Charts.
    let mut charts = vec![(
        "Defaults per round (bars: new defaults; line: in default so far) and losses transmitted per round.".to_string(),
        chart::rounds_svg(&result).map_err(failure)?,
    )];
    let sweep = match &a.sweep {
        Some(s) => Some(Sweep::parse(s).map_err(|e| Failure::BadInput(format!("--sweep: {e}")))?),
        None => result.scenario.sweep.as_ref().map(Sweep::from),
    };
    if let Some(sw) = sweep {
        if a.result.is_some() {
            return Err(Failure::BadInput(
                "--sweep runs the scenario again: give the scenario instead of --result".into(),
            ));
        }
        let p = prepare(&a.network, &run)?;
        let points = stress::sweep(&p.net, &p.scenario, &p.settings, &sw)?;
        let pts: Vec<SweepPoint> = points
            .iter()
            .map(|x| SweepPoint {
                shock: x.shock,
                defaults: x.defaults,
                losses: x.total_losses,
            })
            .collect();
        let what = match &sw.target {
            SweepTarget::Price(asset) => format!("{asset} price change"),
            SweepTarget::AssetLoss => "assets lost by every firm".to_string(),
        };
        let svg = chart::sweep_svg(&pts, &what, &net.meta().currency).map_err(failure)?;
        charts.push((
            format!(
                "Sweep: firms in default and system loss against the {what}, {} runs of the scenario with everything else unchanged.",
                pts.len()
            ),
            svg,
        ));
    }

    let html = report_html(&Report {
        network: &net,
        result: &result,
        diagram,
        diagram_notes: d.notes.clone(),
        charts,
        generator: format!("contagion {}", env!("CARGO_PKG_VERSION")),
    });
    contagion::io::write_atomic(&a.output, html.as_bytes())?;
    match render_error {
        None => Ok(()),
        Some(e) => {
            contagion::io::write_atomic(&beside, dot_text.as_bytes())?;
            Err(Failure::Runtime(format!(
                "{}; the report was written to {} without the diagram",
                e.with_dot_written(&beside),
                a.output.display()
            )))
        }
    }
}
