//! The contagion diagram as a `graphviz_rust` graph.
//!
//! Encoding (the legend of every diagram repeats it):
//! - a node is a firm; its **shape** tells its kind (hexagon: exchange, house: bank,
//!   parallelogram: trading firm, rounded box: lender, ellipse: fund, octagon: VC, …), its
//!   **size** grows with the logarithm of its balance sheet (total assets at book prices),
//!   its **fill** tells its outcome: red when it defaulted (the round is in the label), purple
//!   when it halted (liquidity default), grey when it was insolvent before any shock, orange
//!   shaded by the share of equity lost when it survived with losses, white when untouched;
//! - an arrow goes from the firm that owes to the firm that is owed (the direction losses
//!   travel); its **width** grows with the logarithm of the amount, its **style** tells the
//!   kind (solid: loan, bond, credit line, derivative; dashed: deposit; dotted: equity stake;
//!   double: secured by collateral), and it is **red** once its debtor has defaulted (orange for
//!   a stake in a firm that lost equity);
//! - an asset (token, security) is a tag-shaped node with its price path, with arrows to the
//!   firms that hold it (red once its price fell).
//!
//! Firm names and every other user text are escaped: HTML-like labels get `&amp; &lt; &gt;
//! &quot;` and `<BR/>` for newlines; quoted strings get `\"`, `\\` and `\n`.

use std::collections::HashMap;

use graphviz_rust::dot_structures::{
    Attribute, Edge, EdgeTy, Graph, GraphAttributes, Id, Node, NodeId, Stmt, Subgraph, Vertex,
};
use graphviz_rust::printer::{DotPrinter, PrinterContext};

use super::{Engine, LayoutChoice, RenderOptions, cause_text, change_percent, money, price};
use crate::engine::Cause;
use crate::model::{BalanceSheet, ExposureKind, FirmKind, Network};
use crate::report::{FirmOutcome, SimulationResult};
use crate::scenario::{Loss, Shock};

/// A diagram ready to print or render.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagram {
    /// The graph.
    pub graph: Graph,
    /// Layout engine chosen for it.
    pub engine: Engine,
    /// What a reader should know about what is drawn (caps applied, …).
    pub notes: Vec<String>,
    /// Number of firm nodes (a condensed component counts once).
    pub nodes: usize,
    /// Number of arrows between firms.
    pub edges: usize,
}

impl Diagram {
    /// The DOT text (graphviz_rust's printer).
    pub fn to_dot(&self) -> String {
        let mut text = self.graph.print(&mut PrinterContext::default());
        text.push('\n');
        text
    }
}

/// Builds the diagram of `net`, coloured by `result` when given (see the module docs).
pub fn diagram(net: &Network, result: Option<&SimulationResult>, opts: &RenderOptions) -> Diagram {
    Plan::new(net, result, opts).diagram(opts.round)
}

// ---------------------------------------------------------------------------------------
// Escaping

/// A DOT double-quoted string holding `s`: `"` and `\` escaped, newlines written `\n`, tabs
/// as spaces, other control characters dropped. Graphviz reads it back as `s` (labels and
/// tooltips interpret `\\` and `\n`).
pub fn quoted(s: &str) -> Id {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    Id::Escaped(out)
}

/// Text for an HTML-like label: `& < > "` as entities, newlines as `<BR/>`, tabs as spaces,
/// other control characters dropped.
pub fn html_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("<BR/>"),
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn html(body: String) -> Id {
    Id::Html(format!("<{body}>"))
}

fn attr(key: &str, value: Id) -> Attribute {
    Attribute(Id::Plain(key.to_string()), value)
}

fn q(key: &str, value: &str) -> Attribute {
    attr(key, quoted(value))
}

fn num(key: &str, value: f64) -> Attribute {
    let v = if value.is_finite() { value } else { 0.0 };
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    attr(
        key,
        Id::Plain(if text.is_empty() || text == "-" {
            "0".into()
        } else {
            text.into()
        }),
    )
}

fn node_id(name: &str) -> NodeId {
    NodeId(Id::Plain(name.to_string()), None)
}

/// Splits a name into lines of about `width` characters at spaces (existing newlines kept);
/// at most three lines, the last one shortened with `…`.
fn wrap(name: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    for para in name.split('\n') {
        let mut line = String::new();
        for word in para.split(' ') {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    if lines.len() > 3 {
        lines.truncate(3);
        lines[2].push('…');
    }
    lines.join("\n")
}

// ---------------------------------------------------------------------------------------
// Palette

const FONT: &str = "Helvetica";
const INK: &str = "#252525";
const MUTED: &str = "#737373";
const RED: &str = "#cb181d";
const RED_DARK: &str = "#67000d";
const ORANGE: &str = "#f16913";
const PURPLE: &str = "#54278f";
const GREY_DEFAULT: &str = "#636363";
const EDGE_GREY: &str = "#a3a3a3";
const ASSET_BLUE: &str = "#4292c6";

/// Fill of a firm that survived having lost `d` ∈ (0, 1] of its equity: from pale to deep
/// orange.
fn distress_fill(d: f64) -> String {
    let t = d.clamp(0.0, 1.0).powf(0.6);
    let (a, b) = ((0xfe, 0xed, 0xde), (0xfd, 0x8d, 0x3c));
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(a.0, b.0),
        mix(a.1, b.1),
        mix(a.2, b.2)
    )
}

fn shape(kind: FirmKind) -> (&'static str, &'static str) {
    // (shape, extra style)
    match kind {
        FirmKind::Exchange => ("hexagon", ""),
        FirmKind::Bank => ("house", ""),
        FirmKind::TradingFirm => ("parallelogram", ""),
        FirmKind::Lender => ("box", "rounded"),
        FirmKind::Fund => ("ellipse", ""),
        FirmKind::Vc => ("octagon", ""),
        FirmKind::Custodian => ("cylinder", ""),
        FirmKind::CustomerPool => ("box3d", ""),
        FirmKind::Insurer => ("pentagon", ""),
        FirmKind::Issuer => ("tab", ""),
        FirmKind::Corporate => ("component", ""),
        FirmKind::Other => ("box", ""),
    }
}

fn kind_words(kind: FirmKind) -> &'static str {
    match kind {
        FirmKind::Bank => "bank",
        FirmKind::Exchange => "exchange",
        FirmKind::TradingFirm => "trading firm",
        FirmKind::Lender => "lender",
        FirmKind::Fund => "fund",
        FirmKind::Vc => "VC",
        FirmKind::Custodian => "custodian",
        FirmKind::CustomerPool => "customers",
        FirmKind::Insurer => "insurer",
        FirmKind::Issuer => "issuer",
        FirmKind::Corporate => "company",
        FirmKind::Other => "firm",
    }
}

fn kind_plural(kind: FirmKind) -> &'static str {
    match kind {
        FirmKind::Bank => "banks",
        FirmKind::Exchange => "exchanges",
        FirmKind::TradingFirm => "trading firms",
        FirmKind::Lender => "lenders",
        FirmKind::Fund => "funds",
        FirmKind::Vc => "venture capital",
        FirmKind::Custodian => "custodians",
        FirmKind::CustomerPool => "customer pools",
        FirmKind::Insurer => "insurers",
        FirmKind::Issuer => "issuers",
        FirmKind::Corporate => "companies",
        FirmKind::Other => "other firms",
    }
}

fn exposure_words(kind: ExposureKind) -> &'static str {
    match kind {
        ExposureKind::Loan => "loan",
        ExposureKind::Deposit => "deposit",
        ExposureKind::CreditLine => "credit line",
        ExposureKind::Bond => "bonds",
        ExposureKind::Derivative => "derivatives",
        ExposureKind::Equity => "stake",
    }
}

// ---------------------------------------------------------------------------------------
// The plan: what is drawn (fixed for every round, so frames share one layout)

