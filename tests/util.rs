//! Shared helpers for the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use contagion::prelude::*;

/// The `contagion` binary, ready to run from the repository root.
pub fn cli() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("contagion").expect("binary built");
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Path of a shipped network under `graphs/`.
pub fn graph(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("graphs")
        .join(name)
}

/// A firm with only cash and external liabilities (the common case in textbook examples).
pub fn firm(id: &str, cash: f64, external_liabilities: f64) -> Firm {
    Firm {
        id: id.to_string(),
        name: id.to_string(),
        kind: FirmKind::Bank,
        cash,
        other_assets: 0.0,
        external_liabilities,
        capital: None,
        weight: None,
        failed_on: None,
        extra: vec![],
    }
}

/// A network from firms `(id, cash, external liabilities)` and loans `(debtor, creditor,
/// amount)` given by index.
pub fn network(firms: &[(&str, f64, f64)], loans: &[(u32, u32, f64)]) -> Network {
    let firms = firms.iter().map(|&(id, c, b)| firm(id, c, b)).collect();
    let exposures = loans
        .iter()
        .map(|&(debtor, creditor, amount)| Exposure {
            creditor,
            debtor,
            kind: ExposureKind::Loan,
            amount,
        })
        .collect();
    Network::from_parts(Parts {
        firms,
        exposures,
        ..Default::default()
    })
    .expect("valid network")
}

/// Asserts two floats agree to `tol` (absolute), naming what differs.
#[track_caller]
pub fn close(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} (tolerance {tol})"
    );
}

/// Writes files into a fresh temporary directory and returns it.
pub fn temp_network(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write fixture");
    }
    dir
}
