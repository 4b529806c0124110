//! The timely engine (`--features distributed`): hand-derived clearing examples on several
//! workers, agreement with the single-process engines (identical for rank and stress, to the
//! tolerance for graph-parallel clearing), and runs of two real processes on loopback.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use contagion::analysis::generate::{GenSpec, Topology, generate};
use contagion::analysis::rank::rank;
use contagion::analysis::stress::{self, MonteCarlo, Sweep, SweepTarget};
use contagion::distributed::{Cluster, clearing, parse_hosts, scenarios};
use contagion::engine::clearing::Clearing;
use contagion::prelude::*;
use contagion::scenario::Loss;
use proptest::prelude::*;

use crate::util::{cli, close, graph, network};

fn timely_clear(net: &Network, shocks: &[Shock], s: &Settings, workers: usize) -> Clearing {
    let marks = Marks::apply(net, shocks).expect("shocks resolve");
    clearing::clear(
        &Cluster::local(workers),
        Arc::new(net.clone()),
        Arc::new(marks),
        s,
    )
    .expect("runs")
    .expect("one process: this one holds worker 0")
}

fn default(firm: &str) -> Shock {
    Shock::Default { firm: firm.into() }
}

/// A owes B 10 and B owes C 10; A has 4, B 1, C 1 of cash. A pays 4 (round 1); B receives 4
/// and with its own 1 pays 5 of 10 (round 2); C receives 5 and owes nothing.
#[test]
fn chain_on_more_workers_than_firms() {
    let net = network(
        &[("A", 4.0, 0.0), ("B", 1.0, 0.0), ("C", 1.0, 0.0)],
        &[(0, 1, 10.0), (1, 2, 10.0)],
    );
    for workers in [1, 2, 3, 5] {
        let c = timely_clear(&net, &[], &Settings::default(), workers);
        for (i, want) in [4.0, 5.0, 0.0].into_iter().enumerate() {
            close(
                &format!("payment {i}, {workers} workers"),
                c.payments[i],
                want,
                1e-12,
            );
        }
        assert_eq!(
            c.default_round,
            vec![Some(1), Some(2), None],
            "{workers} workers"
        );
        // Equity after: C has 1 + 5 = 6; book equity before: A 4 − 10, B 1 + 10 − 10, C 11.
        close("C equity", c.equity_after[2], 6.0, 1e-12);
        assert_eq!(c.equity_before, vec![-6.0, 1.0, 11.0]);
        assert_eq!(c.rounds.len(), 2);
        close("round 1 shortfall", c.rounds[0].losses, 6.0, 1e-12);
        close("round 2 shortfall", c.rounds[1].losses, 5.0, 1e-12);
        assert_eq!(c.caused_by[1][0].firm, 0, "B was pushed over by A");
        close(
            "A's shortfall passed to B",
            c.caused_by[1][0].loss,
            6.0,
            1e-12,
        );
    }
}

/// Rogers–Veraart costs default everyone: A (e 4) owes B 10; B (e 1) owes C 6; C (e 1) owes
/// A 4. With α = β = ½ all three default in rounds 1, 2, 3 and (solving the three linear
/// equations p_A = 2 + ½ p_C, p_B = ½ + ½ p_A, p_C = ½ + ½ p_B) pay 19/7, 13/7, 10/7. Without
/// costs only A defaults and pays 4 + 4 = 8.
#[test]
fn default_costs_on_two_workers() {
    let net = network(
        &[("A", 4.0, 0.0), ("B", 1.0, 0.0), ("C", 1.0, 0.0)],
        &[(0, 1, 10.0), (1, 2, 6.0), (2, 0, 4.0)],
    );
    let rv = Settings {
        alpha: 0.5,
        beta: 0.5,
        ..Settings::default()
    };
    let c = timely_clear(&net, &[], &rv, 2);
    assert_eq!(c.default_round, vec![Some(1), Some(2), Some(3)]);
    for (i, want) in [19.0 / 7.0, 13.0 / 7.0, 10.0 / 7.0].into_iter().enumerate() {
        close("RV payment", c.payments[i], want, 1e-11);
    }
    let en = timely_clear(&net, &[], &Settings::default(), 2);
    assert_eq!(en.defaulted, vec![true, false, false]);
    for (i, want) in [8.0, 6.0, 4.0].into_iter().enumerate() {
        close("EN payment", en.payments[i], want, 1e-12);
    }
}

