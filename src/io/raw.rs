//! Format-neutral records and the one place where input rows are validated.
//!
//! The CSV and JSON readers only turn text into [`RawTable`]s (values with their locations);
//! [`build`] checks every field and every cross-reference and reports all problems at once.

use std::collections::{HashMap, HashSet};

use crate::error::{Diagnostic, Location};
use crate::model::{
    Asset, Collateral, Exposure, ExposureKind, ExposureLabel, Extras, Firm, FirmKind, Holding,
    Meta, Parts, check_amount, check_haircut, check_price,
};

/// A scalar read from a file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawValue {
    /// Text (every CSV field; JSON strings).
    Text(String),
    /// JSON number.
    Number(f64),
    /// JSON boolean.
    Bool(bool),
    /// JSON null or an empty CSV field.
    Null,
    /// A JSON array or object where a scalar was expected.
    Composite,
}

/// One field of a record.
#[derive(Debug, Clone)]
pub(crate) struct RawField {
    pub name: String,
    pub value: RawValue,
    pub loc: Location,
}

/// One row (CSV) or object (JSON).
#[derive(Debug, Clone)]
pub(crate) struct RawRecord {
    pub loc: Location,
    pub fields: Vec<RawField>,
}

/// The rows of one table, with what the reader already checked.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawTable {
    pub records: Vec<RawRecord>,
    /// Required columns the reader already reported missing (CSV header), not to be reported
    /// again on every row.
    pub missing_reported: HashSet<String>,
    /// Whether unknown field names still need checking (JSON objects; CSV checks its header).
    pub check_unknown: bool,
}

/// The schema of a table: required and optional field names.
pub(crate) struct Schema {
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

impl Schema {
    pub fn knows(&self, name: &str) -> bool {
        name.starts_with("x_") || self.required.contains(&name) || self.optional.contains(&name)
    }

    pub fn describe(&self) -> String {
        let mut s = self.required.join(",");
        for o in self.optional {
            s.push_str(&format!("[,{o}]"));
        }
        s
    }
}

pub(crate) const FIRMS: Schema = Schema {
    required: &[
        "id",
        "name",
        "kind",
        "cash",
        "other_assets",
        "external_liabilities",
    ],
    optional: &["capital", "weight", "failed_on"],
};
pub(crate) const EXPOSURES: Schema = Schema {
    required: &["creditor", "debtor", "kind", "amount"],
    optional: &[
        "collateral_asset",
        "collateral_units",
        "haircut",
        "id",
        "source",
    ],
};
pub(crate) const ASSETS: Schema = Schema {
    required: &["id", "name", "price"],
    optional: &["depth"],
};
pub(crate) const HOLDINGS: Schema = Schema {
    required: &["firm", "asset", "units"],
    optional: &[],
};

/// Everything read from a network's files.
#[derive(Debug, Default)]
pub(crate) struct RawNetwork {
    pub meta: Meta,
    pub firms: RawTable,
    pub exposures: RawTable,
    pub assets: RawTable,
    pub holdings: RawTable,
}

/// Accessor over a record that records problems as it reads.
struct Row<'a> {
    rec: &'a RawRecord,
    table: &'a RawTable,
    diags: &'a mut Vec<Diagnostic>,
    ok: bool,
}

