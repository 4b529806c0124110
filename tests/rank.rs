//! `rank`: a worked example, agreement with a loop of single runs, independence from the
//! thread count, and the command line.

use contagion::analysis::generate::Rng;
use contagion::analysis::rank::{Ranking, assemble, rank, rank_part};
use contagion::engine::clearing::clear;
use contagion::engine::debtrank::debtrank;
use contagion::engine::threshold::threshold;
use contagion::engine::{Cause, buffers::BufferOutcome};
use contagion::prelude::*;
use contagion::settings::{Model, Variant};
use proptest::prelude::*;

use crate::cascade_examples::{claim, dr, firm, furfine, network};
use crate::util::{cli, close, temp_network};

/// The chain of the DebtRank examples: B lends 15 to A, C lends 4 to B, D holds a stake of 5
/// in C; buffers 10, weights 1/4.
fn chain() -> Network {
    let firms = ["A", "B", "C", "D"]
        .iter()
        .map(|id| firm(id, 100.0, Some(10.0), Some(1.0)))
        .collect();
    let stake = Exposure {
        creditor: 3,
        debtor: 2,
        kind: ExposureKind::Equity,
        amount: 5.0,
    };
    network(firms, vec![claim(1, 0, 15.0), claim(2, 1, 4.0), stake])
}

#[test]
fn chain_ranking_by_hand() {
    // A fails: h_B = 1 (default), h_C = 0.4, h_D = 0.2 → DebtRank (1 + 0.4 + 0.2) / 4 = 0.4,
    //          1 default, losses 10 + 4 + 2 = 16.
    // B fails: h_C = 0.4, h_D = 0.2 → 0.6 / 4 = 0.15, losses 6.
    // C fails: h_D = 0.5 → 0.125, losses 5.
    // D fails: nobody holds a claim on D → 0.
    // Vulnerability: B defaults in A's scenario only.
    let r = rank(&chain(), &dr(Variant::Linear), None);
    let got: Vec<(&str, usize, usize)> = r
        .firms
        .iter()
        .map(|f| (f.id.as_str(), f.defaults_caused, f.vulnerability))
        .collect();
    assert_eq!(
        got,
        vec![("A", 1, 0), ("B", 0, 1), ("C", 0, 0), ("D", 0, 0)]
    );
    for (f, (dr, loss)) in r
        .firms
        .iter()
        .zip([(0.4, 16.0), (0.15, 6.0), (0.125, 5.0), (0.0, 0.0)])
    {
        close(&format!("debtrank {}", f.id), f.debtrank, dr, 1e-12);
        close(&format!("losses {}", f.id), f.losses_caused, loss, 1e-12);
    }
    assert!(r.converged);
}

#[test]
fn ties_keep_input_order() {
    // Nobody is exposed to anybody: every firm's DebtRank is 0.
    let firms = ["Z", "Y", "X"]
        .iter()
        .map(|id| firm(id, 1.0, Some(1.0), None))
        .collect();
    let r = rank(&network(firms, vec![]), &dr(Variant::Linear), None);
    let ids: Vec<&str> = r.firms.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["Z", "Y", "X"]);
}

/// Uniform index in `0..n`.
fn below(rng: &mut Rng, n: usize) -> usize {
    rng.below(n as u64) as usize
}

/// `n` firms, about `degree · n` loans between random distinct firms, buffers so that the
/// rows of `Λ` sum to about `leverage` (some firms with no buffer at all), and cash and
/// external liabilities so that clearing has something to do.
fn generated(n: usize, degree: usize, leverage: f64, seed: u64) -> Network {
    let mut rng = Rng::new(seed);
    let mut exposures = Vec::new();
    let mut claims = vec![0.0; n];
    for _ in 0..degree * n {
        let c = below(&mut rng, n);
        let d = (c + 1 + below(&mut rng, n - 1)) % n;
        let amount = 0.5 + rng.uniform();
        claims[c] += amount;
        exposures.push(claim(c as u32, d as u32, amount));
    }
    let firms = (0..n)
        .map(|i| {
            let mut f = firm(&format!("F{i}"), 2.0 * rng.uniform(), None, None);
            f.cash = rng.uniform();
            f.external_liabilities = rng.uniform();
            f.capital = Some(if below(&mut rng, 20) == 0 {
                0.0
            } else {
                (claims[i] / (leverage * (0.5 + rng.uniform()))).max(0.1)
            });
            f
        })
        .collect();
    network(firms, exposures)
}

