//! Loads the share of a network one process of a two-process run needs: every firm, asset and
//! holding, and the exposures whose debtor index is even. Prints how many exposures were kept,
//! the time taken and the memory used.
//!
//! ```text
//! cargo run --release --example load_partition -- NETWORK [PARTS]
//! ```
//!
//! `NETWORK` is a CSV directory or a JSON document; with `PARTS` = 1 every exposure is kept
//! (a plain load), with the default 2 those of even debtors. Run it under `/usr/bin/time -v`
//! to see the peak memory of the whole process.

use std::path::PathBuf;
use std::time::Instant;

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
    let Some(path) = args.first().map(PathBuf::from) else {
        eprintln!("usage: load_partition NETWORK [PARTS]");
        std::process::exit(2)
    };
    let parts: u32 = match args.get(1).map(|s| s.parse()) {
        None => 2,
        Some(Ok(p)) if p > 0 => p,
        Some(_) => {
            eprintln!("usage: load_partition NETWORK [PARTS]; PARTS is a positive integer");
            std::process::exit(2)
        }
    };
    let t = Instant::now();
    let net = match contagion::io::load_partition(&path, &|d, _| d % parts == 0) {
        Ok(net) => net,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2)
        }
    };
    println!("firms      {}", net.n_firms());
    println!("exposures  {}", net.exposures().len());
    println!(
        "loaded in  {:.3} s ({})",
        t.elapsed().as_secs_f64(),
        memory()
    );
}
