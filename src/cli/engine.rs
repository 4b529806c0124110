//! `--engine`: where `simulate --model clearing`, `rank` and `stress` run.

use super::Failure;
use super::args::{EngineArg, EngineArgs};

/// The engine chosen on the command line.
pub(crate) enum Engine {
    /// Threads on this machine.
    Local,
    /// timely dataflow workers.
    #[cfg(feature = "distributed")]
    Timely(contagion::distributed::Cluster),
}

/// Reads `--engine` and the cluster flags.
pub(crate) fn engine_of(a: &EngineArgs) -> Result<Engine, Failure> {
    match a.engine {
        EngineArg::Local => {
            let cluster_flags = a.workers.is_some()
                || a.processes.is_some()
                || a.process.is_some()
                || a.hosts.is_some()
                || a.connect_timeout.is_some();
            if cluster_flags {
                return Err(Failure::BadInput(
                    "--workers, --processes, --process, --hosts and --connect-timeout go with --engine timely".into(),
                ));
            }
            Ok(Engine::Local)
        }
        EngineArg::Timely => timely(a),
    }
}

#[cfg(feature = "distributed")]
fn timely(a: &EngineArgs) -> Result<Engine, Failure> {
    use contagion::distributed::{Cluster, parse_hosts};
    let hosts = match &a.hosts {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|source| contagion::error::Error::Io {
                    path: path.clone(),
                    source,
                })?;
            parse_hosts(&contagion::io::display_name(path), &text)?
        }
        None => Vec::new(),
    };
    let processes = a.processes.unwrap_or(hosts.len().max(1));
    let cluster = Cluster {
        workers: a.workers.unwrap_or(1),
        processes,
        process: a.process.unwrap_or(0),
        hosts,
        connect_timeout: Some(std::time::Duration::from_secs(
            a.connect_timeout.unwrap_or(300),
        )),
    };
    cluster.check()?;
    Ok(Engine::Timely(cluster))
}

#[cfg(not(feature = "distributed"))]
fn timely(_: &EngineArgs) -> Result<Engine, Failure> {
    Err(Failure::BadInput(
        "--engine timely: this build has no distributed engine; build it with \
         `cargo build --release --features distributed`"
            .into(),
    ))
}

/// Runs `f` (a distributed run) with standard output sent to standard error when several
/// processes take part: timely prints its connection progress there, and the result written
/// to standard output afterwards must stay clean.
#[cfg(feature = "distributed")]
pub(crate) fn quietly<T>(cluster: &contagion::distributed::Cluster, f: impl FnOnce() -> T) -> T {
    let _redirect = (cluster.processes > 1)
        .then(|| gag::Redirect::stdout(std::io::stderr()).ok())
        .flatten();
    f()
}
