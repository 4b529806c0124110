//! `contagion render`: the contagion diagram of a network, of a saved result or of a scenario
//! run on the spot, as DOT, SVG or PNG, and optionally one frame per round on one layout.
//! Also the diagram helpers of `simulate --dot/--svg/--png` and `report`.

use std::path::{Path, PathBuf};

use contagion::model::Network;
use contagion::render::dot::Plan;
use contagion::render::exec::{self, dot_beside, frame_file_name};
use contagion::render::{ImageFormat, LayoutChoice, RenderError, RenderOptions};
use contagion::report::SimulationResult;

use super::args::{DrawArgs, ImageArg, LayoutArg, RenderArgs, RunArgs};
use super::simulate::{inputs, prepare, simulate};
use super::{CmdResult, Failure, guard_output};

/// The drawing options the flags ask for.
pub(crate) fn options(d: &DrawArgs) -> Result<RenderOptions, Failure> {
    if d.top == Some(0) {
        return Err(Failure::BadInput(
            "--top: expected at least 1 exposure".into(),
        ));
    }
    Ok(RenderOptions {
        touched_only: d.touched,
        top: d.top,
        condense: d.condense,
        group_by_kind: d.group_by_kind,
        assets: !d.no_assets,
        legend: !d.no_legend,
        layout: match d.layout {
            LayoutArg::Auto => LayoutChoice::Auto,
            LayoutArg::Dot => LayoutChoice::Dot,
            LayoutArg::Neato => LayoutChoice::Neato,
            LayoutArg::Sfdp => LayoutChoice::Sfdp,
        },
        title: d.title.clone(),
        ..RenderOptions::default()
    })
}

/// Maps a rendering error to a failure: Graphviz missing or failing is a runtime failure
/// (exit code 1), like any write error.
pub(crate) fn failure(e: RenderError) -> Failure {
    match e {
        RenderError::Write(e) => Failure::from(e),
        e => Failure::Runtime(e.to_string()),
    }
}

/// The format a diagram path names, or a usage error naming the flag.
fn format_of(flag: &str, path: &Path) -> Result<ImageFormat, Failure> {
    ImageFormat::from_path(path).ok_or_else(|| {
        Failure::BadInput(format!(
            "{flag}: cannot tell the format of {}: use a name ending in .dot, .svg or .png",
            path.display()
        ))
    })
}

/// Draws the diagram into `path` (format from its extension). When Graphviz is missing the
/// DOT text is written beside it and the failure says how to install Graphviz.
pub(crate) fn write_diagram(
    net: &Network,
    result: Option<&SimulationResult>,
    opts: &RenderOptions,
    flag: &str,
    path: &Path,
    expected: Option<ImageFormat>,
    inputs: &[&Path],
) -> CmdResult {
    let format = format_of(flag, path)?;
    if let Some(want) = expected
        && want != format
    {
        return Err(Failure::BadInput(format!(
            "{flag}: expected a file name ending in .{}, found {}",
            want.extension(),
            path.display()
        )));
    }
    guard_output(path, inputs)?;
    let beside = dot_beside(path);
    let fallback = if format == ImageFormat::Dot {
        None
    } else {
        Some(beside.as_path())
    };
    if let Some(b) = fallback {
        guard_output(b, inputs)?;
    }
    let d = contagion::render::dot::diagram(net, result, opts);
    for n in &d.notes {
        eprintln!("note: {n}");
    }
    exec::write_image(&d, path, fallback).map_err(failure)
}

/// The diagrams `simulate --dot/--svg/--png FILE` asks for; every one is attempted, the first
/// failure is returned (the others are printed).
pub(crate) fn diagrams(
    net: &Network,
    result: &SimulationResult,
    draw: &DrawArgs,
    files: [(&Option<PathBuf>, &str); 3],
    inputs: &[&Path],
) -> CmdResult {
    if files.iter().all(|(f, _)| f.is_none()) {
        return Ok(());
    }
    let opts = options(draw)?;
    let mut first = None;
    for (file, ext) in files {
        let Some(path) = file else { continue };
        let want = ImageFormat::parse(ext).ok();
        if let Err(e) = write_diagram(
            net,
            Some(result),
            &opts,
            &format!("--{ext}"),
            path,
            want,
            inputs,
        ) {
            report_extra(&mut first, e);
        }
    }
    first.map_or(Ok(()), Err)
}

/// Keeps the first failure; prints later ones so that none is lost.
fn report_extra(first: &mut Option<Failure>, e: Failure) {
    if first.is_none() {
        *first = Some(e);
    } else {
        let (Failure::BadInput(m) | Failure::Runtime(m)) = e;
        eprintln!("error: {m}");
    }
}