impl<'a> Row<'a> {
    fn field(&self, name: &str) -> Option<&'a RawField> {
        self.rec.fields.iter().find(|f| f.name == name)
    }

    fn fail(&mut self, loc: Location, msg: impl Into<String>) {
        self.diags.push(Diagnostic::new(loc, msg));
        self.ok = false;
    }

    /// Location of a missing field: the record, naming the field.
    fn missing(&mut self, name: &str, what: &str) {
        if !self.table.missing_reported.contains(name) {
            let loc = self.rec.loc.clone().with_field(name);
            self.fail(
                loc,
                format!("missing required field '{name}': expected {what}"),
            );
        } else {
            self.ok = false;
        }
    }

    /// Text of a field; `None` when absent or empty.
    fn text(&mut self, name: &str) -> Option<(String, Location)> {
        let f = self.field(name)?;
        match &f.value {
            RawValue::Text(s) if s.trim().is_empty() => None,
            RawValue::Text(s) => Some((s.trim().to_string(), f.loc.clone())),
            RawValue::Number(x) => Some((format_number(*x), f.loc.clone())),
            RawValue::Null => None,
            RawValue::Bool(_) | RawValue::Composite => {
                let loc = f.loc.clone();
                self.fail(loc, "expected text");
                None
            }
        }
    }

    fn required_text(&mut self, name: &str, what: &str) -> Option<(String, Location)> {
        let present = self.field(name).is_some();
        let t = self.text(name);
        if t.is_none() && self.ok {
            if present {
                let loc = self.field(name).map(|f| f.loc.clone()).unwrap_or_default();
                self.fail(loc, format!("expected {what}, found an empty value"));
            } else {
                self.missing(name, what);
            }
        }
        t
    }

    /// A number checked by `check`; `None` when absent or empty.
    fn number(
        &mut self,
        name: &str,
        check: fn(f64) -> Result<f64, String>,
    ) -> Option<Result<f64, ()>> {
        let f = self.field(name)?;
        let parsed = match &f.value {
            RawValue::Null => return None,
            RawValue::Text(s) if s.trim().is_empty() => return None,
            RawValue::Text(s) => parse_number(s),
            RawValue::Number(x) => Ok(*x),
            RawValue::Bool(_) | RawValue::Composite => Err("expected a number".to_string()),
        };
        match parsed.and_then(check) {
            Ok(v) => Some(Ok(v)),
            Err(msg) => {
                let loc = f.loc.clone();
                self.fail(loc, msg);
                Some(Err(()))
            }
        }
    }

    fn required_number(&mut self, name: &str, check: fn(f64) -> Result<f64, String>) -> f64 {
        match self.number(name, check) {
            Some(Ok(v)) => v,
            Some(Err(())) => 0.0,
            None => {
                if let Some(f) = self.field(name) {
                    let loc = f.loc.clone();
                    self.fail(loc, "expected an amount, found an empty value");
                } else {
                    self.missing(name, "an amount");
                }
                0.0
            }
        }
    }

    fn optional_number(
        &mut self,
        name: &str,
        check: fn(f64) -> Result<f64, String>,
    ) -> Option<f64> {
        match self.number(name, check) {
            Some(Ok(v)) => Some(v),
            _ => None,
        }
    }

    /// `x_…` fields, as text.
    fn extras(&self) -> Extras {
        self.rec
            .fields
            .iter()
            .filter(|f| f.name.starts_with("x_"))
            .map(|f| {
                let v = match &f.value {
                    RawValue::Text(s) => s.clone(),
                    RawValue::Number(x) => format_number(*x),
                    RawValue::Bool(b) => b.to_string(),
                    RawValue::Null | RawValue::Composite => String::new(),
                };
                (f.name.clone(), v)
            })
            .collect()
    }

    fn check_unknown(&mut self, schema: &Schema) {
        if !self.table.check_unknown {
            return;
        }
        for f in &self.rec.fields {
            if !schema.knows(&f.name) {
                self.diags.push(Diagnostic::new(
                    f.loc.clone(),
                    format!(
                        "unknown field '{}': expected {} (prefix your own fields with x_)",
                        f.name,
                        schema.describe()
                    ),
                ));
                self.ok = false;
            }
        }
    }
}

/// Parses a number written as text. Rejects NaN, infinities, thousands separators and
/// anything that is not a plain decimal.
pub(crate) fn parse_number(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let plain = !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
    match t.parse::<f64>() {
        Ok(v) if plain && v.is_finite() => Ok(v),
        Ok(_) if plain => Err(format!("expected a finite number, found '{t}'")),
        _ if t.contains(',') => Err(format!(
            "malformed number '{t}': expected a plain decimal such as 1500000.5 (no thousands separators)"
        )),
        _ => Err(format!("malformed number '{t}': expected a decimal number")),
    }
}

/// Shortest text that reads back as the same `f64`.
pub(crate) fn format_number(x: f64) -> String {
    format!("{x}")
}

fn check_any(v: f64) -> Result<f64, String> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err("expected a finite number".into())
    }
}

fn check_date(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && digits(0..4)
        && digits(5..7)
        && digits(8..10);
    let (m, d) = if ok {
        (
            s[5..7].parse::<u32>().unwrap_or(0),
            s[8..10].parse::<u32>().unwrap_or(0),
        )
    } else {
        (0, 0)
    };
    if ok && (1..=12).contains(&m) && (1..=31).contains(&d) {
        Ok(())
    } else {
        Err(format!("expected a date as YYYY-MM-DD, found '{s}'"))
    }
}

