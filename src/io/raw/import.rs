//! Importers for the shapes researchers' data comes in: an edge list, a square matrix, and a
//! firms table with capital and total assets. Each returns a network plus the list of
//! assumptions it made, so that a command can say what it assumed.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use super::{Row, Schema, check_any};
use crate::error::{Diagnostic, Error, Location};
use crate::model::{Exposure, ExposureKind, Firm, FirmKind, Meta, Network, Parts, check_amount};

/// What the first two columns of an edge list, or the rows of a matrix, mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orientation {
    /// Edge list `lender,borrower,amount`; matrix entry `(i, j)` = what `i` lent to `j`
    /// (the assets matrix: row = creditor).
    Assets,
    /// Edge list `debtor,creditor,amount`; matrix entry `(i, j)` = what `i` owes `j` (the
    /// liabilities matrix: row = debtor).
    Liabilities,
}

/// A network built by an importer, with the assumptions it made.
#[derive(Debug)]
pub struct Imported {
    /// The network.
    pub network: Network,
    /// Sentences describing each assumption.
    pub assumptions: Vec<String>,
}

const FIRMS_TABLE: Schema = Schema {
    required: &["id"],
    optional: &[
        "name",
        "kind",
        "cash",
        "other_assets",
        "external_liabilities",
        "capital",
        "total_assets",
    ],
};

fn read(path: &Path) -> Result<(String, Vec<u8>), Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((crate::io::file_name(path), bytes))
}

/// One balance-sheet row of a firms table.
struct Sheet {
    firm: Firm,
    total_assets: Option<f64>,
}

