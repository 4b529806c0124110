//! Generates a synthetic Erdős–Rényi network, wipes out the external assets of a random 3% of
//! its firms (chosen with seed `SEED + 1`) and clears it (Eisenberg–Noe), printing timings,
//! memory and the size of the cascade.
//!
//! ```text
//! cargo run --release --example clear_synthetic -- [FIRMS] [AVG_DEGREE] [SEED]
//! ```
//!
//! Defaults: 1000000 firms, average degree 10, seed 1. Run it under `/usr/bin/time -v` to
//! see the peak memory of a whole generate-and-clear run.

use std::time::Instant;

use contagion::analysis::generate::{GenSpec, Topology, generate, random_firms};
use contagion::engine::clearing::clear;
use contagion::scenario::{Loss, Marks, Shock};
use contagion::settings::Settings;

fn arg<T: std::str::FromStr>(args: &[String], k: usize, default: T) -> T {
    match args.get(k) {
        Some(s) => s.parse().unwrap_or_else(|_| {
            eprintln!("usage: clear_synthetic [FIRMS] [AVG_DEGREE] [SEED]; could not read '{s}'");
            std::process::exit(2)
        }),
        None => default,
    }
}

/// Current and peak resident set size in MiB, from `/proc/self/status` (Linux only).
fn memory() -> String {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return "n/a".into();
    };
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or("?".to_string(), |kb| format!("{:.0} MiB", kb / 1024.0))
    };
    format!("rss {}, peak {}", field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let firms: usize = arg(&args, 0, 1_000_000);
    let degree: f64 = arg(&args, 1, 10.0);
    let seed: u64 = arg(&args, 2, 1);

    let t = Instant::now();
    let net = generate(&GenSpec::new(firms, degree, Topology::ErdosRenyi, seed));
    let gen_time = t.elapsed();
    let gen_mem = memory();

    let t = Instant::now();
    let shocks: Vec<Shock> = random_firms(firms, 0.03, seed.wrapping_add(1))
        .into_iter()
        .map(|i| Shock::AssetLoss {
            firm: net.firm_id(i as usize).to_string(),
            loss: Loss::Fraction(1.0),
        })
        .collect();
    let marks = Marks::apply(&net, &shocks).expect("shocks name generated firms");
    let shock_time = t.elapsed();

    let t = Instant::now();
    let out = clear(&net, &marks, &Settings::default());
    let clear_time = t.elapsed();
    let clear_mem = memory();

    let defaults = out.defaulted.iter().filter(|&&d| d).count();
    println!("firms            {firms}");
    println!("exposures        {}", net.exposures().len());
    println!(
        "generation       {:.3} s ({gen_mem})",
        gen_time.as_secs_f64()
    );
    println!(
        "shock            {:.3} s ({} firms)",
        shock_time.as_secs_f64(),
        shocks.len()
    );
    println!(
        "clearing         {:.3} s ({clear_mem})",
        clear_time.as_secs_f64()
    );
    println!("defaults         {defaults}");
    println!("rounds           {}", out.rounds.len());
    println!("iterations       {}", out.iterations);
    println!("converged        {}", out.converged);
    println!("least checked    {}", out.least_checked);
}
