//! Charts as SVG text (plotters' SVG backend; text is left to the viewer's sans-serif font, so
//! no font files are needed): defaults and losses per round, and for sweeps the number of
//! defaults and the system loss against the shock size.

use plotters::prelude::*;

use super::{RenderError, money};
use crate::report::SimulationResult;

const WIDTH: u32 = 920;
const HEIGHT: u32 = 340;
const RED_BAR: RGBColor = RGBColor(203, 24, 29);
const DARK: RGBColor = RGBColor(37, 37, 37);
const ORANGE_BAR: RGBColor = RGBColor(241, 105, 19);
const BLUE: RGBColor = RGBColor(33, 113, 181);

fn chart_error<E: std::fmt::Debug>(e: E) -> RenderError {
    RenderError::Chart(format!("{e:?}"))
}

/// One point of a sweep: the shock's size and what it caused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepPoint {
    /// Size of the shock on the x axis (e.g. a price change of −0.4 for −40%).
    pub shock: f64,
    /// Number of firms in default.
    pub defaults: usize,
    /// Total losses (currency units).
    pub losses: f64,
}

/// New defaults per round (bars) with the running total (line), and the losses transmitted
/// per round, side by side.
pub fn rounds_svg(result: &SimulationResult) -> Result<String, RenderError> {
    let currency = result.network.currency.clone();
    let last = result
        .rounds
        .iter()
        .map(|r| r.round)
        .chain(result.firms.iter().filter_map(|f| f.default_round))
        .max()
        .unwrap_or(0);
    let first = result
        .rounds
        .iter()
        .map(|r| r.round)
        .min()
        .unwrap_or(0)
        .min(1);
    let rounds: Vec<u32> = (first..=last).collect();
    let new: Vec<usize> = rounds
        .iter()
        .map(|&k| {
            result
                .firms
                .iter()
                .filter(|f| f.defaulted && f.default_round == Some(k))
                .count()
        })
        .collect();
    let losses: Vec<f64> = rounds
        .iter()
        .map(|&k| {
            result
                .rounds
                .iter()
                .filter(|r| r.round == k)
                .map(|r| r.losses)
                .sum()
        })
        .collect();
    let mut cumulative = Vec::with_capacity(new.len());
    let mut total = 0;
    for &d in &new {
        total += d;
        cumulative.push(total);
    }

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let (left, right) = root.split_horizontally(WIDTH / 2);
        let x_range = (first as f64 - 0.6)..(last as f64 + 0.6);

        let y_max = (total.max(1) as f64 * 1.15).ceil();
        let mut chart = ChartBuilder::on(&left)
            .caption(
                "Defaults per round",
                ("sans-serif", 18).into_font().color(&DARK),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(48)
            .build_cartesian_2d(x_range.clone(), 0.0..y_max)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("round")
            .y_desc("firms")
            .x_labels(rounds.len().clamp(2, 12))
            .x_label_formatter(&|x| whole(*x))
            .y_label_formatter(&|y| whole(*y))
            .axis_desc_style(("sans-serif", 13))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(chart_error)?;
        chart
            .draw_series(rounds.iter().zip(&new).map(|(&k, &d)| {
                let x = k as f64;
                Rectangle::new([(x - 0.3, 0.0), (x + 0.3, d as f64)], RED_BAR.filled())
            }))
            .map_err(chart_error)?
            .label("new defaults")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], RED_BAR.filled()));
        chart
            .draw_series(LineSeries::new(
                rounds
                    .iter()
                    .zip(&cumulative)
                    .map(|(&k, &c)| (k as f64, c as f64)),
                DARK.stroke_width(2),
            ))
            .map_err(chart_error)?
            .label("in default so far")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], DARK.stroke_width(2)));
        chart
            .draw_series(
                rounds
                    .iter()
                    .zip(&cumulative)
                    .map(|(&k, &c)| Circle::new((k as f64, c as f64), 3, DARK.filled())),
            )
            .map_err(chart_error)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(chart_error)?;

        let l_max = losses.iter().cloned().fold(0.0, f64::max).max(1.0) * 1.15;
        let cur = currency.clone();
        let mut chart = ChartBuilder::on(&right)
            .caption(
                "Losses transmitted per round",
                ("sans-serif", 18).into_font().color(&DARK),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x_range, 0.0..l_max)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("round")
            .y_desc(format!("losses ({currency})"))
            .x_labels(rounds.len().clamp(2, 12))
            .x_label_formatter(&|x| whole(*x))
            .y_label_formatter(&|y| money(*y, &cur))
            .axis_desc_style(("sans-serif", 13))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(chart_error)?;
        chart
            .draw_series(rounds.iter().zip(&losses).map(|(&k, &l)| {
                let x = k as f64;
                Rectangle::new([(x - 0.3, 0.0), (x + 0.3, l)], ORANGE_BAR.filled())
            }))
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// Number of defaults and system loss against the size of a shock (`x_label` names it, e.g.
/// "FTT price change"); shocks are fractions and shown as percentages.
pub fn sweep_svg(
    points: &[SweepPoint],
    x_label: &str,
    currency: &str,
) -> Result<String, RenderError> {
    sweep_svg_with(points, x_label, currency, true)
}