fn read_firms(path: &Path) -> Result<Vec<Sheet>, Error> {
    let (file, bytes) = read(path)?;
    let mut diags = Vec::new();
    let table = crate::io::csv_dir::parse_table(&file, &bytes, &FIRMS_TABLE, &mut diags);
    let mut out = Vec::new();
    let mut seen: HashMap<String, Location> = HashMap::new();
    for rec in &table.records {
        let mut row = Row::new(rec, &table.info, &mut diags);
        let id = row.required_text("id", "a firm id");
        let kind = row.kind_or_bank();
        let cash = row.optional_number("cash", check_amount);
        let other = row.optional_number("other_assets", check_amount);
        let ext = row.optional_number("external_liabilities", check_amount);
        let capital = row.optional_number("capital", check_any);
        let total_assets = row.optional_number("total_assets", check_amount);
        let name = row.text("name").map(Cow::into_owned);
        row.unique("id", id.as_deref(), &mut seen);
        if let (true, Some(id), Some(kind)) = (row.ok, id, kind) {
            let id = id.into_owned();
            out.push(Sheet {
                firm: Firm {
                    name: name.unwrap_or_else(|| id.clone()),
                    id,
                    kind,
                    cash: cash.unwrap_or(0.0),
                    other_assets: other.unwrap_or(f64::NAN),
                    external_liabilities: ext.unwrap_or(f64::NAN),
                    capital,
                    weight: None,
                    failed_on: None,
                    extra: row.extras(),
                },
                total_assets,
            });
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(Error::Input(diags.into()))
    }
}

/// Edges `(creditor id, debtor id, amount, kind)` read from an edge list or matrix.
type Edge = (String, String, f64, ExposureKind);

fn read_edges(path: &Path, orientation: Orientation) -> Result<Vec<Edge>, Error> {
    let (file, bytes) = read(path)?;
    let (first, second) = match orientation {
        Orientation::Assets => ("lender", "borrower"),
        Orientation::Liabilities => ("debtor", "creditor"),
    };
    let required: &'static [&'static str] = match orientation {
        Orientation::Assets => &["lender", "borrower", "amount"],
        Orientation::Liabilities => &["debtor", "creditor", "amount"],
    };
    let schema = Schema {
        required,
        optional: &["kind"],
    };
    let mut diags = Vec::new();
    let table = crate::io::csv_dir::parse_table(&file, &bytes, &schema, &mut diags);
    let mut out = Vec::new();
    for rec in &table.records {
        let mut row = Row::new(rec, &table.info, &mut diags);
        let a = row.required_text(first, "a firm id");
        let b = row.required_text(second, "a firm id");
        let amount = row.required_number("amount", check_amount);
        let kind = match row.text("kind") {
            Some(k) => k
                .parse::<ExposureKind>()
                .map_err(|e| {
                    let loc = row.field_loc("kind");
                    row.fail(loc, e)
                })
                .ok(),
            None => Some(ExposureKind::Loan),
        };
        if let (true, Some(a), Some(b), Some(kind)) = (row.ok, a, b, kind) {
            if a == b {
                let loc = row.field_loc(second);
                row.fail(loc, format!("self-exposure: '{a}' on both sides"));
                continue;
            }
            let (a, b) = (a.into_owned(), b.into_owned());
            let (creditor, debtor) = match orientation {
                Orientation::Assets => (a, b),
                Orientation::Liabilities => (b, a),
            };
            out.push((creditor, debtor, amount, kind));
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(Error::Input(diags.into()))
    }
}

fn read_matrix(path: &Path, orientation: Orientation) -> Result<(Vec<String>, Vec<Edge>), Error> {
    let (file, bytes) = read(path)?;
    let text =
        crate::io::csv_dir::check_text(&file, &bytes).map_err(|d| Error::Input(vec![d].into()))?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut diags = Vec::new();
    let mut rows: Vec<(usize, Vec<String>)> = Vec::new();
    for rec in rdr.records() {
        match rec {
            Ok(r) => {
                let line = r.position().map_or(0, |p| p.line() as usize);
                if !(r.len() == 1 && r[0].trim().is_empty()) {
                    rows.push((line, r.iter().map(|c| c.trim().to_string()).collect()));
                }
            }
            Err(e) => diags.push(Diagnostic::new(
                Location::at(&file, e.position().map_or(0, |p| p.line() as usize), None),
                format!("malformed CSV: {e}"),
            )),
        }
    }
    let Some((_, header)) = rows.first().cloned() else {
        return Err(Error::input(
            Location::file(&file),
            "empty file: expected a header row (a corner cell, then one firm id per column)",
        ));
    };
    let ids: Vec<String> = header[1..].to_vec();
    let n = ids.len();
    if rows.len() - 1 != n {
        diags.push(Diagnostic::new(
            Location::file(&file),
            format!(
                "expected a square matrix: {n} firm columns but {} rows",
                rows.len() - 1
            ),
        ));
    }
    let mut edges = Vec::new();
    for (r, (line, cells)) in rows.iter().enumerate().skip(1) {
        if cells.len() != n + 1 {
            diags.push(Diagnostic::new(
                Location::at(&file, *line, None),
                format!(
                    "expected {} fields (a firm id then {n} amounts), found {}",
                    n + 1,
                    cells.len()
                ),
            ));
            continue;
        }
        let i = r - 1;
        if i < n && cells[0] != ids[i] {
            diags.push(Diagnostic::new(
                Location::at(&file, *line, Some(1)),
                format!("row {r} is firm '{}' but column {r} is '{}': rows and columns must list firms in the same order", cells[0], ids[i]),
            ));
            continue;
        }
        for (j, cell) in cells[1..].iter().enumerate() {
            let loc = Location::at(&file, *line, Some(j + 2)).with_field(ids[j].clone());
            if cell.is_empty() {
                continue;
            }
            match super::parse_number(cell).and_then(check_amount) {
                Ok(0.0) => {}
                Ok(x) if i == j => diags.push(Diagnostic::new(
                    loc,
                    format!("self-exposure on the diagonal ({x}): expected 0"),
                )),
                Ok(x) => {
                    let (creditor, debtor) = match orientation {
                        Orientation::Assets => (ids[i].clone(), ids[j].clone()),
                        Orientation::Liabilities => (ids[j].clone(), ids[i].clone()),
                    };
                    edges.push((creditor, debtor, x, ExposureKind::Loan));
                }
                Err(e) => diags.push(Diagnostic::new(loc, e)),
            }
        }
    }
    if diags.is_empty() {
        Ok((ids, edges))
    } else {
        Err(Error::Input(diags.into()))
    }
}

/// Source of the bilateral data.
#[derive(Debug, Clone, Copy)]
pub enum Shape<'a> {
    /// Edge list CSV.
    Edges(&'a Path),
    /// Square matrix CSV with firm ids in the header and the first column.
    Matrix(&'a Path),
}

/// Imports bilateral exposures (kind `loan`, unless an edge list has a `kind` column) and,
/// optionally, a firms table.
///
/// Balance sheets: a firm's `cash`, `other_assets` and `external_liabilities` come from the
/// firms table. When `other_assets` is missing but `total_assets` is given, other assets are
/// what total assets leave after cash and interbank assets; when `external_liabilities` is
/// missing but `total_assets` and `capital` are, external liabilities are what remains of
/// total assets after capital and interbank liabilities. Anything still unknown is 0. Every
/// such fill is listed in the assumptions.
pub fn import(
    shape: Shape,
    orientation: Orientation,
    firms: Option<&Path>,
) -> Result<Imported, Error> {
    let mut assumptions = Vec::new();
    let (order, edges) = match shape {
        Shape::Edges(p) => {
            let e = read_edges(p, orientation)?;
            assumptions.push(format!(
                "{}: each row is {} (creditor = the lender)",
                crate::io::file_name(p),
                match orientation {
                    Orientation::Assets => "lender, borrower, amount",
                    Orientation::Liabilities => "debtor, creditor, amount",
                }
            ));
            (Vec::new(), e)
        }
        Shape::Matrix(p) => {
            let (ids, e) = read_matrix(p, orientation)?;
            assumptions.push(format!(
                "{}: entry (row i, column j) is {}",
                crate::io::file_name(p),
                match orientation {
                    Orientation::Assets => "what i lent to j (assets orientation)",
                    Orientation::Liabilities => "what i owes j (liabilities orientation)",
                }
            ));
            (ids, e)
        }
    };
    let sheets = match firms {
        Some(p) => read_firms(p)?,
        None => Vec::new(),
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut list: Vec<Sheet> = Vec::new();
    for s in sheets {
        index.insert(s.firm.id.clone(), list.len());
        list.push(s);
    }
    let mut added = Vec::new();
    let mut ensure = |id: &str, list: &mut Vec<Sheet>| -> usize {
        if let Some(&i) = index.get(id) {
            return i;
        }
        let i = list.len();
        index.insert(id.to_string(), i);
        added.push(id.to_string());
        list.push(Sheet {
            firm: Firm {
                id: id.to_string(),
                name: id.to_string(),
                kind: FirmKind::Bank,
                cash: 0.0,
                other_assets: f64::NAN,
                external_liabilities: f64::NAN,
                capital: None,
                weight: None,
                failed_on: None,
                extra: Vec::new(),
            },
            total_assets: None,
        });
        i
    };
    for id in &order {
        ensure(id, &mut list);
    }
    let mut exposures = Vec::with_capacity(edges.len());
    for (c, d, x, kind) in &edges {
        let ci = ensure(c, &mut list);
        let di = ensure(d, &mut list);
        exposures.push(Exposure {
            creditor: ci as u32,
            debtor: di as u32,
            kind: *kind,
            amount: *x,
        });
    }
    if firms.is_some() && !added.is_empty() {
        assumptions.push(format!(
            "{} firm(s) appear in the exposures but not in the firms table; they get zero balance sheets: {}",
            added.len(),
            added.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
        ));
    } else if firms.is_none() {
        assumptions.push(
            "no firms table: every firm has zero cash, other assets and external liabilities"
                .into(),
        );
    }
    assumptions.push("every exposure is unsecured (kind loan unless given)".into());
    let n = list.len();
    let mut ib_assets = vec![0.0; n];
    let mut ib_liab = vec![0.0; n];
    for e in &exposures {
        ib_assets[e.creditor as usize] += e.amount;
        ib_liab[e.debtor as usize] += e.amount;
    }
    let (mut filled_other, mut filled_ext, mut zeroed) = (0, 0, 0);
    for (i, s) in list.iter_mut().enumerate() {
        if s.firm.other_assets.is_nan() {
            s.firm.other_assets = match s.total_assets {
                Some(t) => {
                    filled_other += 1;
                    (t - s.firm.cash - ib_assets[i]).max(0.0)
                }
                None => {
                    zeroed += 1;
                    0.0
                }
            };
        }
        if s.firm.external_liabilities.is_nan() {
            s.firm.external_liabilities = match (s.total_assets, s.firm.capital) {
                (Some(t), Some(k)) => {
                    filled_ext += 1;
                    (t - k - ib_liab[i]).max(0.0)
                }
                _ => 0.0,
            };
        }
    }
    if filled_other > 0 {
        assumptions.push(format!(
            "{filled_other} firm(s): other assets = total assets − cash − interbank assets"
        ));
    }
    if filled_ext > 0 {
        assumptions.push(format!(
            "{filled_ext} firm(s): external liabilities = total assets − capital − interbank liabilities"
        ));
    }
    if zeroed > 0 && firms.is_some() {
        assumptions.push(format!(
            "{zeroed} firm(s) without other assets or total assets: other assets = 0"
        ));
    }
    let network = Network::from_parts(Parts {
        meta: Meta::default(),
        firms: list.into_iter().map(|s| s.firm).collect(),
        exposures,
        ..Default::default()
    })?;
    Ok(Imported {
        network,
        assumptions,
    })
}
