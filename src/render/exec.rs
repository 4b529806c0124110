//! Running Graphviz (through `graphviz_rust`'s `exec`): diagrams to SVG/PNG, and frames that
//! share one layout.
//!
//! Frames: the final diagram is laid out once (`-Tdot` gives every node its `pos`, `width` and
//! `height`, every arrow its route); each frame is then drawn with those positions fixed
//! (`neato -n2`), its title block held at the size of the widest one, so that a node stands
//! at the same place in every frame and only colours and labels change.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use graphviz_rust::cmd::{CommandArg, Format, Layout};
use graphviz_rust::dot_structures::{Attribute, Graph, GraphAttributes, Id, Stmt};

use super::dot::{Diagram, Plan, TitleBox};
use super::{Engine, ImageFormat, RenderError};

/// Renders DOT text to `format` with `engine`. [`ImageFormat::Dot`] returns the text itself
/// and needs no Graphviz.
pub fn render(dot: &str, engine: Engine, format: ImageFormat) -> Result<Vec<u8>, RenderError> {
    match format {
        ImageFormat::Dot => Ok(dot.as_bytes().to_vec()),
        ImageFormat::Svg => run(dot, vec![Format::Svg.into(), layout(engine).into()]),
        ImageFormat::Png => run(dot, vec![Format::Png.into(), layout(engine).into()]),
    }
}

