//! Scenarios: shocks plus model settings, from JSON or the command line.
//!
//! A scenario file is a JSON object:
//!
//! ```json
//! {
//!   "name": "alameda-default",
//!   "description": "Alameda alone fails",
//!   "shocks": [
//!     {"type": "default", "firm": "alameda"},
//!     {"type": "price", "asset": "FTT", "change": -0.9},
//!     {"type": "asset_loss", "firm": "genesis", "amount": 1.75e8},
//!     {"type": "asset_loss", "firm": "voyager", "fraction": 0.2},
//!     {"type": "withdrawal", "firm": "ftx", "fraction": 0.6}
//!   ],
//!   "settings": {"model": "clearing", "alpha": 1, "beta": 1, "external": "pari-passu"}
//! }
//! ```

use serde::Serialize;
use serde_json::Value;

use crate::error::{Diagnostic, Error, Location};
use crate::model::Network;
use crate::settings::Settings;

/// Size of an asset-loss shock.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// An amount in the network's currency.
    Amount(f64),
    /// A fraction in `[0, 1]` of the firm's cash and other assets.
    Fraction(f64),
}

/// One shock. Firms and assets are named by id; they are resolved against a network by
/// [`Marks::apply`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Shock {
    /// The firm fails outright at round 0.
    Default {
        /// Firm id.
        firm: String,
    },
    /// The asset's price changes by `change` (a fraction ≥ −1: −0.9 is a 90% fall).
    Price {
        /// Asset id.
        asset: String,
        /// Relative change.
        change: f64,
    },
    /// The firm loses part of its assets outside the network (other assets first, then cash).
    AssetLoss {
        /// Firm id.
        firm: String,
        /// How much.
        #[serde(flatten)]
        loss: Loss,
    },
    /// Creditors holding `deposit` exposures at the firm demand `fraction` of them.
    Withdrawal {
        /// Firm id.
        firm: String,
        /// Fraction in `[0, 1]` of deposits withdrawn.
        fraction: f64,
    },
    /// Initial relative equity loss (DebtRank stress) of a firm; `*` shocks every firm.
    EquityShock {
        /// Firm id or `*`.
        firm: String,
        /// Fraction of equity lost, in `[0, 1]`.
        fraction: f64,
    },
}

/// A named list of shocks with the settings to run them under.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scenario {
    /// Scenario name.
    pub name: Option<String>,
    /// What it represents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Shocks, applied in order.
    pub shocks: Vec<Shock>,
    /// Model settings given by the scenario (command-line flags override them).
    #[serde(skip)]
    pub settings: Option<Value>,
}

/// The state of the world outside the network after the shocks: prices, cash and other
/// assets of every firm, and who failed outright. Amounts in the network's currency.
#[derive(Debug, Clone, PartialEq)]
pub struct Marks {
    /// Price of each asset after price shocks.
    pub prices: Vec<f64>,
    /// Cash of each firm after asset-loss shocks.
    pub cash: Vec<f64>,
    /// Other assets of each firm after asset-loss shocks.
    pub other_assets: Vec<f64>,
    /// Firms that fail outright at round 0 (`default` shocks).
    pub failed: Vec<bool>,
    /// Firms hit directly by a shock (default, asset loss, equity shock or withdrawal).
    pub shocked: Vec<bool>,
    /// Initial relative equity loss per firm from `equity_shock` shocks, in `[0, 1]`.
    pub equity_shock: Vec<f64>,
    /// Fraction of deposits withdrawn from each firm.
    pub withdrawal: Vec<f64>,
}

impl Marks {
    /// The unshocked state: the network's own prices and balance sheets.
    pub fn book(net: &Network) -> Self {
        let n = net.n_firms();
        Self {
            prices: net.assets().iter().map(|a| a.price).collect(),
            cash: net.firms().iter().map(|f| f.cash).collect(),
            other_assets: net.firms().iter().map(|f| f.other_assets).collect(),
            failed: vec![false; n],
            shocked: vec![false; n],
            equity_shock: vec![0.0; n],
            withdrawal: vec![0.0; n],
        }
    }

