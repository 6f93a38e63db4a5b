//! Line and scatter charts as PNG or SVG (by the file's extension), with axes, labels and a
//! legend: training curves, accuracy against weight bits, resources against lanes, Pareto fronts.
//!
//! Text is laid out with a TrueType font (for SVG too: plotters measures the labels): the
//! first of [`FONT_PATHS`] that exists (Debian's `fonts-dejavu-core`, which `.ci/run` installs)
//! is registered once.

use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;
use thiserror::Error;

/// An 8-bit RGB image as PNG. (Encoded with the `png` crate directly: plotters' own encoder
/// brings the whole `image` crate, 23 s of compiler time, for this one call.)
fn png_of((width, height): (u32, u32), rgb: &[u8]) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Each row's filter chosen for it, as `image` did: the same bytes as before this encoder
    // (checked on docs/accuracy-pfmnist.png), where one fixed filter made them 2.3× larger.
    encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

/// Where to look for a sans-serif TrueType font for PNG output.
pub const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/lato/Lato-Regular.ttf",
];

/// A chart could not be drawn.
#[derive(Debug, Error)]
pub enum PlotError {
    /// No usable font.
    #[error(
        "no TrueType font for the chart's text (looked in {0}); install Debian's fonts-dejavu-core"
    )]
    NoFont(String),
    /// The drawing backend failed (e.g. the file cannot be written).
    #[error("cannot draw {path}: {message}")]
    Draw {
        /// The file.
        path: String,
        /// The backend's message.
        message: String,
    },
    /// Nothing to draw.
    #[error("no data to plot in {0}")]
    Empty(String),
}

fn register_font() -> Result<(), PlotError> {
    static FONT: OnceLock<bool> = OnceLock::new();
    let ok = *FONT.get_or_init(|| {
        FONT_PATHS.iter().any(|p| {
            std::fs::read(p).ok().is_some_and(|bytes| {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
            })
        })
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::NoFont(FONT_PATHS.join(", ")))
    }
}

/// One named series of points.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// The points, in drawing order.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A series from a name and points.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
        }
    }
}

/// How points are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Lines through the points.
    Lines,
    /// Lines and a dot at each point.
    LinesAndPoints,
    /// Dots only.
    Points,
}

/// A chart: title, axis labels, series, and whether y is logarithmic.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// The data.
    pub series: Vec<Series>,
    /// Point style.
    pub style: Style,
    /// Logarithmic y axis (values must be positive).
    pub log_y: bool,
}

