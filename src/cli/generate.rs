//! `contagion generate`: a synthetic network from a seed.

use contagion::analysis::generate::{GenSpec, Topology, generate};

use super::args::{GenerateArgs, TopologyArg};
use super::{CmdResult, Failure};

pub fn run(a: GenerateArgs) -> CmdResult {
    let topology = match a.topology {
        TopologyArg::ErdosRenyi => Topology::ErdosRenyi,
        TopologyArg::ScaleFree => Topology::ScaleFree {
            exponent: a.exponent,
        },
        TopologyArg::CorePeriphery => Topology::CorePeriphery {
            core_fraction: a.core_fraction,
            core_share: a.core_share,
        },
    };
    let mut spec = GenSpec::new(a.firms, a.degree, topology, a.seed);
    spec.capital_ratio = a.capital_ratio;
    spec.interbank_share = a.interbank_share;
    if a.firms == 0 {
        return Err(Failure::BadInput(
            "--firms must be at least 1: a network needs a firm".into(),
        ));
    }
    spec.check().map_err(Failure::BadInput)?;
    let net = generate(&spec);
    contagion::io::save(&net, &a.output)?;
    eprintln!(
        "generated {} firms and {} exposures (seed {}) into {}",
        net.n_firms(),
        net.exposures().len(),
        a.seed,
        a.output.display()
    );
    Ok(())
}