    /// Applies `shocks` to the book state, resolving ids; unknown ids and out-of-range sizes
    /// are reported together.
    pub fn apply(net: &Network, shocks: &[Shock]) -> Result<Self, Error> {
        let mut m = Self::book(net);
        let mut diags = Vec::new();
        let loc = |k: usize| Location::item("shocks", k);
        let firm = |k: usize, id: &str, diags: &mut Vec<Diagnostic>| {
            let ix = net.firm_ix(id);
            if ix.is_none() {
                diags.push(Diagnostic::new(loc(k), format!("unknown firm '{id}'")));
            }
            ix.map(|i| i as usize)
        };
        let fraction = |k: usize, name: &str, f: f64, diags: &mut Vec<Diagnostic>| {
            let ok = f.is_finite() && (0.0..=1.0).contains(&f);
            if !ok {
                diags.push(Diagnostic::new(
                    loc(k).with_field(name),
                    format!("expected a fraction in [0, 1], found {f}"),
                ));
            }
            ok
        };
        for (k, s) in shocks.iter().enumerate() {
            match s {
                Shock::Default { firm: id } => {
                    if let Some(i) = firm(k, id, &mut diags) {
                        m.failed[i] = true;
                        m.shocked[i] = true;
                    }
                }
                Shock::Price { asset, change } => match net.asset_ix(asset) {
                    Some(a) if change.is_finite() && *change >= -1.0 => {
                        m.prices[a as usize] *= 1.0 + change;
                    }
                    Some(_) => diags.push(Diagnostic::new(
                        loc(k).with_field("change"),
                        format!(
                            "expected a price change ≥ −1 (−0.9 is a 90% fall), found {change}"
                        ),
                    )),
                    None => diags.push(Diagnostic::new(loc(k), format!("unknown asset '{asset}'"))),
                },
                Shock::AssetLoss { firm: id, loss } => {
                    let Some(i) = firm(k, id, &mut diags) else {
                        continue;
                    };
                    let avail = m.cash[i] + m.other_assets[i];
                    let amount = match *loss {
                        Loss::Fraction(f) => {
                            if !fraction(k, "fraction", f, &mut diags) {
                                continue;
                            }
                            f * avail
                        }
                        Loss::Amount(a) => {
                            if !(a.is_finite() && a >= 0.0) {
                                diags.push(Diagnostic::new(
                                    loc(k).with_field("amount"),
                                    format!("expected a non-negative amount, found {a}"),
                                ));
                                continue;
                            }
                            a.min(avail)
                        }
                    };
                    let from_other = amount.min(m.other_assets[i]);
                    m.other_assets[i] -= from_other;
                    m.cash[i] = (m.cash[i] - (amount - from_other)).max(0.0);
                    m.shocked[i] = true;
                }
                Shock::Withdrawal {
                    firm: id,
                    fraction: f,
                } => {
                    let Some(i) = firm(k, id, &mut diags) else {
                        continue;
                    };
                    if fraction(k, "fraction", *f, &mut diags) {
                        m.withdrawal[i] = m.withdrawal[i].max(*f);
                        m.shocked[i] = true;
                    }
                }
                Shock::EquityShock {
                    firm: id,
                    fraction: f,
                } => {
                    if !fraction(k, "fraction", *f, &mut diags) {
                        continue;
                    }
                    if id == "*" {
                        m.equity_shock.iter_mut().for_each(|h| *h = h.max(*f));
                        m.shocked.iter_mut().for_each(|s| *s = true);
                    } else if let Some(i) = firm(k, id, &mut diags) {
                        m.equity_shock[i] = m.equity_shock[i].max(*f);
                        m.shocked[i] = true;
                    }
                }
            }
        }
        if diags.is_empty() {
            Ok(m)
        } else {
            Err(Error::Input(diags.into()))
        }
    }
}

