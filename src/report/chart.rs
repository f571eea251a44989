//! The figures, drawn with plotters into SVG strings (text stays text, so no fonts are needed):
//! a histogram with Gaussian components, a permutation null beside its true arm, line charts, bar
//! charts, a community-grouped network and labelled heat maps.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::error::ReportError;

/// One Gaussian component drawn over a histogram.
#[derive(Debug, Clone)]
pub struct Component {
    /// Legend label.
    pub label: String,
    /// Mixture weight.
    pub weight: f64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub sd: f64,
}

fn plot<E: std::fmt::Debug>(e: E) -> ReportError {
    ReportError::Plot(format!("{e:?}"))
}

fn finite(values: &[f64]) -> Vec<f64> {
    values.iter().copied().filter(|x| x.is_finite()).collect()
}

fn span(values: &[f64]) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

const SIZE: (u32, u32) = (620, 380);

/// Histogram of `values` with the density of each component (scaled to counts) and a vertical
/// line at `boundary`.
pub fn histogram_with_components(
    values: &[f64],
    components: &[Component],
    boundary: Option<f64>,
    title: &str,
    x_label: &str,
) -> Result<String, ReportError> {
    let values = finite(values);
    let (lo, hi) = span(&values);
    let bins = ((values.len() as f64).sqrt().ceil() as usize).clamp(10, 60);
    let width = (hi - lo) / bins as f64;
    let counts = bin_counts(&values, lo, hi, bins);
    let n = values.len() as f64;
    let density = |c: &Component, x: f64| {
        let z = (x - c.mean) / c.sd;
        n * width * c.weight * (-0.5 * z * z).exp() / (c.sd * (2.0 * std::f64::consts::PI).sqrt())
    };
    let grid: Vec<f64> = (0..=200).map(|i| lo + (hi - lo) * i as f64 / 200.0).collect();
    let curve_max = components
        .iter()
        .filter(|c| c.sd > 0.0 && c.sd.is_finite())
        .flat_map(|c| grid.iter().map(move |&x| density(c, x)))
        .fold(0.0, f64::max);
    let y_max = (counts.iter().copied().max().unwrap_or(1) as f64).max(curve_max) * 1.1 + 1e-9;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let mut chart = cartesian(&root, title, lo..hi, 0.0..y_max)?;
        chart.configure_mesh().disable_mesh().x_desc(x_label).y_desc("edges").draw().map_err(plot)?;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, &c)| {
                let a = lo + i as f64 * width;
                Rectangle::new([(a, 0.0), (a + width, c as f64)], RGBColor(120, 150, 190).mix(0.6).filled())
            }))
            .map_err(plot)?;
        for (i, c) in components.iter().enumerate().filter(|(_, c)| c.sd > 0.0 && c.sd.is_finite()) {
            let color = Palette99::pick(i + 1).to_rgba();
            chart
                .draw_series(LineSeries::new(grid.iter().map(|&x| (x, density(c, x))), color.stroke_width(2)))
                .map_err(plot)?
                .label(format!("{} (w={:.2}, μ={:.2}, σ={:.2})", c.label, c.weight, c.mean, c.sd))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        if let Some(b) = boundary.filter(|b| b.is_finite()) {
            vertical_line(&mut chart, b, y_max, format!("boundary {b:.2}"))?;
        }
        legend(&mut chart)?;
        root.present().map_err(plot)?;
    }
    Ok(svg)
}

/// The chart type of the histograms.
type Histogram<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// `root` filled white, with a titled f64 × f64 chart over `x` × `y` (the layout every histogram
/// and line chart shares).
fn cartesian<'a, DB: DrawingBackend + 'a>(
    root: &'a DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
) -> Result<Histogram<'a, DB>, ReportError> {
    root.fill(&WHITE).map_err(plot)?;
    ChartBuilder::on(root)
        .caption(title, ("sans-serif", 17))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(x, y)
        .map_err(plot)
}

/// A black vertical line at `x` from 0 to `y_max`, with its legend entry.
fn vertical_line<'a, DB: DrawingBackend + 'a>(
    chart: &mut Histogram<'a, DB>,
    x: f64,
    y_max: f64,
    label: String,
) -> Result<(), ReportError> {
    chart
        .draw_series(LineSeries::new([(x, 0.0), (x, y_max)], BLACK.stroke_width(2)))
        .map_err(plot)?
        .label(label)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(2)));
    Ok(())
}

