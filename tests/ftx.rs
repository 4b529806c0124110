//! The shipped `ftx-2022` dataset: it loads and validates; the nov-2022 scenario's key
//! outcomes follow from the figures in the CSV files by the model's own rules (bounds derived
//! here from the balance sheets, not outputs frozen from an earlier run); the back-test and
//! the low/high variants run and are consistent.

use contagion::analysis::backtest::{Outcome, backtest};
use contagion::engine::Cause;
use contagion::engine::cascade::{Cascade, cascade};
use contagion::model::{BalanceSheet, ExposureKind, Network};
use contagion::report::SimulationResult;
use contagion::scenario::{Marks, Scenario, Shock, parse_scenario};
use contagion::settings::Settings;

use crate::util::{cli, graph};

const M: f64 = 1e6;

fn network() -> Network {
    contagion::io::load(&graph("ftx-2022")).expect("ftx-2022 loads")
}

fn scenario(name: &str) -> (Scenario, Settings) {
    let path = graph("ftx-2022")
        .join("scenarios")
        .join(format!("{name}.json"));
    let bytes = std::fs::read(&path).expect("scenario file");
    let sc = parse_scenario(name, &bytes).expect("scenario parses");
    let settings = Settings::default()
        .merge_json(sc.settings.as_ref().expect("scenario has settings"), name)
        .expect("settings valid");
    (sc, settings)
}

fn ix(net: &Network, id: &str) -> usize {
    net.firm_ix(id)
        .unwrap_or_else(|| panic!("firm {id} in the dataset")) as usize
}

/// Face value of the debts `debtor` owes, by kind filter.
fn owed(net: &Network, debtor: usize, keep: impl Fn(ExposureKind) -> bool) -> f64 {
    net.exposures()
        .iter()
        .filter(|e| e.debtor as usize == debtor && e.kind.is_debt() && keep(e.kind))
        .map(|e| e.amount)
        .sum()
}

/// Amount of the exposure with this research id.
fn exposure(net: &Network, id: &str) -> f64 {
    let k = (0..net.exposures().len())
        .find(|&k| net.label(k).and_then(|l| l.id.as_deref()) == Some(id))
        .unwrap_or_else(|| panic!("exposure {id} in the dataset"));
    net.exposures()[k].amount
}

fn withdrawal(sc: &Scenario, firm: &str) -> f64 {
    sc.shocks
        .iter()
        .find_map(|s| match s {
            Shock::Withdrawal { firm: f, fraction } if f == firm => Some(*fraction),
            _ => None,
        })
        .unwrap_or(0.0)
}

fn run_nov_2022() -> (Network, Scenario, Settings, Marks, Cascade) {
    let net = network();
    let (sc, settings) = scenario("nov-2022");
    let marks = Marks::apply(&net, &sc.shocks).expect("shocks resolve");
    let k = cascade(&net, &marks, &settings);
    (net, sc, settings, marks, k)
}

#[test]
fn dataset_loads_and_validates_with_provenance_on_every_exposure() {
    let net = network();
    let summary = contagion::analysis::validate::summarize(&net, 10);
    assert!(
        summary.firms >= 30 && summary.exposures >= 40,
        "{} firms, {} exposures",
        summary.firms,
        summary.exposures
    );
    // Warnings are expected (Celsius insolvent, Gemini Earn at zero equity, Binance isolated);
    // none of them is about malformed data.
    for w in &summary.warnings {
        assert!(!w.contains("error"), "unexpected warning: {w}");
    }
    for k in 0..net.exposures().len() {
        let l = net.label(k).expect("every exposure is labelled");
        let id = l.id.as_deref().unwrap_or("?");
        assert!(
            l.source.as_deref().is_some_and(|s| !s.trim().is_empty()),
            "{id} has no source"
        );
        let conf = l
            .extra
            .iter()
            .find(|(key, _)| key == "x_confidence")
            .map(|(_, v)| v.as_str());
        assert!(
            matches!(conf, Some("high" | "medium" | "low")),
            "{id} has no confidence (found {conf:?})"
        );
    }
    // The failure dates the back-test relies on.
    for (id, date) in [
        ("ftx_trading", "2022-11-08"),
        ("blockfi", "2022-11-10"),
        ("alameda", "2022-11-11"),
        ("ftx_us", "2022-11-11"),
        ("genesis_capital", "2022-11-16"),
        ("gemini", "2022-11-16"),
    ] {
        assert_eq!(
            net.firms()[ix(&net, id)].failed_on.as_deref(),
            Some(date),
            "{id}"
        );
    }
    // The CLI agrees: exit 0.
    cli()
        .args(["validate", "graphs/ftx-2022"])
        .assert()
        .success();
}