/// Parses a scenario document; `file` names it in messages. Every problem is reported with
/// its line and column.
pub fn parse_scenario(file: &str, bytes: &[u8]) -> Result<Scenario, Error> {
    let (text, v) = crate::io::parse_json(file, bytes).map_err(|d| Error::Input(vec![d].into()))?;
    let mut diags = Vec::new();
    let mut sc = Scenario::default();
    let at = |path: String| Location::file(file).with_field(path);
    let Value::Object(obj) = &v else {
        return Err(Error::input(
            Location::at(file, 1, Some(1)),
            "expected a JSON object with name, shocks and settings",
        ));
    };
    for (k, val) in obj {
        match k.as_str() {
            "name" => sc.name = val.as_str().map(String::from),
            "description" => sc.description = val.as_str().map(String::from),
            "settings" => {
                if val.is_object() {
                    sc.settings = Some(val.clone());
                } else {
                    diags.push(Diagnostic::new(
                        at(k.clone()),
                        "expected an object of settings",
                    ));
                }
            }
            "shocks" => match val {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        match parse_shock(item, &format!("shocks[{i}]"), file) {
                            Ok(s) => sc.shocks.push(s),
                            Err(d) => diags.push(d),
                        }
                    }
                }
                _ => diags.push(Diagnostic::new(
                    at(k.clone()),
                    "expected an array of shocks",
                )),
            },
            k if k.starts_with("x_") => {}
            _ => diags.push(Diagnostic::new(
                at(k.clone()),
                format!("unknown key '{k}': expected name, description, shocks or settings"),
            )),
        }
    }
    if let Some(s) = &sc.settings
        && let Err(Error::Input(d)) = Settings::default().merge_json(s, file)
    {
        diags.extend(d.0);
    }
    if diags.is_empty() {
        Ok(sc)
    } else {
        crate::io::locate_json(&text, &mut diags);
        Err(Error::Input(diags.into()))
    }
}

fn parse_shock(v: &Value, path: &str, file: &str) -> Result<Shock, Diagnostic> {
    let at = |field: &str| {
        Location::file(file).with_field(if field.is_empty() {
            path.to_string()
        } else {
            format!("{path}.{field}")
        })
    };
    let obj = v
        .as_object()
        .ok_or_else(|| Diagnostic::new(at(""), "expected a shock object with a type"))?;
    let ty = obj
        .get("type")
        .or_else(|| obj.get("kind"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Diagnostic::new(
                at(""),
                "expected \"type\": one of default, price, asset_loss, withdrawal, equity_shock",
            )
        })?;
    let text = |key: &str| {
        obj.get(key)
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| Diagnostic::new(at(key), format!("expected \"{key}\": an id")))
    };
    let number = |key: &str| {
        obj.get(key)
            .and_then(Value::as_f64)
            .ok_or_else(|| Diagnostic::new(at(key), format!("expected \"{key}\": a number")))
    };
    let allowed: &[&str] = match ty {
        "default" => &["firm"],
        "price" => &["asset", "change"],
        "asset_loss" => &["firm", "amount", "fraction"],
        "withdrawal" | "equity_shock" => &["firm", "fraction"],
        _ => &[],
    };
    for k in obj.keys() {
        if !(k == "type" || k == "kind" || allowed.contains(&k.as_str()) || k.starts_with("x_")) {
            return Err(Diagnostic::new(
                at(k),
                format!(
                    "unknown key '{k}' for a {ty} shock: expected {}",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(match ty {
        "default" => Shock::Default {
            firm: text("firm")?,
        },
        "price" => Shock::Price {
            asset: text("asset")?,
            change: number("change")?,
        },
        "asset_loss" => Shock::AssetLoss {
            firm: text("firm")?,
            loss: match (obj.get("amount"), obj.get("fraction")) {
                (Some(_), None) => Loss::Amount(number("amount")?),
                (None, Some(_)) => Loss::Fraction(number("fraction")?),
                _ => {
                    return Err(Diagnostic::new(
                        at(""),
                        "expected exactly one of \"amount\" or \"fraction\"",
                    ));
                }
            },
        },
        "withdrawal" => Shock::Withdrawal {
            firm: text("firm")?,
            fraction: number("fraction")?,
        },
        "equity_shock" => Shock::EquityShock {
            firm: text("firm")?,
            fraction: number("fraction")?,
        },
        other => {
            return Err(Diagnostic::new(
                at("type"),
                format!(
                    "unknown shock type '{other}': expected default, price, asset_loss, withdrawal or equity_shock"
                ),
            ));
        }
    })
}
