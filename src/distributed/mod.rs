//! Scale-out on [timely dataflow](https://github.com/TimelyDataflow/timely-dataflow): the same
//! engines run as worker threads, processes or machines (cargo feature `distributed`).
//!
//! Two kinds of work are distributed:
//! - **Scenario-parallel** ([`scenarios`]): `rank` and `stress` split their scenarios into
//!   blocks, one per worker; each worker runs the single-machine engine on its block; the
//!   results go to worker 0, which puts them in their fixed order. The output is identical,
//!   byte for byte, to the single-process run.
//! - **Graph-parallel** ([`clearing`]): Eisenberg–Noe / Rogers–Veraart clearing of a network
//!   too large for one process. Firms are split into blocks; each exposure lives with its
//!   debtor's worker; every sweep exchanges payments along the exposures, and the fixed point
//!   is detected globally.
//!
//! A run is described by a [`Cluster`]: worker threads per process, number of processes, this
//! process's index and the addresses of all processes (one `host:port` per line of a hosts
//! file, in process order). Every process runs the same command with its own `--process`;
//! process 0 hosts worker 0 and is the one that writes the result.

pub mod clearing;
mod mailbox;
pub mod scenarios;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::error::{Diagnostic, Error, Location};

/// Where a distributed run's workers are: threads per process, processes, and addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Worker threads in each process (≥ 1).
    pub workers: usize,
    /// Number of processes (≥ 1).
    pub processes: usize,
    /// This process's index, in `0..processes`.
    pub process: usize,
    /// `host:port` of every process, in process order (needed when `processes > 1`).
    pub hosts: Vec<String>,
    /// How long to wait for the other processes to connect before giving up (`None`: for
    /// ever). Only used when `processes > 1`.
    pub connect_timeout: Option<Duration>,
}

impl Cluster {
    /// One process with `workers` threads.
    pub fn local(workers: usize) -> Self {
        Self {
            workers,
            processes: 1,
            process: 0,
            hosts: Vec::new(),
            connect_timeout: None,
        }
    }

    /// Total number of workers in the run.
    pub fn peers(&self) -> usize {
        self.workers * self.processes
    }

    /// Whether this process hosts worker 0 and so receives the gathered result.
    pub fn is_leader(&self) -> bool {
        self.process == 0
    }

    /// Checks the sizes and the hosts against each other.
    pub fn check(&self) -> Result<(), Error> {
        if self.workers == 0 {
            return Err(Error::Invalid("--workers must be at least 1".into()));
        }
        if self.processes == 0 {
            return Err(Error::Invalid("--processes must be at least 1".into()));
        }
        if self.process >= self.processes {
            return Err(Error::Invalid(format!(
                "--process must be in 0..{} (one index per process), found {}",
                self.processes, self.process
            )));
        }
        if self.processes > 1 && self.hosts.len() != self.processes {
            return Err(Error::Invalid(format!(
                "{} processes need a hosts file with {} lines (host:port, in process order), found {}",
                self.processes,
                self.processes,
                self.hosts.len()
            )));
        }
        Ok(())
    }

    /// The timely configuration (timely's own argument parser is not used).
    fn config(&self) -> timely::Config {
        let communication = if self.processes > 1 {
            timely::CommunicationConfig::Cluster {
                threads: self.workers,
                process: self.process,
                addresses: self.hosts.clone(),
                report: false,
                zerocopy: false,
            }
        } else {
            timely::CommunicationConfig::Process(self.workers)
        };
        timely::Config {
            communication,
            worker: timely::WorkerConfig::default(),
        }
    }
}

/// Parses a hosts file: one `host:port` per line, in process order; blank lines and lines
/// starting with `#` are skipped. Every bad line is reported with its line number.
pub fn parse_hosts(file: &str, text: &str) -> Result<Vec<String>, Error> {
    let mut hosts = Vec::new();
    let mut diags = Vec::new();
    for (k, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let ok = line
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if ok {
            hosts.push(line.to_string());
        } else {
            diags.push(Diagnostic::new(
                Location::at(file, k + 1, Some(1)),
                format!("expected host:port (e.g. 10.0.0.5:2101), found '{line}'"),
            ));
        }
    }
    if hosts.is_empty() && diags.is_empty() {
        diags.push(Diagnostic::new(
            Location::file(file),
            "no hosts: expected one host:port line per process",
        ));
    }
    if diags.is_empty() {
        Ok(hosts)
    } else {
        Err(Error::Input(diags.into()))
    }
}

/// Runs `work` on every worker of this process and returns the local workers' results, in
/// worker order. Blocks until every local worker has finished (in a multi-process run, until
/// the connections to the other processes are up and the work is done).
///
/// When the other processes do not connect within [`Cluster::connect_timeout`], returns an
/// error; timely's connecting thread is then left behind (it ends with the process).
fn run_workers<T, F>(cluster: &Cluster, work: F) -> Result<Vec<T>, Error>
where
    T: Send + 'static,
    F: Fn(&mut timely::worker::Worker) -> T + Send + Sync + 'static,
{
    cluster.check()?;
    let config = cluster.config();
    let started = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&started);
    let work = move |worker: &mut timely::worker::Worker| {
        flag.store(true, Ordering::Release);
        work(worker)
    };
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("timely".into())
        .spawn(move || {
            let out = timely::execute(config, work).map(|guards| guards.join());
            let _ = tx.send(out);
        })
        .map_err(|e| Error::Failed(format!("starting the timely workers: {e}")))?;
    let timeout = cluster.connect_timeout.filter(|_| cluster.processes > 1);
    let deadline = timeout.map(|t| Instant::now() + t);
    let results = loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(r) => break r,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let waiting = !started.load(Ordering::Acquire);
                if let (true, Some(d), Some(t)) = (waiting, deadline, timeout)
                    && Instant::now() >= d
                {
                    return Err(Error::Failed(format!(
                        "the other processes did not connect within {} s: start every process \
                         with the same --hosts file and its own --process, and check that the \
                         ports are free and reachable",
                        t.as_secs()
                    )));
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Error::Failed(
                    "the timely workers stopped unexpectedly".into(),
                ));
            }
        }
    };
    results
        .map_err(|e| Error::Failed(format!("starting the timely workers: {e}")))?
        .into_iter()
        .map(|r| r.map_err(|e| Error::Failed(format!("a timely worker failed: {e}"))))
        .collect()
}

/// Splits `0..n` into `parts` consecutive blocks of nearly equal size.
pub(crate) fn even_blocks(n: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let parts = parts.max(1);
    (0..parts)
        .map(|k| n * k / parts..n * (k + 1) / parts)
        .collect()
}