/// How the title block (title, summary, legend) is sized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TitleBox {
    /// As its text needs.
    Natural,
    /// Wide enough for the summary line of any frame (the layout pass of frames).
    Widest,
    /// This size in points (frames).
    Fixed {
        /// Width in points.
        width: f64,
        /// Height in points.
        height: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Item {
    Firm(usize),
    Group(usize),
    Asset(usize),
}

/// Arrows are merged by (debtor end, creditor end, kind, secured-by): an end is a firm
/// `(0, index)` or a component `(1, index)`.
type EdgeKey = ((u8, usize), (u8, usize), u8, usize);

#[derive(Debug, Clone, Copy, PartialEq)]
enum EdgeKind {
    /// An exposure of this kind, secured by this asset or not.
    Exposure(ExposureKind, Option<usize>),
    /// Holdings (and pledged units) of an asset.
    Holding(usize),
}

#[derive(Debug, Clone)]
struct PlanEdge {
    from: usize,
    to: usize,
    kind: EdgeKind,
    amount: f64,
    /// Firms owing the underlying exposures (the debtors).
    debtors: Vec<u32>,
    /// Firms owed (the creditors).
    creditors: Vec<u32>,
}

/// How a firm stands after a given round.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Status {
    /// No result to show.
    Plain,
    Untouched,
    Distressed {
        distress: f64,
        loss: f64,
    },
    /// Hit, in a frame before the losses are final.
    Losing,
    Defaulted {
        round: Option<u32>,
        halted: bool,
        cause: Option<Cause>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
enum Flow {
    None,
    Partial,
    Full,
}

/// What is drawn, decided once from the final outcome; [`Plan::diagram`] then draws the state
/// after any round with the same nodes and arrows.
pub struct Plan<'a> {
    net: &'a Network,
    result: Option<&'a SimulationResult>,
    opts: RenderOptions,
    outcome: Vec<Option<&'a FirmOutcome>>,
    sheets: Vec<BalanceSheet>,
    items: Vec<Item>,
    groups: Vec<Vec<usize>>,
    edges: Vec<PlanEdge>,
    engine: Engine,
    notes: Vec<String>,
    /// Round from which a firm's losses are visible.
    hit_round: Vec<Option<u32>>,
    /// Shock applied directly to a firm, in words.
    shock_words: Vec<Option<String>>,
    last_round: u32,
}

impl<'a> Plan<'a> {
    /// Decides what to draw.
    pub fn new(
        net: &'a Network,
        result: Option<&'a SimulationResult>,
        opts: &RenderOptions,
    ) -> Self {
        let n = net.n_firms();
        let index: HashMap<&str, usize> = result
            .map(|r| {
                r.firms
                    .iter()
                    .enumerate()
                    .map(|(k, f)| (f.id.as_str(), k))
                    .collect()
            })
            .unwrap_or_default();
        let outcome: Vec<Option<&FirmOutcome>> = (0..n)
            .map(|i| {
                let r = result?;
                index.get(net.firm_id(i)).map(|&k| &r.firms[k])
            })
            .collect();
        let sheets = net.balance_sheets();
        let mut notes = Vec::new();
        if let Some(r) = result {
            let missing = outcome.iter().filter(|o| o.is_none()).count();
            if missing > 0 {
                notes.push(format!(
                    "{missing} firm(s) of the network are not in the result and are drawn as untouched"
                ));
            }
            if r.network.name.is_some() && r.network.name != net.meta().name {
                notes.push(format!(
                    "the result is for network '{}', drawn on '{}'",
                    r.network.name.as_deref().unwrap_or("?"),
                    net.meta().name.as_deref().unwrap_or("?")
                ));
            }
        }

        let shock_words = shock_words(net, result);
        let last_round = result
            .map(|r| {
                r.rounds
                    .iter()
                    .map(|x| x.round)
                    .chain(r.firms.iter().filter_map(|f| f.default_round))
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0);

        // Which firms: everything, or what the cascade touched.
        let filter_touched = opts.touched_only && result.is_some();
        let mut visible: Vec<bool> = (0..n)
            .map(|i| {
                !filter_touched
                    || shock_words[i].is_some()
                    || outcome[i].is_some_and(|o| o.defaulted || lost_equity(o))
            })
            .collect();

        // Components drawn as one node.
        let mut group_of: Vec<Option<usize>> = vec![None; n];
        let mut groups: Vec<Vec<usize>> = Vec::new();
        if let Some(limit) = opts.condense {
            for scc in net.cycles() {
                let members: Vec<usize> = scc
                    .iter()
                    .map(|&i| i as usize)
                    .filter(|&i| visible[i])
                    .collect();
                if members.len() > limit.max(1) {
                    for &i in &members {
                        group_of[i] = Some(groups.len());
                    }
                    groups.push(members);
                }
            }
        }

        let hit_round = hit_rounds(net, result, &outcome, &shock_words, last_round);

        // Arrows between firms (or components), parallel exposures of one kind merged.
        let mut edges = Self::firm_edges(net, &visible, &group_of);

        // Caps.
        let total = edges.len();
        let cap = match opts.top {
            Some(t) => Some(t),
            None if total > opts.max_edges => {
                notes.push(format!(
                    "showing the {} largest of {} exposures (use --top N or --touched to choose)",
                    opts.max_edges, total
                ));
                Some(opts.max_edges)
            }
            None => None,
        };
        if let Some(cap) = cap
            && cap < edges.len()
        {
            let mut order: Vec<usize> = (0..edges.len()).collect();
            order.sort_by(|&a, &b| edges[b].amount.total_cmp(&edges[a].amount).then(a.cmp(&b)));
            let mut keep = vec![false; edges.len()];
            for &k in order.iter().take(cap) {
                keep[k] = true;
            }
            let mut k = 0;
            edges.retain(|_| {
                k += 1;
                keep[k - 1]
            });
            if opts.top.is_some() {
                notes.push(format!(
                    "showing the {} largest of {} exposures",
                    cap, total
                ));
            }
            // Firms at the ends of kept arrows, and the firms in default.
            let mut on_edge = vec![false; n];
            for e in &edges {
                for &f in e.debtors.iter().chain(&e.creditors) {
                    on_edge[f as usize] = true;
                }
            }
            for i in 0..n {
                let defaulted = outcome[i].is_some_and(|o| o.defaulted);
                visible[i] &= on_edge[i] || defaulted;
            }
            for g in &mut groups {
                g.retain(|&i| visible[i]);
            }
        }

        // Items: firms in input order, a component where its first member stands.
        let mut items = Vec::new();
        let mut item_of_firm = vec![usize::MAX; n];
        let mut item_of_group = vec![usize::MAX; groups.len()];
        for i in 0..n {
            if !visible[i] {
                continue;
            }
            match group_of[i] {
                Some(g) => {
                    if item_of_group[g] == usize::MAX {
                        item_of_group[g] = items.len();
                        items.push(Item::Group(g));
                    }
                    item_of_firm[i] = item_of_group[g];
                }
                None => {
                    item_of_firm[i] = items.len();
                    items.push(Item::Firm(i));
                }
            }
        }
        for e in &mut edges {
            e.from = item_of_firm[e.debtors[0] as usize];
            e.to = item_of_firm[e.creditors[0] as usize];
        }

        // Assets and holdings.
        if opts.assets {
            Self::asset_edges(
                net,
                result,
                filter_touched,
                &item_of_firm,
                &mut items,
                &mut edges,
            );
        }

        let firm_items = items
            .iter()
            .filter(|i| !matches!(i, Item::Asset(_)))
            .count();
        let firm_edges = edges
            .iter()
            .filter(|e| matches!(e.kind, EdgeKind::Exposure(..)))
            .count();
        let engine = match opts.layout {
            LayoutChoice::Dot => Engine::Dot,
            LayoutChoice::Neato => Engine::Neato,
            LayoutChoice::Sfdp => Engine::Sfdp,
            LayoutChoice::Auto => {
                let nodes = items.len();
                if (nodes <= 60 && firm_edges <= 240)
                    || (nodes <= 1500 && is_acyclic(items.len(), &edges))
                {
                    Engine::Dot
                } else if nodes <= 250 {
                    Engine::Neato
                } else {
                    Engine::Sfdp
                }
            }
        };
        let _ = firm_items;

        Self {
            net,
            result,
            opts: opts.clone(),
            outcome,
            sheets,
            items,
            groups,
            edges,
            engine,
            notes,
            hit_round,
            shock_words,
            last_round,
        }
    }

    fn firm_edges(net: &Network, visible: &[bool], group_of: &[Option<usize>]) -> Vec<PlanEdge> {
        // Key: (debtor end, creditor end, kind, secured-by) where an end is a firm or component.
        let end = |i: usize| match group_of[i] {
            Some(g) => (1u8, g),
            None => (0u8, i),
        };
        let mut index: HashMap<EdgeKey, usize> = HashMap::new();
        let mut edges: Vec<PlanEdge> = Vec::new();
        for (k, e) in net.exposures().iter().enumerate() {
            let (d, c) = (e.debtor as usize, e.creditor as usize);
            if !visible[d] || !visible[c] {
                continue;
            }
            let (from, to) = (end(d), end(c));
            if from == to {
                continue;
            }
            let secured = net.collateral_of(k).map(|c| c.asset as usize);
            let kind_code = ExposureKind::ALL
                .iter()
                .position(|&x| x == e.kind)
                .unwrap_or(0) as u8;
            let key = (from, to, kind_code, secured.map_or(usize::MAX, |a| a));
            match index.get(&key) {
                Some(&x) => {
                    let pe = &mut edges[x];
                    pe.amount += e.amount;
                    if !pe.debtors.contains(&e.debtor) {
                        pe.debtors.push(e.debtor);
                    }
                    if !pe.creditors.contains(&e.creditor) {
                        pe.creditors.push(e.creditor);
                    }
                }
                None => {
                    index.insert(key, edges.len());
                    edges.push(PlanEdge {
                        from: 0,
                        to: 0,
                        kind: EdgeKind::Exposure(e.kind, secured),
                        amount: e.amount,
                        debtors: vec![e.debtor],
                        creditors: vec![e.creditor],
                    });
                }
            }
        }
        edges
    }

    fn asset_edges(
        net: &Network,
        result: Option<&SimulationResult>,
        filter_touched: bool,
        item_of_firm: &[usize],
        items: &mut Vec<Item>,
        edges: &mut Vec<PlanEdge>,
    ) {
        let m = net.assets().len();
        let mut value: HashMap<(usize, usize), f64> = HashMap::new();
        let mut order: Vec<(usize, usize)> = Vec::new();
        let mut add = |a: usize, f: usize, units: f64| {
            if item_of_firm[f] == usize::MAX || units <= 0.0 {
                return;
            }
            let key = (a, item_of_firm[f]);
            let v = value.entry(key).or_insert_with(|| {
                order.push(key);
                0.0
            });
            *v += units * net.assets()[a].price;
        };
        for h in net.holdings() {
            add(h.asset as usize, h.firm as usize, h.units);
        }
        for c in net.collateral() {
            let debtor = net.exposures()[c.exposure as usize].debtor as usize;
            add(c.asset as usize, debtor, c.units);
        }
        let moved = |a: usize| {
            result.is_some_and(|r| {
                final_price(r, &net.assets()[a].id).is_some_and(|p| {
                    (p - net.assets()[a].price).abs() > 1e-12 * net.assets()[a].price
                })
            })
        };
        let mut item_of_asset = vec![usize::MAX; m];
        for a in 0..m {
            let held = order.iter().any(|&(x, _)| x == a);
            if held && (!filter_touched || moved(a)) {
                item_of_asset[a] = items.len();
                items.push(Item::Asset(a));
            }
        }
        for (a, holder) in order {
            if item_of_asset[a] == usize::MAX {
                continue;
            }
            let firms: Vec<u32> = match items[holder] {
                Item::Firm(i) => vec![i as u32],
                _ => Vec::new(),
            };
            edges.push(PlanEdge {
                from: item_of_asset[a],
                to: holder,
                kind: EdgeKind::Holding(a),
                amount: value[&(a, holder)],
                debtors: Vec::new(),
                creditors: firms,
            });
        }
    }

    /// Layout engine suited to what is drawn.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Last round of the cascade (0 without a result).
    pub fn last_round(&self) -> u32 {
        self.last_round
    }

    /// Rounds worth a frame: 0 (the shocks) through the last round.
    pub fn frame_rounds(&self) -> Vec<u32> {
        (0..=self.last_round).collect()
    }

    // --- state after a round ------------------------------------------------------------

    fn status(&self, i: usize, round: Option<u32>) -> Status {
        let Some(o) = self.outcome[i] else {
            return if self.result.is_some() {
                Status::Untouched
            } else {
                Status::Plain
            };
        };
        let by = |r: Option<u32>| match (round, r) {
            (None, _) => true,
            (Some(k), Some(r)) => r <= k,
            (Some(_), None) => true,
        };
        if o.defaulted && by(o.default_round) {
            return Status::Defaulted {
                round: o.default_round,
                halted: o.halted == Some(true),
                cause: o.cause,
            };
        }
        let lost = lost_equity(o);
        if lost && by(self.hit_round[i]) {
            // Before the last round only the final losses are known: say that the firm is
            // losing, not how much.
            if o.defaulted || self.provisional(round) {
                return Status::Losing;
            }
            return Status::Distressed {
                distress: o.distress,
                loss: o.loss,
            };
        }
        Status::Untouched
    }

    /// True for the frames before the last round, whose losses are not known yet.
    fn provisional(&self, round: Option<u32>) -> bool {
        round.is_some_and(|k| k < self.last_round)
    }

    fn flow(&self, e: &PlanEdge, round: Option<u32>) -> Flow {
        match e.kind {
            EdgeKind::Holding(a) => {
                let Some(r) = self.result else {
                    return Flow::None;
                };
                let book = self.net.assets()[a].price;
                match price_at(r, &self.net.assets()[a].id, round) {
                    Some(p) if p < book * (1.0 - 1e-9) => Flow::Full,
                    _ => Flow::None,
                }
            }
            EdgeKind::Exposure(kind, _) => {
                let mut flow = Flow::None;
                for &d in &e.debtors {
                    let f = match self.status(d as usize, round) {
                        Status::Defaulted { .. } => Flow::Full,
                        Status::Distressed { .. } | Status::Losing
                            if kind == ExposureKind::Equity =>
                        {
                            Flow::Partial
                        }
                        _ => Flow::None,
                    };
                    if f > flow {
                        flow = f;
                    }
                }
                flow
            }
        }
    }

    fn currency(&self) -> &str {
        &self.net.meta().currency
    }

    // --- drawing ------------------------------------------------------------------------

    /// The diagram of the state after `round` (`None`: the final state).
    pub fn diagram(&self, round: Option<u32>) -> Diagram {
        self.diagram_with(round, TitleBox::Natural)
    }

    /// The diagram of the state after `round`, with the title block sized as `title` says
    /// (frames keep one size so that every frame has the same bounding box).
    pub(crate) fn diagram_with(&self, round: Option<u32>, title: TitleBox) -> Diagram {
        let mut stmts: Vec<Stmt> = Vec::new();
        let engine = self.engine;
        let mut g = vec![
            q("fontname", FONT),
            q("bgcolor", "white"),
            q("pad", "0.3"),
            q("outputorder", "edgesfirst"),
            q("labelloc", "t"),
            q("labeljust", "l"),
            attr("label", self.title_and_legend(round, title)),
        ];
        match engine {
            Engine::Dot => {
                g.push(q("rankdir", "LR"));
                g.push(q("nodesep", "0.22"));
                g.push(q("ranksep", "0.9"));
                g.push(q("newrank", "true"));
            }
            Engine::Neato => {
                g.push(q("overlap", "false"));
                g.push(q("sep", "+12"));
                g.push(q("splines", "true"));
            }
            Engine::Sfdp => {
                g.push(q("overlap", "prism"));
                g.push(q("sep", "+8"));
                g.push(q("outputorder", "edgesfirst"));
            }
        }
        stmts.push(Stmt::GAttribute(GraphAttributes::Graph(g)));
        stmts.push(Stmt::GAttribute(GraphAttributes::Node(vec![
            q("fontname", FONT),
            q("style", "filled"),
            q("penwidth", "1.2"),
            q("margin", "0.12,0.06"),
        ])));
        stmts.push(Stmt::GAttribute(GraphAttributes::Edge(vec![
            q("fontname", FONT),
            num("fontsize", 11.0),
            num("arrowsize", 0.7),
        ])));

        // Nodes (boxed by kind when asked).
        let size = self.size_scale();
        let mut by_kind: Vec<(FirmKind, Vec<Stmt>)> = Vec::new();
        for (k, item) in self.items.iter().enumerate() {
            let node = self.node(k, *item, round, &size);
            match (self.opts.group_by_kind, item) {
                (true, Item::Firm(i)) => {
                    let kind = self.net.firms()[*i].kind;
                    match by_kind.iter_mut().find(|(x, _)| *x == kind) {
                        Some((_, v)) => v.push(Stmt::Node(node)),
                        None => by_kind.push((kind, vec![Stmt::Node(node)])),
                    }
                }
                _ => stmts.push(Stmt::Node(node)),
            }
        }
        by_kind.sort_by_key(|(k, _)| *k);
        for (kind, nodes) in by_kind {
            let count = nodes.len();
            let mut sub = vec![Stmt::GAttribute(GraphAttributes::Graph(vec![
                q("label", &format!("{} ({count})", kind_plural(kind))),
                q("style", "rounded,dashed"),
                q("color", "#bdbdbd"),
                q("fontcolor", MUTED),
                num("fontsize", 12.0),
            ]))];
            sub.extend(nodes);
            stmts.push(Stmt::Subgraph(Subgraph {
                id: Id::Plain(format!("cluster_{}", kind.as_str())),
                stmts: sub,
            }));
        }

        // Arrows.
        let widths = self.width_scale();
        for (k, e) in self.edges.iter().enumerate() {
            stmts.push(Stmt::Edge(self.edge(k, e, round, &widths)));
        }

        Diagram {
            graph: Graph::DiGraph {
                id: Id::Plain("contagion".into()),
                strict: false,
                stmts,
            },
            engine,
            notes: self.notes.clone(),
            nodes: self
                .items
                .iter()
                .filter(|i| !matches!(i, Item::Asset(_)))
                .count(),
            edges: self
                .edges
                .iter()
                .filter(|e| matches!(e.kind, EdgeKind::Exposure(..)))
                .count(),
        }
    }

    fn item_name(&self, k: usize) -> String {
        match self.items[k] {
            Item::Firm(i) => format!("f{i}"),
            Item::Group(g) => format!("g{g}"),
            Item::Asset(a) => format!("a{a}"),
        }
    }

    fn item_assets(&self, item: Item) -> f64 {
        match item {
            Item::Firm(i) => self.sheets[i].total_assets(),
            Item::Group(g) => self.groups[g]
                .iter()
                .map(|&i| self.sheets[i].total_assets())
                .sum(),
            Item::Asset(a) => self
                .edges
                .iter()
                .filter(|e| e.kind == EdgeKind::Holding(a))
                .map(|e| e.amount)
                .sum(),
        }
    }

    /// (log of smallest, log of largest) balance sheet drawn.
    fn size_scale(&self) -> (f64, f64) {
        log_range(self.items.iter().map(|&i| self.item_assets(i)))
    }

    fn width_scale(&self) -> (f64, f64) {
        log_range(self.edges.iter().map(|e| e.amount))
    }

    fn node(&self, k: usize, item: Item, round: Option<u32>, size: &(f64, f64)) -> Node {
        let name = self.item_name(k);
        let t = scaled(self.item_assets(item), size);
        let mut attrs = vec![q("id", &name)];
        attrs.push(num("width", 1.1 + 1.3 * t));
        attrs.push(num("height", 0.5 + 0.35 * t));
        let name_pt = 12.0 + 6.0 * t;
        match item {
            Item::Firm(i) => self.firm_node(i, round, name_pt, &mut attrs),
            Item::Group(g) => self.group_node(g, round, name_pt, &mut attrs),
            Item::Asset(a) => self.asset_node(a, round, name_pt, &mut attrs),
        }
        Node::new(node_id(&name), attrs)
    }

    fn firm_node(&self, i: usize, round: Option<u32>, name_pt: f64, attrs: &mut Vec<Attribute>) {
        let f = &self.net.firms()[i];
        let cur = self.currency();
        let (shape, extra) = shape(f.kind);
        let status = self.status(i, round);
        let (fill, border, text, sub, status_line, detail) = self.status_words(i, status);
        let mut style = String::from("filled");
        if !extra.is_empty() {
            style.push(',');
            style.push_str(extra);
        }
        if matches!(
            status,
            Status::Defaulted {
                cause: Some(Cause::InitiallyInsolvent),
                ..
            }
        ) {
            style.push_str(",dashed");
        }
        attrs.push(q("shape", shape));
        attrs.push(q("style", &style));
        attrs.push(q("fillcolor", &fill));
        attrs.push(q("color", border));
        attrs.push(q("fontcolor", text));
        if matches!(status, Status::Defaulted { .. }) {
            attrs.push(num("penwidth", 2.2));
        }
        if matches!(f.kind, FirmKind::TradingFirm) {
            attrs.push(num("margin", 0.0));
        }
        let mut label = format!(
            "<FONT POINT-SIZE=\"{:.1}\"><B>{}</B></FONT>",
            name_pt,
            html_text(&wrap(&f.name, 24))
        );
        label.push_str(&format!(
            "<BR/><FONT POINT-SIZE=\"9\" COLOR=\"{sub}\">{} · {} assets</FONT>",
            kind_words(f.kind),
            html_text(&money(self.sheets[i].total_assets(), cur))
        ));
        if let Some(s) = status_line {
            label.push_str(&format!(
                "<BR/><FONT POINT-SIZE=\"13\"><B>{}</B></FONT>",
                html_text(&s)
            ));
        }
        if let Some(d) = detail {
            label.push_str(&format!(
                "<BR/><FONT POINT-SIZE=\"10\" COLOR=\"{sub}\">{}</FONT>",
                html_text(&wrap(&d, 34))
            ));
        }
        if let Some(s) = &self.shock_words[i] {
            label.push_str(&format!(
                "<BR/><FONT POINT-SIZE=\"9\" COLOR=\"{}\"><B>{}</B></FONT>",
                if matches!(status, Status::Defaulted { .. }) {
                    "white"
                } else {
                    RED
                },
                html_text(&format!("shock: {s}"))
            ));
        }
        attrs.push(attr("label", html(label)));
        attrs.push(q("tooltip", &self.firm_tooltip(i)));
    }

    /// (fill, border, text colour, secondary text colour, status line, detail line).
    #[allow(clippy::type_complexity)]
    fn status_words(
        &self,
        i: usize,
        status: Status,
    ) -> (
        String,
        &'static str,
        &'static str,
        &'static str,
        Option<String>,
        Option<String>,
    ) {
        let cur = self.currency();
        match status {
            Status::Plain => ("#f7fbff".into(), "#6b6b6b", INK, MUTED, None, None),
            Status::Untouched => ("#ffffff".into(), "#bdbdbd", MUTED, "#969696", None, None),
            Status::Losing => (
                distress_fill(0.5),
                "#a63603",
                INK,
                "#525252",
                Some("losing equity".to_string()),
                None,
            ),
            Status::Distressed { distress, loss } => {
                let line = if self.outcome[i].is_some_and(|o| o.equity_before > 0.0) {
                    format!(
                        "lost {} ({} of equity)",
                        money(loss, cur),
                        percent(distress)
                    )
                } else {
                    format!("lost {}", money(loss, cur))
                };
                (
                    distress_fill(distress),
                    "#a63603",
                    INK,
                    "#525252",
                    Some(line),
                    None,
                )
            }
            Status::Defaulted {
                round,
                halted,
                cause,
            } => {
                let r = round.map_or(String::new(), |r| format!(" · round {r}"));
                let detail = self.cause_detail(i, cause);
                match (cause, halted) {
                    (Some(Cause::InitiallyInsolvent), _) => (
                        GREY_DEFAULT.into(),
                        "#252525",
                        "white",
                        "#f0f0f0",
                        Some(format!("INSOLVENT{r}")),
                        Some("already insolvent before the shock".into()),
                    ),
                    (_, true) => (
                        PURPLE.into(),
                        "#3f007d",
                        "white",
                        "#efedf5",
                        Some(format!("HALTED{r}")),
                        detail,
                    ),
                    _ => (
                        RED.into(),
                        RED_DARK,
                        "white",
                        "#fee0d2",
                        Some(format!("DEFAULTED{r}")),
                        detail,
                    ),
                }
            }
        }
    }

    fn cause_detail(&self, i: usize, cause: Option<Cause>) -> Option<String> {
        let o = self.outcome[i]?;
        let cause = cause?;
        let who: Vec<String> = o
            .caused_by
            .iter()
            .take(2)
            .map(|c| match (&c.firm, &c.asset) {
                (Some(f), _) => self.display_name(f),
                (None, Some(a)) => a.clone(),
                (None, None) => String::new(),
            })
            .filter(|s| !s.is_empty())
            .collect();
        let mut text = cause_text(cause).to_string();
        if !who.is_empty() && cause != Cause::InitiallyInsolvent {
            text.push_str(": ");
            text.push_str(&who.join(", "));
            if o.caused_by.len() > 2 {
                text.push_str(&format!(" +{}", o.caused_by.len() - 2));
            }
        }
        Some(text)
    }

    /// A firm's name, short (see [`short_name`]).
    fn display_name(&self, id: &str) -> String {
        match self.net.firm_ix(id) {
            Some(i) => short_name(&self.net.firms()[i as usize].name),
            None => id.to_string(),
        }
    }

    fn firm_tooltip(&self, i: usize) -> String {
        let f = &self.net.firms()[i];
        let cur = self.currency();
        let bs = &self.sheets[i];
        let mut t = format!(
            "{} [{}] · {}\ntotal assets {}",
            f.name,
            f.id,
            kind_words(f.kind),
            money(bs.total_assets(), cur)
        );
        if let Some(o) = self.outcome[i] {
            t.push_str(&format!(
                "\nequity {} → {}",
                money(o.equity_before, cur),
                money(o.equity_after, cur)
            ));
            if o.defaulted {
                let r = o.default_round.map_or("-".to_string(), |r| r.to_string());
                let kind = if o.halted == Some(true) {
                    "halted"
                } else {
                    "defaulted"
                };
                t.push_str(&format!(
                    "\n{kind} in round {r}: {}",
                    o.cause.map(cause_text).unwrap_or("-")
                ));
                for c in &o.caused_by {
                    let who = match (&c.firm, &c.asset) {
                        (Some(x), Some(a)) => format!("{x} via {a}"),
                        (Some(x), None) => x.clone(),
                        (None, Some(a)) => format!("price of {a}"),
                        (None, None) => "shock".into(),
                    };
                    t.push_str(&format!("\n  ← {who}: {}", money(c.loss, cur)));
                }
            }
            if let (Some(p), Some(ob)) = (o.payment, o.obligations)
                && ob > 0.0
            {
                t.push_str(&format!(
                    "\npaid {} of {} owed ({})",
                    money(p, cur),
                    money(ob, cur),
                    percent(p / ob)
                ));
            }
        }
        if let Some(s) = &self.shock_words[i] {
            t.push_str(&format!("\nshock: {s}"));
        }
        t
    }

    fn group_node(&self, g: usize, round: Option<u32>, name_pt: f64, attrs: &mut Vec<Attribute>) {
        let members = &self.groups[g];
        let defaulted = members
            .iter()
            .filter(|&&i| matches!(self.status(i, round), Status::Defaulted { .. }))
            .count();
        let share = defaulted as f64 / members.len().max(1) as f64;
        let (fill, text) = if defaulted == 0 {
            ("#f0f0f0".to_string(), INK)
        } else if defaulted == members.len() {
            (RED.to_string(), "white")
        } else {
            (distress_fill(share), INK)
        };
        attrs.push(q("shape", "doubleoctagon"));
        attrs.push(q("fillcolor", &fill));
        attrs.push(q("fontcolor", text));
        let mut label = format!(
            "<FONT POINT-SIZE=\"{:.1}\"><B>{} firms in a cycle</B></FONT><BR/><FONT POINT-SIZE=\"9\">{} assets</FONT>",
            name_pt,
            members.len(),
            html_text(&money(self.item_assets(Item::Group(g)), self.currency()))
        );
        if self.result.is_some() {
            label.push_str(&format!("<BR/><B>{defaulted} in default</B>"));
        }
        attrs.push(attr("label", html(label)));
        let names: Vec<&str> = members
            .iter()
            .take(30)
            .map(|&i| self.net.firm_id(i))
            .collect();
        let more = if members.len() > 30 {
            format!(" … +{}", members.len() - 30)
        } else {
            String::new()
        };
        attrs.push(q(
            "tooltip",
            &format!(
                "strongly connected component of {} firms: {}{more}",
                members.len(),
                names.join(", ")
            ),
        ));
    }

    fn asset_node(&self, a: usize, round: Option<u32>, name_pt: f64, attrs: &mut Vec<Attribute>) {
        let asset = &self.net.assets()[a];
        let cur = self.currency();
        let now = self.result.and_then(|r| price_at(r, &asset.id, round));
        attrs.push(q("shape", "cds"));
        attrs.push(q("margin", "0.2,0.06"));
        let fell = now.is_some_and(|p| p < asset.price * (1.0 - 1e-9));
        attrs.push(q("fillcolor", if fell { "#fcbba1" } else { "#deebf7" }));
        attrs.push(q("color", if fell { RED_DARK } else { "#2171b5" }));
        attrs.push(q("fontcolor", INK));
        let title = if asset.name.is_empty() || asset.name == asset.id {
            asset.id.clone()
        } else {
            format!("{} · {}", asset.id, asset.name)
        };
        let mut label = format!(
            "<FONT POINT-SIZE=\"{:.1}\"><B>{}</B></FONT>",
            name_pt,
            html_text(&title)
        );
        match now {
            Some(p) if (p - asset.price).abs() > 1e-12 * asset.price => {
                let change = p / asset.price - 1.0;
                label.push_str(&format!(
                    "<BR/><FONT POINT-SIZE=\"11\"><B>{} → {}</B></FONT><BR/><FONT POINT-SIZE=\"12\" COLOR=\"{}\"><B>{}</B></FONT>",
                    html_text(&price(asset.price, cur)),
                    html_text(&price(p, cur)),
                    if change < 0.0 { RED } else { "#238b45" },
                    html_text(&change_percent(change))
                ));
            }
            _ => label.push_str(&format!(
                "<BR/><FONT POINT-SIZE=\"10\">{}</FONT>",
                html_text(&price(asset.price, cur))
            )),
        }
        attrs.push(attr("label", html(label)));
        attrs.push(q(
            "tooltip",
            &format!(
                "asset {} ({}), price {}",
                asset.id,
                asset.name,
                price(asset.price, cur)
            ),
        ));
    }

    fn edge(&self, k: usize, e: &PlanEdge, round: Option<u32>, widths: &(f64, f64)) -> Edge {
        let cur = self.currency();
        let t = scaled(e.amount, widths);
        let width = 0.7 + 5.3 * t;
        let flow = self.flow(e, round);
        let colour = match flow {
            Flow::Full => RED,
            Flow::Partial => ORANGE,
            Flow::None => match e.kind {
                EdgeKind::Holding(_) => ASSET_BLUE,
                _ => EDGE_GREY,
            },
        };
        let font = match flow {
            Flow::Full => RED_DARK,
            Flow::Partial => "#a63603",
            Flow::None => "#525252",
        };
        let mut attrs = vec![q("id", &format!("e{k}"))];
        let (style, words, secured) = match e.kind {
            EdgeKind::Exposure(kind, secured) => {
                let style = match kind {
                    ExposureKind::Deposit => "dashed",
                    ExposureKind::Equity => "dotted",
                    _ => "solid",
                };
                (style, exposure_words(kind).to_string(), secured)
            }
            EdgeKind::Holding(_) => ("solid", "held".to_string(), None),
        };
        let mut label = format!("{} {words}", money(e.amount, cur));
        match secured {
            Some(a) => {
                // A double line: colour, gap, colour.
                attrs.push(q("color", &format!("{colour}:white:{colour}")));
                attrs.push(num("penwidth", (width / 2.0).max(0.8)));
                label.push_str(&format!("\nsecured by {}", self.net.assets()[a].id));
            }
            None => {
                attrs.push(q("color", colour));
                attrs.push(num("penwidth", width));
            }
        }
        if let EdgeKind::Holding(_) = e.kind {
            attrs.push(q("arrowhead", "empty"));
        }
        attrs.push(q("style", style));
        attrs.push(num("arrowsize", 0.5 + 0.5 * t));
        attrs.push(num("weight", 1.0 + 3.0 * t));
        attrs.push(q("label", &label));
        attrs.push(q("fontcolor", font));
        let from = self.item_name(e.from);
        let to = self.item_name(e.to);
        attrs.push(q("tooltip", &self.edge_tooltip(e)));
        Edge {
            ty: EdgeTy::Pair(Vertex::N(node_id(&from)), Vertex::N(node_id(&to))),
            attributes: attrs,
        }
    }

    fn edge_tooltip(&self, e: &PlanEdge) -> String {
        let cur = self.currency();
        let names = |v: &[u32]| {
            let mut s: Vec<&str> = v
                .iter()
                .take(5)
                .map(|&i| self.net.firms()[i as usize].name.as_str())
                .collect();
            if v.len() > 5 {
                s.push("…");
            }
            s.join(", ")
        };
        match e.kind {
            EdgeKind::Exposure(kind, secured) => {
                let mut t = format!(
                    "{} owes {} {} ({})",
                    names(&e.debtors),
                    names(&e.creditors),
                    money(e.amount, cur),
                    kind.as_str()
                );
                if let Some(a) = secured {
                    t.push_str(&format!(", secured by {}", self.net.assets()[a].id));
                }
                t
            }
            EdgeKind::Holding(a) => format!(
                "{} holds {} of {} at book price",
                names(&e.creditors),
                money(e.amount, cur),
                self.net.assets()[a].id
            ),
        }
    }

    fn title_and_legend(&self, round: Option<u32>, size: TitleBox) -> Id {
        let cur = self.currency();
        let (p22, p13, p10) = (self.pt(22.0), self.pt(13.0), self.pt(10.0));
        let mut rows: Vec<String> = Vec::new();
        let title = match &self.opts.title {
            Some(t) => t.clone(),
            None => {
                let name = self
                    .net
                    .meta()
                    .name
                    .clone()
                    .unwrap_or_else(|| "network".into());
                match self.result.and_then(|r| r.scenario.name.clone()) {
                    Some(s) => format!("{name} · scenario {s}"),
                    None => name,
                }
            }
        };
        rows.push(format!(
            "<FONT POINT-SIZE=\"{p22}\"><B>{}</B></FONT>",
            html_text(&title)
        ));
        if let Some(r) = self.result {
            let shocks = shocks_sentence(self.net, r);
            if !shocks.is_empty() {
                rows.push(format!(
                    "<FONT POINT-SIZE=\"{p13}\">Shock: {}</FONT>",
                    html_text(&shocks)
                ));
            }
            let summary = match size {
                TitleBox::Widest => std::iter::once(None)
                    .chain(self.frame_rounds().into_iter().map(Some))
                    .map(|k| self.summary_sentence(r, k))
                    .max_by_key(|s| s.chars().count())
                    .unwrap_or_default(),
                _ => self.summary_sentence(r, round),
            };
            rows.push(format!(
                "<FONT POINT-SIZE=\"{p13}\"><B>{}</B></FONT>",
                html_text(&summary)
            ));
            let upto = match size {
                TitleBox::Widest => None,
                _ => round,
            };
            for line in self.cascade_lines(r, upto) {
                rows.push(format!(
                    "<FONT POINT-SIZE=\"{p13}\">{}</FONT>",
                    html_text(&line)
                ));
            }
        } else {
            rows.push(format!(
                "<FONT POINT-SIZE=\"{p13}\">{} firms, {} exposures, {} owed in total</FONT>",
                self.net.n_firms(),
                self.net.exposures().len(),
                html_text(&money(
                    self.net.exposures().iter().map(|e| e.amount).sum(),
                    cur
                ))
            ));
        }
        for n in &self.notes {
            rows.push(format!(
                "<FONT POINT-SIZE=\"{p10}\" COLOR=\"{MUTED}\">{}</FONT>",
                html_text(n)
            ));
        }
        if self.opts.legend {
            rows.extend(self.legend(round));
        }
        let body: String = rows
            .into_iter()
            .map(|r| format!("<TR><TD ALIGN=\"LEFT\" BALIGN=\"LEFT\">{r}</TD></TR>"))
            .collect();
        let table =
            format!("<TABLE BORDER=\"0\" CELLSPACING=\"2\" CELLPADDING=\"2\">{body}</TABLE>");
        match size {
            TitleBox::Fixed { width, height } => html(format!(
                "<TABLE BORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"0\" FIXEDSIZE=\"TRUE\" WIDTH=\"{}\" HEIGHT=\"{}\"><TR><TD ALIGN=\"LEFT\" VALIGN=\"TOP\">{table}</TD></TR></TABLE>",
                width.ceil().max(1.0) as u32,
                height.ceil().max(1.0) as u32
            )),
            _ => html(table),
        }
    }

    /// The cascade in words, one line per round up to `upto`: "Round 2: FTX.com, FTX US
    /// (counterparty default: Alameda Research)". At most eight rounds and five firms per
    /// round are named.
    fn cascade_lines(&self, r: &SimulationResult, upto: Option<u32>) -> Vec<String> {
        let mut lines = Vec::new();
        let last = upto.unwrap_or(self.last_round).min(self.last_round);
        let mut shown = 0;
        for k in 0..=last {
            let mut firms: Vec<&FirmOutcome> = r
                .firms
                .iter()
                .filter(|f| f.defaulted && f.default_round == Some(k))
                .collect();
            if firms.is_empty() {
                continue;
            }
            if shown == 8 {
                lines.push("…".to_string());
                break;
            }
            shown += 1;
            firms.sort_by(|a, b| b.equity_before.total_cmp(&a.equity_before));
            // Group the firms of the round by their cause, in words.
            let mut groups: Vec<(String, Vec<String>)> = Vec::new();
            for f in firms.iter().take(5) {
                let i = self.net.firm_ix(&f.id);
                let why = i
                    .and_then(|i| self.cause_detail(i as usize, f.cause))
                    .unwrap_or_else(|| f.cause.map(cause_text).unwrap_or("-").to_string());
                let why = if f.halted == Some(true) {
                    format!("halted, {why}")
                } else {
                    why
                };
                let name = i.map_or(f.id.clone(), |_| self.display_name(&f.id));
                match groups.iter_mut().find(|(w, _)| *w == why) {
                    Some((_, v)) => v.push(name),
                    None => groups.push((why, vec![name])),
                }
            }
            let mut text: Vec<String> = groups
                .into_iter()
                .map(|(why, names)| format!("{} ({why})", names.join(", ")))
                .collect();
            if firms.len() > 5 {
                text.push(format!("and {} more", firms.len() - 5));
            }
            lines.push(format!("Round {k}: {}", text.join("; ")));
        }
        lines
    }

    fn summary_sentence(&self, r: &SimulationResult, round: Option<u32>) -> String {
        let cur = self.currency();
        match round {
            None => {
                let rounds = self.last_round;
                let lost = money(r.summary.total_losses, cur);
                match r.summary.defaults {
                    0 => format!("No firm defaults; {lost} lost in total."),
                    1 => format!("1 firm defaults; {lost} lost in total."),
                    d => format!(
                        "{d} firms default in {rounds} round{}; {lost} lost in total.",
                        if rounds == 1 { "" } else { "s" }
                    ),
                }
            }
            Some(k) => {
                let new: Vec<String> = r
                    .firms
                    .iter()
                    .filter(|f| f.defaulted && f.default_round == Some(k))
                    .map(|f| self.display_name(&f.id))
                    .collect();
                let so_far = r
                    .firms
                    .iter()
                    .filter(|f| f.defaulted && f.default_round.is_none_or(|d| d <= k))
                    .count();
                let head = if k == 0 {
                    "Round 0 (the shock)".to_string()
                } else {
                    format!("Round {k} of {}", self.last_round)
                };
                if new.is_empty() {
                    format!("{head}: no new default; {so_far} in default so far.")
                } else {
                    format!(
                        "{head}: {} default{}; {so_far} in default so far.",
                        new.join(", "),
                        if new.len() == 1 { "s" } else { "" }
                    )
                }
            }
        }
    }

    /// A font size of the title block, grown with the drawing (up to half as large again
    /// from about 40 nodes) so that it stays readable when the picture is scaled down.
    fn pt(&self, base: f64) -> String {
        let n = self.items.len() as f64;
        let scale = 1.0 + 0.5 * ((n - 8.0) / 32.0).clamp(0.0, 1.0);
        format!("{:.1}", base * scale)
    }

    fn legend(&self, round: Option<u32>) -> Vec<String> {
        let (p11, p12) = (self.pt(11.0), self.pt(12.0));
        let cell = |s: &str| {
            format!(
                "<TD ALIGN=\"LEFT\"><FONT POINT-SIZE=\"{p11}\">{}</FONT></TD>",
                html_text(s)
            )
        };
        let swatch = |fill: &str, border: &str, dashed: bool| {
            format!(
                "<TD BGCOLOR=\"{fill}\" COLOR=\"{border}\" BORDER=\"1\" CELLPADDING=\"0\" WIDTH=\"30\" HEIGHT=\"14\" FIXEDSIZE=\"TRUE\"{}> </TD>",
                if dashed { " STYLE=\"dashed\"" } else { "" }
            )
        };
        // A line sample: the bottom border of an empty cell (both borders for a double line).
        let sample = |colour: &str, style: &str, double: bool| {
            format!(
                "<TD CELLPADDING=\"0\" SIDES=\"{}\" BORDER=\"{}\" COLOR=\"{colour}\" WIDTH=\"44\" HEIGHT=\"{}\" FIXEDSIZE=\"TRUE\"{}></TD>",
                if double { "TB" } else { "B" },
                if double { 2 } else { 3 },
                if double { 6 } else { 9 },
                if style.is_empty() {
                    String::new()
                } else {
                    format!(" STYLE=\"{style}\"")
                }
            )
        };
        let mut statuses: Vec<(String, String)> = Vec::new();
        if self.result.is_some() {
            let mut seen = [false; 6];
            for item in &self.items {
                if let Item::Firm(i) = *item {
                    match self.status(i, round) {
                        Status::Defaulted {
                            cause: Some(Cause::InitiallyInsolvent),
                            ..
                        } => seen[2] = true,
                        Status::Defaulted { halted: true, .. } => seen[1] = true,
                        Status::Defaulted { .. } => seen[0] = true,
                        Status::Losing => seen[5] = true,
                        Status::Distressed { .. } => seen[3] = true,
                        _ => seen[4] = true,
                    }
                }
            }
            let entries = [
                (
                    swatch(RED, RED_DARK, false),
                    "defaulted (the label gives the round)",
                ),
                (
                    swatch(PURPLE, "#3f007d", false),
                    "halted: could not pay on time",
                ),
                (
                    swatch(GREY_DEFAULT, "#252525", true),
                    "insolvent before the shock",
                ),
                (
                    swatch(
                        &format!("{}:{}", distress_fill(0.03), distress_fill(0.9)),
                        "#a63603",
                        false,
                    ),
                    "survived with losses (darker: more of its equity lost)",
                ),
                (swatch("#ffffff", "#bdbdbd", false), "untouched"),
                (
                    swatch(&distress_fill(0.5), "#a63603", false),
                    "losing equity (amounts in the last round)",
                ),
            ];
            for (k, (sw, words)) in entries.into_iter().enumerate() {
                if seen[k] {
                    statuses.push((sw, cell(words)));
                }
            }
        }
        let mut kinds_seen = [false; 3];
        let mut secured_seen = false;
        let mut holding_seen = false;
        for e in &self.edges {
            match e.kind {
                EdgeKind::Exposure(k, s) => {
                    kinds_seen[match k {
                        ExposureKind::Deposit => 1,
                        ExposureKind::Equity => 2,
                        _ => 0,
                    }] = true;
                    secured_seen |= s.is_some();
                }
                EdgeKind::Holding(_) => holding_seen = true,
            }
        }
        let mut lines: Vec<(String, String)> = Vec::new();
        lines.push((
            format!("<TD><FONT POINT-SIZE=\"{p12}\" COLOR=\"{INK}\"><B>A → B</B></FONT></TD>"),
            cell("A owes B: losses travel from A to B; wider arrows, larger amounts (log scale)"),
        ));
        if kinds_seen[0] {
            lines.push((
                sample(EDGE_GREY, "", false),
                cell("loan, bond, credit line or derivative"),
            ));
        }
        if kinds_seen[1] {
            lines.push((
                sample(EDGE_GREY, "dashed", false),
                cell("deposit held for the creditor"),
            ));
        }
        if kinds_seen[2] {
            lines.push((
                sample(EDGE_GREY, "dotted", false),
                cell("equity stake (junior to all debt)"),
            ));
        }
        if secured_seen {
            lines.push((sample(EDGE_GREY, "", true), cell("secured by collateral")));
        }
        if holding_seen {
            lines.push((
                sample(ASSET_BLUE, "", false),
                cell("holds an asset (tag: its price before → after the shock)"),
            ));
        }
        if self.result.is_some() {
            lines.push((
                sample(RED, "", false),
                cell("carried losses: the debtor defaulted, or the asset fell"),
            ));
            if kinds_seen[2] {
                lines.push((
                    sample(ORANGE, "dotted", false),
                    cell("stake in a firm that lost equity"),
                ));
            }
        }
        let mut kinds: Vec<FirmKind> = self
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Firm(f) => Some(self.net.firms()[*f].kind),
                _ => None,
            })
            .collect();
        kinds.sort();
        kinds.dedup();
        let shapes: Vec<String> = kinds
            .iter()
            .map(|&k| format!("{} {}", shape_name(k), kind_words(k)))
            .collect();
        let rows = statuses.len().max(lines.len());
        let mut body = String::new();
        for r in 0..rows {
            body.push_str("<TR>");
            match statuses.get(r) {
                Some((a, b)) => {
                    body.push_str(a);
                    body.push_str(b);
                }
                None if !statuses.is_empty() => body.push_str("<TD></TD><TD></TD>"),
                None => {}
            }
            match lines.get(r) {
                Some((a, b)) => {
                    body.push_str(a);
                    body.push_str(b);
                }
                None => body.push_str("<TD></TD><TD></TD>"),
            }
            body.push_str("</TR>");
        }
        vec![
            format!(
                "<TABLE BORDER=\"1\" COLOR=\"#d9d9d9\" CELLBORDER=\"0\" CELLSPACING=\"5\" CELLPADDING=\"1\" BGCOLOR=\"#fcfcfc\">{body}</TABLE>"
            ),
            format!(
                "<FONT POINT-SIZE=\"{p11}\" COLOR=\"{MUTED}\">{}</FONT>",
                html_text(&wrap(
                    &format!(
                        "Shapes: {}. Larger shapes, larger balance sheets (total assets).",
                        shapes.join(" · ")
                    ),
                    100
                ))
                .replace("<BR/>", "<BR ALIGN=\"LEFT\"/>")
            ),
        ]
    }
}