/// A firm that fails outright loses its outside assets and passes on what it receives:
/// B (cash 6) owes A 5 and pays in full; A (cash 7, failed) owes C 6 and pays what B pays
/// it, 5, of the 6; C receives 5.
#[test]
fn outright_failure_passes_receipts_on() {
    let net = network(
        &[("A", 7.0, 0.0), ("B", 6.0, 0.0), ("C", 0.0, 0.0)],
        &[(1, 0, 5.0), (0, 2, 6.0)],
    );
    let c = timely_clear(&net, &[default("A")], &Settings::default(), 2);
    close("A pays", c.payments[0], 5.0, 1e-12);
    close("B pays in full", c.payments[1], 5.0, 1e-12);
    assert!(!c.defaulted[1]);
    close("C's equity", c.equity_after[2], 5.0, 1e-12);
    assert_eq!(c.default_round[0], Some(0));
    assert_eq!(c.rounds[0].defaults, vec![0]);
}

/// A generated network of `n` firms with a wide shock: every seventh firm loses half its
/// outside assets and one fails outright.
fn shocked(n: usize, seed: u64) -> (Network, Vec<Shock>) {
    let net = generate(&GenSpec::new(n, 10.0, Topology::ErdosRenyi, seed));
    let mut shocks: Vec<Shock> = (0..n)
        .step_by(7)
        .map(|i| Shock::AssetLoss {
            firm: net.firm_id(i).to_string(),
            loss: Loss::Fraction(0.5),
        })
        .collect();
    shocks.push(default(net.firm_id(n / 2)));
    (net, shocks)
}

/// Graph-parallel and single-process clearing agree: same defaults, rounds, causes and
/// counterparties; payments and equities to the tolerance (relative to `max(1, p̄_i)`).
fn assert_same_clearing(a: &Clearing, b: &Clearing, tol: f64) {
    assert_eq!(a.defaulted, b.defaulted);
    assert_eq!(a.default_round, b.default_round);
    assert_eq!(a.cause, b.cause);
    assert_eq!(a.rounds.len(), b.rounds.len());
    // A round's losses are a difference of sums over every firm: each firm's share of the
    // tolerance adds up.
    let total: f64 = a.obligations.iter().map(|o| o.max(1.0)).sum();
    for (ra, rb) in a.rounds.iter().zip(&b.rounds) {
        assert_eq!(ra.defaults, rb.defaults);
        close("round losses", rb.losses, ra.losses, tol * total);
    }
    for i in 0..a.payments.len() {
        let scale = a.obligations[i].max(1.0);
        close("payment", b.payments[i], a.payments[i], tol * scale);
        close(
            "equity after",
            b.equity_after[i],
            a.equity_after[i],
            tol * scale,
        );
        close(
            "equity before",
            b.equity_before[i],
            a.equity_before[i],
            tol * scale,
        );
        close(
            "receipts",
            b.interbank_receipts[i],
            a.interbank_receipts[i],
            tol * scale,
        );
        assert_eq!(a.obligations[i], b.obligations[i]);
        let fa: Vec<u32> = a.caused_by[i].iter().map(|c| c.firm).collect();
        let fb: Vec<u32> = b.caused_by[i].iter().map(|c| c.firm).collect();
        assert_eq!(fa, fb, "counterparties of firm {i}");
    }
}

#[test]
fn graph_parallel_matches_single_process_on_ten_thousand_firms() {
    let (net, shocks) = shocked(10_000, 11);
    let marks = Marks::apply(&net, &shocks).unwrap();
    for s in [
        Settings::default(),
        Settings {
            alpha: 0.6,
            beta: 0.9,
            ..Settings::default()
        },
        Settings {
            external: Seniority::Senior,
            ..Settings::default()
        },
    ] {
        let single = clear(&net, &marks, &s);
        assert!(single.rounds.len() > 1, "the shock must cascade");
        let dist = timely_clear(&net, &shocks, &s, 3);
        assert!(dist.converged);
        assert_same_clearing(&single, &dist, 1e-12);
    }
}

