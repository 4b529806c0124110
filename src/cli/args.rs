//! Argument definitions. Raw clap structures live here and are converted once into the
//! library's settings and shocks by each subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Map and stress-test the web of obligations between financial firms.
#[derive(Parser, Debug)]
#[command(name = "contagion", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Load and check a network; summarise firms, exposures, equity, cycles and warnings.
    #[command(after_help = "Example:\n  contagion validate graphs/textbook-3")]
    Validate(ValidateArgs),
    /// Apply shocks and propagate them through the network.
    #[command(
        after_help = "Examples:\n  contagion simulate graphs/textbook-3 --default A\n  contagion simulate graphs/textbook-3 --asset-loss A=50% --format json -o out.json\n  contagion simulate NETWORK --scenario scenario.json --alpha 0.5 --beta 0.9 --external senior\n  contagion simulate graphs/ring-4 --model debtrank --default A\n  contagion simulate graphs/ring-4 --model debtrank --variant nonlinear --nl-alpha 2 --equity-shock '*=5%'\n  contagion simulate graphs/ring-4 --model threshold --recovery 0.4 --default A"
    )]
    Simulate(Box<SimulateArgs>),
    /// Rank firms by systemic importance: each firm's failure alone, run in parallel.
    #[command(
        after_help = "For every firm, the scenario \"this firm alone fails\": the DebtRank it causes (weighted\ndistress of the other firms, its own shock excluded), the defaults and equity losses it causes,\nand each firm's vulnerability (in how many of the others' scenarios it defaults). Sorted by\ndebtrank, ties in input order; identical output whatever the number of threads.\n\nExamples:\n  contagion rank graphs/ring-4\n  contagion rank graphs/ring-4 --model threshold --recovery 0.4 --top 10\n  contagion rank NETWORK --variant single-hit --format json -o rank.json"
    )]
    Rank(Box<RankArgs>),
    /// Convert a network between a CSV directory and a JSON document.
    #[command(
        after_help = "Examples:\n  contagion convert graphs/textbook-3 -o textbook.json\n  contagion convert textbook.json -o textbook-csv/"
    )]
    Convert(ConvertArgs),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    Table,
    /// One JSON object (machine-readable contract).
    Json,
    /// One row per firm.
    Csv,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Network: a directory of CSV files or a .json document.
    pub network: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// How many of the largest exposures to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    /// Eisenberg–Noe clearing with Rogers–Veraart default costs.
    Clearing,
    /// DebtRank (single-hit, linear or non-linear: see --variant).
    Debtrank,
    /// Furfine threshold cascade: sequential defaults with a recovery rate.
    Threshold,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum VariantArg {
    /// Battiston et al. (2012): capped impacts, each firm propagates once.
    SingleHit,
    /// Bardoscia et al. (2015): increments of stress propagate.
    Linear,
    /// Bardoscia et al. (2016): increments of h·exp(α(h − 1)) propagate (--nl-alpha).
    Nonlinear,
}

/// Settings of the buffer-based models (DebtRank, threshold).
#[derive(Args, Debug, Default)]
pub struct CascadeFlags {
    /// DebtRank variant (default linear).
    #[arg(long, value_enum)]
    pub variant: Option<VariantArg>,
    /// Non-linear DebtRank α ≥ 0 (default 1; implies --variant nonlinear; 0 is linear).
    #[arg(long, value_name = "A")]
    pub nl_alpha: Option<f64>,
    /// Threshold model: fraction of an unsecured exposure recovered from a defaulted debtor,
    /// in [0, 1] (default 0).
    #[arg(long, value_name = "R")]
    pub recovery: Option<f64>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExternalArg {
    /// External creditors share pro rata with interbank creditors.
    PariPassu,
    /// External creditors are paid first.
    Senior,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum SolverArg {
    Auto,
    Exact,
    Iterative,
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Network: a directory of CSV files or a .json document.
    pub network: PathBuf,
    /// Scenario file (JSON): shocks and settings. Flags below add shocks and override settings.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Model to run.
    #[arg(long, value_enum)]
    pub model: Option<ModelArg>,
    /// Firm that fails outright at round 0 (repeatable).
    #[arg(long = "default", value_name = "FIRM")]
    pub defaults: Vec<String>,
    /// Price change of an asset, as a fraction or percentage: FTT=-0.9 or FTT=-90% (repeatable).
    #[arg(
        long = "price",
        value_name = "ASSET=CHANGE",
        allow_hyphen_values = true
    )]
    pub prices: Vec<String>,
    /// Loss of a firm's cash and other assets: FIRM=AMOUNT or FIRM=PCT% (repeatable).
    #[arg(long = "asset-loss", value_name = "FIRM=AMOUNT|PCT%")]
    pub asset_losses: Vec<String>,
    /// Initial relative equity loss (DebtRank stress) of a firm: FIRM=0.05 or FIRM=5%; `*`
    /// shocks every firm (repeatable; DebtRank and threshold).
    #[arg(long = "equity-shock", value_name = "FIRM=FRACTION")]
    pub equity_shocks: Vec<String>,
    #[command(flatten)]
    pub cascade: CascadeFlags,
    /// Rogers–Veraart α: fraction of external assets a defaulting firm realises (default 1).
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Rogers–Veraart β: fraction of interbank claims a defaulting firm realises (default 1).
    #[arg(long)]
    pub beta: Option<f64>,
    /// Rank of external liabilities (default pari-passu).
    #[arg(long, value_enum)]
    pub external: Option<ExternalArg>,
    /// Report the least clearing vector instead of the greatest (only with alpha = beta = 1).
    #[arg(long)]
    pub least: bool,
    /// Solver for the payments of defaulting firms (default auto).
    #[arg(long, value_enum)]
    pub solver: Option<SolverArg>,
    /// Relative tolerance (default 1e-12).
    #[arg(long)]
    pub tolerance: Option<f64>,
    /// Cap on fixed-point sweeps (default 100000).
    #[arg(long)]
    pub max_iterations: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RankArgs {
    /// Network: a directory of CSV files or a .json document.
    pub network: PathBuf,
    /// Model each scenario runs (default debtrank).
    #[arg(long, value_enum, default_value_t = ModelArg::Debtrank)]
    pub model: ModelArg,
    #[command(flatten)]
    pub cascade: CascadeFlags,
    /// Clearing model: Rogers–Veraart α (default 1).
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Clearing model: Rogers–Veraart β (default 1).
    #[arg(long)]
    pub beta: Option<f64>,
    /// Clearing model: rank of external liabilities (default pari-passu).
    #[arg(long, value_enum)]
    pub external: Option<ExternalArg>,
    /// Tolerance (default 1e-12).
    #[arg(long)]
    pub tolerance: Option<f64>,
    /// Cap on rounds or sweeps per scenario (default 100000).
    #[arg(long)]
    pub max_iterations: Option<usize>,
    /// List only the K most important firms.
    #[arg(long, value_name = "K")]
    pub top: Option<usize>,
    /// Worker threads (default: one per core). The output never depends on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// Network to read: a directory of CSV files or a .json document.
    pub network: PathBuf,
    /// Where to write: a path ending in .json writes one document, anything else a CSV
    /// directory.
    #[arg(short, long)]
    pub output: PathBuf,
}