/// What `rank` reports for firm `s`, recomputed from a single run of the scenario "s fails".
fn single_run_figures(c: &BufferOutcome, s: usize) -> (f64, usize, f64, Vec<usize>) {
    let others = (0..c.distress.len()).filter(|&i| i != s);
    let newly: Vec<usize> = others
        .clone()
        .filter(|&i| c.defaulted[i] && c.cause[i] != Some(Cause::InitiallyInsolvent))
        .collect();
    let losses = others.map(|i| c.loss[i]).sum();
    (c.debtrank, newly.len(), losses, newly)
}

fn check_against_single_runs(net: &Network, settings: &Settings) {
    let r = rank(net, settings, None);
    let n = net.n_firms();
    // The system's buffers: the scale of what a run to the tolerance may leave out of the
    // losses (every firm may hold back a rise up to the tolerance for good).
    let buffers: f64 = contagion::engine::debtrank::Leverage::build(net, &Marks::book(net))
        .losses()
        .buffer
        .iter()
        .map(|b| b.max(0.0))
        .sum();
    let mut vulnerability = vec![0usize; n];
    for s in 0..n {
        let mut marks = Marks::book(net);
        marks.failed[s] = true;
        marks.shocked[s] = true;
        let (dr, defaults, losses, newly) = match settings.model {
            Model::Debtrank => single_run_figures(&debtrank(net, &marks, settings), s),
            Model::Threshold => single_run_figures(&threshold(net, &marks, settings), s),
            Model::Cascade => panic!("the combined cascade is not part of this comparison"),
            Model::Clearing => {
                // Relative to the network without a shock.
                let base = clear(net, &Marks::book(net), settings);
                let c = clear(net, &marks, settings);
                let w = contagion::engine::buffers::system_weights(net).0;
                let d = |c: &Clearing, i: usize| {
                    if c.defaulted[i] {
                        1.0
                    } else if c.equity_before[i] > 0.0 {
                        ((c.equity_before[i] - c.equity_after[i]) / c.equity_before[i])
                            .clamp(0.0, 1.0)
                    } else {
                        0.0
                    }
                };
                let others: Vec<usize> = (0..n).filter(|&i| i != s).collect();
                let dr = others
                    .iter()
                    .map(|&i| w[i] * (d(&c, i) - d(&base, i)))
                    .sum();
                let losses = others
                    .iter()
                    .map(|&i| (base.equity_after[i] - c.equity_after[i]).max(0.0))
                    .sum();
                let newly: Vec<usize> = others
                    .into_iter()
                    .filter(|&i| c.defaulted[i] && !base.defaulted[i])
                    .collect();
                (dr, newly.len(), losses, newly)
            }
        };
        for i in newly {
            vulnerability[i] += 1;
        }
        let e = r
            .firms
            .iter()
            .find(|f| f.id == net.firm_id(s))
            .expect("every firm is ranked");
        let what = format!("{:?} {:?} firm {s}", settings.model, settings.variant);
        let exact = settings.model == Model::Threshold
            || (settings.model == Model::Debtrank && settings.variant == Variant::SingleHit);
        if exact {
            // Same rounds, same arithmetic: identical to the last bit.
            assert_eq!(e.debtrank, dr, "{what} debtrank");
        } else {
            // Clearing: the same fixed point from another start. Linear and non-linear
            // DebtRank: the same least fixed point, reached by sweeps (or taken from another
            // scenario with the same final state) instead of rounds; each run is within
            // about the 1e-12 tolerance of it per firm.
            close(&format!("{what} debtrank"), e.debtrank, dr, 1e-10);
        }
        assert_eq!(e.defaults_caused, defaults, "{what} defaults");
        // Currency: the per-firm gaps, times buffers, add up over the firms. Both sides may be
        // off by about the tolerance times the system's buffers (a single run at the default
        // tolerance misses the exact losses of some of these scenarios by 2e-9 relative).
        let tolerance = if exact {
            1e-12 * losses.max(1.0)
        } else {
            (1e-9 * losses.max(1.0)).max(10.0 * settings.tolerance * buffers)
        };
        close(
            &format!("{what} losses"),
            e.losses_caused,
            losses,
            tolerance,
        );
    }
    for f in &r.firms {
        let s = net.firm_ix(&f.id).unwrap() as usize;
        assert_eq!(
            f.vulnerability, vulnerability[s],
            "vulnerability of {}",
            f.id
        );
    }
    // Sorted by debtrank, descending.
    assert!(r.firms.windows(2).all(|w| w[0].debtrank >= w[1].debtrank));
}