/// Writes one frame per round into `dir`, every frame on the layout of the final diagram.
/// Without Graphviz, writes the frames' DOT text (without positions) and fails with the
/// install hint.
pub(crate) fn write_frames(
    net: &Network,
    result: &SimulationResult,
    opts: &RenderOptions,
    dir: &Path,
    format: ImageFormat,
    inputs: &[&Path],
) -> CmdResult {
    guard_output(dir, inputs)?;
    if dir.exists() && !dir.is_dir() {
        return Err(Failure::BadInput(format!(
            "--frames: {} is a file, not a directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|source| {
        Failure::from(contagion::error::Error::Io {
            path: dir.to_path_buf(),
            source,
        })
    })?;
    let plan = Plan::new(net, Some(result), opts);
    let (files, error) = match exec::frames(&plan, format) {
        Ok(frames) => (
            frames
                .into_iter()
                .map(|f| (frame_file_name(f.round, format), f.bytes))
                .collect::<Vec<_>>(),
            None,
        ),
        Err(e @ (RenderError::DotNotFound { .. } | RenderError::DotFailed { .. })) => (
            plan.frame_rounds()
                .into_iter()
                .map(|r| {
                    (
                        frame_file_name(r, ImageFormat::Dot),
                        plan.diagram(Some(r)).to_dot().into_bytes(),
                    )
                })
                .collect(),
            Some(e),
        ),
        Err(e) => return Err(failure(e)),
    };
    let written: Vec<PathBuf> = files.iter().map(|(name, _)| dir.join(name)).collect();
    for ((_, bytes), path) in files.iter().zip(&written) {
        contagion::io::write_atomic(path, bytes)?;
    }
    remove_stale_frames(dir, &written);
    match error {
        None => {
            eprintln!("wrote {} frames to {}", written.len(), dir.display());
            Ok(())
        }
        Some(e) => Err(Failure::Runtime(match e {
            RenderError::DotNotFound { .. } => format!(
                "Graphviz `dot` not found on PATH: install it (e.g. `apt-get install graphviz` or `brew install graphviz`); the frames' DOT files (without a shared layout) were written to {}",
                dir.display()
            ),
            e => format!(
                "{e}; the frames' DOT files were written to {}",
                dir.display()
            ),
        })),
    }
}

/// Removes `round-NN.{dot,svg,png}` files of an earlier run that this run did not write, so
/// that a directory never mixes cascades.
fn remove_stale_frames(dir: &Path, written: &[PathBuf]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let is_frame = name
            .strip_prefix("round-")
            .and_then(|r| r.split_once('.'))
            .is_some_and(|(num, ext)| {
                num.len() >= 2
                    && num.bytes().all(|b| b.is_ascii_digit())
                    && matches!(ext, "dot" | "svg" | "png")
            });
        if is_frame && !written.contains(&path) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// True when the run flags ask for a simulation (a scenario, an overlay, a model or a shock).
fn asks_for_run(r: &RunArgs) -> bool {
    r.scenario.is_some()
        || r.overlay.is_some()
        || r.model.is_some()
        || !r.defaults.is_empty()
        || !r.prices.is_empty()
        || !r.asset_losses.is_empty()
        || !r.withdrawals.is_empty()
}

/// The network and the result to draw: a saved result, a run of the scenario, or none.
pub(crate) fn network_and_result(
    network: &Path,
    result: Option<&Path>,
    run: &RunArgs,
    always_run: bool,
) -> Result<(Network, Option<SimulationResult>), Failure> {
    if let Some(file) = result {
        let net = contagion::io::load(network)?;
        let bytes = std::fs::read(file).map_err(|source| {
            Failure::from(contagion::error::Error::Io {
                path: file.to_path_buf(),
                source,
            })
        })?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let r = contagion::render::read_result(&name, &bytes)?;
        return Ok((net, Some(r)));
    }
    if always_run || asks_for_run(run) {
        let p = prepare(network, run)?;
        let r = simulate(&p);
        return Ok((p.net, Some(r)));
    }
    Ok((contagion::io::load(network)?, None))
}

pub fn run(a: RenderArgs) -> CmdResult {
    if a.output.is_none() && a.frames.is_none() {
        return Err(Failure::BadInput(
            "nothing to write: give -o FILE (.dot, .svg or .png) and/or --frames DIR".into(),
        ));
    }
    let opts = options(&a.draw)?;
    let frame_format = match (a.frame_format, &a.output) {
        (Some(ImageArg::Dot), _) => ImageFormat::Dot,
        (Some(ImageArg::Svg), _) => ImageFormat::Svg,
        (Some(ImageArg::Png), _) => ImageFormat::Png,
        (None, Some(o)) => ImageFormat::from_path(o).unwrap_or(ImageFormat::Svg),
        (None, None) => ImageFormat::Svg,
    };
    if let Some(o) = &a.output {
        format_of("--output", o)?;
    }
    let (net, result) = network_and_result(&a.network, a.result.as_deref(), &a.run, false)?;
    if a.frames.is_some() && result.is_none() {
        return Err(Failure::BadInput(
            "--frames needs a cascade: give --result FILE, --scenario FILE or shock flags".into(),
        ));
    }
    let mut ins = inputs(&a.network, &a.run);
    ins.extend(a.result.as_deref());
    let mut first = None;
    if let Some(out) = &a.output
        && let Err(e) = write_diagram(&net, result.as_ref(), &opts, "--output", out, None, &ins)
    {
        report_extra(&mut first, e);
    }
    if let (Some(dir), Some(r)) = (&a.frames, &result)
        && let Err(e) = write_frames(&net, r, &opts, dir, frame_format, &ins)
    {
        report_extra(&mut first, e);
    }
    first.map_or(Ok(()), Err)
}