/// As [`sweep_svg`]; `lines: false` draws the points alone (random draws, not a sweep).
pub fn sweep_svg_with(
    points: &[SweepPoint],
    x_label: &str,
    currency: &str,
    lines: bool,
) -> Result<String, RenderError> {
    if points.is_empty() {
        return Err(RenderError::Chart(
            "a sweep chart needs at least one point".into(),
        ));
    }
    let lo = points.iter().map(|p| p.shock).fold(f64::INFINITY, f64::min);
    let hi = points
        .iter()
        .map(|p| p.shock)
        .fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.04).max(0.01);
    let x_range = (lo - pad)..(hi + pad);
    let d_max = points.iter().map(|p| p.defaults).max().unwrap_or(0).max(1) as f64 * 1.15;
    let l_max = points.iter().map(|p| p.losses).fold(0.0, f64::max).max(1.0) * 1.15;
    let signed = lo < 0.0;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let (left, right) = root.split_horizontally(WIDTH / 2);
        let mut chart = ChartBuilder::on(&left)
            .caption(
                "Firms in default",
                ("sans-serif", 18).into_font().color(&DARK),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(48)
            .build_cartesian_2d(x_range.clone(), 0.0..d_max)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc("firms")
            .x_label_formatter(&|x| axis_percent(*x, signed))
            .y_label_formatter(&|y| whole(*y))
            .axis_desc_style(("sans-serif", 13))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(chart_error)?;
        let series: Vec<(f64, f64)> = points
            .iter()
            .map(|p| (p.shock, p.defaults as f64))
            .collect();
        if lines {
            chart
                .draw_series(LineSeries::new(
                    series.iter().copied(),
                    RED_BAR.stroke_width(2),
                ))
                .map_err(chart_error)?;
        }
        chart
            .draw_series(
                series
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, RED_BAR.filled())),
            )
            .map_err(chart_error)?;

        let cur = currency.to_string();
        let mut chart = ChartBuilder::on(&right)
            .caption("System loss", ("sans-serif", 18).into_font().color(&DARK))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x_range, 0.0..l_max)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(format!("losses ({currency})"))
            .x_label_formatter(&|x| axis_percent(*x, signed))
            .y_label_formatter(&|y| money(*y, &cur))
            .axis_desc_style(("sans-serif", 13))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(chart_error)?;
        let series: Vec<(f64, f64)> = points.iter().map(|p| (p.shock, p.losses)).collect();
        if lines {
            chart
                .draw_series(LineSeries::new(
                    series.iter().copied(),
                    BLUE.stroke_width(2),
                ))
                .map_err(chart_error)?;
        }
        chart
            .draw_series(
                series
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, BLUE.filled())),
            )
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// A fraction on an axis: `−40%` when some values are negative, else `40%`.
fn axis_percent(x: f64, signed: bool) -> String {
    if signed {
        super::change_percent(x)
    } else {
        format!("{:.0}%", x * 100.0)
    }
}

/// Axis ticks for counts: whole numbers only (no "0.5 firms").
fn whole(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{:.0}", x.round())
    } else {
        String::new()
    }
}

/// Sweep points as CSV (`shock,defaults,losses`).
pub fn sweep_csv(points: &[SweepPoint]) -> String {
    let mut s = String::from("shock,defaults,losses\n");
    for p in points {
        s.push_str(&format!("{},{},{}\n", p.shock, p.defaults, p.losses));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_chart_is_svg() {
        let pts: Vec<SweepPoint> = (0..=10)
            .map(|k| SweepPoint {
                shock: -(k as f64) / 10.0,
                defaults: k / 3,
                losses: k as f64 * 1e9,
            })
            .collect();
        let svg = sweep_svg(&pts, "FTT price change", "USD").unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        assert!(svg.contains("System loss"));
        assert!(svg.contains("−100%"));
        assert!(sweep_svg(&[], "x", "USD").is_err());
    }

    #[test]
    fn whole_ticks_only() {
        assert_eq!(whole(2.0), "2");
        assert_eq!(whole(2.5), "");
    }
}