fn all_models() -> Vec<Settings> {
    vec![
        dr(Variant::Linear),
        dr(Variant::SingleHit),
        Settings {
            nl_alpha: 2.0,
            ..dr(Variant::Nonlinear)
        },
        furfine(0.0),
        furfine(0.4),
        Settings::default(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn rank_equals_a_loop_of_single_runs(
        n in 2usize..14,
        degree in 1usize..4,
        leverage in 0.2f64..3.0,
        seed in any::<u64>(),
    ) {
        let net = generated(n, degree, leverage, seed);
        for s in all_models() {
            check_against_single_runs(&net, &s);
        }
    }
}

/// Networks larger than the number of reference scenarios `rank` runs first, supercritical
/// (a failure topples most firms: most scenarios stop early and take a reference
/// scenario's figures) and subcritical (none can).
#[test]
fn rank_equals_single_runs_when_final_states_are_reused() {
    for (leverage, seed) in [(3.0, 11), (0.6, 12)] {
        let net = generated(700, 4, leverage, seed);
        for variant in [Variant::Linear, Variant::Nonlinear] {
            let s = Settings {
                nl_alpha: 1.5,
                ..dr(variant)
            };
            check_against_single_runs(&net, &s);
        }
    }
}

#[test]
fn reused_final_states_are_identical_whatever_the_thread_count() {
    // Seeds in several generations, scenarios streamed through lanes in segments whose
    // size depends on the thread count.
    let net = generated(1100, 4, 3.0, 5);
    for variant in [Variant::Linear, Variant::Nonlinear] {
        let s = dr(variant);
        let one = rank_with_threads(&net, &s, 1);
        assert_eq!(one, rank_with_threads(&net, &s, 3), "{variant:?}");
        // Most failures topple most firms.
        let big = one.firms.iter().filter(|f| f.defaults_caused > 500).count();
        assert!(big > 700, "{variant:?}: {big}");
    }
}

/// Blocks cut anywhere, as other processes would run them, assemble into the same ranking.
#[test]
fn any_split_into_blocks_gives_the_same_ranking() {
    let net = generated(1100, 4, 3.0, 6);
    for s in [dr(Variant::Linear), dr(Variant::SingleHit), furfine(0.0)] {
        let whole = rank(&net, &s, None);
        let parts = [0..333, 333..700, 700..701, 701..1100]
            .into_iter()
            .map(|b| rank_part(&net, &s, b, None))
            .collect();
        assert_eq!(assemble(&net, &s, parts), whole, "{:?}", s.variant);
    }
}

fn rank_with_threads(net: &Network, s: &Settings, threads: usize) -> Ranking {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| rank(net, s, None))
}

#[test]
fn rank_is_identical_whatever_the_thread_count() {
    // Large enough for many batches and for rayon to split the work.
    let net = generated(300, 5, 1.2, 7);
    for s in all_models() {
        let one = rank_with_threads(&net, &s, 1);
        let four = rank_with_threads(&net, &s, 4);
        assert_eq!(one, four, "{:?} {:?}", s.model, s.variant);
        assert_eq!(one.firms.len(), 300);
    }
}

#[test]
fn progress_counts_every_scenario() {
    let net = generated(50, 3, 1.0, 3);
    let done = std::sync::atomic::AtomicUsize::new(0);
    rank(&net, &dr(Variant::Linear), Some(&done));
    assert_eq!(done.into_inner(), 50);
}

// ---------------------------------------------------------------------------------------
// Command line.
// ---------------------------------------------------------------------------------------

fn chain_dir() -> tempfile::TempDir {
    temp_network(&[
        (
            "firms.csv",
            "id,name,kind,cash,other_assets,external_liabilities,capital,weight\n\
             A,A,bank,0,100,0,10,1\nB,B,bank,0,100,0,10,1\nC,C,bank,0,100,0,10,1\nD,D,fund,0,100,0,10,1\n",
        ),
        (
            "exposures.csv",
            "creditor,debtor,kind,amount\nB,A,loan,15\nC,B,loan,4\nD,C,equity,5\n",
        ),
    ])
}

#[test]
fn cli_rank_json() {
    let dir = chain_dir();
    let out = cli()
        .args(["rank", "--format", "json", "--threads", "2"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "quiet when not on a terminal");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["model"]["name"], "debtrank");
    assert_eq!(v["model"]["variant"], "linear");
    let firms = v["firms"].as_array().unwrap();
    let ids: Vec<&str> = firms.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["A", "B", "C", "D"]);
    let a = &firms[0];
    assert_eq!(a["defaults_caused"], 1);
    assert_eq!(a["vulnerability"], 0);
    assert!((a["debtrank"].as_f64().unwrap() - 0.4).abs() < 1e-12);
    assert!((a["losses_caused"].as_f64().unwrap() - 16.0).abs() < 1e-12);
    assert_eq!(firms[1]["vulnerability"], 1);
    for f in firms {
        let mut keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "debtrank",
                "defaults_caused",
                "id",
                "losses_caused",
                "vulnerability"
            ]
        );
    }
}

