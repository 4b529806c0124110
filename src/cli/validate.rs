//! `contagion validate`: load, check and summarise a network.

use std::fmt::Write;

use contagion::analysis::validate::{Summary, summarize};
use contagion::report::human_amount;

use super::args::{Format, ValidateArgs};
use super::{CmdResult, Failure, emit};

pub fn run(a: ValidateArgs) -> CmdResult {
    let net = contagion::io::load(&a.network)?;
    let s = summarize(&net, a.top);
    let text = match a.format {
        Format::Json => {
            let mut t =
                serde_json::to_string_pretty(&s).map_err(|e| Failure::Runtime(e.to_string()))?;
            t.push('\n');
            t
        }
        Format::Table => render(&s),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            let _ = w.write_record([
                "id",
                "total_assets",
                "total_liabilities",
                "equity",
                "capital",
            ]);
            for b in &s.balance_sheets {
                let _ = w.write_record([
                    b.id.clone(),
                    b.total_assets.to_string(),
                    b.total_liabilities.to_string(),
                    b.equity.to_string(),
                    b.capital.map(|c| c.to_string()).unwrap_or_default(),
                ]);
            }
            String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
        }
    };
    emit(&text, a.output.as_deref(), &[&a.network])
}

fn render(s: &Summary) -> String {
    let c = &s.currency;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{} — valid network ({c}{})",
        s.name.as_deref().unwrap_or("network"),
        s.as_of
            .as_ref()
            .map(|d| format!(", as of {d}"))
            .unwrap_or_default()
    );
    let kinds: Vec<String> = s
        .firms_by_kind
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    let _ = writeln!(t, "Firms: {} ({})", s.firms, kinds.join(", "));
    let _ = writeln!(
        t,
        "Exposures: {} ({} secured), total {} {c}",
        s.exposures,
        s.secured_exposures,
        human_amount(s.total_exposure)
    );
    for k in &s.exposures_by_kind {
        let _ = writeln!(
            t,
            "  {:<12} {:>6}  {:>10}",
            k.kind,
            k.count,
            human_amount(k.amount)
        );
    }
    let _ = writeln!(t, "Assets: {}, holdings: {}", s.assets, s.holdings);
    let _ = writeln!(
        t,
        "External assets {} {c}, external liabilities {} {c}",
        human_amount(s.total_external_assets),
        human_amount(s.total_external_liabilities)
    );
    let _ = writeln!(t, "\nDerived balance sheets ({c}):");
    let _ = writeln!(
        t,
        "  {:<20} {:>12} {:>12} {:>12} {:>12}",
        "firm", "assets", "liabilities", "equity", "capital"
    );
    for b in &s.balance_sheets {
        let _ = writeln!(
            t,
            "  {:<20} {:>12} {:>12} {:>12} {:>12}",
            b.id,
            human_amount(b.total_assets),
            human_amount(b.total_liabilities),
            human_amount(b.equity),
            b.capital.map(human_amount).unwrap_or_else(|| "-".into())
        );
    }
    if s.cycles.is_empty() {
        let _ = writeln!(
            t,
            "\nCycles of mutual exposure: none (the network is acyclic)"
        );
    } else {
        let _ = writeln!(
            t,
            "\nCycles of mutual exposure ({} groups):",
            s.cycles.len()
        );
        for cyc in s.cycles.iter().take(10) {
            let shown: Vec<&str> = cyc.iter().take(12).map(String::as_str).collect();
            let more = if cyc.len() > 12 {
                format!(", … ({} firms)", cyc.len())
            } else {
                String::new()
            };
            let _ = writeln!(t, "  {}{more}", shown.join(", "));
        }
    }
    let _ = writeln!(t, "\nLargest exposures:");
    for e in &s.largest_exposures {
        let _ = writeln!(
            t,
            "  {:<16} owes {:<16} {:>10} {c}  {}{}",
            e.debtor,
            e.creditor,
            human_amount(e.amount),
            e.kind,
            if e.secured { " (secured)" } else { "" }
        );
    }
    if s.warnings.is_empty() {
        let _ = writeln!(t, "\nNo warnings.");
    } else {
        let _ = writeln!(t, "\nWarnings ({}):", s.warnings.len());
        for w in &s.warnings {
            let _ = writeln!(t, "  {w}");
        }
    }
    t
}
