//! `contagion reconstruct`: a bilateral network from each firm's interbank totals.

use contagion::analysis::reconstruct::{Known, Reconstruction, max_entropy, min_density};
use contagion::model::{Exposure, ExposureKind, ExposureLabel, Meta, Network, Parts};

use super::args::{ReconstructArgs, ReconstructMethod};
use super::{CmdResult, guard_output};

pub fn run(a: ReconstructArgs) -> CmdResult {
    let m = contagion::io::load_marginals(&a.marginals)?;
    let known: Vec<Known> = match &a.known {
        Some(p) => contagion::io::load_known(p, &m)?
            .into_iter()
            .map(|(lender, borrower, amount)| Known {
                lender,
                borrower,
                amount,
            })
            .collect(),
        None => Vec::new(),
    };
    let (r, method): (Reconstruction, String) = match a.method {
        ReconstructMethod::Maxent => (
            max_entropy(
                &m.assets,
                &m.liabilities,
                &known,
                a.tolerance,
                a.max_iterations,
            )?,
            "maximum entropy (RAS, zero diagonal)".into(),
        ),
        ReconstructMethod::MinDensity => (
            min_density(&m.assets, &m.liabilities, &known, a.seed, a.restarts)?,
            format!(
                "minimum density (greedy matching, seed {}, {} restarts)",
                a.seed, a.restarts
            ),
        ),
    };
    let n = m.firms.len();
    let source = match a.method {
        ReconstructMethod::Maxent => "reconstructed: maximum entropy",
        ReconstructMethod::MinDensity => "reconstructed: minimum density",
    };
    let mut exposures = Vec::with_capacity(r.links.len());
    let mut labels = Vec::with_capacity(r.links.len());
    for &(i, j, x) in &r.links {
        exposures.push(Exposure {
            creditor: i as u32,
            debtor: j as u32,
            kind: ExposureKind::Loan,
            amount: x,
        });
        let is_known = known.iter().any(|k| k.lender == i && k.borrower == j);
        labels.push(ExposureLabel {
            source: Some(if is_known {
                "known".to_string()
            } else {
                source.to_string()
            }),
            ..Default::default()
        });
    }
    let description = format!(
        "Bilateral exposures reconstructed from {} firms' interbank totals by {method}; {} links \
         ({} known); {} after {} iterations; largest margin residuals: assets {:.3e}, liabilities {:.3e}.",
        n,
        r.links.len(),
        known.len(),
        if r.converged {
            "margins matched"
        } else {
            "margins NOT matched"
        },
        r.iterations,
        r.row_residual,
        r.col_residual,
    );
    let net = Network::from_parts(Parts {
        meta: Meta {
            name: a
                .marginals
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned()),
            description: Some(description.clone()),
            sources: vec![format!(
                "marginals: {}",
                contagion::io::display_name(&a.marginals)
            )],
            ..Meta::default()
        },
        firms: m.firms.clone(),
        exposures,
        labels,
        ..Default::default()
    })?;
    guard_output(&a.output, &[&a.marginals])?;
    contagion::io::save(&net, &a.output)?;
    eprintln!("{description}");
    eprintln!(
        "wrote {} to {}",
        if a.output.extension().is_some_and(|e| e == "json") {
            "a network document"
        } else {
            "a network directory"
        },
        a.output.display()
    );
    if !m.has_balance_sheets {
        eprintln!(
            "note: the marginals have no balance-sheet columns, so every firm has zero cash, other \
             assets and external liabilities; add cash, other_assets, external_liabilities or \
             capital columns before running models"
        );
    }
    if !r.converged {
        eprintln!(
            "warning: the margins were not matched: the totals may be infeasible with the known entries"
        );
    }
    if matches!(a.method, ReconstructMethod::Maxent) && n > 2000 {
        eprintln!(
            "note: maximum entropy links every pair: {} exposures",
            r.links.len()
        );
    }
    Ok(())
}