/// True when a firm lost equity, beyond rounding: more than a billionth of its equity (or of
/// one currency unit).
pub fn lost_equity(o: &FirmOutcome) -> bool {
    o.loss > 1e-9 * o.equity_before.abs().max(1.0) || o.distress > 1e-9
}

/// A name, short: the part in parentheses when the name ends with a one-word one (a brand:
/// "FTX Trading Ltd (FTX.com)" → "FTX.com"), the part before it when it is longer ("Celsius
/// Network (in Chapter 11)" → "Celsius Network"), else the name.
pub fn short_name(name: &str) -> String {
    if let Some(open) = name.rfind(" (")
        && name.ends_with(')')
    {
        let inner = &name[open + 2..name.len() - 1];
        if inner.chars().count() <= 16 && !inner.contains(' ') && !inner.is_empty() {
            return inner.to_string();
        }
        return name[..open].to_string();
    }
    name.to_string()
}

fn shape_name(k: FirmKind) -> &'static str {
    match shape(k) {
        ("hexagon", _) => "hexagon:",
        ("house", _) => "house:",
        ("parallelogram", _) => "parallelogram:",
        ("box", "rounded") => "rounded box:",
        ("ellipse", _) => "ellipse:",
        ("octagon", _) => "octagon:",
        ("cylinder", _) => "cylinder:",
        ("box3d", _) => "stacked box:",
        ("pentagon", _) => "pentagon:",
        ("tab", _) => "tab:",
        ("component", _) => "component:",
        _ => "box:",
    }
}

