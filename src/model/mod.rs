//! The domain model: firms, exposures, assets, holdings and the immutable [`Network`].
//!
//! Orientation, everywhere in this crate: an [`Exposure`] is a claim of its `creditor` on its
//! `debtor`; the debtor owes the creditor `amount`. In matrix form `L[i][j]` is the amount firm
//! `i` owes firm `j` (row = debtor, column = creditor); the matrix of interbank assets is its
//! transpose. Losses travel from debtor to creditor.
//!
//! All amounts are in the network's single currency unit ([`Meta::currency`]), finite and
//! non-negative; prices are finite and positive. A [`Network`] can only be built through
//! [`Network::from_parts`], which enforces these invariants, so engines never re-check them.

mod balance;
mod csr;
mod kinds;

pub use balance::BalanceSheet;
pub use csr::Csr;
pub use kinds::{ExposureKind, FirmKind};

use std::collections::HashMap;

use crate::error::{Diagnostic, Error, Location};

/// Dense index of a firm in a [`Network`] (its position in input order).
pub type FirmIx = u32;
/// Dense index of an asset in a [`Network`].
pub type AssetIx = u32;

/// Extra user columns (`x_…` in CSV, `x_…` keys in JSON), kept for round trips.
pub type Extras = Vec<(String, String)>;

/// A firm: a node of the exposure network.
///
/// Balance-sheet fields are in the network's currency unit. Equity is derived (see
/// [`BalanceSheet`]); `capital`, when given, overrides it as the loss-absorbing buffer of the
/// buffer-based models (DebtRank, threshold cascades).
#[derive(Debug, Clone, PartialEq)]
pub struct Firm {
    /// Unique identifier used in exposures and holdings.
    pub id: String,
    /// Human-readable name (defaults to the id).
    pub name: String,
    /// What kind of institution this is.
    pub kind: FirmKind,
    /// Liquid assets (cash and equivalents), ≥ 0.
    pub cash: f64,
    /// Illiquid assets outside the network (loans to the real economy, property, …), ≥ 0.
    pub other_assets: f64,
    /// Liabilities to parties outside the network (retail depositors, bondholders, …), ≥ 0.
    pub external_liabilities: f64,
    /// Regulatory capital, when known; overrides derived equity as the buffer.
    pub capital: Option<f64>,
    /// Weight in the system-wide DebtRank; default: share of total assets.
    pub weight: Option<f64>,
    /// Date (YYYY-MM-DD) the firm actually failed or halted withdrawals, for back-testing.
    pub failed_on: Option<String>,
    /// User columns prefixed `x_`, kept verbatim.
    pub extra: Extras,
}

/// A claim of `creditor` on `debtor`: the debtor owes the creditor `amount`.
///
/// Kept small (24 bytes) so that networks of 10⁷ exposures fit comfortably in memory;
/// collateral and labels live in side tables of the [`Network`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exposure {
    /// Index of the firm that is owed the amount (holds the claim).
    pub creditor: FirmIx,
    /// Index of the firm that owes the amount.
    pub debtor: FirmIx,
    /// Kind of claim.
    pub kind: ExposureKind,
    /// Amount owed, ≥ 0, in the network's currency unit. For `equity`, the book value of the
    /// creditor's stake in the debtor.
    pub amount: f64,
}

/// Collateral pledged by the debtor of an exposure to its creditor.
///
/// Secured value (the creditor's cover) = `units × price × (1 − haircut)`. Pledged units belong
/// to the debtor and count among its assets in addition to its [`Holding`]s (holdings list
/// unencumbered positions).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Collateral {
    /// Index of the secured exposure.
    pub exposure: u32,
    /// Index of the pledged asset.
    pub asset: AssetIx,
    /// Units pledged, ≥ 0.
    pub units: f64,
    /// Haircut in `[0, 1)` applied to the collateral's market value.
    pub haircut: f64,
}

