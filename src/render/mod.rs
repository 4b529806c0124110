//! Pictures of a network and of a cascade: Graphviz diagrams ([`dot`]), their rendering to
//! SVG/PNG by Graphviz's `dot` program ([`exec`]), charts ([`chart`]) and the self-contained
//! HTML report ([`html`]).
//!
//! The diagram is built as a `graphviz_rust` graph (its structures, printed by its printer),
//! so the DOT text is always produced in pure Rust; only SVG and PNG need the Graphviz
//! executable. Reading a diagram: an arrow goes from the firm that owes to the firm that is
//! owed, the direction losses travel; its width grows with the logarithm of the amount.
//!
//! ```
//! use contagion::prelude::*;
//! use contagion::render::{RenderOptions, dot::diagram};
//!
//! let net = contagion::io::load(std::path::Path::new("graphs/textbook-3")).unwrap();
//! let marks = Marks::book(&net);
//! let settings = Settings::default();
//! let c = clear(&net, &marks, &settings);
//! let result = SimulationResult::from_clearing(&net, &Scenario::default(), &settings, &marks, &c);
//! let d = diagram(&net, Some(&result), &RenderOptions::default());
//! let text = d.to_dot();
//! assert!(text.starts_with("digraph"));
//! assert!(graphviz_rust::parse(&text).is_ok());
//! ```

pub mod chart;
pub mod dot;
pub mod exec;
pub mod html;
pub mod read;

pub use read::read_result;

use std::path::{Path, PathBuf};

/// What to draw and how. The defaults draw the whole network (capped at
/// [`RenderOptions::max_edges`] exposures) with a legend, in the layout engine suited to its
/// size.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    /// Draw only the part of the network the cascade touched: firms in default, firms that
    /// lost equity or were shocked, assets whose price moved, and the exposures between them.
    /// Without a result, nothing is filtered.
    pub touched_only: bool,
    /// Draw only the `n` largest exposures (by amount) and the firms at their ends (plus the
    /// firms in default, so the cascade stays visible).
    pub top: Option<usize>,
    /// Cap on exposures drawn when `top` is not given: beyond it the largest are kept and a
    /// note says so.
    pub max_edges: usize,
    /// Draw each strongly connected component (cycle of mutual exposures) with more than this
    /// many firms as one node.
    pub condense: Option<usize>,
    /// Box the firms of each kind together.
    pub group_by_kind: bool,
    /// Draw assets (tokens, securities) and who holds them.
    pub assets: bool,
    /// Draw the legend.
    pub legend: bool,
    /// Layout engine.
    pub layout: LayoutChoice,
    /// Show the state after this round (for frames); `None`: the final state.
    pub round: Option<u32>,
    /// Title; default: built from the network and scenario names.
    pub title: Option<String>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            touched_only: false,
            top: None,
            max_edges: 1000,
            condense: None,
            group_by_kind: false,
            assets: true,
            legend: true,
            layout: LayoutChoice::Auto,
            round: None,
            title: None,
        }
    }
}

/// Which Graphviz layout engine positions the diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutChoice {
    /// `dot` for cascade trees (acyclic) and small networks, `neato` for medium networks,
    /// `sfdp` for large ones.
    Auto,
    /// Hierarchical layout, left to right: best for cascades; minutes on cyclic networks of a
    /// few hundred firms.
    Dot,
    /// Spring model: networks up to a few hundred firms.
    Neato,
    /// Multiscale spring model: large networks (seconds for thousands of firms).
    Sfdp,
}

impl LayoutChoice {
    /// Parses `auto`, `dot`, `neato` or `sfdp`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "dot" => Ok(Self::Dot),
            "neato" => Ok(Self::Neato),
            "sfdp" => Ok(Self::Sfdp),
            _ => Err(format!("expected auto, dot, neato or sfdp, found '{s}'")),
        }
    }
}

/// A concrete layout engine (what [`LayoutChoice::Auto`] resolved to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Graphviz `dot`.
    Dot,
    /// Graphviz `neato`.
    Neato,
    /// Graphviz `sfdp`.
    Sfdp,
}