fn percent(x: f64) -> String {
    let p = x * 100.0;
    if p > 0.0 && p < 1.0 {
        "<1%".into()
    } else {
        format!("{:.0}%", p)
    }
}

/// (ln min, ln max) over the positive values.
fn log_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values {
        if v > 0.0 && v.is_finite() {
            lo = lo.min(v.ln());
            hi = hi.max(v.ln());
        }
    }
    if lo.is_finite() { (lo, hi) } else { (0.0, 0.0) }
}

/// Position of `v` in the log range, in [0, 1] (0.5 when the range is one value).
fn scaled(v: f64, range: &(f64, f64)) -> f64 {
    if !(v > 0.0 && v.is_finite()) {
        return 0.0;
    }
    let (lo, hi) = *range;
    if hi - lo < 1e-9 {
        0.5
    } else {
        ((v.ln() - lo) / (hi - lo)).clamp(0.0, 1.0)
    }
}

fn is_acyclic(n: usize, edges: &[PlanEdge]) -> bool {
    let mut indeg = vec![0usize; n];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for e in edges {
        out[e.from].push(e.to);
        indeg[e.to] += 1;
    }
    let mut stack: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
    let mut seen = 0;
    while let Some(v) = stack.pop() {
        seen += 1;
        for &w in &out[v] {
            indeg[w] -= 1;
            if indeg[w] == 0 {
                stack.push(w);
            }
        }
    }
    seen == n
}