/// The legend box, upper left.
fn legend<'a, DB: DrawingBackend + 'a>(chart: &mut Histogram<'a, DB>) -> Result<(), ReportError> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(plot)
}

/// Counts of `values` in `bins` equal bins over `[lo, hi]` (the last bin closed).
fn bin_counts(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<usize> {
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for &x in values {
        counts[(((x - lo) / width).max(0.0) as usize).min(bins - 1)] += 1;
    }
    counts
}

/// A permutation null's figure (Figures 1c, S1c): the histogram of the permuted labellings'
/// statistic (`null`, counted in permutations); optionally beside it a second distribution
/// (`arm`: values and legend, e.g. the true labelling on each run, in red, rescaled to the same
/// height) and a vertical line (`line`: value and legend, e.g. the true mean).
pub fn null_and_truth(
    null: &[f64],
    arm: Option<(&[f64], &str)>,
    line: Option<(f64, &str)>,
    title: &str,
    x_label: &str,
) -> Result<String, ReportError> {
    let null = finite(null);
    let (truth, arm_label) = arm.map(|(v, l)| (finite(v), l)).unwrap_or_default();
    let line = line.filter(|(v, _)| v.is_finite());
    let mut all: Vec<f64> = null.iter().chain(&truth).copied().collect();
    all.extend(line.map(|(v, _)| v));
    let (lo, hi) = span(&all);
    let bins = ((null.len() as f64).sqrt().ceil() as usize).clamp(20, 80);
    let width = (hi - lo) / bins as f64;
    let (null_counts, true_counts) = (bin_counts(&null, lo, hi, bins), bin_counts(&truth, lo, hi, bins));
    let null_max = null_counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let true_max = true_counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let y_max = null_max * 1.15;
    let blue = RGBColor(90, 130, 200).mix(0.65);
    let red = RGBColor(210, 60, 50).mix(0.7);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let mut chart = cartesian(&root, title, lo..hi, 0.0..y_max)?;
        chart.configure_mesh().disable_mesh().x_desc(x_label).y_desc("permutations").draw().map_err(plot)?;
        let bars = |counts: &[usize], scale: f64, color: RGBAColor| {
            let rects: Vec<Rectangle<(f64, f64)>> = counts
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(i, &c)| {
                    let a = lo + i as f64 * width;
                    Rectangle::new([(a, 0.0), (a + width, c as f64 * scale)], color.filled())
                })
                .collect();
            rects
        };
        chart
            .draw_series(bars(&null_counts, 1.0, blue))
            .map_err(plot)?
            .label(format!("permuted communities ({} permutations)", null.len()))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], blue.filled()));
        if !truth.is_empty() {
            chart
                .draw_series(bars(&true_counts, null_max / true_max, red))
                .map_err(plot)?
                .label(arm_label.to_string())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], red.filled()));
        }
        if let Some((m, label)) = line {
            vertical_line(&mut chart, m, y_max, format!("{label} {m:.4}"))?;
        }
        legend(&mut chart)?;
        root.present().map_err(plot)?;
    }
    Ok(svg)
}

/// Line chart of several series over `xs`, with an optional vertical marker; non-finite points
/// are left out.
pub fn lines(
    xs: &[f64],
    series: &[(&str, Vec<f64>)],
    marker: Option<f64>,
    title: &str,
    x_label: &str,
    y_label: &str,
) -> Result<String, ReportError> {
    let (x0, x1) = span(xs);
    let all: Vec<f64> = series.iter().flat_map(|(_, ys)| finite(ys)).collect();
    let (y0, y1) = span(&all);
    let (y0, y1) = (y0.min(0.0), y1 + (y1 - y0.min(0.0)) * 0.1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let mut chart = cartesian(&root, title, x0..x1, y0..y1)?;
        chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw().map_err(plot)?;
        if let Some(m) = marker {
            chart
                .draw_series(LineSeries::new([(m, y0), (m, y1)], BLACK.mix(0.5).stroke_width(1)))
                .map_err(plot)?
                .label(format!("selected {m}"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.5)));
        }
        for (i, (name, ys)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let points: Vec<(f64, f64)> =
                xs.iter().zip(ys).filter(|(_, y)| y.is_finite()).map(|(&x, &y)| (x, y)).collect();
            chart
                .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))
                .map_err(plot)?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(plot)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(plot)?;
        root.present().map_err(plot)?;
    }
    Ok(svg)
}

