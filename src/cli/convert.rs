//! `contagion convert`: CSV directory ⇄ JSON document.

use super::args::ConvertArgs;
use super::{CmdResult, guard_output};

pub fn run(a: ConvertArgs) -> CmdResult {
    let net = contagion::io::load(&a.network)?;
    guard_output(&a.output, &[&a.network])?;
    contagion::io::save(&net, &a.output)?;
    eprintln!(
        "wrote {} firms and {} exposures to {}",
        net.n_firms(),
        net.exposures().len(),
        a.output.display()
    );
    Ok(())
}
