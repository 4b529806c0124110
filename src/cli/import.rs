//! `contagion import`: an edge list or a square matrix (and optionally a firms table) into
//! the network format, saying what was assumed.

use std::path::Path;

use contagion::io::{Orientation, Shape};

use super::args::{ImportArgs, OrientationArg};
use super::{CmdResult, Failure, guard_output};

pub fn run(a: ImportArgs) -> CmdResult {
    let shape = match (&a.edges, &a.matrix) {
        (Some(e), None) => Shape::Edges(e),
        (None, Some(m)) => Shape::Matrix(m),
        _ => {
            return Err(Failure::BadInput(
                "give exactly one of --edges FILE or --matrix FILE".into(),
            ));
        }
    };
    let orientation = match a.orientation {
        OrientationArg::Assets => Orientation::Assets,
        OrientationArg::Liabilities => Orientation::Liabilities,
    };
    let imported = contagion::io::import(shape, orientation, a.firms.as_deref())?;
    let mut parts = imported.network.into_parts();
    parts.meta.name = a.name.clone();
    parts.meta.currency = a.currency.clone();
    let inputs: Vec<&Path> = [a.edges.as_deref(), a.matrix.as_deref(), a.firms.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    parts.meta.sources = inputs
        .iter()
        .map(|p| format!("imported from {}", contagion::io::display_name(p)))
        .collect();
    parts.meta.description = Some(format!(
        "Imported. Assumptions: {}.",
        imported.assumptions.join("; ")
    ));
    let net = contagion::model::Network::from_parts(parts)?;
    guard_output(&a.output, &inputs)?;
    contagion::io::save(&net, &a.output)?;
    eprintln!(
        "imported {} firms and {} exposures into {}",
        net.n_firms(),
        net.exposures().len(),
        a.output.display()
    );
    for s in &imported.assumptions {
        eprintln!("assumed: {s}");
    }
    Ok(())
}