impl Engine {
    /// The engine's name, as Graphviz spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Dot => "dot",
            Engine::Neato => "neato",
            Engine::Sfdp => "sfdp",
        }
    }
}

/// Output format of a diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// DOT text (no Graphviz needed).
    Dot,
    /// SVG (needs Graphviz).
    Svg,
    /// PNG (needs Graphviz).
    Png,
}

impl ImageFormat {
    /// The format named by a path's extension (`.dot`/`.gv`, `.svg`, `.png`, any case).
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Self::parse(&ext).ok()
    }

    /// Parses `dot` (or `gv`), `svg` or `png`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "dot" | "gv" => Ok(Self::Dot),
            "svg" => Ok(Self::Svg),
            "png" => Ok(Self::Png),
            _ => Err(format!("expected dot, svg or png, found '{s}'")),
        }
    }

    /// File extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Dot => "dot",
            ImageFormat::Svg => "svg",
            ImageFormat::Png => "png",
        }
    }
}

/// Why a picture could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The Graphviz `dot` program is not installed (or not on `PATH`).
    #[error(
        "Graphviz `dot` not found on PATH: install it (e.g. `apt-get install graphviz` or `brew install graphviz`){}",
        match dot_written {
            Some(p) => format!("; the DOT file was written to {}", p.display()),
            None => String::new(),
        }
    )]
    DotNotFound {
        /// Where the DOT text was saved instead, if it was.
        dot_written: Option<PathBuf>,
    },
    /// Graphviz ran and failed.
    #[error("Graphviz `dot` failed: {message}{}", match dot_written {
        Some(p) => format!(" (the DOT file was written to {})", p.display()),
        None => String::new(),
    })]
    DotFailed {
        /// What Graphviz printed.
        message: String,
        /// Where the DOT text was saved instead, if it was.
        dot_written: Option<PathBuf>,
    },
    /// Graphviz's output could not be understood (a layout without positions).
    #[error("unexpected output from Graphviz: {0}")]
    BadLayout(String),
    /// A chart could not be drawn.
    #[error("drawing a chart: {0}")]
    Chart(String),
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] crate::error::Error),
}

impl RenderError {
    /// The same error, recording that the DOT text was saved at `path`.
    pub fn with_dot_written(self, path: &Path) -> Self {
        match self {
            RenderError::DotNotFound { .. } => RenderError::DotNotFound {
                dot_written: Some(path.to_path_buf()),
            },
            RenderError::DotFailed { message, .. } => RenderError::DotFailed {
                message,
                dot_written: Some(path.to_path_buf()),
            },
            e => e,
        }
    }
}

/// The symbol written before amounts in `currency` (`$` for USD), or `None` to write the
/// code after the amount.
fn currency_symbol(currency: &str) -> Option<&'static str> {
    match currency.to_ascii_uppercase().as_str() {
        "USD" => Some("$"),
        "EUR" => Some("€"),
        "GBP" => Some("£"),
        "JPY" => Some("¥"),
        _ => None,
    }
}

/// Formats an amount for people, with two significant digits below ten and none above:
/// `$9.3B`, `$15B`, `$355M`, `$2.5M`, `$225k`, `$40`; other currencies as `9.3B CHF`.
///
/// ```
/// use contagion::render::money;
/// assert_eq!(money(9.3e9, "USD"), "$9.3B");
/// assert_eq!(money(14.96e9, "USD"), "$15B");
/// assert_eq!(money(225_000.0, "USD"), "$225k");
/// assert_eq!(money(1.19e9, "CHF"), "1.2B CHF");
/// assert_eq!(money(-2.0e6, "USD"), "−$2M");
/// ```
pub fn money(x: f64, currency: &str) -> String {
    let number = short_number(x.abs());
    let sign = if x < 0.0 && number != "0" { "−" } else { "" };
    match currency_symbol(currency) {
        Some(s) => format!("{sign}{s}{number}"),
        None => format!("{sign}{number} {currency}"),
    }
}