/// Optional labels of an exposure, kept for traceability and round trips.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExposureLabel {
    /// User identifier of the exposure.
    pub id: Option<String>,
    /// Where the figure comes from.
    pub source: Option<String>,
    /// User columns prefixed `x_`.
    pub extra: Extras,
}

impl ExposureLabel {
    /// True when the label carries nothing.
    pub fn is_empty(&self) -> bool {
        self.id.is_none() && self.source.is_none() && self.extra.is_empty()
    }
}

/// A tradable instrument (token, security) with a market price.
#[derive(Debug, Clone, PartialEq)]
pub struct Asset {
    /// Unique identifier (e.g. `FTT`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Price per unit in the network's currency, > 0.
    pub price: f64,
    /// Market depth in units: selling `depth` units moves the price by a factor `exp(−β)`
    /// under the fire-sale impact function. `None`: sales have no price impact.
    pub depth: Option<f64>,
    /// User columns prefixed `x_`.
    pub extra: Extras,
}

/// A firm's unencumbered position in an asset, marked to market.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Holding {
    /// Holder.
    pub firm: FirmIx,
    /// Asset held.
    pub asset: AssetIx,
    /// Units held, ≥ 0.
    pub units: f64,
}

/// Descriptive metadata of a network.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// Short name of the dataset.
    pub name: Option<String>,
    /// Currency unit of every amount (ISO code or token symbol); default `USD`.
    pub currency: String,
    /// Date the figures refer to (YYYY-MM-DD).
    pub as_of: Option<String>,
    /// Free-text description.
    pub description: Option<String>,
    /// Sources of the data.
    pub sources: Vec<String>,
}

impl Default for Meta {
    fn default() -> Self {
        Self {
            name: None,
            currency: "USD".to_string(),
            as_of: None,
            description: None,
            sources: Vec::new(),
        }
    }
}

/// Everything a network is made of, before validation.
#[derive(Debug, Clone, Default)]
pub struct Parts {
    /// Metadata.
    pub meta: Meta,
    /// Firms, in input order.
    pub firms: Vec<Firm>,
    /// Exposures, in input order.
    pub exposures: Vec<Exposure>,
    /// Collateral of secured exposures (any order).
    pub collateral: Vec<Collateral>,
    /// Labels, either empty or one per exposure.
    pub labels: Vec<ExposureLabel>,
    /// Assets, in input order.
    pub assets: Vec<Asset>,
    /// Holdings, in input order.
    pub holdings: Vec<Holding>,
}

/// A validated, immutable exposure network.
///
/// Firm and asset ids map to dense indices once, here; engines work with indices only.
#[derive(Debug, Clone)]
pub struct Network {
    parts: Parts,
    firm_index: HashMap<String, FirmIx>,
    asset_index: HashMap<String, AssetIx>,
}

