//! Marginals tables (`id,interbank_assets,interbank_liabilities[,…]`) and lists of known
//! bilateral exposures (`lender,borrower,amount`), validated like every other table.

use std::borrow::Cow;
use std::collections::HashMap;

use super::{RawRecord, RawTable, Row, Schema, check_any};
use crate::error::{Diagnostic, Location};
use crate::model::{Firm, check_amount};

pub(crate) const MARGINALS: Schema = Schema {
    required: &["id", "interbank_assets", "interbank_liabilities"],
    optional: &[
        "name",
        "kind",
        "cash",
        "other_assets",
        "external_liabilities",
        "capital",
    ],
};

pub(crate) const KNOWN: Schema = Schema {
    required: &["lender", "borrower", "amount"],
    optional: &[],
};

/// Firms and their interbank totals read from a marginals table.
#[derive(Debug, Clone, Default)]
pub struct Marginals {
    /// Firms (balance-sheet columns default to 0 when absent; kind defaults to `bank`).
    pub firms: Vec<Firm>,
    /// What each firm lent to others in the network.
    pub assets: Vec<f64>,
    /// What each firm borrowed from others in the network.
    pub liabilities: Vec<f64>,
    /// Whether the table had balance-sheet columns (cash, other assets, external
    /// liabilities or capital).
    pub has_balance_sheets: bool,
}

pub(crate) fn build_marginals(table: &RawTable) -> Result<Marginals, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut out = Marginals::default();
    let mut ids: HashMap<String, Location> = HashMap::new();
    for rec in &table.records {
        let mut row = Row::new(rec, &table.info, &mut diags);
        row.check_unknown(&MARGINALS);
        let id = row.required_text("id", "a firm id");
        let a = row.required_number("interbank_assets", check_amount);
        let l = row.required_number("interbank_liabilities", check_amount);
        let name = row.text("name").map(Cow::into_owned);
        let kind = row.kind_or_bank();
        let mut sheet = [0.0; 3];
        for (v, col) in sheet
            .iter_mut()
            .zip(["cash", "other_assets", "external_liabilities"])
        {
            if let Some(x) = row.optional_number(col, check_amount) {
                *v = x;
                out.has_balance_sheets = true;
            }
        }
        let capital = row.optional_number("capital", check_any);
        out.has_balance_sheets |= capital.is_some();
        row.unique("id", id.as_deref(), &mut ids);
        if let (true, Some(id), Some(kind)) = (row.ok, id, kind) {
            let id = id.into_owned();
            out.firms.push(Firm {
                name: name.unwrap_or_else(|| id.clone()),
                id,
                kind,
                cash: sheet[0],
                other_assets: sheet[1],
                external_liabilities: sheet[2],
                capital,
                weight: None,
                failed_on: None,
                extra: row.extras(),
            });
            out.assets.push(a);
            out.liabilities.push(l);
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}

/// Known exposures as `(lender index, borrower index, amount)`, ids resolved against `firms`.
pub(crate) fn build_known(
    table: &RawTable,
    firms: &[Firm],
) -> Result<Vec<(usize, usize, f64)>, Vec<Diagnostic>> {
    let index: HashMap<&str, usize> = firms
        .iter()
        .enumerate()
        .map(|(i, f)| (f.id.as_str(), i))
        .collect();
    let mut diags = Vec::new();
    let mut out = Vec::new();
    for rec in &table.records {
        let mut row = Row::new(rec, &table.info, &mut diags);
        row.check_unknown(&KNOWN);
        let side = |row: &mut Row<RawRecord>, col: &str| -> Option<usize> {
            let id = row.required_text(col, "a firm id from the marginals")?;
            let ix = index.get(id.as_ref()).copied();
            if ix.is_none() {
                let loc = row.field_loc(col);
                row.fail(
                    loc,
                    format!("unknown firm '{id}': not in the marginals table"),
                );
            }
            ix
        };
        let lender = side(&mut row, "lender");
        let borrower = side(&mut row, "borrower");
        let amount = row.required_number("amount", check_amount);
        if let (Some(i), Some(j)) = (lender, borrower) {
            if i == j {
                let loc = row.record_loc();
                row.fail(loc, "a firm cannot lend to itself");
            } else if row.ok {
                out.push((i, j, amount));
            }
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}
