//! Overlays: edits of a network's figures, and of a scenario's shock sizes, kept in a
//! separate JSON file. An overlay describes a variant of a dataset (for example the low and
//! high ends of figures that sources disagree on) without copying the dataset.
//!
//! ```json
//! {
//!   "name": "high",
//!   "description": "every disputed figure at its severe end",
//!   "firms":     {"alameda": {"cash": 134000000, "x_source": "CoinDesk 2022-11-02"}},
//!   "exposures": {"X014": {"amount": 831300000, "collateral_units": 33252000}},
//!   "assets":    {"FTT": {"depth": 5000000}},
//!   "shocks":    {"price": {"FTT": -0.926}, "withdrawal": {"ftx_trading": 0.375}}
//! }
//! ```
//!
//! - `firms` sets balance-sheet fields by firm id: `cash`, `other_assets`,
//!   `external_liabilities`, `capital`, `weight`.
//! - `exposures` sets fields by exposure `id` (the `id` column of `exposures.csv`): `amount`,
//!   and for secured exposures `collateral_units` and `haircut`.
//! - `assets` sets `price` and `depth` by asset id.
//! - `shocks` replaces the size of shocks of the scenario it is run with: `price` changes by
//!   asset id, `withdrawal` fractions by firm id. An override that matches no shock of the
//!   scenario is not added as a shock; it is reported as a note.
//!
//! Keys starting with `x_` are ignored anywhere (use them for sources). Every value is checked
//! as the loaders check the same field; unknown ids, unknown fields and bad values are
//! reported together, each with the overlay's file name, line and column.

use serde_json::Value;

use crate::error::{Diagnostic, Error, Location};
use crate::model::{Network, Parts, check_amount, check_haircut, check_price};
use crate::scenario::{MAX_PRICE_RISE, Shock};

/// A field of a firm that an overlay can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirmField {
    /// Liquid assets.
    Cash,
    /// Illiquid assets outside the network.
    OtherAssets,
    /// Liabilities to parties outside the network.
    ExternalLiabilities,
    /// Regulatory capital.
    Capital,
    /// Weight in system-wide DebtRank.
    Weight,
}

/// A field of an exposure that an overlay can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExposureField {
    /// Amount owed.
    Amount,
    /// Units of collateral pledged (secured exposures only).
    CollateralUnits,
    /// Haircut on the collateral (secured exposures only).
    Haircut,
}

/// A field of an asset that an overlay can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetField {
    /// Price per unit.
    Price,
    /// Market depth in units.
    Depth,
}

/// One edit: the id it applies to, the field, the new value, and the JSON path it came from
/// (for messages).
#[derive(Debug, Clone, PartialEq)]
pub struct Edit<F> {
    /// Firm, exposure or asset id.
    pub id: String,
    /// Field set.
    pub field: F,
    /// New value.
    pub value: f64,
    /// Where in the overlay file it was given (`exposures.X014.amount`).
    pub path: String,
}

/// A parsed overlay file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Overlay {
    /// Name of the variant.
    pub name: Option<String>,
    /// What the variant represents.
    pub description: Option<String>,
    /// Firm edits, in file order.
    pub firms: Vec<Edit<FirmField>>,
    /// Exposure edits, in file order.
    pub exposures: Vec<Edit<ExposureField>>,
    /// Asset edits, in file order.
    pub assets: Vec<Edit<AssetField>>,
    /// Price-change overrides `(asset id, change)`.
    pub price_changes: Vec<Edit<()>>,
    /// Withdrawal-fraction overrides `(firm id, fraction)`.
    pub withdrawals: Vec<Edit<()>>,
    /// File name used in messages.
    pub file: String,
    /// The file's text, to give line and column to problems found when applying it.
    text: String,
}

/// A value check: the value, or what was expected.
type Check = fn(f64) -> Result<f64, String>;

fn check_positive(v: f64) -> Result<f64, String> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("expected a finite positive number, found {v}"))
    }
}

fn check_change(v: f64) -> Result<f64, String> {
    if v.is_finite() && (-1.0..=MAX_PRICE_RISE).contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "expected a price change in [−1, {MAX_PRICE_RISE}] (−0.9 is a 90% fall), found {v}"
        ))
    }
}

fn check_fraction(v: f64) -> Result<f64, String> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("expected a fraction in [0, 1], found {v}"))
    }
}