impl Network {
    /// Validates `parts` and builds the network.
    ///
    /// Checks every invariant (unique ids, indices in range, finite non-negative amounts,
    /// positive prices, haircuts in `[0,1)`, no self-exposure, one collateral per exposure) and
    /// reports all violations at once.
    pub fn from_parts(mut parts: Parts) -> Result<Self, Error> {
        let mut diags = Vec::new();
        let n = parts.firms.len();
        let m = parts.assets.len();
        let mut firm_index = HashMap::with_capacity(n);
        for (i, f) in parts.firms.iter().enumerate() {
            let loc = || Location::item("firms", i);
            if f.id.is_empty() {
                diags.push(Diagnostic::new(loc(), "expected a non-empty firm id"));
            }
            if firm_index.insert(f.id.clone(), i as FirmIx).is_some() {
                diags.push(Diagnostic::new(
                    loc(),
                    format!("duplicate firm id '{}'", f.id),
                ));
            }
            for (name, v) in [
                ("cash", Some(f.cash)),
                ("other_assets", Some(f.other_assets)),
                ("external_liabilities", Some(f.external_liabilities)),
                ("weight", f.weight),
            ] {
                if let Some(v) = v
                    && let Err(e) = check_amount(v)
                {
                    diags.push(Diagnostic::new(loc().with_field(name), e));
                }
            }
            if let Some(c) = f.capital
                && !c.is_finite()
            {
                diags.push(Diagnostic::new(
                    loc().with_field("capital"),
                    "expected a finite number",
                ));
            }
        }
        let mut asset_index = HashMap::with_capacity(m);
        for (a, asset) in parts.assets.iter().enumerate() {
            let loc = || Location::item("assets", a);
            if asset_index.insert(asset.id.clone(), a as AssetIx).is_some() {
                diags.push(Diagnostic::new(
                    loc(),
                    format!("duplicate asset id '{}'", asset.id),
                ));
            }
            if let Err(e) = check_price(asset.price) {
                diags.push(Diagnostic::new(loc().with_field("price"), e));
            }
            if let Some(d) = asset.depth
                && let Err(e) = check_positive(d)
            {
                diags.push(Diagnostic::new(loc().with_field("depth"), e));
            }
        }
        for (k, e) in parts.exposures.iter().enumerate() {
            let loc = || Location::item("exposures", k);
            if e.creditor as usize >= n || e.debtor as usize >= n {
                diags.push(Diagnostic::new(loc(), "firm index out of range"));
            } else if e.creditor == e.debtor {
                diags.push(Diagnostic::new(
                    loc(),
                    "a firm cannot have an exposure to itself",
                ));
            }
            if let Err(msg) = check_amount(e.amount) {
                diags.push(Diagnostic::new(loc().with_field("amount"), msg));
            }
        }
        parts.collateral.sort_by_key(|c| c.exposure);
        for (w, c) in parts.collateral.iter().enumerate() {
            let loc = || Location::item("collateral", w);
            if c.exposure as usize >= parts.exposures.len() || c.asset as usize >= m {
                diags.push(Diagnostic::new(loc(), "index out of range"));
            }
            if w > 0 && parts.collateral[w - 1].exposure == c.exposure {
                diags.push(Diagnostic::new(
                    loc(),
                    "exposure has two collateral entries",
                ));
            }
            if let Err(msg) = check_amount(c.units) {
                diags.push(Diagnostic::new(loc().with_field("collateral_units"), msg));
            }
            if let Err(msg) = check_haircut(c.haircut) {
                diags.push(Diagnostic::new(loc().with_field("haircut"), msg));
            }
        }
        if !parts.labels.is_empty() && parts.labels.len() != parts.exposures.len() {
            diags.push(Diagnostic::new(
                Location::item("labels", 0),
                "expected no labels or one label per exposure",
            ));
        }
        if parts.labels.iter().all(ExposureLabel::is_empty) {
            parts.labels.clear();
        }
        for (h, hold) in parts.holdings.iter().enumerate() {
            let loc = || Location::item("holdings", h);
            if hold.firm as usize >= n || hold.asset as usize >= m {
                diags.push(Diagnostic::new(loc(), "index out of range"));
            }
            if let Err(msg) = check_amount(hold.units) {
                diags.push(Diagnostic::new(loc().with_field("units"), msg));
            }
        }
        if parts.meta.currency.trim().is_empty() {
            parts.meta.currency = "USD".to_string();
        }
        if !diags.is_empty() {
            return Err(Error::Input(diags.into()));
        }
        Ok(Self {
            parts,
            firm_index,
            asset_index,
        })
    }

    /// Gives back the parts (for editing and rebuilding).
    pub fn into_parts(self) -> Parts {
        self.parts
    }

    /// The parts the network was built from.
    pub fn parts(&self) -> &Parts {
        &self.parts
    }

    /// Metadata.
    pub fn meta(&self) -> &Meta {
        &self.parts.meta
    }

    /// Firms in input order; a firm's position is its [`FirmIx`].
    pub fn firms(&self) -> &[Firm] {
        &self.parts.firms
    }

    /// Number of firms.
    pub fn n_firms(&self) -> usize {
        self.parts.firms.len()
    }

    /// Exposures in input order.
    pub fn exposures(&self) -> &[Exposure] {
        &self.parts.exposures
    }