fn final_price(r: &SimulationResult, id: &str) -> Option<f64> {
    r.summary.final_prices.get(id).and_then(|v| v.as_f64())
}

/// Price of asset `id` after `round` (`None`: final).
fn price_at(r: &SimulationResult, id: &str, round: Option<u32>) -> Option<f64> {
    match round {
        None => final_price(r, id),
        Some(k) => {
            if r.price_path.is_empty() {
                return final_price(r, id);
            }
            r.price_path
                .iter()
                .rev()
                .find(|p| p.round <= k)
                .and_then(|p| p.prices.get(id))
                .and_then(|v| v.as_f64())
        }
    }
}

/// The shocks of the scenario applied to each firm, in words.
fn shock_words(net: &Network, result: Option<&SimulationResult>) -> Vec<Option<String>> {
    let mut out: Vec<Option<String>> = vec![None; net.n_firms()];
    let Some(r) = result else { return out };
    let cur = &net.meta().currency;
    for s in &r.scenario.shocks {
        let (firm, words) = match s {
            Shock::Default { firm } => (firm, "fails outright".to_string()),
            Shock::AssetLoss { firm, loss } => (
                firm,
                match loss {
                    Loss::Amount(a) => format!("loses {} of assets", money(*a, cur)),
                    Loss::Fraction(f) => format!("loses {} of its assets", percent(*f)),
                },
            ),
            Shock::Withdrawal { firm, fraction } => (
                firm,
                format!("run, {} of deposits withdrawn", percent(*fraction)),
            ),
            Shock::EquityShock { firm, fraction } => {
                (firm, format!("loses {} of equity", percent(*fraction)))
            }
            Shock::Price { .. } => continue,
        };
        if firm == "*" {
            for o in out.iter_mut() {
                *o = Some(words.clone());
            }
        } else if let Some(i) = net.firm_ix(firm) {
            let slot = &mut out[i as usize];
            *slot = Some(match slot.take() {
                Some(prev) => format!("{prev}; {words}"),
                None => words,
            });
        }
    }
    out
}