/// Parses an overlay document; `file` names it in messages. Every problem is reported with
/// its line and column.
pub fn parse_overlay(file: &str, bytes: &[u8]) -> Result<Overlay, Error> {
    let (text, v) = super::parse_json(file, bytes).map_err(|d| Error::Input(vec![d].into()))?;
    let mut ov = Overlay {
        file: file.to_string(),
        ..Default::default()
    };
    let mut diags = Vec::new();
    let at = |path: &str| Location::file(file).with_field(path.to_string());
    let Value::Object(obj) = &v else {
        return Err(Error::input(
            Location::at(file, 1, Some(1)),
            "expected a JSON object with firms, exposures, assets and shocks",
        ));
    };
    for (key, val) in obj {
        match key.as_str() {
            "name" | "description" => match val.as_str() {
                Some(s) if key == "name" => ov.name = Some(s.to_string()),
                Some(s) => ov.description = Some(s.to_string()),
                None => diags.push(Diagnostic::new(at(key), "expected text")),
            },
            "firms" => section(val, key, file, &mut diags, |id, field, x, path, diags| {
                let (f, check): (FirmField, Check) = match field {
                    "cash" => (FirmField::Cash, check_amount),
                    "other_assets" => (FirmField::OtherAssets, check_amount),
                    "external_liabilities" => (FirmField::ExternalLiabilities, check_amount),
                    "capital" => (FirmField::Capital, |v| {
                        if v.is_finite() { Ok(v) } else { Err("expected a finite number".into()) }
                    }),
                    "weight" => (FirmField::Weight, check_amount),
                    _ => {
                        diags.push(Diagnostic::new(
                            at(&path),
                            format!(
                                "unknown firm field '{field}': expected cash, other_assets, external_liabilities, capital or weight"
                            ),
                        ));
                        return;
                    }
                };
                match x.and_then(check) {
                    Ok(value) => ov.firms.push(Edit { id: id.to_string(), field: f, value, path }),
                    Err(m) => diags.push(Diagnostic::new(at(&path), m)),
                }
            }),
            "exposures" => section(val, key, file, &mut diags, |id, field, x, path, diags| {
                let (f, check): (ExposureField, Check) = match field {
                    "amount" => (ExposureField::Amount, check_amount),
                    "collateral_units" => (ExposureField::CollateralUnits, check_amount),
                    "haircut" => (ExposureField::Haircut, check_haircut),
                    _ => {
                        diags.push(Diagnostic::new(
                            at(&path),
                            format!(
                                "unknown exposure field '{field}': expected amount, collateral_units or haircut"
                            ),
                        ));
                        return;
                    }
                };
                match x.and_then(check) {
                    Ok(value) => ov.exposures.push(Edit { id: id.to_string(), field: f, value, path }),
                    Err(m) => diags.push(Diagnostic::new(at(&path), m)),
                }
            }),
            "assets" => section(val, key, file, &mut diags, |id, field, x, path, diags| {
                let (f, check): (AssetField, Check) = match field {
                    "price" => (AssetField::Price, check_price),
                    "depth" => (AssetField::Depth, check_positive),
                    _ => {
                        diags.push(Diagnostic::new(
                            at(&path),
                            format!("unknown asset field '{field}': expected price or depth"),
                        ));
                        return;
                    }
                };
                match x.and_then(check) {
                    Ok(value) => ov.assets.push(Edit { id: id.to_string(), field: f, value, path }),
                    Err(m) => diags.push(Diagnostic::new(at(&path), m)),
                }
            }),
            "shocks" => section(val, key, file, &mut diags, |kind, id, x, path, diags| {
                let (list, check): (&mut Vec<Edit<()>>, Check) = match kind {
                    "price" => (&mut ov.price_changes, check_change),
                    "withdrawal" => (&mut ov.withdrawals, check_fraction),
                    _ => {
                        diags.push(Diagnostic::new(
                            at(&format!("shocks.{kind}")),
                            format!("unknown shock type '{kind}': expected price or withdrawal"),
                        ));
                        return;
                    }
                };
                match x.and_then(check) {
                    Ok(value) => list.push(Edit { id: id.to_string(), field: (), value, path }),
                    Err(m) => diags.push(Diagnostic::new(at(&path), m)),
                }
            }),
            k if k.starts_with("x_") => {}
            _ => diags.push(Diagnostic::new(
                at(key),
                format!(
                    "unknown key '{key}': expected name, description, firms, exposures, assets or shocks"
                ),
            )),
        }
    }
    if diags.is_empty() {
        ov.text = text;
        Ok(ov)
    } else {
        super::locate_json(&text, &mut diags);
        // The JSON object's keys come back sorted: report problems in file order instead.
        diags.sort_by_key(|d| (d.location.line, d.location.column));
        Err(Error::Input(diags.into()))
    }
}