/// Vertical bars at 1, 2, …, n with a text above each.
pub fn bars(
    values: &[f64],
    notes: &[String],
    title: &str,
    x_label: &str,
    y_label: &str,
) -> Result<String, ReportError> {
    let n = values.len().max(1) as f64;
    let top = finite(values).into_iter().fold(0.0, f64::max).max(1e-9) * 1.2;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let mut chart = cartesian(&root, title, 0.5..n + 0.5, 0.0..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(values.len().max(1))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .x_desc(x_label)
            .y_desc(y_label)
            .draw()
            .map_err(plot)?;
        chart
            .draw_series(values.iter().enumerate().map(|(i, &v)| {
                let x = i as f64 + 1.0;
                Rectangle::new([(x - 0.35, 0.0), (x + 0.35, v.max(0.0))], Palette99::pick(i).mix(0.8).filled())
            }))
            .map_err(plot)?;
        chart
            .draw_series(values.iter().zip(notes).enumerate().map(|(i, (&v, note))| {
                Text::new(note.clone(), (i as f64 + 0.75, v.max(0.0) + top * 0.06), ("sans-serif", 11))
            }))
            .map_err(plot)?;
        root.present().map_err(plot)?;
    }
    Ok(svg)
}

/// A network with nodes grouped by community: communities sit on a large circle, each
/// community's nodes on a small circle around its place; edges are lines whose opacity follows
/// |weight|. `community[i]` is node `i`'s group (any integers).
pub fn grouped_network(
    names: &[String],
    community: &[i64],
    edges: &[(usize, usize, f64)],
    title: &str,
) -> Result<String, ReportError> {
    let mut groups: Vec<i64> = community.to_vec();
    groups.sort_unstable();
    groups.dedup();
    let mut pos = vec![(0.0, 0.0); names.len()];
    for (g, id) in groups.iter().enumerate() {
        let members: Vec<usize> = (0..names.len()).filter(|&i| community[i] == *id).collect();
        let angle = 2.0 * std::f64::consts::PI * g as f64 / groups.len() as f64;
        let (cx, cy) = if groups.len() == 1 { (0.0, 0.0) } else { (0.68 * angle.cos(), 0.68 * angle.sin()) };
        let r = if members.len() == 1 { 0.0 } else { (0.06 + 0.025 * members.len() as f64).min(0.3) };
        for (j, &m) in members.iter().enumerate() {
            let a = 2.0 * std::f64::consts::PI * j as f64 / members.len() as f64;
            pos[m] = (cx + r * a.cos(), cy + r * a.sin());
        }
    }
    let w_max = edges.iter().map(|e| e.2.abs()).fold(0.0, f64::max).max(1e-12);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (620, 620)).into_drawing_area();
        root.fill(&WHITE).map_err(plot)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 17))
            .margin(10)
            .build_cartesian_2d(-1.15..1.15, -1.15..1.15)
            .map_err(plot)?;
        chart
            .draw_series(edges.iter().map(|&(a, b, w)| {
                let alpha = 0.1 + 0.6 * (w.abs() / w_max);
                PathElement::new(vec![pos[a], pos[b]], BLACK.mix(alpha).stroke_width(1))
            }))
            .map_err(plot)?;
        for (g, id) in groups.iter().enumerate() {
            let color = Palette99::pick(g).to_rgba();
            chart
                .draw_series(
                    (0..names.len()).filter(|&i| community[i] == *id).map(|i| Circle::new(pos[i], 5, color.filled())),
                )
                .map_err(plot)?
                .label(format!("community {id}"))
                .legend(move |(x, y)| Circle::new((x + 6, y), 5, color.filled()));
        }
        if names.len() <= 120 {
            chart
                .draw_series(names.iter().zip(&pos).map(|(n, &(x, y))| {
                    Text::new(n.clone(), (x + 0.015, y + 0.015), ("sans-serif", 9).into_font().color(&BLACK.mix(0.8)))
                }))
                .map_err(plot)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(plot)?;
        root.present().map_err(plot)?;
    }
    Ok(svg)
}

