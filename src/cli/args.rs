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
        after_help = "Examples:\n  contagion simulate graphs/textbook-3 --default A\n  contagion simulate graphs/textbook-3 --asset-loss A=50% --format json -o out.json\n  contagion simulate NETWORK --scenario scenario.json --alpha 0.5 --beta 0.9 --external senior\n  contagion simulate NETWORK --model cascade --price FTT=-90% --withdraw ftx=60% --explain blockfi\n  contagion simulate graphs/ftx-2022 --scenario graphs/ftx-2022/scenarios/nov-2022.json --touched --svg ftx.svg"
    )]
    Simulate(Box<SimulateArgs>),
    /// Compare a scenario's defaults, and their order, with the firms' real failure dates.
    #[command(
        after_help = "Examples:\n  contagion backtest graphs/ftx-2022 --scenario graphs/ftx-2022/scenarios/nov-2022.json --until 2022-11-30\n  contagion backtest graphs/ftx-2022 --scenario graphs/ftx-2022/scenarios/nov-2022.json --overlay graphs/ftx-2022/variants/high.json --format json\n\nOutcomes: hit (failed in the model and in reality), missed, false_alarm, correct_survivor.\nOrder agreement is Kendall's tau-b between model round and real date over the hits (ties\nin either count as ties)."
    )]
    Backtest(Box<BacktestArgs>),
    /// Rank firms by systemic importance: each firm's failure alone, run in parallel.
    #[command(
        after_help = "For every firm, the scenario \"this firm alone fails\": the DebtRank it causes (weighted\ndistress of the other firms, its own shock excluded), the defaults and equity losses it causes,\nand each firm's vulnerability (in how many of the others' scenarios it defaults). Sorted by\ndebtrank, ties in input order; identical output whatever the number of threads.\n\nExamples:\n  contagion rank graphs/ring-4\n  contagion rank graphs/ring-4 --model threshold --recovery 0.4 --top 10\n  contagion rank NETWORK --variant single-hit --format json -o rank.json\n  contagion rank NETWORK --engine timely --workers 4 -o rank.csv --format csv   (build with --features distributed)"
    )]
    Rank(Box<RankArgs>),
    /// Convert a network between a CSV directory and a JSON document.
    #[command(
        after_help = "Examples:\n  contagion convert graphs/textbook-3 -o textbook.json\n  contagion convert textbook.json -o textbook-csv/"
    )]
    Convert(ConvertArgs),
    /// Estimate bilateral exposures from each firm's interbank totals (marginals).
    #[command(
        after_help = "Examples:\n  contagion reconstruct marginals.csv --method maxent -o net/\n  contagion reconstruct marginals.csv --method min-density --seed 7 --known known.csv -o net.json\n\nThe marginals CSV has columns id,interbank_assets,interbank_liabilities (assets = what the\nfirm lent to others, liabilities = what it borrowed) and optionally name,kind,cash,\nother_assets,external_liabilities,capital. Known exposures: lender,borrower,amount."
    )]
    Reconstruct(ReconstructArgs),
    /// Import an edge list or a square matrix (and a firms table) into the network format.
    #[command(
        after_help = "Examples:\n  contagion import --edges loans.csv --orientation assets --firms banks.csv -o net/\n  contagion import --matrix liabilities.csv --orientation liabilities -o net.json\n\nEdge lists: with --orientation assets (alias lender-borrower) the columns are\nlender,borrower,amount; with liabilities (alias debtor-creditor) debtor,creditor,amount;\nan optional kind column. Matrices: a corner cell and firm ids in the header, a firm id\nthen amounts in each row; assets = entry (i,j) is what i lent to j, liabilities = what i\nowes j. Firms table: id[,name,kind,cash,other_assets,external_liabilities,capital,total_assets]."
    )]
    Import(ImportArgs),
    /// Generate a synthetic network (Erdős–Rényi, scale-free, core–periphery) from a seed.
    #[command(
        after_help = "Examples:\n  contagion generate --firms 1000 --degree 10 --seed 7 -o er-1000/\n  contagion generate --topology scale-free --exponent 2.5 --firms 10000 -o sf.json"
    )]
    Generate(GenerateArgs),
    /// Stress programmes: sweep a shock's size, or draw random shocks (Monte Carlo).
    #[command(
        after_help = "Examples:\n  contagion stress graphs/ftx-2022 --scenario graphs/ftx-2022/scenarios/ftt-sweep.json -o sweep.csv --chart sweep.svg\n  contagion stress NETWORK --sweep FTT=0:-1:21 -o sweep.csv\n  contagion stress NETWORK --sweep asset_loss=0:0.5:11 --model clearing\n  contagion stress NETWORK --draws 1000 --seed 42 --mc-prob 0.05 --mc-max-loss 1 -o draws.csv\n\nMonte Carlo: in each draw every firm is hit with probability --mc-prob and then loses a\nfraction uniform on [0, --mc-max-loss] of its cash and other assets; each --mc-price\nASSET=MAX falls by a fraction uniform on [0, MAX]. Draws are seeded one by one, so results\nare the same whatever the number of threads, and with --engine timely on any number of workers,\nprocesses and machines (a build with --features distributed; see docs/distributed.md)."
    )]
    Stress(Box<StressArgs>),
    /// Draw the contagion diagram of a network, a saved result or a scenario (DOT, SVG, PNG),
    /// and optionally one frame per round.
    #[command(
        after_help = "Examples:\n  contagion render graphs/ftx-2022 --scenario graphs/ftx-2022/scenarios/nov-2022.json -o ftx.svg\n  contagion simulate graphs/ring-4 --format json -o ring.json && contagion render graphs/ring-4 --result ring.json -o ring.png\n  contagion render graphs/ftx-2022 --scenario graphs/ftx-2022/scenarios/nov-2022.json --touched --frames frames/\n  contagion render NETWORK --top 200 --layout sfdp -o big.svg\n\nArrows go from the firm that owes to the firm that is owed (the direction losses travel).\nSVG and PNG need Graphviz (`apt-get install graphviz`, `brew install graphviz`); DOT does not.\nWithout --result, --scenario or shock flags the network itself is drawn.\nFrames: files round-NN.FORMAT in DIR (older round-NN files of that format are removed)."
    )]
    Render(Box<RenderArgs>),
    /// Write one self-contained HTML report: diagram, timeline, per-firm table, charts,
    /// settings and sources.
    #[command(
        after_help = "Examples:\n  contagion report graphs/ftx-2022 graphs/ftx-2022/scenarios/nov-2022.json -o report.html\n  contagion report graphs/ftx-2022 graphs/ftx-2022/scenarios/nov-2022.json --sweep FTT=0:-1:21 -o report.html\n  contagion report graphs/ring-4 --default D -o ring.html\n\nThe file loads nothing from the network: open it anywhere. The diagram needs Graphviz."
    )]
    Report(Box<ReportArgs>),
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
    /// Margin calls, runs, fire sales and clearing, round by round.
    Cascade,
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
pub struct BufferFlags {
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
    #[command(flatten)]
    pub run: RunArgs,
    /// Print the chain of events from the shocks to this firm's failure.
    #[arg(long, value_name = "FIRM")]
    pub explain: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Also write the contagion diagram as DOT text.
    #[arg(long, value_name = "FILE", help_heading = "Diagram")]
    pub dot: Option<PathBuf>,
    /// Also write the contagion diagram as SVG (needs Graphviz's `dot`).
    #[arg(long, value_name = "FILE", help_heading = "Diagram")]
    pub svg: Option<PathBuf>,
    /// Also write the contagion diagram as PNG (needs Graphviz's `dot`).
    #[arg(long, value_name = "FILE", help_heading = "Diagram")]
    pub png: Option<PathBuf>,
    #[command(flatten, next_help_heading = "Diagram")]
    pub draw: DrawArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// How a diagram is drawn: shared by `simulate --svg`, `render` and `report`.
#[derive(Args, Debug, Clone)]
pub struct DrawArgs {
    /// Draw only what the cascade touched: firms in default, with losses or shocked, assets
    /// whose price moved, and the exposures between them.
    #[arg(long)]
    pub touched: bool,
    /// Draw only the N largest exposures (and the firms at their ends, and those in default).
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Draw each cycle of mutual exposures with more than N firms as one node.
    #[arg(long, value_name = "N")]
    pub condense: Option<usize>,
    /// Box the firms of each kind together.
    #[arg(long)]
    pub group_by_kind: bool,
    /// Layout engine: auto picks dot for cascades and small networks, neato or sfdp for large
    /// ones (dot takes minutes on cyclic networks of a few hundred firms).
    #[arg(long, value_enum, default_value_t = LayoutArg::Auto)]
    pub layout: LayoutArg,
    /// Leave out assets (tokens, securities) and their holders' arrows.
    #[arg(long)]
    pub no_assets: bool,
    /// Leave out the legend.
    #[arg(long)]
    pub no_legend: bool,
    /// Title of the diagram (default: network and scenario names).
    #[arg(long)]
    pub title: Option<String>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LayoutArg {
    /// dot for cascades and small networks, neato or sfdp for large ones.
    Auto,
    /// Hierarchical, left to right.
    Dot,
    /// Spring model (up to a few hundred firms).
    Neato,
    /// Multiscale spring model (thousands of firms).
    Sfdp,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ImageArg {
    /// DOT text.
    Dot,
    /// SVG (needs Graphviz).
    Svg,
    /// PNG (needs Graphviz).
    Png,
}

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// Network: a directory of CSV files or a .json document.
    pub network: PathBuf,
    /// Draw this result (from `simulate --format json`) instead of running a scenario.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["scenario", "overlay", "defaults", "prices", "asset_losses", "withdrawals", "model"])]
    pub result: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Where to write the diagram: the extension picks the format (.dot, .svg or .png).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write one diagram per round into this directory (round-00 = the shock, round-01,
    /// …), every frame on the same layout.
    #[arg(long, value_name = "DIR")]
    pub frames: Option<PathBuf>,
    /// Format of the frames (default: that of --output, else svg).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub frame_format: Option<ImageArg>,
    #[command(flatten, next_help_heading = "Diagram")]
    pub draw: DrawArgs,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Network: a directory of CSV files or a .json document.
    pub network: PathBuf,
    /// Scenario file (JSON); the same as --scenario.
    #[arg(value_name = "SCENARIO")]
    pub scenario_file: Option<PathBuf>,
    /// Report on this result (from `simulate --format json`) instead of running a scenario.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["scenario", "scenario_file", "overlay", "defaults", "prices", "asset_losses", "withdrawals", "model"])]
    pub result: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Add a sweep chart: ASSET=FROM:TO:STEPS (price change, e.g. FTT=0:-1:21) or
    /// asset_loss=FROM:TO:STEPS (default: the scenario's own sweep, if it has one).
    #[arg(long, value_name = "SPEC", allow_hyphen_values = true)]
    pub sweep: Option<String>,
    /// Where to write the report (.html).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten, next_help_heading = "Diagram")]
    pub draw: DrawArgs,
}

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// Threads on this machine.
    #[default]
    Local,
    /// timely dataflow workers: threads, processes or machines (a build with
    /// `--features distributed`).
    Timely,
}

/// Where the work runs: shared by `simulate --model clearing`, `rank` and `stress`.
#[derive(Args, Debug, Default)]
pub struct EngineArgs {
    /// Execution engine: local threads, or timely dataflow workers across threads, processes
    /// and machines (same results; needs a build with --features distributed).
    #[arg(long, value_enum, default_value_t = EngineArg::Local, help_heading = "Distributed")]
    pub engine: EngineArg,
    /// timely: worker threads in this process (default 1).
    #[arg(long, value_name = "N", help_heading = "Distributed")]
    pub workers: Option<usize>,
    /// timely: number of processes taking part (default 1); every process runs the same
    /// command with its own --process.
    #[arg(long, value_name = "P", help_heading = "Distributed")]
    pub processes: Option<usize>,
    /// timely: index of this process, from 0 to P−1 (default 0). Process 0 writes the result.
    #[arg(long, value_name = "K", help_heading = "Distributed")]
    pub process: Option<usize>,
    /// timely: hosts file, one host:port per line in process order (needed with P > 1).
    #[arg(long, value_name = "FILE", help_heading = "Distributed")]
    pub hosts: Option<PathBuf>,
    /// timely: seconds to wait for the other processes to connect (default 300).
    #[arg(long, value_name = "SECS", help_heading = "Distributed")]
    pub connect_timeout: Option<u64>,
}

/// What a run reads and how it is set up: shared by `simulate` and `backtest`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Scenario file (JSON): shocks and settings. Flags below add shocks and override settings.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Overlay file (JSON): variant figures for firms, exposures and assets by id, and shock
    /// sizes (e.g. the low or high end of disputed figures).
    #[arg(long, value_name = "FILE")]
    pub overlay: Option<PathBuf>,
    /// Model to run (default: cascade when the network has assets, else clearing).
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
    pub buffers: BufferFlags,
    /// Run on a firm: depositors withdraw a fraction of their deposits, FIRM=0.6 or FIRM=60%
    /// (repeatable).
    #[arg(long = "withdraw", value_name = "FIRM=FRACTION")]
    pub withdrawals: Vec<String>,
    /// Cascade: no margin calls on under-collateralised loans.
    #[arg(long)]
    pub no_margin_calls: bool,
    /// Cascade: forced sales do not move prices, and firms in default keep their holdings.
    #[arg(long)]
    pub no_fire_sales: bool,
    /// Cascade: no withdrawals at all (shocked or contagious).
    #[arg(long)]
    pub no_runs: bool,
    /// Cascade: depositors do not run on firms hit by failed counterparties.
    #[arg(long)]
    pub no_contagious_runs: bool,
    /// Cascade: price impact β of forced sales, p ← p·exp(−β·sold/depth) (default 1).
    #[arg(long)]
    pub price_impact: Option<f64>,
    /// Cascade: fraction withdrawn by a contagious run (default 0.3).
    #[arg(long)]
    pub run_fraction: Option<f64>,
    /// Cascade: loss on failed counterparties, as a fraction of equity, that starts a run
    /// (default 0.1).
    #[arg(long)]
    pub run_trigger: Option<f64>,
    /// Cascade: cap on rounds (default 1000).
    #[arg(long)]
    pub max_rounds: Option<usize>,
    /// Cascade: deposits frozen at a halted firm are recovered through clearing (default) or
    /// written off at once by the depositors.
    #[arg(long, value_name = "recover|lose")]
    pub frozen_deposits: Option<String>,
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
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum BacktestFormat {
    /// Aligned text for people.
    Table,
    /// One JSON object (machine-readable).
    Json,
}

#[derive(Args, Debug)]
pub struct BacktestArgs {
    /// Network: a directory of CSV files or a .json document (firms carry failed_on dates).
    pub network: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
    /// Horizon (YYYY-MM-DD): real failures after this date count as survivals.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = BacktestFormat::Table)]
    pub format: BacktestFormat,
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
    pub buffers: BufferFlags,
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
    #[command(flatten)]
    pub engine: EngineArgs,
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

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReconstructMethod {
    /// Maximum entropy (RAS with a zero diagonal): dense, every pair linked.
    Maxent,
    /// Minimum density: as few links as a greedy matching gives.
    MinDensity,
}

#[derive(Args, Debug)]
pub struct ReconstructArgs {
    /// Marginals CSV: id,interbank_assets,interbank_liabilities[,name,kind,cash,other_assets,external_liabilities,capital].
    pub marginals: PathBuf,
    /// Estimation method.
    #[arg(long, value_enum, default_value_t = ReconstructMethod::Maxent)]
    pub method: ReconstructMethod,
    /// Exposures already known (CSV lender,borrower,amount): kept as given.
    #[arg(long)]
    pub known: Option<PathBuf>,
    /// Where to write the network: a directory, or a path ending in .json.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Maximum entropy: relative tolerance on the margins (default 1e-12).
    #[arg(long, default_value_t = 1e-12)]
    pub tolerance: f64,
    /// Maximum entropy: cap on RAS sweeps.
    #[arg(long, default_value_t = 100_000)]
    pub max_iterations: usize,
    /// Minimum density: seed of the random restarts.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Minimum density: number of seeded restarts (the sparsest result is kept).
    #[arg(long, default_value_t = 16)]
    pub restarts: usize,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum OrientationArg {
    /// Lender first / row = creditor (entry = what the row firm lent).
    #[value(alias = "lender-borrower")]
    Assets,
    /// Debtor first / row = debtor (entry = what the row firm owes).
    #[value(alias = "debtor-creditor")]
    Liabilities,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Edge list CSV.
    #[arg(long, conflicts_with = "matrix")]
    pub edges: Option<PathBuf>,
    /// Square matrix CSV with firm ids in the header and the first column.
    #[arg(long)]
    pub matrix: Option<PathBuf>,
    /// What the data's orientation is (required: orientation errors change every answer).
    #[arg(long, value_enum)]
    pub orientation: OrientationArg,
    /// Firms table: id[,name,kind,cash,other_assets,external_liabilities,capital,total_assets].
    #[arg(long)]
    pub firms: Option<PathBuf>,
    /// Name of the dataset.
    #[arg(long)]
    pub name: Option<String>,
    /// Currency of the amounts.
    #[arg(long, default_value = "USD")]
    pub currency: String,
    /// Where to write: a directory, or a path ending in .json.
    #[arg(short, long)]
    pub output: PathBuf,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum TopologyArg {
    /// Uniformly random pairs (directed G(n, m)).
    ErdosRenyi,
    /// Heavy-tailed degrees (power law with --exponent).
    ScaleFree,
    /// A dense core and a periphery that deals only with the core.
    CorePeriphery,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Number of firms.
    #[arg(long, default_value_t = 100)]
    pub firms: usize,
    /// Mean number of debtors per firm.
    #[arg(long, default_value_t = 10.0)]
    pub degree: f64,
    /// Shape of the network.
    #[arg(long, value_enum, default_value_t = TopologyArg::ErdosRenyi)]
    pub topology: TopologyArg,
    /// Scale-free: degree tail exponent (> 1).
    #[arg(long, default_value_t = 2.5)]
    pub exponent: f64,
    /// Core–periphery: share of firms in the core.
    #[arg(long, default_value_t = 0.1)]
    pub core_fraction: f64,
    /// Core–periphery: share of exposures between two core firms.
    #[arg(long, default_value_t = 0.5)]
    pub core_share: f64,
    /// Book equity as a share of total assets.
    #[arg(long, default_value_t = 0.04)]
    pub capital_ratio: f64,
    /// Interbank assets as a share of total assets.
    #[arg(long, default_value_t = 0.2)]
    pub interbank_share: f64,
    /// Seed: the same seed gives the same network.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where to write: a directory, or a path ending in .json.
    #[arg(short, long)]
    pub output: PathBuf,
}

#[derive(Args, Debug)]
pub struct StressArgs {
    /// Network: a directory of CSV files or a .json document.
    pub network: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
    /// Sweep: ASSET=FROM:TO:STEPS (price change) or asset_loss=FROM:TO:STEPS (every firm).
    #[arg(long, value_name = "SPEC", allow_hyphen_values = true)]
    pub sweep: Option<String>,
    /// Monte Carlo: number of draws.
    #[arg(long)]
    pub draws: Option<usize>,
    /// Monte Carlo: seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Monte Carlo: probability that a firm is hit in a draw.
    #[arg(long, default_value_t = 0.1)]
    pub mc_prob: f64,
    /// Monte Carlo: largest asset-loss fraction of a hit firm.
    #[arg(long, default_value_t = 0.5)]
    pub mc_max_loss: f64,
    /// Monte Carlo: an asset whose price falls at random, ASSET=MAX_FALL (repeatable).
    #[arg(long, value_name = "ASSET=MAX_FALL")]
    pub mc_price: Vec<String>,
    /// Write the CSV here instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Also write an SVG chart: defaults and losses against the shock.
    #[arg(long)]
    pub chart: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
}
