//! `contagion rank`: systemic importance of every firm, each failing alone.
//!
//! ```text
//! contagion rank graphs/ring-4
//! contagion rank graphs/ring-4 --model threshold --recovery 0.4 --top 10 --format csv
//! ```
//!
//! Scenarios run in parallel (`--threads`); the output is identical whatever the number of
//! threads. On a terminal, a progress line appears on standard error when the ranking takes
//! longer than a second; nothing is printed there when standard error is piped.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use contagion::analysis::rank::{Ranking, rank};
use contagion::model::Network;
use contagion::settings::{Seniority, Settings};

use super::args::{ExternalArg, Format, RankArgs};
use super::engine::{Engine, engine_of};
use super::simulate::{apply_buffer_flags, model_of};
use super::{CmdResult, Failure, emit};

/// Resolves the settings from the flags.
fn settings_of(a: &RankArgs) -> Result<Settings, Failure> {
    let mut s = Settings {
        model: model_of(a.model),
        ..Settings::default()
    };
    let clearing_flags = a.alpha.is_some() || a.beta.is_some() || a.external.is_some();
    apply_buffer_flags(&mut s, &a.buffers, clearing_flags)?;
    if let Some(x) = a.alpha {
        s.alpha = x;
    }
    if let Some(x) = a.beta {
        s.beta = x;
    }
    if let Some(e) = a.external {
        s.external = match e {
            ExternalArg::PariPassu => Seniority::PariPassu,
            ExternalArg::Senior => Seniority::Senior,
        };
    }
    if let Some(t) = a.tolerance {
        s.tolerance = t;
    }
    if let Some(m) = a.max_iterations {
        s.max_iterations = m;
    }
    s.validate()?;
    Ok(s)
}

pub fn run(a: RankArgs) -> CmdResult {
    let settings = settings_of(&a)?;
    if a.threads == Some(0) {
        return Err(Failure::BadInput("--threads must be at least 1".into()));
    }
    let engine = engine_of(&a.engine)?;
    let net = contagion::io::load(&a.network)?;
    let mut ranking = match engine {
        Engine::Local => local(&a, &net, &settings)?,
        #[cfg(feature = "distributed")]
        Engine::Timely(cluster) => {
            if a.threads.is_some() {
                return Err(Failure::BadInput(
                    "--threads is for --engine local; with --engine timely use --workers".into(),
                ));
            }
            let shared = std::sync::Arc::new(net);
            let run = || contagion::distributed::scenarios::rank(&cluster, shared, &settings);
            match super::engine::quietly(&cluster, run)? {
                Some(r) => r,
                // Another process writes the result.
                None => return Ok(()),
            }
        }
    };
    if let Some(k) = a.top {
        ranking.truncate(k);
    }
    let text = match a.format {
        Format::Table => ranking.to_table(),
        Format::Json => ranking.to_json(),
        Format::Csv => ranking.to_csv(),
    };
    if !ranking.converged && a.format != Format::Table {
        eprintln!(
            "warning: some scenarios hit the iteration cap ({}) before converging",
            settings.max_iterations
        );
    }
    emit(&text, a.output.as_deref(), &[&a.network])
}

/// Ranks on this machine's threads, with a progress line on a terminal.
fn local(a: &RankArgs, net: &Network, settings: &Settings) -> Result<Ranking, Failure> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(t) = a.threads {
        builder = builder.num_threads(t);
    }
    let pool = builder
        .build()
        .map_err(|e| Failure::Runtime(format!("starting worker threads: {e}")))?;
    let n = net.n_firms();
    let done = AtomicUsize::new(0);
    let finished = AtomicBool::new(false);
    Ok(std::thread::scope(|scope| {
        let bar = std::io::stderr()
            .is_terminal()
            .then(|| scope.spawn(|| progress(&done, &finished, n)));
        let r = pool.install(|| rank(net, settings, Some(&done)));
        finished.store(true, Ordering::Relaxed);
        if let Some(h) = bar {
            h.thread().unpark();
        }
        r
    }))
}

/// A progress line on standard error, shown only once the work has taken a second, erased
/// at the end.
fn progress(done: &AtomicUsize, finished: &AtomicBool, n: usize) {
    let start = Instant::now();
    let mut shown = false;
    while !finished.load(Ordering::Relaxed) {
        std::thread::park_timeout(Duration::from_millis(200));
        if finished.load(Ordering::Relaxed) {
            break;
        }
        if start.elapsed() < Duration::from_secs(1) {
            continue;
        }
        let k = done.load(Ordering::Relaxed);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\rrank: {k}/{n} firms ({:.0}%), {:.0} s",
            100.0 * k as f64 / n.max(1) as f64,
            start.elapsed().as_secs_f64()
        );
        let _ = err.flush();
        shown = true;
    }
    if shown {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}
