//! The self-contained HTML report: one file, no scripts, no fonts, no external URL; the
//! diagram and the charts are inline SVG, so the report opens offline in any browser.
//!
//! Sections: summary, diagram, round-by-round timeline, charts, one row per firm with the
//! cause of its default, the settings used, and the dataset's sources.

use std::fmt::Write as _;

use super::{cause_text, change_percent, money, price};
use crate::model::Network;
use crate::report::{FirmOutcome, SimulationResult};
use crate::scenario::{Loss, Shock};

/// Everything the report shows.
pub struct Report<'a> {
    /// The network simulated.
    pub network: &'a Network,
    /// The result.
    pub result: &'a SimulationResult,
    /// The diagram as SVG text (Graphviz output), or why it is missing.
    pub diagram: Result<String, String>,
    /// Remarks about the diagram (caps applied, …).
    pub diagram_notes: Vec<String>,
    /// Charts: (title, SVG text).
    pub charts: Vec<(String, String)>,
    /// What produced the report (e.g. `contagion 0.1.0`).
    pub generator: String,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// SVG text ready to inline in HTML: the XML declaration, doctype and comments before the
/// `<svg` element are dropped.
pub fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(k) => svg[k..].trim_end(),
        None => "",
    }
}

const STYLE: &str = r#"
:root { --ink:#252525; --muted:#6b6b6b; --line:#e3e3e3; --red:#cb181d; --purple:#54278f; --orange:#f16913; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink); background: #fafafa; }
main { max-width: 1280px; margin: 0 auto; padding: 24px 28px 64px; background: white; }
h1 { font-size: 28px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 40px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
p.lead { color: var(--muted); margin: 0 0 16px; max-width: 70em; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 18px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 150px; }
.card b { display: block; font-size: 24px; }
.card span { color: var(--muted); font-size: 13px; }
.notes { background: #fff8e6; border-left: 4px solid #f0b429; padding: 8px 14px; margin: 12px 0; }
figure { margin: 0; overflow: auto; border: 1px solid var(--line); border-radius: 8px; padding: 8px; background: white; }
figure svg { max-width: 100%; height: auto; display: block; margin: 0 auto; }
figcaption { color: var(--muted); font-size: 13px; padding: 6px 4px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f4f4f4; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.chip { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.chip.defaulted { background: var(--red); color: white; }
.chip.halted { background: var(--purple); color: white; }
.chip.insolvent { background: #636363; color: white; }
.chip.distressed { background: #fdd0a2; color: #7f2704; }
.chip.untouched { background: #f0f0f0; color: var(--muted); }
ol.timeline { list-style: none; padding: 0; margin: 0; }
ol.timeline > li { border-left: 3px solid var(--line); padding: 4px 0 14px 18px; position: relative; }
ol.timeline > li::before { content: ""; position: absolute; left: -8px; top: 10px; width: 13px; height: 13px; border-radius: 50%; background: white; border: 3px solid var(--muted); }
ol.timeline > li.defaults::before { border-color: var(--red); background: var(--red); }
ol.timeline h3 { margin: 0 0 4px; font-size: 16px; }
ol.timeline ul { margin: 2px 0; padding-left: 18px; }
.muted { color: var(--muted); }
details { margin: 8px 0; }
code { font-size: 13px; }
footer { margin-top: 48px; color: var(--muted); font-size: 13px; }
"#;

/// Builds the report.
pub fn report_html(r: &Report) -> String {
    let res = r.result;
    let net = r.network;
    let cur = &res.network.currency;
    let name = net
        .meta()
        .name
        .clone()
        .unwrap_or_else(|| "network".to_string());
    let scenario = res
        .scenario
        .name
        .clone()
        .unwrap_or_else(|| "scenario given on the command line".to_string());
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<link rel=\"icon\" href=\"data:,\">\n<title>{} · {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        escape(&name),
        escape(&scenario)
    );

    // Header and summary.
    let _ = writeln!(h, "<h1>{} · {}</h1>", escape(&name), escape(&scenario));
    if let Some(d) = &res.scenario.description {
        let _ = writeln!(h, "<p class=\"lead\">{}</p>", escape(d));
    }
    let last_round = res.rounds.iter().map(|x| x.round).max().unwrap_or(0);
    let halted = res
        .firms
        .iter()
        .filter(|f| f.defaulted && f.halted == Some(true))
        .count();
    h.push_str("<div class=\"cards\">");
    let mut card = |value: String, label: &str| {
        let _ = write!(
            h,
            "<div class=\"card\"><b>{}</b><span>{}</span></div>",
            escape(&value),
            escape(label)
        );
    };
    card(
        format!("{} of {}", res.summary.defaults, res.summary.firms),
        "firms in default",
    );
    if halted > 0 {
        card(halted.to_string(), "of them halted (liquidity)");
    }
    card(last_round.to_string(), "rounds of contagion");
    card(money(res.summary.total_losses, cur), "lost in total");
    card(
        money(res.summary.equity_losses, cur),
        "equity lost by firms in the network",
    );
    card(
        money(res.summary.external_losses, cur),
        "lost by creditors outside the network",
    );
    h.push_str("</div>\n");
    let notes: Vec<&String> = res.notes.iter().chain(&r.diagram_notes).collect();
    if !notes.is_empty() {
        h.push_str("<div class=\"notes\">");
        for n in notes {
            let _ = write!(h, "<div>{}</div>", escape(n));
        }
        h.push_str("</div>\n");
    }

    // Diagram.
    h.push_str("<h2 id=\"diagram\">Contagion diagram</h2>\n");
    match &r.diagram {
        Ok(svg) => {
            let _ = writeln!(
                h,
                "<figure>{}<figcaption>Arrows go from the firm that owes to the firm that is owed (the direction losses travel); red arrows carried losses. Hover over a firm or an arrow for its figures.</figcaption></figure>",
                inline_svg(svg)
            );
        }
        Err(why) => {
            let _ = writeln!(
                h,
                "<div class=\"notes\">The diagram could not be drawn: {}</div>",
                escape(why)
            );
        }
    }

    // Timeline.
    h.push_str("<h2 id=\"timeline\">Round by round</h2>\n<ol class=\"timeline\">\n");
    h.push_str(&timeline(net, res));
    h.push_str("</ol>\n");

    // Charts.
    if !r.charts.is_empty() {
        h.push_str("<h2 id=\"charts\">Charts</h2>\n");
        for (title, svg) in &r.charts {
            let _ = write!(
                h,
                "<figure>{}<figcaption>{}</figcaption></figure>\n<div style=\"height:12px\"></div>\n",
                inline_svg(svg),
                escape(title)
            );
        }
    }

    // Firms.
    h.push_str("<h2 id=\"firms\">Firms</h2>\n");
    h.push_str(&firms_table(net, res));

    // Settings.
    h.push_str("<h2 id=\"settings\">Settings used</h2>\n");
    h.push_str(&settings_table(res));

    // Dataset.
    h.push_str("<h2 id=\"dataset\">Dataset and sources</h2>\n");
    h.push_str(&dataset(net));

    let _ = write!(
        h,
        "<footer>Generated by {}. Amounts in {}. This file is self-contained: it loads nothing from the network.</footer>\n</main>\n</body>\n</html>\n",
        escape(&r.generator),
        escape(cur)
    );
    h
}

fn firm_name<'a>(net: &'a Network, res: &'a SimulationResult, id: &'a str) -> &'a str {
    if let Some(i) = net.firm_ix(id) {
        return &net.firms()[i as usize].name;
    }
    res.firms
        .iter()
        .find(|f| f.id == id)
        .map(|f| f.name.as_str())
        .unwrap_or(id)
}

fn shock_sentence(net: &Network, res: &SimulationResult, s: &Shock) -> String {
    let cur = &res.network.currency;
    let name = |id: &str| firm_name(net, res, id).to_string();
    match s {
        Shock::Default { firm } => format!("{} fails outright", name(firm)),
        Shock::Price { asset, change } => {
            let before = net
                .assets()
                .iter()
                .find(|a| &a.id == asset)
                .map(|a| a.price);
            match before {
                Some(p) => format!(
                    "{asset} price {} ({} → {})",
                    change_percent(*change),
                    price(p, cur),
                    price(p * (1.0 + change), cur)
                ),
                None => format!("{asset} price {}", change_percent(*change)),
            }
        }
        Shock::AssetLoss { firm, loss } => match loss {
            Loss::Amount(a) => format!("{} loses {} of its assets", name(firm), money(*a, cur)),
            Loss::Fraction(f) => format!(
                "{} loses {} of its assets",
                name(firm),
                change_percent(*f).trim_start_matches('+')
            ),
        },
        Shock::Withdrawal { firm, fraction } => format!(
            "depositors withdraw {} of their deposits at {}",
            change_percent(*fraction).trim_start_matches('+'),
            name(firm)
        ),
        Shock::EquityShock { firm, fraction } => format!(
            "{} loses {} of its equity",
            if firm == "*" {
                "every firm".to_string()
            } else {
                name(firm)
            },
            change_percent(*fraction).trim_start_matches('+')
        ),
    }
}

fn caused_by_text(net: &Network, res: &SimulationResult, f: &FirmOutcome) -> String {
    let cur = &res.network.currency;
    f.caused_by
        .iter()
        .map(|c| {
            let who = match (&c.firm, &c.asset) {
                (Some(x), Some(a)) => format!("{} via {a}", firm_name(net, res, x)),
                (Some(x), None) => firm_name(net, res, x).to_string(),
                (None, Some(a)) => format!("price of {a}"),
                (None, None) => "the shock".to_string(),
            };
            format!("{who} ({})", money(c.loss, cur))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn event_sentence(net: &Network, res: &SimulationResult, e: &crate::report::EventRecord) -> String {
    let cur = &res.network.currency;
    let firm = firm_name(net, res, &e.firm);
    let other = e.counterparty.as_deref().map(|c| firm_name(net, res, c));
    let asset = e.asset.as_deref().unwrap_or("");
    let short = e.paid + 1e-9 * e.amount.abs() < e.amount;
    match e.kind {
        "margin_call" => format!(
            "{} calls margin on {firm}{}: {} demanded, {} paid{}",
            other.unwrap_or("a creditor"),
            if asset.is_empty() {
                String::new()
            } else {
                format!(" ({asset} collateral)")
            },
            money(e.amount, cur),
            money(e.paid, cur),
            if short { " — short" } else { "" }
        ),
        "seizure" => format!(
            "{} seizes {asset} collateral from {firm}: {} raised",
            other.unwrap_or("a creditor"),
            money(e.paid, cur)
        ),
        "withdrawal" => format!(
            "depositors withdraw {} from {firm}; {} paid{}",
            money(e.amount, cur),
            money(e.paid, cur),
            if short { " — the rest is frozen" } else { "" }
        ),
        "liquidation" => format!(
            "{firm} sells {} {asset} for {}",
            super::short_number(e.amount),
            money(e.paid, cur)
        ),
        other => format!("{other}: {firm} {}", money(e.amount, cur)),
    }
}

fn timeline(net: &Network, res: &SimulationResult) -> String {
    let cur = &res.network.currency;
    let mut h = String::new();
    // Round 0: the shocks.
    let _ = write!(
        h,
        "<li class=\"{}\"><h3>Round 0 · the shock</h3><ul>",
        if res
            .firms
            .iter()
            .any(|f| f.defaulted && f.default_round == Some(0))
        {
            "defaults"
        } else {
            ""
        }
    );
    if res.scenario.shocks.is_empty() {
        h.push_str("<li>No shock: the network is cleared as it stands.</li>");
    }
    for s in &res.scenario.shocks {
        let _ = write!(h, "<li>{}</li>", escape(&shock_sentence(net, res, s)));
    }
    h.push_str(&round_body(net, res, 0));
    h.push_str("</ul></li>\n");
    let last = res
        .rounds
        .iter()
        .map(|r| r.round)
        .chain(res.events.iter().map(|e| e.round))
        .max()
        .unwrap_or(0);
    for k in 1..=last {
        let defaults: Vec<&FirmOutcome> = res
            .firms
            .iter()
            .filter(|f| f.defaulted && f.default_round == Some(k))
            .collect();
        let losses: f64 = res
            .rounds
            .iter()
            .filter(|r| r.round == k)
            .map(|r| r.losses)
            .sum();
        let events = res.events.iter().filter(|e| e.round == k).count();
        if defaults.is_empty() && events == 0 && losses == 0.0 {
            continue;
        }
        let _ = write!(
            h,
            "<li class=\"{}\"><h3>Round {k}{}</h3><ul>",
            if defaults.is_empty() { "" } else { "defaults" },
            if losses > 0.0 {
                format!(" · {} of losses transmitted", money(losses, cur))
            } else {
                String::new()
            }
        );
        h.push_str(&round_body(net, res, k));
        h.push_str("</ul></li>\n");
    }
    let _ = writeln!(
        h,
        "<li><h3>End</h3><ul><li>{} firm{} in default; {} lost in total ({} equity of firms in the network, {} creditors outside it).</li></ul></li>",
        res.summary.defaults,
        if res.summary.defaults == 1 { "" } else { "s" },
        money(res.summary.total_losses, cur),
        money(res.summary.equity_losses, cur),
        money(res.summary.external_losses, cur)
    );
    h
}

/// Events, defaults and prices of round `k`, as list items.
fn round_body(net: &Network, res: &SimulationResult, k: u32) -> String {
    let cur = &res.network.currency;
    let mut h = String::new();
    for e in res.events.iter().filter(|e| e.round == k) {
        let _ = write!(
            h,
            "<li class=\"muted\">{}</li>",
            escape(&event_sentence(net, res, e))
        );
    }
    for f in res
        .firms
        .iter()
        .filter(|f| f.defaulted && f.default_round == Some(k))
    {
        let (chip, word) = status_chip(f);
        let cause = f.cause.map(cause_text).unwrap_or("-");
        let by = caused_by_text(net, res, f);
        let _ = write!(
            h,
            "<li><span class=\"chip {chip}\">{word}</span> <b>{}</b> — {}{}</li>",
            escape(&f.name),
            escape(cause),
            if by.is_empty() {
                String::new()
            } else {
                format!(": {}", escape(&by))
            }
        );
    }
    if let Some(p) = res.price_path.iter().find(|p| p.round == k) {
        let moves: Vec<String> = p
            .prices
            .iter()
            .filter_map(|(id, v)| {
                let now = v.as_f64()?;
                let before = net.assets().iter().find(|a| &a.id == id)?.price;
                Some(format!(
                    "{id} {} ({})",
                    price(now, cur),
                    change_percent(now / before - 1.0)
                ))
            })
            .collect();
        if !moves.is_empty() {
            let _ = write!(
                h,
                "<li class=\"muted\">Prices after the round: {}</li>",
                escape(&moves.join(", "))
            );
        }
    }
    h
}

/// A share as a percentage for people: `46%`, `<1%`.
fn share(x: f64) -> String {
    let p = x * 100.0;
    if p > 0.0 && p < 0.5 {
        "<1%".into()
    } else {
        format!("{p:.0}%")
    }
}

fn status_chip(f: &FirmOutcome) -> (&'static str, &'static str) {
    if f.defaulted {
        if f.cause == Some(crate::engine::Cause::InitiallyInsolvent) {
            ("insolvent", "insolvent")
        } else if f.halted == Some(true) {
            ("halted", "halted")
        } else {
            ("defaulted", "defaulted")
        }
    } else if super::dot::lost_equity(f) {
        ("distressed", "losses")
    } else {
        ("untouched", "untouched")
    }
}

fn firms_table(net: &Network, res: &SimulationResult) -> String {
    let cur = &res.network.currency;
    let mut order: Vec<&FirmOutcome> = res.firms.iter().collect();
    order.sort_by(|a, b| {
        let ra = if a.defaulted {
            a.default_round.unwrap_or(0) as i64
        } else {
            i64::MAX
        };
        let rb = if b.defaulted {
            b.default_round.unwrap_or(0) as i64
        } else {
            i64::MAX
        };
        ra.cmp(&rb).then(b.loss.total_cmp(&a.loss))
    });
    let mut h = String::from(
        "<div style=\"overflow:auto\"><table><thead><tr><th>firm</th><th>kind</th><th>outcome</th><th class=\"num\">round</th><th>cause</th><th style=\"min-width:12em\">caused by</th><th class=\"num\">equity before</th><th class=\"num\">equity after</th><th class=\"num\">equity lost</th><th class=\"num\">paid of owed</th></tr></thead><tbody>\n",
    );
    for f in order {
        let (chip, word) = status_chip(f);
        let paid = match (f.payment, f.obligations) {
            (Some(p), Some(o)) if o > 0.0 => {
                format!("{} of {} ({})", money(p, cur), money(o, cur), share(p / o))
            }
            _ => "–".into(),
        };
        let _ = writeln!(
            h,
            "<tr><td><b>{}</b><br><code class=\"muted\">{}</code></td><td>{}</td><td><span class=\"chip {chip}\">{word}</span></td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}{}</td><td class=\"num\">{}</td></tr>",
            escape(&f.name),
            escape(&f.id),
            escape(&f.kind),
            f.default_round.map_or("–".to_string(), |r| r.to_string()),
            escape(f.cause.map(cause_text).unwrap_or("–")),
            escape(&caused_by_text(net, res, f)),
            money(f.equity_before, cur),
            money(f.equity_after, cur),
            money(f.loss, cur),
            if super::dot::lost_equity(f) && !f.defaulted {
                format!(" ({})", share(f.distress))
            } else {
                String::new()
            },
            escape(&paid)
        );
    }
    h.push_str("</tbody></table></div>\n");
    h
}

fn settings_table(res: &SimulationResult) -> String {
    let mut h = String::from("<table><tbody>\n");
    if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(&res.model) {
        for (k, v) in m {
            let k = if k == "name" { "model".to_string() } else { k };
            let text = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            let _ = writeln!(
                h,
                "<tr><th style=\"width:14em\">{}</th><td><code>{}</code></td></tr>",
                escape(&k),
                escape(&text)
            );
        }
    }
    let _ = write!(
        h,
        "<tr><th>converged</th><td><code>{}</code> after {} iterations</td></tr>\n</tbody></table>\n",
        res.converged, res.iterations
    );
    h.push_str("<details><summary>Scenario shocks as given</summary><pre>");
    h.push_str(&escape(
        &serde_json::to_string_pretty(&res.scenario.shocks).unwrap_or_default(),
    ));
    h.push_str("</pre></details>\n");
    h
}

fn dataset(net: &Network) -> String {
    let m = net.meta();
    let mut h = String::from("<table><tbody>\n");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(
            h,
            "<tr><th style=\"width:14em\">{}</th><td>{}</td></tr>",
            escape(k),
            v
        );
    };
    row("name", escape(m.name.as_deref().unwrap_or("–")));
    if let Some(d) = &m.as_of {
        row("figures as of", escape(d));
    }
    row("currency", escape(&m.currency));
    row(
        "size",
        format!(
            "{} firms, {} exposures, {} assets, {} holdings",
            net.n_firms(),
            net.exposures().len(),
            net.assets().len(),
            net.holdings().len()
        ),
    );
    if let Some(d) = &m.description {
        row("description", escape(d));
    }
    h.push_str("</tbody></table>\n");
    if !m.sources.is_empty() {
        h.push_str("<h3>Sources</h3><ol>\n");
        for s in &m.sources {
            let _ = writeln!(h, "<li>{}</li>", escape(s));
        }
        h.push_str("</ol>\n");
    }
    let mut cited: Vec<&str> = (0..net.exposures().len())
        .filter_map(|k| net.label(k).and_then(|l| l.source.as_deref()))
        .collect();
    cited.sort_unstable();
    cited.dedup();
    if !cited.is_empty() {
        let _ = writeln!(
            h,
            "<details><summary>Sources cited by the {} exposures ({} distinct)</summary><ul>",
            net.exposures().len(),
            cited.len()
        );
        for s in cited {
            let _ = writeln!(h, "<li>{}</li>", escape(s));
        }
        h.push_str("</ul></details>\n");
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_inlining() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(
            inline_svg("<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<svg a>\n</svg>\n"),
            "<svg a>\n</svg>"
        );
        assert_eq!(inline_svg("garbage"), "");
    }
}
