//! Command-line interface: argument definitions (clap) and one module per subcommand. This
//! is the only code that prints.

mod args;
mod backtest;
mod convert;
mod engine;
mod generate;
mod import;
mod rank;
mod reconstruct;
mod render;
mod report;
mod simulate;
mod stress;
mod validate;

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Parser;
use contagion::error::Error;

/// Failure of a command, with its exit code.
pub(crate) enum Failure {
    /// Bad input or usage: exit code 2.
    BadInput(String),
    /// Anything else: exit code 1.
    Runtime(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        if e.is_bad_input() {
            Failure::BadInput(e.to_string())
        } else {
            Failure::Runtime(e.to_string())
        }
    }
}

pub(crate) type CmdResult = Result<(), Failure>;

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match args::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let res = match cli.command {
        args::Command::Validate(a) => validate::run(a),
        args::Command::Simulate(a) => simulate::run(*a),
        args::Command::Backtest(a) => backtest::run(*a),
        args::Command::Convert(a) => convert::run(a),
        args::Command::Rank(a) => rank::run(*a),
        args::Command::Reconstruct(a) => reconstruct::run(a),
        args::Command::Import(a) => import::run(a),
        args::Command::Generate(a) => generate::run(a),
        args::Command::Stress(a) => stress::run(*a),
        args::Command::Render(a) => render::run(*a),
        args::Command::Report(a) => report::run(*a),
    };
    match res {
        Ok(()) => 0,
        Err(Failure::BadInput(m)) => {
            eprintln!("error: {m}");
            2
        }
        Err(Failure::Runtime(m)) => {
            eprintln!("error: {m}");
            1
        }
    }
}

/// Writes `text` to `out` atomically, or to standard output; a closed pipe is not an error.
/// Refuses to write over any of `inputs` (or into an input network directory).
pub(crate) fn emit(text: &str, out: Option<&Path>, inputs: &[&Path]) -> CmdResult {
    match out {
        Some(path) => {
            guard_output(path, inputs)?;
            contagion::io::write_atomic(path, text.as_bytes())?;
            Ok(())
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(text.as_bytes())
                .and_then(|_| stdout.flush())
            {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(Failure::Runtime(format!("writing to standard output: {e}")))
                }
                _ => Ok(()),
            }
        }
    }
}

fn canonical(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.canonicalize().ok()?,
        _ => std::env::current_dir().ok()?,
    };
    Some(parent.join(p.file_name()?))
}

/// Refuses an output path that is an input file or lies inside an input directory.
pub(crate) fn guard_output(out: &Path, inputs: &[&Path]) -> CmdResult {
    let Some(o) = canonical(out) else {
        return Ok(());
    };
    for i in inputs {
        if let Some(c) = canonical(i)
            && (o == c || (c.is_dir() && o.starts_with(&c)))
        {
            return Err(Failure::BadInput(format!(
                "refusing to write {} over the input {}: choose another output path",
                out.display(),
                i.display()
            )));
        }
    }
    Ok(())
}

/// SVG chart of a stress programme (defaults and losses against the shock): lines for a
/// sweep (shocks in order), points for Monte Carlo draws.
pub(crate) fn stress_chart_svg(
    points: &[contagion::analysis::stress::StressPoint],
    currency: &str,
) -> Result<String, Failure> {
    use contagion::render::chart::{SweepPoint, sweep_svg_with};
    let pts: Vec<SweepPoint> = points
        .iter()
        .map(|p| SweepPoint {
            shock: p.shock,
            defaults: p.defaults,
            losses: p.total_losses,
        })
        .collect();
    let ordered = pts.windows(2).all(|w| w[0].shock <= w[1].shock)
        || pts.windows(2).all(|w| w[0].shock >= w[1].shock);
    sweep_svg_with(&pts, "shock size", currency, ordered).map_err(render::failure)
}