/// A heat map of correlations in [−1, 1] (blue → white → red), rows × columns, with a ring on
/// the cells of `marked` and the value written in each cell.
pub fn heatmap(
    values: &[Vec<f64>],
    rows: &[String],
    cols: &[String],
    marked: &[(usize, usize)],
    title: &str,
) -> Result<String, ReportError> {
    let (nr, nc) = (rows.len().max(1), cols.len().max(1));
    let size = ((110 + 64 * nc as u32).max(360), (90 + 34 * nr as u32).max(200));
    let color = |v: f64| {
        let t = v.clamp(-1.0, 1.0);
        let fade = |c: f64| (255.0 - (255.0 - c) * t.abs()) as u8;
        if t >= 0.0 { RGBColor(255, fade(60.0), fade(60.0)) } else { RGBColor(fade(60.0), fade(90.0), 255) }
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(100)
            .build_cartesian_2d(0.0..nc as f64, 0.0..nr as f64)
            .map_err(plot)?;
        // Tick labels at the cell centres, drawn as text: plotters puts numeric ticks at round
        // values, which are the cell edges.
        let font = ("sans-serif", 12).into_font();
        for (j, name) in cols.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(j as f64 + 0.5, 0.0));
            let style = TextStyle::from(font.clone()).pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(name.clone(), (x, y + 6), style)).map_err(plot)?;
        }
        for (i, name) in rows.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(0.0, (nr - 1 - i) as f64 + 0.5));
            let style = TextStyle::from(font.clone()).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(name.clone(), (x - 6, y), style)).map_err(plot)?;
        }
        for (i, row) in values.iter().enumerate() {
            let y = (nr - 1 - i) as f64;
            for (j, &v) in row.iter().enumerate() {
                let x = j as f64;
                chart.draw_series([Rectangle::new([(x, y), (x + 1.0, y + 1.0)], color(v).filled())]).map_err(plot)?;
                chart
                    .draw_series([Text::new(format!("{v:.2}"), (x + 0.3, y + 0.62), ("sans-serif", 11))])
                    .map_err(plot)?;
            }
        }
        chart
            .draw_series(marked.iter().map(|&(i, j)| {
                let (x, y) = (j as f64, (nr - 1 - i) as f64);
                Rectangle::new([(x + 0.04, y + 0.06), (x + 0.96, y + 0.94)], BLACK.stroke_width(2))
            }))
            .map_err(plot)?;
        root.present().map_err(plot)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_svg_with_their_text() {
        let comps = [
            Component { label: "weak".into(), weight: 0.6, mean: -3.0, sd: 0.5 },
            Component { label: "strong".into(), weight: 0.4, mean: -1.0, sd: 0.4 },
        ];
        let values: Vec<f64> = (0..200).map(|i| -4.0 + i as f64 * 0.02).collect();
        let svg = histogram_with_components(&values, &comps, Some(-2.0), "GRN", "ln|coef|").unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("boundary -2.00") && svg.contains("strong (w=0.40"), "{svg}");
        let svg = lines(&[1.0, 2.0], &[("ARI", vec![0.5, f64::INFINITY])], Some(1.0), "t", "x", "y").unwrap();
        assert!(svg.contains("ARI") && svg.contains("selected 1"));
        let svg = bars(&[1.0, 2.0], &["p=0.1".into(), "p=0.01".into()], "t", "c", "r").unwrap();
        assert!(svg.contains("p=0.01"));
        let names = vec!["A".to_string(), "B".into(), "C".into()];
        let svg = grouped_network(&names, &[1, 1, 2], &[(0, 1, 0.5), (1, 2, -0.2)], "net").unwrap();
        assert!(svg.contains("community 2") && svg.contains(">\nC\n</text>"), "{svg}");
        let null: Vec<f64> = (0..100).map(|i| 0.2 + i as f64 * 0.001).collect();
        let svg = null_and_truth(&null, Some((&[0.35, 0.351], "runs")), Some((0.3505, "true mean")), "perm", "T-MEX")
            .unwrap();
        assert!(svg.contains("permutations") && svg.contains("true mean 0.3505"), "{svg}");
        assert!(!svg.contains("edges"));
        let rows = vec!["community 1".to_string(), "global".into()];
        let cols = vec!["z_1".to_string(), "z_2".into()];
        let svg = heatmap(&[vec![0.5, -0.1], vec![0.2, 0.9]], &rows, &cols, &[(0, 0)], "map").unwrap();
        for name in rows.iter().chain(&cols) {
            assert!(svg.contains(&format!(">\n{name}\n</text>")), "no tick label {name}: {svg}");
        }
    }
}
