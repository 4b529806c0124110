//! Importers, generated networks and stress programmes.

use contagion::analysis::generate::{GenSpec, Topology, generate};
use contagion::analysis::stress::{MonteCarlo, Sweep, SweepTarget, monte_carlo, sweep};
use contagion::prelude::*;

use crate::util::{cli, close, temp_network};

/// An edge list `lender,borrower,amount` with a firms table of capital and total assets.
/// A lent 10 to B and borrowed 2 from C; total assets 30, cash 1, capital 3 →
/// other assets = 30 − 1 − 10 = 19, external liabilities = 30 − 3 − 2 = 25.
/// B lent 5 to C and borrowed 10: other = 20 − 1 − 5 = 14, external = 20 − 2 − 10 = 8.
/// C is not in the firms table: zero balance sheet, and the command says so.
#[test]
fn import_edge_list_with_firms_table() {
    let dir = temp_network(&[
        (
            "edges.csv",
            "lender,borrower,amount\nA,B,10\nB,C,5\nC,A,2\n",
        ),
        (
            "banks.csv",
            "id,cash,capital,total_assets\nA,1,3,30\nB,1,2,20\n",
        ),
    ]);
    let out = dir.path().join("net");
    let o = cli()
        .args(["import", "--edges"])
        .arg(dir.path().join("edges.csv"))
        .args(["--orientation", "lender-borrower", "--firms"])
        .arg(dir.path().join("banks.csv"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("zero balance sheets: C"), "{err}");
    let net = contagion::io::load(&out).unwrap();
    let f = |id: &str| net.firms()[net.firm_ix(id).unwrap() as usize].clone();
    close("A other", f("A").other_assets, 19.0, 1e-12);
    close("A external", f("A").external_liabilities, 25.0, 1e-12);
    close("B other", f("B").other_assets, 14.0, 1e-12);
    close("B external", f("B").external_liabilities, 8.0, 1e-12);
    assert_eq!(f("C").other_assets, 0.0);
    // A lent to B: B is A's debtor.
    let e = net.exposures()[0];
    assert_eq!(
        (
            net.firm_id(e.creditor as usize),
            net.firm_id(e.debtor as usize)
        ),
        ("A", "B")
    );
}

/// A liabilities matrix: entry (A, B) = 3 means A owes B 3 (creditor B); (B, A) = 4 means
/// B owes A 4. The same data as an assets matrix is its transpose and gives the same network.
#[test]
fn import_matrix_both_orientations() {
    let dir = temp_network(&[
        ("liab.csv", ",A,B\nA,0,3\nB,4,0\n"),
        ("assets.csv", ",A,B\nA,0,4\nB,3,0\n"),
    ]);
    let load = |file: &str, orientation: &str| {
        let out = dir.path().join(format!("{file}.json"));
        cli()
            .args(["import", "--matrix"])
            .arg(dir.path().join(file))
            .args(["--orientation", orientation, "-o"])
            .arg(&out)
            .assert()
            .success();
        let net = contagion::io::load(&out).unwrap();
        let mut v: Vec<(String, String, f64)> = net
            .exposures()
            .iter()
            .map(|e| {
                (
                    net.firm_id(e.creditor as usize).into(),
                    net.firm_id(e.debtor as usize).into(),
                    e.amount,
                )
            })
            .collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v
    };
    let want = vec![
        ("A".to_string(), "B".to_string(), 4.0),
        ("B".to_string(), "A".to_string(), 3.0),
    ];
    assert_eq!(load("liab.csv", "liabilities"), want);
    assert_eq!(load("assets.csv", "assets"), want);
}

/// A matrix with a non-zero diagonal and a malformed number: both reported, located, exit 2.
#[test]
fn import_matrix_errors_are_located() {
    let dir = temp_network(&[("m.csv", ",A,B\nA,1,x\nB,4,0\n")]);
    let o = cli()
        .args(["import", "--matrix"])
        .arg(dir.path().join("m.csv"))
        .args(["--orientation", "assets", "-o"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("m.csv, line 2, column 2") && err.contains("diagonal"),
        "{err}"
    );
    assert!(
        err.contains("m.csv, line 2, column 3") && err.contains("malformed number 'x'"),
        "{err}"
    );
}

/// Under clearing, a larger uniform asset loss never lowers any payment (Eisenberg–Noe
/// payments are increasing in external assets), so defaults and losses are non-decreasing
/// along the sweep.
#[test]
fn asset_loss_sweep_is_monotone() {
    let net = generate(&GenSpec::new(300, 6.0, Topology::ErdosRenyi, 11));
    let sw = Sweep {
        target: SweepTarget::AssetLoss,
        from: 0.0,
        to: 0.3,
        steps: 13,
    };
    let pts = sweep(&net, &Scenario::default(), &Settings::default(), &sw).unwrap();
    assert_eq!(pts.len(), 13);
    close("first shock", pts[0].shock, 0.0, 0.0);
    close("last shock", pts[12].shock, 0.3, 1e-15);
    for w in pts.windows(2) {
        assert!(w[1].defaults >= w[0].defaults, "{:?}", w);
        assert!(w[1].total_losses >= w[0].total_losses - 1e-9, "{:?}", w);
    }
    assert!(
        pts[12].defaults > pts[0].defaults,
        "the sweep should default someone"
    );
}

/// Monte Carlo draws: the same seed gives the same results with one thread and with four;
/// another seed gives different ones.
#[test]
fn monte_carlo_is_seeded_and_thread_independent() {
    let net = generate(&GenSpec::new(
        200,
        5.0,
        Topology::ScaleFree { exponent: 2.5 },
        5,
    ));
    let mc = MonteCarlo {
        draws: 40,
        seed: 42,
        firm_probability: 0.2,
        max_loss: 0.8,
        price_falls: vec![],
    };
    let with = |threads: usize, mc: &MonteCarlo| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| monte_carlo(&net, &Scenario::default(), &Settings::default(), mc).unwrap())
    };
    let one = with(1, &mc);
    let four = with(4, &mc);
    assert_eq!(one, four);
    let other = with(
        2,
        &MonteCarlo {
            seed: 43,
            ..mc.clone()
        },
    );
    assert_ne!(one, other);
    assert!(one.iter().any(|p| p.defaults > 0));
}

/// `stress --sweep` through the command line writes one CSV row per step.
#[test]
fn stress_cli_sweep() {
    let o = cli()
        .args([
            "stress",
            "graphs/textbook-3",
            "--sweep",
            "asset_loss=0:1:5",
            "--model",
            "clearing",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(text.lines().count(), 6, "{text}");
    assert!(text.starts_with("index,shock,defaults,total_losses"));
    // No shock: A and B default (textbook-3); a 100% loss also wipes C's cash, but C owes
    // nothing, so it never defaults: 2 defaults at every step.
    assert!(
        text.lines()
            .skip(1)
            .all(|l| l.split(',').nth(2) == Some("2")),
        "{text}"
    );
}