/// `9.3B`, `15B`, `355M`, `2.5M`, `225k`, `40`, `0.5`: at most two significant digits below
/// ten of a unit, whole units above.
pub fn short_number(a: f64) -> String {
    if !a.is_finite() {
        return "?".into();
    }
    let (v, unit) = if a >= 1e12 {
        (a / 1e12, "T")
    } else if a >= 1e9 {
        (a / 1e9, "B")
    } else if a >= 1e6 {
        (a / 1e6, "M")
    } else if a >= 1e3 {
        (a / 1e3, "k")
    } else {
        (a, "")
    };
    let text = if v >= 9.95 {
        format!("{v:.0}")
    } else if unit.is_empty() && v < 0.95 && v > 0.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1}")
    };
    let text = text.strip_suffix(".0").map(str::to_string).unwrap_or(text);
    // 999.7M rounds to "1000M": say 1B instead.
    if text == "1000" && !unit.is_empty() {
        let next = match unit {
            "k" => "M",
            "M" => "B",
            "B" => "T",
            _ => "000T",
        };
        return format!("1{next}");
    }
    format!("{text}{unit}")
}

/// A price for people: `$25.00`, `$0.238`, `<$0.001`.
pub fn price(p: f64, currency: &str) -> String {
    let text = if p >= 1.0 {
        format!("{p:.2}")
    } else if p >= 0.001 {
        format!("{:.3}", p)
    } else if p > 0.0 {
        return match currency_symbol(currency) {
            Some(s) => format!("<{s}0.001"),
            None => format!("<0.001 {currency}"),
        };
    } else {
        "0".into()
    };
    match currency_symbol(currency) {
        Some(s) => format!("{s}{text}"),
        None => format!("{text} {currency}"),
    }
}

/// A fraction as a signed percentage for people: `−88%`, `+5%`, `−100%`.
pub fn change_percent(x: f64) -> String {
    let p = (x * 100.0).round();
    if p < 0.0 {
        format!("−{}%", -p)
    } else if p > 0.0 {
        format!("+{p}%")
    } else {
        "0%".into()
    }
}

/// Plain-language name of a cause of default.
pub fn cause_text(c: crate::engine::Cause) -> &'static str {
    use crate::engine::Cause;
    match c {
        Cause::Shock => "hit by the shock",
        Cause::CounterpartyDefault => "counterparty default",
        Cause::CounterpartyDistress => "counterparty distress",
        Cause::MarginCall => "missed a margin call",
        Cause::Run => "run by depositors",
        Cause::PriceFall => "price fall",
        Cause::InitiallyInsolvent => "insolvent before the shock",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_for_people() {
        assert_eq!(money(9.3e9, "USD"), "$9.3B");
        assert_eq!(money(9.96e9, "USD"), "$10B");
        assert_eq!(money(999.7e6, "USD"), "$1B");
        assert_eq!(money(355e6, "USD"), "$355M");
        assert_eq!(money(76.8e6, "USD"), "$77M");
        assert_eq!(money(2.52e6, "USD"), "$2.5M");
        assert_eq!(money(2.0e6, "EUR"), "€2M");
        assert_eq!(money(40.0, "USD"), "$40");
        assert_eq!(money(0.5, "USD"), "$0.50");
        assert_eq!(money(0.0, "USD"), "$0");
        assert_eq!(money(3.2e12, "XTS"), "3.2T XTS");
        assert_eq!(price(25.0, "USD"), "$25.00");
        assert_eq!(price(0.2376, "USD"), "$0.238");
        assert_eq!(price(4.9e-6, "USD"), "<$0.001");
        assert_eq!(change_percent(-0.88), "−88%");
        assert_eq!(change_percent(-0.99999), "−100%");
    }

    #[test]
    fn formats_from_extensions() {
        assert_eq!(
            ImageFormat::from_path(Path::new("a/b.SVG")),
            Some(ImageFormat::Svg)
        );
        assert_eq!(
            ImageFormat::from_path(Path::new("x.gv")),
            Some(ImageFormat::Dot)
        );
        assert_eq!(ImageFormat::from_path(Path::new("x.pdf")), None);
        assert_eq!(ImageFormat::from_path(Path::new("x")), None);
    }
}