/// Generated networks of a few dozen firms, any shock size, default costs, seniority and
/// outright failures, any number of workers.
fn small_case() -> impl Strategy<Value = (u64, usize, f64, usize, (f64, f64), bool, usize)> {
    (
        any::<u64>(),
        3usize..40,
        0.0f64..1.0,
        1usize..6,
        prop_oneof![Just((1.0, 1.0)), (0.3f64..1.0, 0.3f64..1.0)],
        any::<bool>(),
        0usize..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn graph_parallel_agrees_with_single_process(
        (seed, n, loss, workers, (alpha, beta), senior, failures) in small_case()
    ) {
        let net = generate(&GenSpec::new(n, 3.0, Topology::ErdosRenyi, seed));
        let mut shocks: Vec<Shock> = (0..n)
            .step_by(2)
            .map(|i| Shock::AssetLoss {
                firm: net.firm_id(i).to_string(),
                loss: Loss::Fraction(loss),
            })
            .collect();
        shocks.extend((0..failures.min(n)).map(|k| default(net.firm_id(n - 1 - k))));
        let s = Settings {
            alpha,
            beta,
            external: if senior { Seniority::Senior } else { Seniority::PariPassu },
            ..Settings::default()
        };
        let marks = Marks::apply(&net, &shocks).unwrap();
        let single = clear(&net, &marks, &s);
        let dist = timely_clear(&net, &shocks, &s, workers);
        for i in 0..n {
            // Payments within [0, obligations]; agreement with the single-process vector.
            prop_assert!(dist.payments[i] >= 0.0 && dist.payments[i] <= dist.obligations[i] * (1.0 + 1e-12));
            let scale = single.obligations[i].max(1.0);
            prop_assert!((dist.payments[i] - single.payments[i]).abs() <= 1e-9 * scale,
                "firm {}: {} vs {}", i, dist.payments[i], single.payments[i]);
            prop_assert!((dist.equity_after[i] - single.equity_after[i]).abs() <= 1e-9 * scale);
        }
        prop_assert_eq!(&dist.defaulted, &single.defaulted);
        prop_assert_eq!(&dist.default_round, &single.default_round);
    }
}

#[test]
fn equity_stakes_and_least_vector_are_refused() {
    let net = contagion::io::load(&graph("ftx-2022")).unwrap();
    let marks = Arc::new(Marks::book(&net));
    let err = clearing::clear(
        &Cluster::local(2),
        Arc::new(net.clone()),
        Arc::clone(&marks),
        &Settings::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("equity stakes"), "{err}");
    let least = Settings {
        vector: Vector::Least,
        ..Settings::default()
    };
    let err = clearing::clear(&Cluster::local(1), Arc::new(net), marks, &least).unwrap_err();
    assert!(err.to_string().contains("--least"), "{err}");
}

#[test]
fn scenario_parallel_rank_is_identical_whatever_the_workers() {
    let net = generate(&GenSpec::new(300, 6.0, Topology::ErdosRenyi, 5));
    for model in [Model::Debtrank, Model::Threshold, Model::Clearing] {
        let s = Settings {
            model,
            ..Settings::default()
        };
        let single = rank(&net, &s, None);
        for workers in [1, 2, 3, 7] {
            let dist = scenarios::rank(&Cluster::local(workers), Arc::new(net.clone()), &s)
                .unwrap()
                .unwrap();
            assert_eq!(dist, single, "{model:?} on {workers} workers");
        }
    }
}

#[test]
fn scenario_parallel_stress_is_identical() {
    let net = contagion::io::load(&graph("ftx-2022")).unwrap();
    let base = Scenario::default();
    let s = Settings {
        model: Model::Cascade,
        ..Settings::default()
    };
    let sweep = Sweep {
        target: SweepTarget::Price("FTT".into()),
        from: 0.0,
        to: -1.0,
        steps: 11,
    };
    let single = stress::sweep(&net, &base, &s, &sweep).unwrap();
    let shared = Arc::new(net.clone());
    let dist = scenarios::sweep(&Cluster::local(3), shared, &base, &s, &sweep)
        .unwrap()
        .unwrap();
    assert_eq!(dist, single);
    let mc = MonteCarlo {
        draws: 25,
        seed: 9,
        firm_probability: 0.3,
        max_loss: 0.8,
        price_falls: vec![("FTT".into(), 0.9)],
    };
    let single = stress::monte_carlo(&net, &base, &s, &mc).unwrap();
    let dist = scenarios::monte_carlo(&Cluster::local(4), Arc::new(net), &base, &s, &mc)
        .unwrap()
        .unwrap();
    assert_eq!(dist, single);
}

#[test]
fn hosts_files_are_checked_line_by_line() {
    let hosts = parse_hosts("hosts.txt", "# cluster\n10.0.0.1:2101\n\nnode-b:2101\n").unwrap();
    assert_eq!(hosts, ["10.0.0.1:2101", "node-b:2101"]);
    let err = parse_hosts("hosts.txt", "10.0.0.1:2101\nnode-b\n:80\nx:99999\n").unwrap_err();
    let msg = err.to_string();
    for line in ["line 2", "line 3", "line 4"] {
        assert!(msg.contains(&format!("hosts.txt, {line}")), "{msg}");
    }
    let c = Cluster {
        workers: 1,
        processes: 2,
        process: 0,
        hosts: vec!["127.0.0.1:1".into()],
        connect_timeout: None,
    };
    assert!(c.check().unwrap_err().to_string().contains("2 lines"));
}

/// Two free loopback ports.
fn free_ports() -> [u16; 2] {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    [
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    ]
}

/// A child process killed if the test ends early.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `args` as a two-process timely run on loopback: process 1 in the background, process
/// 0 in the foreground; both must succeed. Returns process 0's result: its output file's
/// text, or with `to_stdout` what it wrote on standard output (nothing else may be there).
fn two_processes(dir: &Path, args: &[&str], to_stdout: bool) -> String {
    let [p0, p1] = free_ports();
    let hosts = dir.join("hosts.txt");
    std::fs::write(&hosts, format!("127.0.0.1:{p0}\n127.0.0.1:{p1}\n")).unwrap();
    let out0 = dir.join("out0");
    let out1 = dir.join("out1");
    let common = |k: usize, out: &Path| {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend([
            "--engine".into(),
            "timely".into(),
            "--processes".into(),
            "2".into(),
            "--process".into(),
            k.to_string(),
            "--hosts".into(),
            hosts.display().to_string(),
            "--connect-timeout".into(),
            "120".into(),
        ]);
        if !to_stdout {
            v.extend(["-o".into(), out.display().to_string()]);
        }
        v
    };
    let bin = assert_cmd::cargo::cargo_bin("contagion");
    let mut peer = Peer(
        Command::new(&bin)
            .args(common(1, &out1))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start process 1"),
    );
    let leader = Command::new(&bin)
        .args(common(0, &out0))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run process 0");
    assert!(
        leader.status.success(),
        "process 0: {}",
        String::from_utf8_lossy(&leader.stderr)
    );
    let mut quiet = String::new();
    if let Some(mut out) = peer.0.stdout.take() {
        std::io::Read::read_to_string(&mut out, &mut quiet).unwrap();
    }
    let status = peer.0.wait().expect("process 1 ends");
    assert!(status.success(), "process 1 failed");
    assert!(!out1.exists(), "only process 0 writes the result");
    assert!(
        quiet.is_empty(),
        "process 1 printed on standard output: {quiet}"
    );
    if to_stdout {
        String::from_utf8(leader.stdout).unwrap()
    } else {
        assert!(
            leader.stdout.is_empty(),
            "process 0 printed on standard output"
        );
        std::fs::read_to_string(out0).unwrap()
    }
}

#[test]
fn rank_on_two_processes_equals_the_single_process_run() {
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net");
    cli()
        .args(["generate", "--firms", "2000", "--seed", "4", "-o"])
        .arg(&net)
        .assert()
        .success();
    let net = net.display().to_string();
    let single = cli()
        .args(["rank", &net, "--format", "json"])
        .output()
        .unwrap();
    assert!(single.status.success());
    let single = String::from_utf8(single.stdout).unwrap();
    let args = ["rank", &net, "--format", "json"];
    assert_eq!(two_processes(dir.path(), &args, false), single);
    // On standard output too: timely's connection messages go to standard error.
    assert_eq!(two_processes(dir.path(), &args, true), single);
}

#[test]
fn clearing_on_two_processes_equals_the_single_process_run() {
    let dir = tempfile::tempdir().unwrap();
    let (net, shocks) = shocked(10_000, 21);
    let path = dir.path().join("net");
    contagion::io::save(&net, &path).unwrap();
    let scenario = dir.path().join("scenario.json");
    let shocks_json: Vec<serde_json::Value> = shocks
        .iter()
        .map(|s| serde_json::to_value(s).unwrap())
        .collect();
    std::fs::write(
        &scenario,
        serde_json::json!({ "name": "wide", "shocks": shocks_json }).to_string(),
    )
    .unwrap();
    let args = [
        "simulate",
        path.to_str().unwrap(),
        "--model",
        "clearing",
        "--scenario",
        scenario.to_str().unwrap(),
        "--format",
        "json",
    ];
    let dist: serde_json::Value =
        serde_json::from_str(&two_processes(dir.path(), &args, false)).unwrap();
    let single = clear(
        &net,
        &Marks::apply(&net, &shocks).unwrap(),
        &Settings::default(),
    );
    let firms = dist["firms"].as_array().unwrap();
    assert_eq!(firms.len(), net.n_firms());
    let mut defaults = 0;
    for (i, f) in firms.iter().enumerate() {
        assert_eq!(f["id"], net.firm_id(i));
        assert_eq!(f["defaulted"], single.defaulted[i]);
        defaults += usize::from(single.defaulted[i]);
        let scale = single.obligations[i].max(1.0);
        let pay = f["payment"].as_f64().unwrap();
        close("payment", pay, single.payments[i], 1e-12 * scale);
    }
    assert!(
        defaults > 100,
        "the shock must cascade ({defaults} defaults)"
    );
    assert_eq!(dist["summary"]["defaults"], defaults);
}

#[test]
fn command_line_checks_the_cluster_flags() {
    let ring = graph("ring-4");
    cli()
        .arg("rank")
        .arg(&ring)
        .args(["--workers", "2"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("go with --engine timely"));
    cli()
        .arg("rank")
        .arg(&ring)
        .args(["--engine", "timely", "--processes", "2", "--process", "2"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--process must be in 0..2"));
    cli()
        .arg("rank")
        .arg(&ring)
        .args(["--engine", "timely", "--processes", "2"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("hosts file"));
    cli()
        .arg("simulate")
        .arg(graph("ftx-2022"))
        .args(["--model", "cascade", "--engine", "timely"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("add --model clearing"));
    cli()
        .arg("simulate")
        .arg(&ring)
        .args(["--default", "A", "--engine", "timely", "--svg", "x.svg"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("use --engine local"));
}

/// A process whose peers never come gives up with a message instead of waiting for ever.
#[test]
fn a_missing_process_is_reported_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let [p0, p1] = free_ports();
    let hosts = dir.path().join("hosts.txt");
    std::fs::write(&hosts, format!("127.0.0.1:{p0}\n127.0.0.1:{p1}\n")).unwrap();
    cli()
        .arg("rank")
        .arg(graph("ring-4"))
        .args([
            "--engine",
            "timely",
            "--process",
            "0",
            "--connect-timeout",
            "1",
        ])
        .arg("--hosts")
        .arg(&hosts)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("did not connect within 1 s"));
}

#[test]
fn timely_rank_on_the_command_line_equals_local() {
    let ring = graph("ring-4");
    let local = cli()
        .arg("rank")
        .arg(&ring)
        .args(["--format", "csv"])
        .output()
        .unwrap();
    let timely = cli()
        .arg("rank")
        .arg(&ring)
        .args(["--format", "csv", "--engine", "timely", "--workers", "3"])
        .output()
        .unwrap();
    assert!(timely.status.success());
    assert_eq!(timely.stdout, local.stdout);
}
