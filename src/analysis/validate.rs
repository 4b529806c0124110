//! A readable summary of a network: counts, totals, derived equity with warnings, cycles of
//! mutual exposure and the largest exposures.

use serde::Serialize;

use crate::model::{ExposureKind, FirmKind, Network};

/// Count and total amount of one kind of exposure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindTotal {
    /// Exposure kind.
    pub kind: String,
    /// Number of exposures.
    pub count: usize,
    /// Total amount (currency units).
    pub amount: f64,
}

/// A firm's derived balance sheet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FirmSheet {
    /// Firm id.
    pub id: String,
    /// Total assets at book value and current prices.
    pub total_assets: f64,
    /// Total liabilities.
    pub total_liabilities: f64,
    /// Derived equity (assets − liabilities).
    pub equity: f64,
    /// Capital given in the data, if any (overrides equity as the buffer).
    pub capital: Option<f64>,
}

/// One exposure, by ids.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExposureRow {
    /// Creditor id.
    pub creditor: String,
    /// Debtor id.
    pub debtor: String,
    /// Kind.
    pub kind: String,
    /// Amount.
    pub amount: f64,
    /// Whether it is secured by collateral.
    pub secured: bool,
}

/// Summary of a network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Dataset name.
    pub name: Option<String>,
    /// Currency.
    pub currency: String,
    /// Date of the figures.
    pub as_of: Option<String>,
    /// Number of firms.
    pub firms: usize,
    /// Number of firms of each kind present.
    pub firms_by_kind: Vec<(String, usize)>,
    /// Number of exposures.
    pub exposures: usize,
    /// Count and amount by kind of exposure.
    pub exposures_by_kind: Vec<KindTotal>,
    /// Number of secured exposures.
    pub secured_exposures: usize,
    /// Number of assets.
    pub assets: usize,
    /// Number of holdings.
    pub holdings: usize,
    /// Total of exposures (all kinds).
    pub total_exposure: f64,
    /// Total assets outside the network (cash, other assets, holdings, pledged collateral).
    pub total_external_assets: f64,
    /// Total external liabilities.
    pub total_external_liabilities: f64,
    /// Every firm's derived balance sheet, in input order.
    pub balance_sheets: Vec<FirmSheet>,
    /// Strongly connected components of more than one firm (ids), largest first.
    pub cycles: Vec<Vec<String>>,
    /// The largest exposures, largest first.
    pub largest_exposures: Vec<ExposureRow>,
    /// Things a user should look at.
    pub warnings: Vec<String>,
}

/// Summarises `net`, listing the `top` largest exposures.
pub fn summarize(net: &Network, top: usize) -> Summary {
    let sheets = net.balance_sheets();
    let mut by_kind: Vec<KindTotal> = ExposureKind::ALL
        .iter()
        .map(|k| KindTotal {
            kind: k.to_string(),
            count: 0,
            amount: 0.0,
        })
        .collect();
    for e in net.exposures() {
        let t = &mut by_kind[ExposureKind::ALL
            .iter()
            .position(|k| *k == e.kind)
            .unwrap_or(0)];
        t.count += 1;
        t.amount += e.amount;
    }
    by_kind.retain(|t| t.count > 0);
    let firms_by_kind: Vec<(String, usize)> = FirmKind::ALL
        .iter()
        .map(|k| {
            (
                k.to_string(),
                net.firms().iter().filter(|f| f.kind == *k).count(),
            )
        })
        .filter(|(_, c)| *c > 0)
        .collect();
    let mut order: Vec<usize> = (0..net.exposures().len()).collect();
    order.sort_by(|&a, &b| {
        net.exposures()[b]
            .amount
            .total_cmp(&net.exposures()[a].amount)
            .then(a.cmp(&b))
    });
    let largest = order
        .iter()
        .take(top)
        .map(|&k| {
            let e = net.exposures()[k];
            ExposureRow {
                creditor: net.firm_id(e.creditor as usize).to_string(),
                debtor: net.firm_id(e.debtor as usize).to_string(),
                kind: e.kind.to_string(),
                amount: e.amount,
                secured: net.collateral_of(k).is_some(),
            }
        })
        .collect();
    let mut warnings = Vec::new();
    let mut degree = vec![0usize; net.n_firms()];
    for e in net.exposures() {
        degree[e.creditor as usize] += 1;
        degree[e.debtor as usize] += 1;
    }
    for (i, (f, bs)) in net.firms().iter().zip(&sheets).enumerate() {
        let eq = bs.equity();
        if eq < 0.0 {
            warnings.push(format!(
                "{}: owes more than it holds (equity {:.6e}): it is insolvent before any shock",
                f.id, eq
            ));
        } else if eq == 0.0 && f.capital.is_none() {
            warnings.push(format!("{}: zero equity: any loss defaults it", f.id));
        }
        if let Some(c) = f.capital
            && c <= 0.0
        {
            warnings.push(format!(
                "{}: capital {c} ≤ 0: buffer-based models treat it as already in default",
                f.id
            ));
        }
        if degree[i] == 0 {
            warnings.push(format!("{}: no exposures: isolated from the network", f.id));
        }
    }
    for c in net.collateral() {
        let e = net.exposures()[c.exposure as usize];
        let a = &net.assets()[c.asset as usize];
        let cover = c.units * a.price * (1.0 - c.haircut);
        if cover < e.amount {
            warnings.push(format!(
                "{} → {}: secured {} {} covers only {:.1}% of the amount after haircut",
                net.firm_id(e.debtor as usize),
                net.firm_id(e.creditor as usize),
                e.kind,
                a.id,
                100.0 * cover / e.amount.max(f64::MIN_POSITIVE)
            ));
        }
    }
    Summary {
        name: net.meta().name.clone(),
        currency: net.meta().currency.clone(),
        as_of: net.meta().as_of.clone(),
        firms: net.n_firms(),
        firms_by_kind,
        exposures: net.exposures().len(),
        exposures_by_kind: by_kind,
        secured_exposures: net.collateral().len(),
        assets: net.assets().len(),
        holdings: net.holdings().len(),
        total_exposure: net.exposures().iter().map(|e| e.amount).sum(),
        total_external_assets: sheets.iter().map(|b| b.external_assets()).sum(),
        total_external_liabilities: sheets.iter().map(|b| b.external_liabilities).sum(),
        balance_sheets: net
            .firms()
            .iter()
            .zip(&sheets)
            .map(|(f, b)| FirmSheet {
                id: f.id.clone(),
                total_assets: b.total_assets(),
                total_liabilities: b.total_liabilities(),
                equity: b.equity(),
                capital: f.capital,
            })
            .collect(),
        cycles: net
            .cycles()
            .into_iter()
            .map(|c| {
                c.into_iter()
                    .map(|i| net.firm_id(i as usize).to_string())
                    .collect()
            })
            .collect(),
        largest_exposures: largest,
        warnings,
    }
}