/// Reads and parses an overlay file.
pub fn read_overlay(path: &std::path::Path) -> Result<Overlay, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_overlay(&super::file_name(path), &bytes)
}

/// Walks `{outer: {inner: number}}` objects (skipping `x_` keys), calling `f(outer, inner,
/// value, path, diags)` for each leaf.
fn section(
    val: &Value,
    key: &str,
    file: &str,
    diags: &mut Vec<Diagnostic>,
    mut f: impl FnMut(&str, &str, Result<f64, String>, String, &mut Vec<Diagnostic>),
) {
    let at = |path: String| Location::file(file).with_field(path);
    let Some(outer) = val.as_object() else {
        diags.push(Diagnostic::new(
            at(key.to_string()),
            "expected an object keyed by id",
        ));
        return;
    };
    for (a, inner) in outer {
        if a.starts_with("x_") {
            continue;
        }
        let Some(inner) = inner.as_object() else {
            diags.push(Diagnostic::new(
                at(format!("{key}.{a}")),
                "expected an object of field: number",
            ));
            continue;
        };
        for (b, x) in inner {
            if b.starts_with("x_") {
                continue;
            }
            let path = format!("{key}.{a}.{b}");
            let value = x.as_f64().ok_or_else(|| "expected a number".to_string());
            f(a, b, value, path, diags);
        }
    }
}

impl Overlay {
    /// Number of edits of the network (firms, exposures, assets).
    pub fn network_edits(&self) -> usize {
        self.firms.len() + self.exposures.len() + self.assets.len()
    }

    fn located(&self, mut diags: Vec<Diagnostic>) -> Error {
        super::locate_json(&self.text, &mut diags);
        Error::Input(diags.into())
    }

    fn at(&self, path: &str) -> Location {
        Location::file(self.file.clone()).with_field(path.to_string())
    }

    /// Applies the network edits to `parts`. Unknown ids, exposure ids that name several
    /// exposures, and collateral fields on unsecured exposures are reported together, located
    /// in the overlay file; `parts` is left unchanged when anything is wrong.
    pub fn apply_to_parts(&self, parts: &mut Parts) -> Result<(), Error> {
        let mut diags = Vec::new();
        let firm_ix = |id: &str| parts.firms.iter().position(|f| f.id == id);
        let asset_ix = |id: &str| parts.assets.iter().position(|a| a.id == id);
        let mut firm_plan = Vec::new();
        for e in &self.firms {
            match firm_ix(&e.id) {
                Some(i) => firm_plan.push((i, e)),
                None => diags.push(Diagnostic::new(
                    self.at(&e.path),
                    format!("unknown firm '{}': no such id in the network", e.id),
                )),
            }
        }
        let mut exp_plan = Vec::new();
        for e in &self.exposures {
            let hits: Vec<usize> = parts
                .labels
                .iter()
                .enumerate()
                .filter(|(_, l)| l.id.as_deref() == Some(e.id.as_str()))
                .map(|(k, _)| k)
                .collect();
            match hits.as_slice() {
                [] => diags.push(Diagnostic::new(
                    self.at(&e.path),
                    format!("unknown exposure '{}': no exposure has this id", e.id),
                )),
                [k] => {
                    let secured = parts
                        .collateral
                        .iter()
                        .position(|c| c.exposure as usize == *k);
                    match (e.field, secured) {
                        (ExposureField::Amount, _) => exp_plan.push((*k, None, e)),
                        (_, Some(w)) => exp_plan.push((*k, Some(w), e)),
                        (_, None) => diags.push(Diagnostic::new(
                            self.at(&e.path),
                            format!(
                                "exposure '{}' is not secured: it has no collateral to edit",
                                e.id
                            ),
                        )),
                    }
                }
                many => diags.push(Diagnostic::new(
                    self.at(&e.path),
                    format!(
                        "exposure id '{}' names {} exposures: ids must be unique to be edited",
                        e.id,
                        many.len()
                    ),
                )),
            }
        }
        let mut asset_plan = Vec::new();
        for e in &self.assets {
            match asset_ix(&e.id) {
                Some(a) => asset_plan.push((a, e)),
                None => diags.push(Diagnostic::new(
                    self.at(&e.path),
                    format!("unknown asset '{}': no such id in the network", e.id),
                )),
            }
        }
        if !diags.is_empty() {
            return Err(self.located(diags));
        }
        for (i, e) in firm_plan {
            let f = &mut parts.firms[i];
            match e.field {
                FirmField::Cash => f.cash = e.value,
                FirmField::OtherAssets => f.other_assets = e.value,
                FirmField::ExternalLiabilities => f.external_liabilities = e.value,
                FirmField::Capital => f.capital = Some(e.value),
                FirmField::Weight => f.weight = Some(e.value),
            }
        }
        for (k, w, e) in exp_plan {
            match (e.field, w) {
                (ExposureField::Amount, _) => parts.exposures[k].amount = e.value,
                (ExposureField::CollateralUnits, Some(w)) => parts.collateral[w].units = e.value,
                (ExposureField::Haircut, Some(w)) => parts.collateral[w].haircut = e.value,
                _ => {}
            }
        }
        for (a, e) in asset_plan {
            match e.field {
                AssetField::Price => parts.assets[a].price = e.value,
                AssetField::Depth => parts.assets[a].depth = Some(e.value),
            }
        }
        Ok(())
    }