/// The scenario's shocks in one sentence: "FTT −88%, SOL −58%; run on FTX.com (38% of deposits)".
fn shocks_sentence(net: &Network, r: &SimulationResult) -> String {
    let mut parts: Vec<String> = Vec::new();
    let cur = &net.meta().currency;
    let name = |id: &str| {
        net.firm_ix(id)
            .map(|i| short_name(&net.firms()[i as usize].name))
            .unwrap_or_else(|| id.to_string())
    };
    for s in &r.scenario.shocks {
        parts.push(match s {
            Shock::Price { asset, change } => format!("{asset} {}", change_percent(*change)),
            Shock::Default { firm } => format!("{} fails", name(firm)),
            Shock::AssetLoss { firm, loss } => match loss {
                Loss::Amount(a) => format!("{} loses {}", name(firm), money(*a, cur)),
                Loss::Fraction(f) => format!("{} loses {} of its assets", name(firm), percent(*f)),
            },
            Shock::Withdrawal { firm, fraction } => {
                format!(
                    "run on {}: {} of deposits withdrawn",
                    name(firm),
                    percent(*fraction)
                )
            }
            Shock::EquityShock { firm, fraction } => {
                format!("{firm} loses {} of equity", percent(*fraction))
            }
        });
    }
    if parts.len() > 8 {
        let more = parts.len() - 8;
        parts.truncate(8);
        parts.push(format!("and {more} more"));
    }
    parts.join(", ")
}

