//! Tiny SVG charts for self-contained reports: no JavaScript, no external
//! files, readable in any browser and diffable as text.

use std::fmt::Write as _;

const W: f64 = 640.0;
const H: f64 = 240.0;
const PAD_L: f64 = 56.0;
const PAD_B: f64 = 36.0;
const PAD_T: f64 = 28.0;
const PAD_R: f64 = 16.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn frame(title: &str, y_max: f64, y_label: &str) -> String {
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img"><title>{t}</title><text x="{PAD_L}" y="18" font-size="14" font-weight="bold">{t}</text>"#,
        t = escape(title)
    );
    let (x0, y0, y1) = (PAD_L, H - PAD_B, PAD_T);
    let _ = write!(
        s,
        r##"<line x1="{x0}" y1="{y0}" x2="{x2}" y2="{y0}" stroke="#444"/><line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#444"/>"##,
        x2 = W - PAD_R
    );
    for k in 0..=4 {
        let v = y_max * k as f64 / 4.0;
        let y = y0 - (y0 - y1) * k as f64 / 4.0;
        let _ = write!(
            s,
            r##"<text x="{tx}" y="{ty}" font-size="10" text-anchor="end">{v}</text><line x1="{x0}" y1="{y}" x2="{x2}" y2="{y}" stroke="#ddd"/>"##,
            tx = x0 - 4.0,
            ty = y + 3.0,
            v = short(v),
            x2 = W - PAD_R
        );
    }
    let _ = write!(
        s,
        r#"<text x="12" y="{y}" font-size="10" transform="rotate(-90 12 {y})" text-anchor="middle">{l}</text>"#,
        y = (y0 + y1) / 2.0,
        l = escape(y_label)
    );
    s
}

/// A number short enough for an axis.
fn short(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Vertical bars, one per label.
pub fn bars(title: &str, labels: &[String], values: &[f64], y_label: &str) -> String {
    let y_max = values.iter().copied().fold(0.0, f64::max).max(1e-9) * 1.1;
    let mut s = frame(title, y_max, y_label);
    let n = values.len().max(1) as f64;
    let slot = (W - PAD_L - PAD_R) / n;
    let step = (labels.len() / 12).max(1);
    for (k, (&v, label)) in values.iter().zip(labels).enumerate() {
        let h = (H - PAD_B - PAD_T) * v / y_max;
        let x = PAD_L + slot * k as f64 + slot * 0.1;
        let _ = write!(
            s,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="#3b7dd8"><title>{l}: {v}</title></rect>"##,
            y = H - PAD_B - h,
            w = slot * 0.8,
            l = escape(label),
            v = short(v)
        );
        if k % step == 0 {
            let _ = write!(
                s,
                r#"<text x="{cx:.1}" y="{ly}" font-size="10" text-anchor="middle">{l}</text>"#,
                cx = x + slot * 0.4,
                ly = H - PAD_B + 14.0,
                l = escape(label)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Lines through `(x, y)` points, one colour per series.
pub fn lines(title: &str, series: &[(&str, Vec<(f64, f64)>)], x_label: &str, y_label: &str) -> String {
    const COLOURS: [&str; 4] = ["#3b7dd8", "#d8553b", "#3bb273", "#8a3bd8"];
    let all = series.iter().flat_map(|(_, p)| p.iter());
    let (mut x_min, mut x_max, mut y_max) = (f64::INFINITY, f64::NEG_INFINITY, 1e-9f64);
    for &(x, y) in all {
        x_min = x_min.min(x);
        x_max = x_max.max(x);
        y_max = y_max.max(y);
    }
    if !x_min.is_finite() {
        (x_min, x_max) = (0.0, 1.0);
    }
    let y_max = y_max * 1.1;
    let mut s = frame(title, y_max, y_label);
    let sx = |x: f64| PAD_L + (W - PAD_L - PAD_R) * (x - x_min) / (x_max - x_min).max(1e-9);
    let sy = |y: f64| H - PAD_B - (H - PAD_B - PAD_T) * y / y_max;
    for (k, (name, points)) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let path: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/><text x="{lx}" y="{ly}" font-size="11" fill="{colour}">{n}</text>"#,
            path.join(" "),
            lx = W - PAD_R - 150.0,
            ly = PAD_T + 12.0 + 14.0 * k as f64,
            n = escape(name)
        );
    }
    for k in 0..=4 {
        let x = x_min + (x_max - x_min) * k as f64 / 4.0;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" font-size="10" text-anchor="middle">{}</text>"#,
            sx(x),
            H - PAD_B + 14.0,
            short(x)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text></svg>"#,
        (PAD_L + W - PAD_R) / 2.0,
        H - 4.0,
        escape(x_label)
    );
    s
}
