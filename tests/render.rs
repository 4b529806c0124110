//! Diagrams, frames, charts and the HTML report. Tests that need Graphviz's `dot` or
//! Chromium skip with a note when the program is not installed (CI installs both).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use contagion::prelude::*;
use contagion::render::{RenderOptions, dot::diagram};
use graphviz_rust::dot_structures::{Attribute, Graph, Id, Stmt};

use crate::util::{cli, graph};

const FTX_SCENARIO: &str = "graphs/ftx-2022/scenarios/nov-2022.json";

/// True when `program` is an executable on `PATH`; prints why a test is skipped otherwise.
fn have(program: &str, test: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    if !found {
        eprintln!("note: {test} skipped: `{program}` is not installed");
    }
    found
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn stmts(g: &Graph) -> &[Stmt] {
    match g {
        Graph::DiGraph { stmts, .. } | Graph::Graph { stmts, .. } => stmts,
    }
}

/// The text of an identifier, quotes removed and `\"` `\\` `\n` decoded as Graphviz reads them.
fn unquote(id: &Id) -> String {
    match id {
        Id::Escaped(s) => {
            let inner = &s[1..s.len() - 1];
            let mut out = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    match chars.next() {
                        Some('n') => out.push('\n'),
                        Some('\n') => {}
                        Some(x) => out.push(x),
                        None => {}
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
        Id::Html(s) | Id::Plain(s) | Id::Anonymous(s) => s.clone(),
    }
}

/// The text of an HTML-like label: tags dropped, `<BR/>` as newlines, entities decoded.
fn html_label_text(id: &Id) -> String {
    let Id::Html(s) = id else {
        panic!("expected an HTML-like label, found {id:?}")
    };
    let mut out = String::new();
    let mut rest = &s[1..s.len() - 1];
    while let Some(k) = rest.find('<') {
        out.push_str(&rest[..k]);
        let end = rest[k..].find('>').expect("closed tag") + k;
        let tag = &rest[k + 1..end];
        if tag.to_ascii_uppercase().starts_with("BR") {
            out.push('\n');
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

fn attr<'a>(attrs: &'a [Attribute], key: &str) -> Option<&'a Id> {
    attrs.iter().find(|a| unquote(&a.0) == key).map(|a| &a.1)
}

/// Node name → attributes, over the whole graph (subgraphs included).
fn nodes(g: &Graph) -> BTreeMap<String, Vec<Attribute>> {
    fn walk(stmts: &[Stmt], out: &mut BTreeMap<String, Vec<Attribute>>) {
        for s in stmts {
            match s {
                Stmt::Node(n) if !n.attributes.is_empty() => {
                    out.insert(unquote(&n.id.0), n.attributes.clone());
                }
                Stmt::Subgraph(sg) => walk(&sg.stmts, out),
                _ => {}
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(stmts(g), &mut out);
    out
}

fn edge_count(g: &Graph) -> usize {
    stmts(g)
        .iter()
        .filter(|s| matches!(s, Stmt::Edge(_)))
        .count()
}

fn ftx_result() -> (Network, SimulationResult) {
    let net = contagion::io::load(&graph("ftx-2022")).expect("FTX network loads");
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(FTX_SCENARIO)).expect("scenario");
    let sc = contagion::scenario::parse_scenario("nov-2022.json", &bytes).expect("scenario parses");
    let settings = Settings::default()
        .merge_json(sc.settings.as_ref().expect("settings"), "nov-2022.json")
        .expect("settings");
    let r = contagion::run::run(&net, &sc, &settings).expect("runs");
    (net, r)
}

fn firm(id: &str, name: &str, cash: f64, external: f64) -> Firm {
    Firm {
        name: name.to_string(),
        ..crate::util::firm(id, cash, external)
    }
}

// ---------------------------------------------------------------------------------------
// DOT

#[test]
fn dot_of_every_shipped_network_parses_back() {
    for name in ["textbook-3", "ring-4", "ftx-2022"] {
        let net = contagion::io::load(&graph(name)).unwrap();
        let d = diagram(&net, None, &RenderOptions::default());
        let text = d.to_dot();
        let g = graphviz_rust::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
        assert!(
            matches!(g, Graph::DiGraph { .. }),
            "{name}: a directed graph"
        );
        let firms = nodes(&g).keys().filter(|k| k.starts_with('f')).count();
        assert_eq!(firms, net.n_firms(), "{name}: one node per firm");
        assert_eq!(d.nodes, net.n_firms(), "{name}");
    }
}

#[test]
fn dot_of_the_ftx_cascade_tells_the_story() {
    let (net, r) = ftx_result();
    let d = diagram(&net, Some(&r), &RenderOptions::default());
    let g = graphviz_rust::parse(&d.to_dot()).expect("parses");
    let nodes = nodes(&g);
    for f in r.firms.iter().filter(|f| f.defaulted) {
        let i = net.firm_ix(&f.id).unwrap();
        let attrs = &nodes[&format!("f{i}")];
        let label = html_label_text(attr(attrs, "label").unwrap());
        let round = f.default_round.unwrap();
        assert!(
            label.contains(&format!("round {round}")),
            "{}: {label}",
            f.id
        );
        let tooltip = unquote(attr(attrs, "tooltip").unwrap());
        assert!(
            tooltip.contains(&format!("in round {round}")),
            "{}: {tooltip}",
            f.id
        );
    }
    // Amounts for people, and the FTT price path on its tag.
    let text = d.to_dot();
    assert!(text.contains("$9.3B loan"), "the Alameda loan is labelled");
    let ftt = net.asset_ix("FTT").unwrap();
    let label = html_label_text(attr(&nodes[&format!("a{ftt}")], "label").unwrap());
    assert!(label.contains("$25.00 →"), "{label}");
    // Arrows that carried losses are red: the one from Alameda to FTX.com at least.
    let (a, f) = (
        net.firm_ix("alameda").unwrap(),
        net.firm_ix("ftx_trading").unwrap(),
    );
    let red = stmts(&g).iter().any(|s| match s {
        Stmt::Edge(e) => {
            let ends = format!("{:?}", e.ty);
            ends.contains(&format!("\"f{a}\""))
                && ends.contains(&format!("\"f{f}\""))
                && attr(&e.attributes, "color").is_some_and(|c| unquote(c) == "#cb181d")
        }
        _ => false,
    });
    assert!(red, "Alameda → FTX.com is red");
}

#[test]
fn names_with_quotes_backslashes_angle_brackets_unicode_and_newlines_survive() {
    let names = [
        "Quote \"Q\" Bank",
        "Back\\slash \\N Ltd",
        "<Angle> & Co",
        "Zürich Ünïcödé 銀行",
        "Line one\nLine two",
        "]} {[ ;, -> --",
    ];
    let firms: Vec<Firm> = names
        .iter()
        .enumerate()
        .map(|(k, n)| firm(&format!("x{k}"), n, 10.0, 1.0))
        .collect();
    let exposures = (0..names.len() as u32 - 1)
        .map(|k| Exposure {
            creditor: k + 1,
            debtor: k,
            kind: ExposureKind::Loan,
            amount: 5.0,
        })
        .collect();
    let net = Network::from_parts(Parts {
        firms,
        exposures,
        ..Default::default()
    })
    .unwrap();
    let marks = Marks::apply(&net, &[Shock::Default { firm: "x0".into() }]).unwrap();
    let settings = Settings::default();
    let c = clear(&net, &marks, &settings);
    let sc = Scenario {
        name: Some("a \"quoted\" <scenario> \\ name".into()),
        ..Default::default()
    };
    let r = SimulationResult::from_clearing(&net, &sc, &settings, &marks, &c);
    let d = diagram(&net, Some(&r), &RenderOptions::default());
    let text = d.to_dot();
    let g = graphviz_rust::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let nodes = nodes(&g);
    for (k, name) in names.iter().enumerate() {
        let attrs = &nodes[&format!("f{k}")];
        let label = html_label_text(attr(attrs, "label").unwrap());
        assert!(label.starts_with(name), "label of {name:?}: {label:?}");
        let tooltip = unquote(attr(attrs, "tooltip").unwrap());
        assert!(
            tooltip.starts_with(name),
            "tooltip of {name:?}: {tooltip:?}"
        );
    }
    if have("dot", "escaping rendered by dot") {
        let svg =
            contagion::render::exec::render(&text, d.engine, contagion::render::ImageFormat::Svg)
                .unwrap();
        let svg = String::from_utf8(svg).unwrap();
        for piece in [
            "Quote &quot;Q&quot; Bank",
            "Back\\slash \\N Ltd",
            "&lt;Angle&gt; &amp; Co",
            "Zürich Ünïcödé 銀行",
            "Line one",
            "Line two",
            "]} {[ ;, &#45;&gt; &#45;&#45;",
        ] {
            assert!(svg.contains(piece), "the SVG shows {piece:?}");
        }
    }
}

#[test]
fn top_and_touched_draw_less() {
    let (net, r) = ftx_result();
    let all = diagram(&net, Some(&r), &RenderOptions::default());
    let top = diagram(
        &net,
        Some(&r),
        &RenderOptions {
            top: Some(5),
            assets: false,
            ..Default::default()
        },
    );
    assert_eq!(top.edges, 5, "five arrows");
    assert!(top.nodes < all.nodes);
    let touched = diagram(
        &net,
        Some(&r),
        &RenderOptions {
            touched_only: true,
            ..Default::default()
        },
    );
    let g = graphviz_rust::parse(&touched.to_dot()).unwrap();
    let drawn = nodes(&g);
    for f in &r.firms {
        let i = net.firm_ix(&f.id).unwrap();
        let hit = f.defaulted || f.loss > 0.0 || f.distress > 0.0;
        if hit {
            assert!(
                drawn.contains_key(&format!("f{i}")),
                "{} was touched and is drawn",
                f.id
            );
        }
    }
    assert!(touched.nodes < all.nodes, "untouched firms are left out");
    assert!(edge_count(&g) <= edge_count(&graphviz_rust::parse(&all.to_dot()).unwrap()));
}

#[test]
fn a_saved_result_draws_the_same_diagram() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("result.json");
    let from_result = dir.path().join("a.dot");
    let direct = dir.path().join("b.dot");
    cli()
        .args([
            "simulate",
            "graphs/ftx-2022",
            "--scenario",
            FTX_SCENARIO,
            "--format",
            "json",
            "-o",
            path_str(&json),
        ])
        .assert()
        .success();
    cli()
        .args([
            "render",
            "graphs/ftx-2022",
            "--result",
            path_str(&json),
            "-o",
            path_str(&from_result),
        ])
        .assert()
        .success();
    cli()
        .args([
            "render",
            "graphs/ftx-2022",
            "--scenario",
            FTX_SCENARIO,
            "-o",
            path_str(&direct),
        ])
        .assert()
        .success();
    let a = std::fs::read_to_string(&from_result).unwrap();
    let b = std::fs::read_to_string(&direct).unwrap();
    assert_eq!(
        a, b,
        "reading the result back loses nothing the diagram shows"
    );
}

#[test]
fn render_rejects_unknown_extensions_and_empty_requests() {
    let out = cli()
        .args(["render", "graphs/ring-4", "-o", "x.pdf"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains(".dot, .svg or .png"), "{err}");
    cli().args(["render", "graphs/ring-4"]).assert().code(2);
    let out = cli()
        .args(["render", "graphs/ring-4", "--frames", "somewhere"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("--frames needs a cascade"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let out = cli()
        .args([
            "simulate",
            "graphs/ring-4",
            "--svg",
            path_str(&dir.path().join("x.png")),
        ])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("--svg: expected a file name ending in .svg"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// Graphviz missing

#[test]
fn without_graphviz_the_dot_file_is_written_and_the_exit_code_is_1() {
    let empty = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("cascade.svg");
    let out = cli()
        .env("PATH", empty.path())
        .args([
            "simulate",
            "graphs/ring-4",
            "--default",
            "D",
            "--svg",
            path_str(&svg),
        ])
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("Graphviz `dot` not found on PATH"), "{err}");
    assert!(
        err.contains("apt-get install graphviz") && err.contains("brew install graphviz"),
        "{err}"
    );
    let dot = dir.path().join("cascade.dot");
    assert!(err.contains(path_str(&dot)), "names the DOT file: {err}");
    assert!(!svg.exists(), "no SVG pretends to exist");
    let text = std::fs::read_to_string(&dot).expect("the DOT file is written");
    graphviz_rust::parse(&text).expect("and it parses");
    // The table still went to standard output.
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("Round"));

    // The same for render and for frames.
    let png = dir.path().join("net.png");
    let frames = dir.path().join("frames");
    let out = cli()
        .env("PATH", empty.path())
        .args([
            "render",
            "graphs/ftx-2022",
            "--scenario",
            FTX_SCENARIO,
            "-o",
            path_str(&png),
            "--frames",
            path_str(&frames),
        ])
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("install it"), "{err}");
    assert!(dir.path().join("net.dot").is_file());
    assert!(
        frames.join("round-00.dot").is_file(),
        "frames fall back to DOT"
    );
}

// ---------------------------------------------------------------------------------------
// Rendering with Graphviz

fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<[u8; 4]>) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    let pixels = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|c| match channels {
            1 => [c[0], c[0], c[0], 255],
            2 => [c[0], c[0], c[0], c[1]],
            3 => [c[0], c[1], c[2], 255],
            _ => [c[0], c[1], c[2], c[3]],
        })
        .collect();
    (info.width, info.height, pixels)
}

/// Asserts that an image shows something: many colours and a fair share of non-background
/// pixels.
#[track_caller]
fn assert_not_blank(what: &str, bytes: &[u8]) {
    let (w, h, px) = decode_png(bytes);
    assert!(w >= 200 && h >= 200, "{what}: {w}×{h}");
    let background = px[0];
    let mut colours = std::collections::HashSet::new();
    let mut ink = 0usize;
    for p in &px {
        colours.insert(*p);
        let d: i32 = (0..3)
            .map(|k| (p[k] as i32 - background[k] as i32).abs())
            .sum();
        if d > 60 {
            ink += 1;
        }
    }
    let share = ink as f64 / px.len() as f64;
    assert!(
        colours.len() >= 32,
        "{what}: only {} colours",
        colours.len()
    );
    assert!(
        share > 0.01,
        "{what}: only {:.3}% of pixels differ from the background",
        share * 100.0
    );
}

#[test]
fn ftx_renders_to_svg_and_png_with_graphviz() {
    if !have("dot", "ftx_renders_to_svg_and_png_with_graphviz") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("ftx.svg");
    let png = dir.path().join("ftx.png");
    cli()
        .args([
            "simulate",
            "graphs/ftx-2022",
            "--scenario",
            FTX_SCENARIO,
            "--svg",
            path_str(&svg),
            "--png",
            path_str(&png),
        ])
        .assert()
        .success();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.contains("<svg") && text.contains("Alameda Research"),
        "an SVG of the cascade"
    );
    // FTX.com halts under the run in round 1; Alameda fails on the price fall in round 2.
    assert!(text.contains("HALTED · round 1"));
    assert!(text.contains("DEFAULTED · round 2"));
    assert_not_blank("ftx.png", &std::fs::read(&png).unwrap());
    assert!(
        !dir.path().join("ftx.dot").exists(),
        "no fallback DOT when Graphviz works"
    );
}

/// Node positions of a frame, from its DOT text (`pos` attributes).
fn dot_positions(text: &str) -> BTreeMap<String, String> {
    let g = graphviz_rust::parse(text).expect("frame parses");
    nodes(&g)
        .into_iter()
        .map(|(k, attrs)| {
            let pos = attr(&attrs, "pos")
                .map(unquote)
                .unwrap_or_else(|| panic!("node {k} has a position"));
            (k, pos)
        })
        .collect()
}

/// Node shapes of a rendered SVG: node id → the coordinates of its outline.
fn svg_positions(svg: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = svg;
    while let Some(k) = rest.find("<g id=\"") {
        rest = &rest[k + 7..];
        let id = &rest[..rest.find('"').unwrap()];
        if !rest[..rest.find('>').unwrap()].contains("class=\"node\"") {
            continue;
        }
        let body = &rest[..rest.find("</g>").unwrap()];
        let shape = ["points=\"", "cx=\"", " d=\""]
            .iter()
            .find_map(|m| {
                body.find(m)
                    .map(|p| &body[p..p + body[p..].find("/>").unwrap_or(40)])
            })
            .unwrap_or_else(|| panic!("node {id} has an outline"));
        out.insert(id.to_string(), shape.to_string());
    }
    out
}

#[test]
fn frames_share_node_positions() {
    if !have("dot", "frames_share_node_positions") {
        return;
    }
    let (_, r) = ftx_result();
    let last = r.rounds.iter().map(|x| x.round).max().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for format in ["dot", "svg"] {
        let frames = dir.path().join(format);
        cli()
            .args([
                "render",
                "graphs/ftx-2022",
                "--scenario",
                FTX_SCENARIO,
                "--touched",
                "--frames",
                path_str(&frames),
                "--frame-format",
                format,
            ])
            .assert()
            .success();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&frames)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert_eq!(
            files.len() as u32,
            last + 1,
            "{format}: one frame per round, 0 to {last}"
        );
        let positions: Vec<BTreeMap<String, String>> = files
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(f).unwrap();
                if format == "dot" {
                    dot_positions(&text)
                } else {
                    svg_positions(&text)
                }
            })
            .collect();
        assert!(
            positions[0].len() > 10,
            "{format}: nodes found: {:?}",
            positions[0].keys()
        );
        for (k, p) in positions.iter().enumerate().skip(1) {
            assert_eq!(p, &positions[0], "{format}: frame {k} moves nodes");
        }
        // The frames differ where the cascade spreads: FTX.com is red only from its round on.
        let texts: Vec<String> = files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect();
        assert!(
            !texts[0].contains("DEFAULTED · round 2")
                && texts[last as usize].contains("DEFAULTED · round 2")
        );
    }
    // A second run into the same directory with fewer rounds leaves no stale frame.
    let frames = dir.path().join("svg");
    cli()
        .args([
            "render",
            "graphs/ring-4",
            "--default",
            "A",
            "--frames",
            path_str(&frames),
        ])
        .assert()
        .success();
    let n = std::fs::read_dir(&frames).unwrap().count();
    assert!(n <= 4, "stale frames removed: {n} files");
}

#[test]
fn frames_work_with_every_layout_engine_and_boxed_kinds() {
    if !have(
        "dot",
        "frames_work_with_every_layout_engine_and_boxed_kinds",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for layout in ["dot", "neato", "sfdp"] {
        let frames = dir.path().join(layout);
        cli()
            .args([
                "render",
                "graphs/ring-4",
                "--default",
                "D",
                "--group-by-kind",
                "--layout",
                layout,
            ])
            .args(["--frames", path_str(&frames), "--frame-format", "dot"])
            .assert()
            .success();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&frames)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(files.len() >= 2, "{layout}: frames written");
        let first = dot_positions(&std::fs::read_to_string(&files[0]).unwrap());
        for f in &files[1..] {
            assert_eq!(
                dot_positions(&std::fs::read_to_string(f).unwrap()),
                first,
                "{layout}: {}",
                f.display()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Charts and report

#[test]
fn charts_are_svg_with_their_titles() {
    let (_, r) = ftx_result();
    let svg = contagion::render::chart::rounds_svg(&r).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("Defaults per round") && svg.contains("Losses transmitted per round"));
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("sweep.svg");
    cli()
        .args([
            "stress",
            "graphs/ftx-2022",
            "--scenario",
            FTX_SCENARIO,
            "--sweep",
            "FTT=0:-1:5",
            "--chart",
            path_str(&chart),
        ])
        .assert()
        .success();
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(
        svg.contains("Firms in default") && svg.contains("System loss"),
        "sweep chart"
    );
}

#[test]
fn the_report_is_one_self_contained_file() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let out = cli()
        .args([
            "report",
            "graphs/ftx-2022",
            FTX_SCENARIO,
            "--sweep",
            "FTT=0:-1:5",
            "-o",
            path_str(&html),
        ])
        .assert();
    let code = out.get_output().status.code();
    let text = std::fs::read_to_string(&html).expect("report written");
    for section in [
        "Contagion diagram",
        "Round by round",
        "Charts",
        "Firms",
        "Settings used",
        "Dataset and sources",
    ] {
        assert!(text.contains(section), "section {section}");
    }
    assert!(text.contains("Alameda Research") && text.contains("counterparty default"));
    let lower = text.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "no scripts");
    for attr in ["src=\"", "href=\"", "url("] {
        for (k, _) in lower.match_indices(attr) {
            let target = &lower[k + attr.len()..];
            assert!(
                target.starts_with("data:") || target.starts_with('#'),
                "only inline resources: {}",
                &text[k..(k + 80).min(text.len())]
            );
        }
    }
    if have("dot", "the_report_is_one_self_contained_file (diagram)") {
        assert_eq!(code, Some(0));
        assert!(text.contains("<svg"), "the diagram is inline SVG");
    } else {
        assert_eq!(code, Some(1), "without Graphviz the report says so");
    }
}

/// Runs `cmd` with a time limit; returns (exit success, stderr).
fn run_with_timeout(mut cmd: Command, limit: Duration) -> (bool, String) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let err = reader.join().unwrap_or_default();
    (status.is_some_and(|s| s.success()), err)
}

fn chromium(profile: &Path) -> Command {
    let mut c = Command::new("chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    c.arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[test]
fn the_report_opens_in_headless_chromium_without_console_errors() {
    let test = "the_report_opens_in_headless_chromium_without_console_errors";
    if !have("dot", test) || !have("chromium", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    cli()
        .args([
            "report",
            "graphs/ftx-2022",
            FTX_SCENARIO,
            "-o",
            path_str(&html),
        ])
        .assert()
        .success();
    let url = format!("file://{}", html.display());

    // The page as the browser built it, and what its console said.
    let profile = tempfile::tempdir().unwrap();
    let mut c = chromium(profile.path());
    c.args(["--dump-dom", &url]);
    let (ok, log) = run_with_timeout(c, Duration::from_secs(90));
    assert!(ok, "chromium --dump-dom failed:\n{log}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );

    // A screenshot that shows something.
    let shot = dir.path().join("shot.png");
    let profile = tempfile::tempdir().unwrap();
    let mut c = chromium(profile.path());
    c.args([
        &format!("--screenshot={}", shot.display()),
        "--window-size=1200,900",
        &url,
    ]);
    let (ok, log) = run_with_timeout(c, Duration::from_secs(90));
    assert!(ok, "chromium --screenshot failed:\n{log}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    assert_not_blank(
        "report screenshot",
        &std::fs::read(&shot).expect("screenshot written"),
    );
}

#[test]
fn chromium_check_catches_console_errors() {
    // The check above would pass vacuously if console messages were never logged: make sure
    // they are, on a page that has one.
    let test = "chromium_check_catches_console_errors";
    if !have("chromium", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><title>x</title><p>x</p><script>console.error('boom')</script>",
    )
    .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let mut c = chromium(profile.path());
    c.args(["--dump-dom", &format!("file://{}", page.display())]);
    let (ok, log) = run_with_timeout(c, Duration::from_secs(90));
    assert!(ok, "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains(":CONSOLE") && l.contains("boom")),
        "console logged:\n{log}"
    );
}

#[test]
fn blank_images_are_caught() {
    // The blank check must fail on a blank image.
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, 300, 300);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&vec![255u8; 300 * 300 * 3]).unwrap();
    }
    let blank = std::panic::catch_unwind(|| assert_not_blank("white", &bytes));
    assert!(blank.is_err(), "a white image is blank");
}