#[test]
fn every_shipped_scenario_and_variant_parses_and_resolves() {
    let net = network();
    for name in ["nov-2022", "alameda-default"] {
        let (sc, _) = scenario(name);
        Marks::apply(&net, &sc.shocks).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for v in ["low", "high"] {
        let path = graph("ftx-2022").join("variants").join(format!("{v}.json"));
        let ov = contagion::io::read_overlay(&path).unwrap_or_else(|e| panic!("{v}: {e}"));
        let varied = ov.apply(network()).unwrap_or_else(|e| panic!("{v}: {e}"));
        let (mut sc, _) = scenario("nov-2022");
        let notes = ov
            .apply_to_shocks(&varied, &mut sc.shocks)
            .expect("overrides resolve");
        assert!(
            notes.is_empty(),
            "{v}: every override matches a nov-2022 shock: {notes:?}"
        );
        Marks::apply(&varied, &sc.shocks).expect("variant shocks valid");
    }
}

/// Alameda's post-shock assets (at the shocked prices, before any fire sale: prices only fall
/// afterwards) are below what it owes, and it holds no claim on anyone: it must default, on
/// its own balance sheet (price_fall), in the first clearing wave — no firm fails through
/// solvency before it (halts for liquidity may come first).
#[test]
fn alameda_must_fail_on_the_price_fall() {
    let (net, _, _, marks, k) = run_nov_2022();
    let a = ix(&net, "alameda");
    let post = BalanceSheet::all(&net, &marks.prices)[a];
    assert_eq!(
        post.interbank_claims + post.equity_stakes,
        0.0,
        "Alameda has no claims in the network"
    );
    assert!(
        post.external_assets() < post.total_liabilities(),
        "Alameda after the shock: assets {:.0}M, liabilities {:.0}M",
        post.external_assets() / M,
        post.total_liabilities() / M
    );
    // Solvent at pre-crisis prices: it is the price fall that sinks it.
    assert!(net.balance_sheets()[a].equity() > 0.0);
    assert!(k.defaulted[a]);
    assert_eq!(k.cause[a], Some(Cause::PriceFall));
    for i in 0..net.n_firms() {
        let solvency = matches!(
            k.cause[i],
            Some(Cause::CounterpartyDefault | Cause::PriceFall | Cause::Shock)
        );
        if solvency {
            assert!(
                k.default_round[i] >= k.default_round[a],
                "{} failed before Alameda",
                net.firm_id(i)
            );
        }
    }
}

/// Upper bound on the fraction FTX.com's remaining depositors can recover, from the model's
/// rules: a firm in default pays its pro-rata pool at most `alpha × outside assets + beta ×
/// receipts`. Alameda's outside assets only fall after the shock; FTX.com's share of Alameda's
/// pool is at most X002 over Alameda's unsecured debts and outside liabilities.
fn ftx_bounds(net: &Network, sc: &Scenario, s: &Settings, marks: &Marks) -> (f64, f64) {
    let (a, f) = (ix(net, "alameda"), ix(net, "ftx_trading"));
    let post = BalanceSheet::all(net, &marks.prices);
    let x002 = exposure(net, "X002");
    let secured: f64 = net
        .collateral()
        .iter()
        .filter(|c| net.exposures()[c.exposure as usize].debtor as usize == a)
        .map(|c| net.exposures()[c.exposure as usize].amount)
        .sum();
    let pool_a = owed(net, a, |_| true) - secured + net.firms()[a].external_liabilities;
    let from_alameda = x002 / pool_a * s.alpha * post[a].external_assets();
    // FTX.com's value at most: its outside assets at shocked prices, the bank balances at face
    // and the bound on Alameda's payment.
    let banks = post[f].interbank_claims - x002;
    let ftx_max = post[f].external_assets() + banks + from_alameda;
    // After the run (paid from cash and SRM sales, value for value) it owes the rest of its
    // deposits; in default it pays at most alpha of its outside assets and beta of receipts.
    let deposits = owed(net, f, |k| k == ExposureKind::Deposit);
    let paid_out = withdrawal(sc, "ftx_trading") * deposits;
    let left = deposits - paid_out;
    let recovery_max = (s.alpha * (post[f].external_assets() - paid_out).max(0.0)
        + s.beta * (banks + from_alameda))
        / left;
    (ftx_max - deposits, recovery_max)
}

/// FTX.com cannot meet the run: demand = run fraction × its deposits, while it can raise at
/// most its cash plus what an unlimited sale of its SRM raises along the impact curve,
/// `p · depth / β` at the shocked price. So it halts in round 1, a liquidity default (run). Its
/// solvency bound shows it would fail anyway once Alameda's hole is counted.
#[test]
fn ftx_cannot_meet_the_run() {
    let (net, sc, s, marks, k) = run_nov_2022();
    let f = ix(&net, "ftx_trading");
    let deposits = owed(&net, f, |k| k == ExposureKind::Deposit);
    let demand = withdrawal(&sc, "ftx_trading") * deposits;
    let srm = net.asset_ix("SRM").unwrap() as usize;
    let depth = net.assets()[srm].depth.unwrap();
    let most = net.firms()[f].cash + marks.prices[srm] * depth / s.price_impact;
    assert!(
        most < demand,
        "FTX.com can raise at most {:.0}M for a run of {:.0}M",
        most / M,
        demand / M
    );
    assert!(k.halted[f]);
    assert_eq!(k.cause[f], Some(Cause::Run));
    assert_eq!(k.default_round[f], Some(1));
    let (surplus_max, _) = ftx_bounds(&net, &sc, &s, &marks);
    assert!(
        surplus_max < 0.0,
        "FTX.com's best case is still short by {:.0}M",
        -surplus_max / M
    );
}

/// BlockFi's best case: every other claim (its Alameda loan included) paid at face; the run on
/// FTX.com returns `fraction` of its balance as cash; the rest recovers at most FTX.com's
/// bound. Even so its assets fall short of what it owes (FTX US' drawn line and its customers'
/// balances), under the scenario's default costs.
#[test]
fn blockfi_must_fail_under_the_scenario_default_costs() {
    let (net, sc, s, marks, k) = run_nov_2022();
    let b = ix(&net, "blockfi");
    let (_, rec_ftx) = ftx_bounds(&net, &sc, &s, &marks);
    let sheet = net.balance_sheets()[b];
    let x015 = exposure(&net, "X015");
    let phi = withdrawal(&sc, "ftx_trading");
    let assets_max = sheet.total_assets() - x015 + phi * x015 + (1.0 - phi) * x015 * rec_ftx;
    assert!(
        assets_max < sheet.total_liabilities(),
        "BlockFi's best case {:.0}M against {:.0}M owed (FTX.com recovers at most {:.1}%)",
        assets_max / M,
        sheet.total_liabilities() / M,
        100.0 * rec_ftx
    );
    assert!(k.defaulted[b]);
    assert_eq!(k.cause[b], Some(Cause::CounterpartyDefault));
    assert!(k.default_round[b] > k.default_round[ix(&net, "ftx_trading")]);
}

/// FTX US' equity is thin and its loan to Alameda (X004) is unsecured: losing more than its
/// equity on X004 follows from Alameda's recovery bound.
#[test]
fn ftx_us_must_fail_through_alameda() {
    let (net, _, s, marks, k) = run_nov_2022();
    let (a, u) = (ix(&net, "alameda"), ix(&net, "ftx_us"));
    let post = BalanceSheet::all(&net, &marks.prices);
    let secured: f64 = net
        .collateral()
        .iter()
        .filter(|c| net.exposures()[c.exposure as usize].debtor as usize == a)
        .map(|c| net.exposures()[c.exposure as usize].amount)
        .sum();
    let pool_a = owed(&net, a, |_| true) - secured + net.firms()[a].external_liabilities;
    let rec_alameda_max = s.alpha * post[a].external_assets() / pool_a;
    let x004 = exposure(&net, "X004");
    let loss_min = x004 * (1.0 - rec_alameda_max);
    let equity = net.balance_sheets()[u].equity();
    assert!(
        loss_min > equity,
        "FTX US loses at least {:.0}M of {:.0}M equity",
        loss_min / M,
        equity / M
    );
    assert!(k.defaulted[u]);
    assert_eq!(k.cause[u], Some(Cause::CounterpartyDefault));
}

/// Binance, Coinbase and Kraken: everything they could lose (all their claims in the network
/// and the whole market value of their tokens) is below their book equity, and they owe no
/// deposit or secured loan inside the network (no run, no margin call can halt them): no
/// scenario can make them fail in this model.
#[test]
fn binance_coinbase_and_kraken_must_survive() {
    let (net, _, _, _, k) = run_nov_2022();
    let book = net.balance_sheets();
    for id in ["binance", "coinbase", "kraken"] {
        let i = ix(&net, id);
        let b = book[i];
        let at_risk = b.interbank_claims + b.equity_stakes + b.holdings + b.pledged_collateral;
        assert!(
            at_risk < b.equity(),
            "{id}: {:.0}M at risk, equity {:.0}M",
            at_risk / M,
            b.equity() / M
        );
        let liquidity_channels = net
            .exposures()
            .iter()
            .enumerate()
            .filter(|(kx, e)| {
                e.debtor as usize == i
                    && (e.kind == ExposureKind::Deposit || net.collateral_of(*kx).is_some())
            })
            .count();
        assert_eq!(
            liquidity_channels, 0,
            "{id} owes no deposit or secured loan in the network"
        );
        assert!(!k.defaulted[i], "{id} survives");
    }
}

/// The model misses Genesis Global Capital and Gemini Earn. The mechanism, asserted: (1)
/// Genesis' only claims in the network are on DCG, which has no exposure to any firm that
/// fails, and it holds no tokens, so neither a counterparty loss nor a price fall reaches it
/// and no contagious run is triggered; (2) its cash covers only a small part of its lenders'
/// on-demand claims, so a run of the scenario's `run_fraction` would halt it, and Gemini Earn
/// (zero equity, its only asset the claim on Genesis) would fail with it.
#[test]
fn genesis_and_gemini_are_missed_and_why() {
    let (net, sc, s, _, k) = run_nov_2022();
    let (g, gem, dcg) = (
        ix(&net, "genesis_capital"),
        ix(&net, "gemini"),
        ix(&net, "dcg"),
    );
    let debtors_of = |c: usize| -> Vec<usize> {
        net.exposures()
            .iter()
            .filter(|e| e.creditor as usize == c)
            .map(|e| e.debtor as usize)
            .collect()
    };
    assert!(
        debtors_of(g).iter().all(|&d| d == dcg),
        "Genesis lends only to DCG in the network"
    );
    assert!(
        debtors_of(dcg).is_empty(),
        "DCG has no claims in the network"
    );
    assert!(
        net.holdings().iter().all(|h| h.firm as usize != g),
        "Genesis holds no tokens"
    );
    assert!(
        !k.defaulted[g] && !k.defaulted[gem],
        "the model misses both (see the dataset README)"
    );

    let deposits = owed(&net, g, |kind| kind == ExposureKind::Deposit);
    let cash = net.firms()[g].cash;
    assert!(
        cash < s.run_fraction * deposits,
        "cash {:.0}M vs a run of {:.0}M",
        cash / M,
        s.run_fraction * deposits / M
    );
    assert_eq!(
        net.balance_sheets()[gem].equity(),
        0.0,
        "Gemini Earn is a pass-through"
    );
    let mut shocks = sc.shocks.clone();
    shocks.push(Shock::Withdrawal {
        firm: "genesis_capital".into(),
        fraction: s.run_fraction,
    });
    let marks = Marks::apply(&net, &shocks).expect("valid");
    let with_run = cascade(&net, &marks, &s);
    assert!(with_run.halted[g]);
    assert_eq!(with_run.cause[g], Some(Cause::Run));
    assert!(with_run.defaulted[gem], "Gemini Earn fails with Genesis");
}

fn simulation(net: &Network, sc: &Scenario, s: &Settings) -> SimulationResult {
    let marks = Marks::apply(net, &sc.shocks).expect("valid");
    contagion::run::run_marks(net, sc, s, &marks)
}

#[test]
fn backtest_counts_are_consistent() {
    let net = network();
    let (sc, s) = scenario("nov-2022");
    let result = simulation(&net, &sc, &s);
    for until in [None, Some("2022-11-30")] {
        let bt = backtest(&net, &result, until).expect("backtest runs");
        let t = &bt.summary;
        let real = net
            .firms()
            .iter()
            .filter(|f| {
                f.failed_on
                    .as_deref()
                    .is_some_and(|d| until.is_none_or(|u| d <= u))
            })
            .count();
        let model = result.firms.iter().filter(|f| f.defaulted).count();
        assert_eq!(t.hits + t.missed, real, "{until:?}");
        assert_eq!(t.hits + t.false_alarms, model, "{until:?}");
        assert_eq!(
            t.hits + t.missed + t.false_alarms + t.correct_survivors,
            net.n_firms()
        );
        assert_eq!(t.precision, Some(t.hits as f64 / model as f64));
        assert_eq!(t.recall, Some(t.hits as f64 / real as f64));
        let o = t.order;
        assert_eq!(o.pairs, t.hits * (t.hits - 1) / 2);
        assert_eq!(
            o.pairs,
            o.concordant + o.discordant + o.tied_model + o.tied_real + o.tied_both
        );
        let tau = t.kendall_tau.expect("defined with several hits");
        assert!((-1.0..=1.0).contains(&tau));
        for f in &bt.firms {
            let i = ix(&net, &f.id);
            assert_eq!(f.model_defaulted, result.firms[i].defaulted);
            match f.outcome {
                Outcome::Hit | Outcome::FalseAlarm => assert!(f.model_round.is_some()),
                Outcome::Missed | Outcome::CorrectSurvivor => assert!(f.model_round.is_none()),
            }
        }
    }
    // The two bank failures of March 2023 count only without a horizon.
    let with = backtest(&net, &result, Some("2022-11-30")).expect("runs");
    let without = backtest(&net, &result, None).expect("runs");
    assert_eq!(without.summary.missed, with.summary.missed + 2);
}

#[test]
fn backtest_command_writes_the_documented_json() {
    let out = cli()
        .args([
            "backtest",
            "graphs/ftx-2022",
            "--scenario",
            "graphs/ftx-2022/scenarios/nov-2022.json",
            "--until",
            "2022-11-30",
            "--format",
            "json",
        ])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).expect("JSON");
    assert_eq!(v["model"]["name"], "cascade");
    assert_eq!(v["scenario"]["name"], "nov-2022");
    let firms = v["firms"].as_array().expect("firms");
    assert_eq!(firms.len(), network().n_firms());
    for f in firms {
        for key in [
            "id",
            "failed_on",
            "model_defaulted",
            "model_round",
            "cause",
            "outcome",
        ] {
            assert!(f.get(key).is_some(), "firm entry without {key}: {f}");
        }
        let o = f["outcome"].as_str().expect("outcome");
        assert!(
            ["hit", "missed", "false_alarm", "correct_survivor"].contains(&o),
            "{o}"
        );
    }
    for key in [
        "hits",
        "missed",
        "false_alarms",
        "correct_survivors",
        "precision",
        "recall",
        "kendall_tau",
    ] {
        assert!(v["summary"].get(key).is_some(), "summary without {key}");
    }
    // The table form too.
    cli()
        .args([
            "backtest",
            "graphs/ftx-2022",
            "--scenario",
            "graphs/ftx-2022/scenarios/nov-2022.json",
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("Kendall's tau-b"));
}

#[test]
fn variants_run_on_simulate_and_backtest() {
    for v in ["low", "high"] {
        let overlay = format!("graphs/ftx-2022/variants/{v}.json");
        for cmd in ["simulate", "backtest"] {
            cli()
                .args([
                    cmd,
                    "graphs/ftx-2022",
                    "--scenario",
                    "graphs/ftx-2022/scenarios/nov-2022.json",
                ])
                .args(["--overlay", &overlay, "--format", "json"])
                .assert()
                .success();
        }
    }
}

#[test]
fn overlay_with_unknown_ids_is_a_located_input_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.json");
    std::fs::write(
        &path,
        "{\n  \"firms\": {\"nobody\": {\"cash\": 1}},\n  \"exposures\": {\"X999\": {\"amount\": 5}},\n  \"shocks\": {\"price\": {\"DOGE\": -0.5}}\n}\n",
    )
    .expect("write");
    cli()
        .args(["simulate", "graphs/ftx-2022", "--overlay"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("bad.json, line 2"))
        .stderr(predicates::str::contains("unknown firm 'nobody'"))
        .stderr(predicates::str::contains("bad.json, line 3"))
        .stderr(predicates::str::contains("unknown exposure 'X999'"));
    // Shock overrides are checked once the network edits are valid.
    std::fs::write(&path, "{\"shocks\": {\"price\": {\"DOGE\": -0.5}}}").expect("write");
    cli()
        .args(["backtest", "graphs/ftx-2022", "--overlay"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("unknown asset 'DOGE'"));
    // A bad horizon is a usage error too.
    cli()
        .args(["backtest", "graphs/ftx-2022", "--until", "30/11/2022"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("YYYY-MM-DD"));
}

/// The overlay edits exactly what it names.
#[test]
fn overlay_sets_amounts_and_balance_sheet_fields() {
    let net = network();
    let ov = contagion::io::parse_overlay(
        "v.json",
        br#"{"firms": {"alameda": {"cash": 1}}, "exposures": {"X014": {"amount": 2, "collateral_units": 3}}, "assets": {"FTT": {"depth": 4}}}"#,
    )
    .expect("parses");
    let varied = ov.apply(net.clone()).expect("applies");
    assert_eq!(varied.firms()[ix(&varied, "alameda")].cash, 1.0);
    assert_eq!(exposure(&varied, "X014"), 2.0);
    let k = (0..varied.exposures().len())
        .find(|&k| varied.label(k).and_then(|l| l.id.as_deref()) == Some("X014"))
        .expect("X014");
    assert_eq!(varied.collateral_of(k).map(|c| c.units), Some(3.0));
    assert_eq!(
        varied.assets()[varied.asset_ix("FTT").expect("FTT") as usize].depth,
        Some(4.0)
    );
    // Nothing else moved.
    assert_eq!(
        varied.firms()[ix(&varied, "ftx_trading")],
        net.firms()[ix(&net, "ftx_trading")]
    );
    assert_eq!(exposure(&varied, "X002"), exposure(&net, "X002"));
    // Collateral fields on an unsecured exposure are refused.
    let bad =
        contagion::io::parse_overlay("v.json", br#"{"exposures": {"X002": {"haircut": 0.1}}}"#)
            .expect("parses");
    let err = bad.apply(net).expect_err("X002 is unsecured").to_string();
    assert!(err.contains("not secured"), "{err}");
}