#[test]
fn cli_rank_top_csv_table_and_threshold() {
    let dir = chain_dir();
    let out = cli()
        .args(["rank", "--format", "csv", "--top", "2"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "id,debtrank,defaults_caused,losses_caused,vulnerability"
    );
    assert_eq!(lines.len(), 3);
    let a: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(
        (a[0], a[2], a[3], a[4]),
        ("A", "1", "16", "0"),
        "{}",
        lines[1]
    );
    close("csv debtrank", a[1].parse().unwrap(), 0.4, 1e-12);
    // Threshold, recovery 0: A's failure costs B 15 ≥ 10 (default, reported loss 10), then
    // C 4 < 10; C does not default, so D loses nothing. Losses caused 14, DebtRank
    // (1 + 0.4) / 4 = 0.35.
    let out = cli()
        .args(["rank", "--model", "threshold", "--recovery", "0"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("model threshold (recovery 0)"), "{table}");
    let first = table
        .lines()
        .find(|l| l.trim_start().starts_with("1 "))
        .unwrap();
    assert!(
        first.contains(" A ") && first.contains("0.350000") && first.contains("14.00"),
        "{first}"
    );
}

#[test]
fn cli_rank_rejects_bad_flags() {
    let dir = chain_dir();
    for args in [
        vec!["rank", "--threads", "0"],
        vec!["rank", "--model", "threshold", "--variant", "single-hit"],
        vec!["rank", "--recovery", "0.5"],
        vec!["rank", "--alpha", "0.5"],
        vec!["rank", "--model", "threshold", "--recovery", "1.5"],
    ] {
        let out = cli().args(&args).arg(dir.path()).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}
