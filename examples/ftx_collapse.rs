//! The FTX collapse of November 2022 through the library API: loads the shipped `ftx-2022`
//! dataset, applies its `nov-2022` scenario (FTT −88%, SOL −58%, SRM −67%, a run of 37.5% on
//! FTX.com), runs the combined cascade (margin calls, runs, fire sales, clearing) and prints
//! the cascade round by round with the cause of every default, then compares the defaults
//! with the firms' real failure dates.
//!
//! ```text
//! cargo run --release --example ftx_collapse
//! cargo run --release --example ftx_collapse -- graphs/ftx-2022/variants/high.json
//! ```
//!
//! The optional argument is an overlay (a variant of the disputed figures).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use contagion::engine::cascade::{Cascade, cascade};
use contagion::error::Error;
use contagion::model::Network;
use contagion::report::cause_name;
use contagion::scenario::{Marks, parse_scenario};
use contagion::settings::Settings;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(if e.is_bad_input() { 2 } else { 1 });
    }
}

fn run() -> Result<(), Error> {
    let mut out = String::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("graphs/ftx-2022");
    let mut net = contagion::io::load(&root)?;

    // The scenario file holds the shocks and the settings (default costs, run parameters).
    let file = root.join("scenarios/nov-2022.json");
    let bytes = std::fs::read(&file).map_err(|source| Error::Io {
        path: file.clone(),
        source,
    })?;
    let mut scenario = parse_scenario("nov-2022.json", &bytes)?;
    let settings = match &scenario.settings {
        Some(v) => Settings::default().merge_json(v, "nov-2022.json")?,
        None => Settings::default(),
    };

    // Optional variant: the low or high end of the disputed figures.
    if let Some(path) = std::env::args().nth(1) {
        let overlay = contagion::io::read_overlay(Path::new(&path))?;
        net = overlay.apply(net)?;
        for note in overlay.apply_to_shocks(&net, &mut scenario.shocks)? {
            let _ = writeln!(out, "note: {note}");
        }
        let _ = writeln!(out, "variant: {}", overlay.name.as_deref().unwrap_or(&path));
    }

    let marks = Marks::apply(&net, &scenario.shocks)?;
    let k = cascade(&net, &marks, &settings);

    let _ = writeln!(
        out,
        "{}: {} firms; scenario {}; alpha {}, beta {}, run fraction {}, run trigger {}",
        net.meta().name.as_deref().unwrap_or("network"),
        net.n_firms(),
        scenario.name.as_deref().unwrap_or("-"),
        settings.alpha,
        settings.beta,
        settings.run_fraction,
        settings.run_trigger
    );
    let _ = writeln!(out);
    print_rounds(&mut out, &net, &k);
    let _ = writeln!(out);
    print_prices(&mut out, &net, &k);
    let _ = writeln!(out);
    print_backtest(&mut out, &net, &k);
    // A closed pipe (e.g. `| head`) is not an error.
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(())
}

/// Each round: the firms that failed in it, with the cause and what carried it.
fn print_rounds(out: &mut String, net: &Network, k: &Cascade) {
    for round in &k.rounds {
        let mut parts = Vec::new();
        for &i in &round.defaults {
            let i = i as usize;
            let cause = k.cause[i].map_or("-", cause_name);
            let by: Vec<String> = k.caused_by[i]
                .iter()
                .take(3)
                .map(|l| {
                    let who = match (l.firm, l.asset) {
                        (Some(f), Some(a)) => format!(
                            "{} via {}",
                            net.firm_id(f as usize),
                            net.assets()[a as usize].id
                        ),
                        (Some(f), None) => net.firm_id(f as usize).to_string(),
                        (None, Some(a)) => net.assets()[a as usize].id.clone(),
                        (None, None) => "shock".to_string(),
                    };
                    format!("{who} {:.0}M", l.loss / 1e6)
                })
                .collect();
            let by = if by.is_empty() {
                String::new()
            } else {
                format!(": {}", by.join(", "))
            };
            parts.push(format!("{} ({cause}{by})", net.firm_id(i)));
        }
        let _ = writeln!(out, "Round {}: {}", round.round, parts.join("; "));
    }
    if k.rounds.is_empty() {
        let _ = writeln!(out, "No firm defaults.");
    }
    let paid: Vec<String> = k
        .rounds
        .iter()
        .flat_map(|r| r.defaults.iter())
        .map(|&i| {
            let i = i as usize;
            let rate = if k.obligations[i] > 0.0 {
                k.payments[i] / k.obligations[i]
            } else {
                1.0
            };
            format!("{} {:.0}%", net.firm_id(i), 100.0 * rate)
        })
        .collect();
    let _ = writeln!(out, "Share of obligations paid: {}", paid.join(", "));
}

/// Prices before the shocks, after them, and at the end of the fire sales.
fn print_prices(out: &mut String, net: &Network, k: &Cascade) {
    for (a, asset) in net.assets().iter().enumerate() {
        let start = k.price_path.first().map_or(asset.price, |p| p.1[a]);
        let end = k.price_path.last().map_or(asset.price, |p| p.1[a]);
        let _ = writeln!(
            out,
            "{}: {:.2} before the shocks, {:.4} after them, {:.4} after the fire sales",
            asset.id, asset.price, start, end
        );
    }
}

/// The model's defaults against the firms' real failure dates up to the end of November 2022.
fn print_backtest(out: &mut String, net: &Network, k: &Cascade) {
    let horizon = "2022-11-30";
    let mut rows: Vec<(String, String)> = Vec::new();
    for (i, f) in net.firms().iter().enumerate() {
        let failed = f.failed_on.as_deref().is_some_and(|d| d <= horizon);
        let verdict = match (failed, k.defaulted[i]) {
            (true, true) => "hit",
            (true, false) => "missed",
            (false, true) => "false alarm",
            (false, false) => continue,
        };
        let round = k.default_round[i].map_or("-".to_string(), |r| format!("round {r}"));
        rows.push((
            f.failed_on.clone().unwrap_or_else(|| "-".into()),
            format!(
                "{:<16} failed {:<10}  model {:<8}  {verdict}",
                f.id,
                f.failed_on.as_deref().unwrap_or("-"),
                round
            ),
        ));
    }
    rows.sort();
    let _ = writeln!(out, "Against history (real failures up to {horizon}):");
    for (_, line) in rows {
        let _ = writeln!(out, "  {line}");
    }
    for id in ["binance", "coinbase", "kraken"] {
        if let Some(i) = net.firm_ix(id) {
            let verdict = if k.defaulted[i as usize] {
                "fails"
            } else {
                "survives"
            };
            let _ = writeln!(
                out,
                "  {id:<16} {verdict} in the model (survived in reality)"
            );
        }
    }
}