/// Validates every record and cross-reference; returns the parts or all problems found.
pub(crate) fn build(raw: RawNetwork) -> Result<Parts, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut parts = Parts {
        meta: raw.meta,
        ..Default::default()
    };

    // Firms.
    let mut firm_ids: HashMap<String, u32> = HashMap::new();
    for rec in &raw.firms.records {
        let mut row = Row {
            rec,
            table: &raw.firms,
            diags: &mut diags,
            ok: true,
        };
        row.check_unknown(&FIRMS);
        let id = row.required_text("id", "a firm id");
        let name = row.text("name");
        if name.is_none() && row.field("name").is_none() {
            row.missing("name", "a firm name");
        }
        let kind = match row.text("kind") {
            Some((k, loc)) => k.parse::<FirmKind>().map_err(|e| row.fail(loc, e)).ok(),
            None if row.field("kind").is_none() => {
                row.missing("kind", &format!("one of {}", FirmKind::expected()));
                None
            }
            None => Some(FirmKind::Other),
        };
        let cash = row.required_number("cash", check_amount);
        let other_assets = row.required_number("other_assets", check_amount);
        let external_liabilities = row.required_number("external_liabilities", check_amount);
        let capital = row.optional_number("capital", check_any);
        let weight = row.optional_number("weight", check_amount);
        let failed_on = row
            .text("failed_on")
            .and_then(|(d, loc)| match check_date(&d) {
                Ok(()) => Some(d),
                Err(e) => {
                    row.fail(loc, e);
                    None
                }
            });
        let extra = row.extras();
        if let Some((id, loc)) = &id {
            let ix = parts.firms.len() as u32;
            if let Some(prev) = firm_ids.insert(id.clone(), ix) {
                let first = &raw.firms.records[prev as usize].loc;
                row.fail(
                    loc.clone(),
                    format!("duplicate firm id '{id}' (first defined at {first})"),
                );
                firm_ids.insert(id.clone(), prev);
            }
        }
        if let (true, Some((id, _)), Some(kind)) = (row.ok, id, kind) {
            let name = name.map(|(n, _)| n).unwrap_or_else(|| id.clone());
            parts.firms.push(Firm {
                id,
                name,
                kind,
                cash,
                other_assets,
                external_liabilities,
                capital,
                weight,
                failed_on,
                extra,
            });
        } else {
            // Keep indices aligned with records so that references still resolve.
            parts.firms.push(placeholder_firm());
        }
    }
    if raw.firms.records.is_empty() && diags.is_empty() {
        diags.push(Diagnostic::new(
            Location::file("firms"),
            "expected at least one firm",
        ));
    }

    // Assets.
    let mut asset_ids: HashMap<String, u32> = HashMap::new();
    for rec in &raw.assets.records {
        let mut row = Row {
            rec,
            table: &raw.assets,
            diags: &mut diags,
            ok: true,
        };
        row.check_unknown(&ASSETS);
        let id = row.required_text("id", "an asset id");
        let name = row.text("name");
        let price = row.required_number("price", check_price);
        let depth = row.optional_number("depth", |d| {
            check_price(d)
                .map_err(|_| format!("expected a positive market depth in units, found {d}"))
        });
        let extra = row.extras();
        if let Some((id, loc)) = &id {
            let ix = parts.assets.len() as u32;
            if let Some(prev) = asset_ids.insert(id.clone(), ix) {
                row.fail(loc.clone(), format!("duplicate asset id '{id}'"));
                asset_ids.insert(id.clone(), prev);
            }
        }
        let id = id.map(|(i, _)| i).unwrap_or_default();
        parts.assets.push(Asset {
            name: name.map(|(n, _)| n).unwrap_or_else(|| id.clone()),
            id,
            price: if price > 0.0 { price } else { 1.0 },
            depth,
            extra,
        });
    }

    let resolve =
        |row: &mut Row, name: &str, ids: &HashMap<String, u32>, what: &str| -> Option<u32> {
            let (id, loc) = row.required_text(name, &format!("a {what} id"))?;
            match ids.get(&id) {
                Some(&ix) => Some(ix),
                None => {
                    row.fail(
                        loc,
                        format!("unknown {what} '{id}': no such id in the {what}s table"),
                    );
                    None
                }
            }
        };

    // Exposures.
    let mut exposure_ids: HashMap<String, Location> = HashMap::new();
    for rec in &raw.exposures.records {
        let mut row = Row {
            rec,
            table: &raw.exposures,
            diags: &mut diags,
            ok: true,
        };
        row.check_unknown(&EXPOSURES);
        let creditor = resolve(&mut row, "creditor", &firm_ids, "firm");
        let debtor = resolve(&mut row, "debtor", &firm_ids, "firm");
        if let (Some(c), Some(d)) = (creditor, debtor)
            && c == d
        {
            let loc = row
                .field("debtor")
                .map(|f| f.loc.clone())
                .unwrap_or_default();
            row.fail(loc, "self-exposure: creditor and debtor are the same firm");
        }
        let kind = match row.required_text("kind", &format!("one of {}", ExposureKind::expected()))
        {
            Some((k, loc)) => k.parse::<ExposureKind>().map_err(|e| row.fail(loc, e)).ok(),
            None => None,
        };
        let amount = row.required_number("amount", check_amount);
        let asset = row.text("collateral_asset");
        let units = row.optional_number("collateral_units", check_amount);
        let haircut = row.optional_number("haircut", check_haircut);
        let collateral = match (asset, units) {
            (Some((a, loc)), Some(units)) => {
                match asset_ids.get(&a) {
                    Some(&asset) => Some(Collateral {
                        exposure: parts.exposures.len() as u32,
                        asset,
                        units,
                        haircut: haircut.unwrap_or(0.0),
                    }),
                    None => {
                        row.fail(
                        loc,
                        format!("collateral asset '{a}' has no price: expected an id from assets.csv"),
                    );
                        None
                    }
                }
            }
            (Some((_, loc)), None) => {
                if row.ok {
                    row.fail(loc.with_field("collateral_units"), "collateral_asset given without collateral_units: expected the number of units pledged");
                }
                None
            }
            (None, Some(_)) => {
                let loc = row
                    .field("collateral_units")
                    .map(|f| f.loc.clone())
                    .unwrap_or_default();
                row.fail(loc, "collateral_units given without collateral_asset: expected the id of the pledged asset");
                None
            }
            (None, None) => {
                if haircut.is_some_and(|h| h > 0.0) {
                    let loc = row
                        .field("haircut")
                        .map(|f| f.loc.clone())
                        .unwrap_or_default();
                    row.fail(loc, "haircut given without collateral: expected collateral_asset and collateral_units");
                }
                None
            }
        };
        if kind == Some(ExposureKind::Equity) && collateral.is_some() {
            let loc = row.rec.loc.clone();
            row.fail(loc, "an equity stake cannot be secured by collateral");
        }
        let label = ExposureLabel {
            id: row.text("id").map(|(i, loc)| {
                if let Some(prev) = exposure_ids.insert(i.clone(), loc.clone()) {
                    row.fail(
                        loc,
                        format!("duplicate exposure id '{i}' (first used at {prev})"),
                    );
                }
                i
            }),
            source: row.text("source").map(|(s, _)| s),
            extra: row.extras(),
        };
        if let (true, Some(creditor), Some(debtor), Some(kind)) = (row.ok, creditor, debtor, kind) {
            parts.collateral.extend(collateral);
            parts.exposures.push(Exposure {
                creditor,
                debtor,
                kind,
                amount,
            });
            parts.labels.push(label);
        }
    }

    // Holdings.
    let mut seen: HashMap<(u32, u32), Location> = HashMap::new();
    for rec in &raw.holdings.records {
        let mut row = Row {
            rec,
            table: &raw.holdings,
            diags: &mut diags,
            ok: true,
        };
        row.check_unknown(&HOLDINGS);
        let firm = resolve(&mut row, "firm", &firm_ids, "firm");
        let asset = resolve(&mut row, "asset", &asset_ids, "asset");
        let units = row.required_number("units", check_amount);
        if let (true, Some(firm), Some(asset)) = (row.ok, firm, asset) {
            if let Some(prev) = seen.insert((firm, asset), rec.loc.clone()) {
                row.fail(rec.loc.clone(), format!("duplicate holding of the same asset by the same firm (first at {prev}): combine the units into one row"));
            } else {
                parts.holdings.push(Holding { firm, asset, units });
            }
        }
    }

    if diags.is_empty() {
        Ok(parts)
    } else {
        Err(diags)
    }
}

fn placeholder_firm() -> Firm {
    Firm {
        id: String::new(),
        name: String::new(),
        kind: FirmKind::Other,
        cash: 0.0,
        other_assets: 0.0,
        external_liabilities: 0.0,
        capital: None,
        weight: None,
        failed_on: None,
        extra: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number(" 12.5 "), Ok(12.5));
        assert_eq!(parse_number("1e9"), Ok(1e9));
        assert!(parse_number("NaN").is_err());
        assert!(parse_number("inf").is_err());
        assert!(parse_number("1,000").unwrap_err().contains("thousands"));
        assert!(parse_number("abc").is_err());
        assert!(parse_number("1e999").unwrap_err().contains("finite"));
    }

    #[test]
    fn dates() {
        assert!(check_date("2022-11-11").is_ok());
        assert!(check_date("2022-13-01").is_err());
        assert!(check_date("11/11/2022").is_err());
    }
}