    /// The network with the overlay's edits applied (rebuilt through
    /// [`Network::from_parts`], so every invariant is checked again).
    pub fn apply(&self, net: Network) -> Result<Network, Error> {
        let mut parts = net.into_parts();
        self.apply_to_parts(&mut parts)?;
        Network::from_parts(parts)
    }

    /// Replaces the size of matching shocks: price changes by asset, withdrawal fractions by
    /// firm. Ids unknown to `net` are errors (located in the overlay file). Returns a note for
    /// each override that matched no shock of the scenario (it is not added as a shock).
    pub fn apply_to_shocks(
        &self,
        net: &Network,
        shocks: &mut [Shock],
    ) -> Result<Vec<String>, Error> {
        let mut diags = Vec::new();
        for e in &self.price_changes {
            if net.asset_ix(&e.id).is_none() {
                diags.push(Diagnostic::new(
                    self.at(&e.path),
                    format!("unknown asset '{}': no such id in the network", e.id),
                ));
            }
        }
        for e in &self.withdrawals {
            if net.firm_ix(&e.id).is_none() {
                diags.push(Diagnostic::new(
                    self.at(&e.path),
                    format!("unknown firm '{}': no such id in the network", e.id),
                ));
            }
        }
        if !diags.is_empty() {
            return Err(self.located(diags));
        }
        let mut notes = Vec::new();
        for e in &self.price_changes {
            let mut used = false;
            for s in shocks.iter_mut() {
                if let Shock::Price { asset, change } = s
                    && *asset == e.id
                {
                    *change = e.value;
                    used = true;
                }
            }
            if !used {
                notes.push(format!(
                    "overlay {}: the scenario has no price shock on {}; the change {} was not used",
                    self.file, e.id, e.value
                ));
            }
        }
        for e in &self.withdrawals {
            let mut used = false;
            for s in shocks.iter_mut() {
                if let Shock::Withdrawal { firm, fraction } = s
                    && *firm == e.id
                {
                    *fraction = e.value;
                    used = true;
                }
            }
            if !used {
                notes.push(format!(
                    "overlay {}: the scenario has no withdrawal shock on {}; the fraction {} was not used",
                    self.file, e.id, e.value
                ));
            }
        }
        Ok(notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_reports_every_problem_with_its_position() {
        let text = "{\n  \"firms\": {\"a\": {\"cash\": -1, \"colour\": 2}},\n  \"shocks\": {\"price\": {\"X\": -2}},\n  \"oops\": 1\n}";
        let Err(Error::Input(d)) = parse_overlay("v.json", text.as_bytes()) else {
            panic!("expected input errors")
        };
        assert_eq!(d.len(), 4, "{d}");
        let lines: Vec<Option<usize>> = d.iter().map(|x| x.location.line).collect();
        assert_eq!(lines, vec![Some(2), Some(2), Some(3), Some(4)], "{d}");
    }

    #[test]
    fn ignores_x_keys() {
        let text = r#"{"x_note": "a", "firms": {"a": {"cash": 1, "x_source": "s"}}}"#;
        let ov = parse_overlay("v.json", text.as_bytes()).expect("valid");
        assert_eq!(ov.firms.len(), 1);
        assert_eq!(ov.firms[0].field, FirmField::Cash);
    }
}