impl Chart {
    /// A line chart.
    pub fn lines(title: &str, x_label: &str, y_label: &str, series: Vec<Series>) -> Self {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series,
            style: Style::Lines,
            log_y: false,
        }
    }

    /// Draw into `path`: `.svg` as SVG, anything else as PNG (900 × 560).
    pub fn save(&self, path: &Path) -> Result<(), PlotError> {
        let size = (900, 560);
        let is_svg = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
        let draw_err = |e: String| PlotError::Draw {
            path: path.display().to_string(),
            message: e,
        };
        register_font()?;
        // Drawn in memory and written whole (atomically), so a failed chart leaves no half file.
        let bytes = if is_svg {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                self.draw(&root).map_err(draw_err)?;
                root.present().map_err(|e| draw_err(e.to_string()))?;
            }
            svg.into_bytes()
        } else {
            let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
                self.draw(&root).map_err(draw_err)?;
                root.present().map_err(|e| draw_err(e.to_string()))?;
            }
            png_of(size, &rgb).map_err(|e| draw_err(e.to_string()))?
        };
        qornn_sim::atomic::write(path, &bytes).map_err(|e| draw_err(e.to_string()))
    }

    fn bounds(&self) -> Option<((f64, f64), (f64, f64))> {
        let pts = self
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(x, y)| x.is_finite() && y.is_finite() && (!self.log_y || *y > 0.0));
        let mut b: Option<((f64, f64), (f64, f64))> = None;
        for &(x, y) in pts {
            b = Some(match b {
                None => ((x, x), (y, y)),
                Some(((x0, x1), (y0, y1))) => ((x0.min(x), x1.max(x)), (y0.min(y), y1.max(y))),
            });
        }
        b.map(|((x0, x1), (y0, y1))| (pad(x0, x1, 0.02, false), pad(y0, y1, 0.08, self.log_y)))
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, plotters::coord::Shift>,
    ) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let ((x0, x1), (y0, y1)) = self
            .bounds()
            .ok_or_else(|| format!("no data in {}", self.title))?;
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(&self.title, ("sans-serif", 24))
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(70);
        // Colour-blind-safe and readable on white (Okabe–Ito).
        const COLOURS: [(u8, u8, u8); 7] = [
            (0, 114, 178),
            (213, 94, 0),
            (0, 158, 115),
            (204, 121, 167),
            (86, 180, 233),
            (230, 159, 0),
            (0, 0, 0),
        ];
        let palette = |i: usize| {
            let (r, g, b) = COLOURS[i % COLOURS.len()];
            RGBColor(r, g, b).to_rgba()
        };
        macro_rules! body {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(&self.x_label)
                    .y_desc(&self.y_label)
                    .label_style(("sans-serif", 15))
                    .axis_desc_style(("sans-serif", 17))
                    .draw()
                    .map_err(|e| e.to_string())?;
                for (i, s) in self.series.iter().enumerate() {
                    let color = palette(i);
                    let pts: Vec<(f64, f64)> = s
                        .points
                        .iter()
                        .copied()
                        .filter(|(x, y)| {
                            x.is_finite() && y.is_finite() && (!self.log_y || *y > 0.0)
                        })
                        .collect();
                    let legend = move |(x, y): (i32, i32)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3))
                    };
                    if self.style != Style::Points {
                        chart
                            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                            .map_err(|e| e.to_string())?
                            .label(&s.name)
                            .legend(legend);
                    }
                    if self.style != Style::Lines {
                        let dots = chart
                            .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                            .map_err(|e| e.to_string())?;
                        if self.style == Style::Points {
                            dots.label(&s.name).legend(legend);
                        }
                    }
                }
                if self.series.len() > 1 || self.series.iter().any(|s| !s.name.is_empty()) {
                    chart
                        .configure_series_labels()
                        .background_style(WHITE.mix(0.85))
                        .border_style(BLACK)
                        .label_font(("sans-serif", 15))
                        .position(SeriesLabelPosition::LowerRight)
                        .draw()
                        .map_err(|e| e.to_string())?;
                }
            }};
        }
        if self.log_y {
            body!(builder
                .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
                .map_err(|e| e.to_string())?);
        } else {
            body!(builder
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(|e| e.to_string())?);
        }
        Ok(())
    }
}

/// Widen a range a little, and make a degenerate one non-empty.
fn pad(lo: f64, hi: f64, frac: f64, log: bool) -> (f64, f64) {
    if log {
        let (l, h) = (lo.ln(), hi.ln());
        let d = ((h - l) * frac).max(0.1);
        return ((l - d).exp(), (h + d).exp());
    }
    let d = ((hi - lo) * frac).max(if lo == hi {
        lo.abs().max(1.0) * 0.1
    } else {
        0.0
    });
    (lo - d, hi + d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> Chart {
        Chart {
            style: Style::LinesAndPoints,
            ..Chart::lines(
                "Copy task",
                "iteration",
                "cross-entropy",
                vec![
                    Series::new(
                        "train",
                        (0..50)
                            .map(|i| (i as f64, 2.0 / (1.0 + i as f64)))
                            .collect(),
                    ),
                    Series::new("baseline", vec![(0.0, 0.5), (49.0, 0.5)]),
                ],
            )
        }
    }

    #[test]
    fn svg_has_axes_labels_and_legend() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.svg");
        chart().save(&path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        for text in [
            "Copy task",
            "iteration",
            "cross-entropy",
            "train",
            "baseline",
        ] {
            assert!(svg.contains(text), "{text} missing from the SVG");
        }
    }

    #[test]
    fn png_is_a_real_image() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.png");
        chart().save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert!(bytes.len() > 5000);
        // It decodes to the documented size, on white, with something drawn on it.
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        let frame = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((frame.width, frame.height), (900, 560));
        let rgb = &pixels[..frame.buffer_size()];
        let white = rgb.chunks(3).filter(|p| p == &[255, 255, 255]).count();
        assert!(white > rgb.len() / 3 / 2, "mostly white background");
        assert!(rgb.chunks(3).any(|p| p != [255, 255, 255]), "nothing drawn");
    }

    #[test]
    fn empty_and_log_charts() {
        let dir = tempfile::tempdir().unwrap();
        let empty = Chart::lines("nothing", "x", "y", vec![Series::new("a", vec![])]);
        assert!(empty.save(&dir.path().join("e.svg")).is_err());
        let mut log = chart();
        log.log_y = true;
        log.save(&dir.path().join("l.svg")).unwrap();
    }
}