/// Writes `diagram` to `path` in the format its extension names (`.dot`, `.svg`, `.png`;
/// anything else is written as DOT). When Graphviz is missing or fails, the DOT text is
/// written to `dot_fallback` (when given) and the error says where.
pub fn write_image(
    diagram: &Diagram,
    path: &Path,
    dot_fallback: Option<&Path>,
) -> Result<(), RenderError> {
    let format = ImageFormat::from_path(path).unwrap_or(ImageFormat::Dot);
    let text = diagram.to_dot();
    match render(&text, diagram.engine, format) {
        Ok(bytes) => Ok(crate::io::write_atomic(path, &bytes)?),
        Err(e @ (RenderError::DotNotFound { .. } | RenderError::DotFailed { .. })) => {
            match dot_fallback {
                Some(p) => {
                    crate::io::write_atomic(p, text.as_bytes())?;
                    Err(e.with_dot_written(p))
                }
                None => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// Where the DOT text goes when an image cannot be made: beside it, same stem, `.dot`.
pub fn dot_beside(path: &Path) -> std::path::PathBuf {
    path.with_extension("dot")
}

/// True when an executable named `dot` is on `PATH`.
pub fn dot_available() -> bool {
    let Some(paths) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&paths).any(|dir| {
        let p = dir.join(if cfg!(windows) { "dot.exe" } else { "dot" });
        p.is_file()
    })
}

fn layout(engine: Engine) -> Layout {
    match engine {
        Engine::Dot => Layout::Dot,
        Engine::Neato => Layout::Neato,
        Engine::Sfdp => Layout::Sfdp,
    }
}

fn run(dot: &str, args: Vec<CommandArg>) -> Result<Vec<u8>, RenderError> {
    graphviz_rust::exec_dot(dot.to_string(), args).map_err(map_error)
}

/// A missing program shows as `NotFound`; so would a missing temporary directory, hence the
/// check that `dot` really is absent before saying so.
fn map_error(e: io::Error) -> RenderError {
    if e.kind() == io::ErrorKind::NotFound && !dot_available() {
        RenderError::DotNotFound { dot_written: None }
    } else {
        let message = e.to_string();
        let message = message.trim();
        RenderError::DotFailed {
            message: if message.is_empty() {
                format!("{:?}", e.kind())
            } else {
                message.to_string()
            },
            dot_written: None,
        }
    }
}

/// One frame of a cascade: the state after `round`.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Round shown (0: the shocks).
    pub round: u32,
    /// DOT text with every position fixed (render with `neato -n2`).
    pub dot: String,
    /// The rendered picture, in the requested format.
    pub bytes: Vec<u8>,
}

/// Positions of the final diagram, reused by every frame.
#[derive(Debug, Clone, Default)]
pub struct FixedLayout {
    nodes: HashMap<String, Vec<Attribute>>,
    edges: HashMap<String, Vec<Attribute>>,
    clusters: HashMap<String, Vec<Attribute>>,
    title: Option<(f64, f64)>,
}

impl FixedLayout {
    /// Lays out the final diagram of `plan` once with its engine.
    pub fn compute(plan: &Plan) -> Result<Self, RenderError> {
        let d = plan.diagram_with(None, TitleBox::Widest);
        let out = run(
            &d.to_dot(),
            vec![Format::Dot.into(), layout(d.engine).into()],
        )?;
        let text = String::from_utf8_lossy(&out);
        let g = graphviz_rust::parse(&text)
            .map_err(|e| RenderError::BadLayout(format!("could not read the layout back: {e}")))?;
        let mut fixed = FixedLayout::default();
        let stmts = match &g {
            Graph::DiGraph { stmts, .. } | Graph::Graph { stmts, .. } => stmts,
        };
        fixed.collect(stmts, None);
        if fixed.nodes.is_empty() && !plan_is_empty(&d) {
            return Err(RenderError::BadLayout(
                "the layout has no node positions".into(),
            ));
        }
        Ok(fixed)
    }

    fn collect(&mut self, stmts: &[Stmt], cluster: Option<&str>) {
        for s in stmts {
            match s {
                Stmt::Node(n) => {
                    let keep = pick(&n.attributes, &["pos", "width", "height"]);
                    self.nodes.insert(text(&n.id.0), keep);
                }
                Stmt::Edge(e) => {
                    if let Some(id) = e.attributes.iter().find(|a| text(&a.0) == "id") {
                        let keep = pick(&e.attributes, &["pos", "lp"]);
                        self.edges.insert(text(&id.1), keep);
                    }
                }
                Stmt::Subgraph(sg) => self.collect(&sg.stmts, Some(&text(&sg.id))),
                Stmt::GAttribute(GraphAttributes::Graph(attrs)) => match cluster {
                    Some(c) => {
                        let keep = pick(attrs, &["bb", "lp", "lwidth", "lheight"]);
                        if !keep.is_empty() {
                            self.clusters.entry(c.to_string()).or_default().extend(keep);
                        }
                    }
                    None => {
                        let w = attrs.iter().find(|a| text(&a.0) == "lwidth");
                        let h = attrs.iter().find(|a| text(&a.0) == "lheight");
                        if let (Some(w), Some(h)) = (w, h)
                            && let (Ok(w), Ok(h)) =
                                (text(&w.1).parse::<f64>(), text(&h.1).parse::<f64>())
                        {
                            self.title = Some((w * 72.0, h * 72.0));
                        }
                    }
                },
                _ => {}
            }
        }
    }

    /// The diagram of the state after `round`, every position fixed.
    pub fn frame(&self, plan: &Plan, round: u32) -> Diagram {
        let title = match self.title {
            // Slightly smaller than measured: Graphviz adds the table's own margins back.
            Some((w, h)) => TitleBox::Fixed {
                width: (w - 4.0).max(1.0),
                height: (h - 4.0).max(1.0),
            },
            None => TitleBox::Widest,
        };
        let mut d = plan.diagram_with(Some(round), title);
        let stmts = match &mut d.graph {
            Graph::DiGraph { stmts, .. } | Graph::Graph { stmts, .. } => stmts,
        };
        self.apply(stmts);
        d.engine = Engine::Neato;
        d
    }

    fn apply(&self, stmts: &mut [Stmt]) {
        for s in stmts.iter_mut() {
            match s {
                Stmt::Node(n) => {
                    if let Some(pos) = self.nodes.get(&text(&n.id.0)) {
                        n.attributes
                            .retain(|a| !matches!(text(&a.0).as_str(), "width" | "height"));
                        n.attributes.extend(pos.iter().cloned());
                        n.attributes.push(Attribute(
                            Id::Plain("fixedsize".into()),
                            Id::Plain("shape".into()),
                        ));
                    }
                }
                Stmt::Edge(e) => {
                    let id = e
                        .attributes
                        .iter()
                        .find(|a| text(&a.0) == "id")
                        .map(|a| text(&a.1));
                    if let Some(pos) = id.and_then(|id| self.edges.get(&id)) {
                        e.attributes.extend(pos.iter().cloned());
                    }
                }
                Stmt::Subgraph(sg) => {
                    if let Some(bb) = self.clusters.get(&text(&sg.id)).filter(|bb| !bb.is_empty()) {
                        sg.stmts
                            .push(Stmt::GAttribute(GraphAttributes::Graph(bb.clone())));
                    }
                    self.apply(&mut sg.stmts);
                }
                _ => {}
            }
        }
    }
}

fn plan_is_empty(d: &Diagram) -> bool {
    d.nodes == 0 && d.edges == 0
}

fn pick(attrs: &[Attribute], keys: &[&str]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|a| keys.contains(&text(&a.0).as_str()))
        .cloned()
        .collect()
}

/// The text of an identifier, without the quotes of a quoted one.
fn text(id: &Id) -> String {
    match id {
        Id::Escaped(s) => {
            let inner = s
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(s);
            inner.replace("\\\n", "").replace("\\\"", "\"")
        }
        Id::Html(s) | Id::Plain(s) | Id::Anonymous(s) => s.clone(),
    }
}

/// Every frame of `plan` (round 0, the shocks, through the last round) in `format`, all
/// drawn on one layout. Needs Graphviz even for [`ImageFormat::Dot`] (to compute positions).
pub fn frames(plan: &Plan, format: ImageFormat) -> Result<Vec<Frame>, RenderError> {
    let fixed = FixedLayout::compute(plan)?;
    let mut out = Vec::new();
    for round in plan.frame_rounds() {
        let d = fixed.frame(plan, round);
        let dot = d.to_dot();
        let bytes = match format {
            ImageFormat::Dot => dot.as_bytes().to_vec(),
            f => run(
                &dot,
                vec![
                    match f {
                        ImageFormat::Png => Format::Png,
                        _ => Format::Svg,
                    }
                    .into(),
                    Layout::Neato.into(),
                    CommandArg::Custom("-n2".into()),
                ],
            )?,
        };
        out.push(Frame { round, dot, bytes });
    }
    Ok(out)
}

/// File name of frame `round`: `round-00.svg`, `round-01.svg`, … (sorted by name = by round).
pub fn frame_file_name(round: u32, format: ImageFormat) -> String {
    format!("round-{round:02}.{}", format.extension())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_lose_their_quotes() {
        assert_eq!(text(&Id::Escaped("\"1,2 3,\\\n4\"".into())), "1,2 3,4");
        assert_eq!(text(&Id::Plain("e3".into())), "e3");
    }

    #[test]
    fn frame_names_sort_by_round() {
        assert_eq!(frame_file_name(3, ImageFormat::Svg), "round-03.svg");
        assert!(frame_file_name(9, ImageFormat::Png) < frame_file_name(10, ImageFormat::Png));
    }
}