/// Round from which each firm's losses show: 0 when shocked directly or holding an asset
/// whose price moved; else the earliest default round among its debtors; else the last round.
fn hit_rounds(
    net: &Network,
    result: Option<&SimulationResult>,
    outcome: &[Option<&FirmOutcome>],
    shock_words: &[Option<String>],
    last_round: u32,
) -> Vec<Option<u32>> {
    let n = net.n_firms();
    let Some(r) = result else {
        return vec![None; n];
    };
    let mut hit: Vec<Option<u32>> = (0..n).map(|i| shock_words[i].as_ref().map(|_| 0)).collect();
    let moved: Vec<bool> = net
        .assets()
        .iter()
        .map(|a| final_price(r, &a.id).is_some_and(|p| (p - a.price).abs() > 1e-12 * a.price))
        .collect();
    for h in net.holdings() {
        if moved[h.asset as usize] && h.units > 0.0 {
            hit[h.firm as usize] = Some(0);
        }
    }
    for c in net.collateral() {
        if moved[c.asset as usize] {
            let e = net.exposures()[c.exposure as usize];
            hit[e.debtor as usize] = Some(0);
            hit[e.creditor as usize] = Some(0);
        }
    }
    for e in net.exposures() {
        if let Some(o) = outcome[e.debtor as usize]
            && o.defaulted
        {
            let r = o.default_round.unwrap_or(0);
            let slot = &mut hit[e.creditor as usize];
            *slot = Some(slot.map_or(r, |x| x.min(r)));
        }
    }
    for i in 0..n {
        if hit[i].is_none() && outcome[i].is_some_and(lost_equity) {
            hit[i] = Some(last_round);
        }
    }
    hit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_what_dot_needs() {
        assert_eq!(
            quoted("a\"b\\c\nd\te\u{7}"),
            Id::Escaped("\"a\\\"b\\\\c\\nd e\"".into())
        );
        assert_eq!(
            html_text("<b> & \"x\"\nZürich"),
            "&lt;b&gt; &amp; &quot;x&quot;<BR/>Zürich"
        );
    }

    #[test]
    fn short_names() {
        assert_eq!(short_name("FTX Trading Ltd (FTX.com)"), "FTX.com");
        assert_eq!(
            short_name("Celsius Network (in Chapter 11)"),
            "Celsius Network"
        );
        assert_eq!(short_name("Binance"), "Binance");
        assert_eq!(short_name("Odd ()"), "Odd");
    }

    #[test]
    fn names_wrap_at_spaces() {
        assert_eq!(
            wrap("FTX Trading Ltd (FTX.com)", 24),
            "FTX Trading Ltd\n(FTX.com)"
        );
        assert_eq!(wrap("short", 24), "short");
        assert_eq!(wrap("a\nb", 24), "a\nb");
    }

    #[test]
    fn log_scale_is_bounded() {
        let r = log_range([1.0, 10.0, 100.0].into_iter());
        assert!((scaled(10.0, &r) - 0.5).abs() < 1e-12);
        assert_eq!(scaled(0.0, &r), 0.0);
        assert_eq!(scaled(1e9, &r), 1.0);
    }
}