    /// Collateral entries, sorted by exposure index.
    pub fn collateral(&self) -> &[Collateral] {
        &self.parts.collateral
    }

    /// Collateral of exposure `k`, if it is secured. `O(log s)` in the number of secured
    /// exposures.
    pub fn collateral_of(&self, k: usize) -> Option<&Collateral> {
        let c = &self.parts.collateral;
        c.binary_search_by_key(&(k as u32), |c| c.exposure)
            .ok()
            .map(|w| &c[w])
    }

    /// Label of exposure `k` (empty when none was given).
    pub fn label(&self, k: usize) -> Option<&ExposureLabel> {
        self.parts.labels.get(k)
    }

    /// Assets in input order.
    pub fn assets(&self) -> &[Asset] {
        &self.parts.assets
    }

    /// Holdings in input order.
    pub fn holdings(&self) -> &[Holding] {
        &self.parts.holdings
    }

    /// Index of the firm with this id.
    pub fn firm_ix(&self, id: &str) -> Option<FirmIx> {
        self.firm_index.get(id).copied()
    }

    /// Index of the asset with this id.
    pub fn asset_ix(&self, id: &str) -> Option<AssetIx> {
        self.asset_index.get(id).copied()
    }

    /// Id of firm `i`.
    pub fn firm_id(&self, i: usize) -> &str {
        &self.parts.firms[i].id
    }

    /// Book balance sheets of every firm at the network's own prices.
    pub fn balance_sheets(&self) -> Vec<BalanceSheet> {
        let prices: Vec<f64> = self.assets().iter().map(|a| a.price).collect();
        BalanceSheet::all(self, &prices)
    }

    /// Structural graph for petgraph algorithms: one node per firm (weight = firm index), one
    /// edge per exposure from debtor to creditor (the direction losses travel; weight =
    /// exposure index).
    pub fn loss_graph(&self) -> petgraph::graph::DiGraph<FirmIx, u32> {
        let mut g = petgraph::graph::DiGraph::with_capacity(self.n_firms(), self.exposures().len());
        for i in 0..self.n_firms() {
            g.add_node(i as FirmIx);
        }
        for (k, e) in self.exposures().iter().enumerate() {
            g.add_edge(
                petgraph::graph::NodeIndex::new(e.debtor as usize),
                petgraph::graph::NodeIndex::new(e.creditor as usize),
                k as u32,
            );
        }
        g
    }

    /// Strongly connected components with more than one firm (cycles of mutual exposure),
    /// each sorted by firm index, largest first. Uses Kosaraju's algorithm, which is not
    /// recursive and so safe on networks of millions of firms. `O(n + m)`.
    pub fn cycles(&self) -> Vec<Vec<FirmIx>> {
        let g = self.loss_graph();
        let mut sccs: Vec<Vec<FirmIx>> = petgraph::algo::kosaraju_scc(&g)
            .into_iter()
            .filter(|c| c.len() > 1)
            .map(|c| {
                let mut v: Vec<FirmIx> = c.into_iter().map(|n| n.index() as FirmIx).collect();
                v.sort_unstable();
                v
            })
            .collect();
        sccs.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
        sccs
    }
}

/// Checks an amount: finite and non-negative.
pub fn check_amount(v: f64) -> Result<f64, String> {
    if !v.is_finite() {
        Err("expected a finite amount".into())
    } else if v < 0.0 {
        Err(format!("expected a non-negative amount, found {v}"))
    } else {
        Ok(v)
    }
}

/// Checks a price: finite and strictly positive.
pub fn check_price(v: f64) -> Result<f64, String> {
    check_positive(v)
}

fn check_positive(v: f64) -> Result<f64, String> {
    if !v.is_finite() || v <= 0.0 {
        Err(format!("expected a finite positive number, found {v}"))
    } else {
        Ok(v)
    }
}

/// Checks a haircut: in `[0, 1)`.
pub fn check_haircut(v: f64) -> Result<f64, String> {
    if v.is_finite() && (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("expected a haircut in [0, 1), found {v}"))
    }
}
