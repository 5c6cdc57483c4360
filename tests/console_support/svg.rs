//! A TestBackend buffer as an SVG picture (text with its colours and emphasis), for the
//! screenshots in `screenshots/`.

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

const CELL_W: f64 = 8.4;
const CELL_H: f64 = 18.0;
const FONT: &str =
    "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', 'Noto Sans Mono CJK JP', monospace";

/// The terminal's own colours (what `Color::Reset` means).
#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    pub fg: &'static str,
    pub bg: &'static str,
}

pub const DARK: Terminal = Terminal {
    fg: "#d4d4d4",
    bg: "#1e1e1e",
};
pub const LIGHT: Terminal = Terminal {
    fg: "#202020",
    bg: "#fbfbfb",
};

/// The 16 ANSI colours (the VS Code terminal palette), in ANSI order.
const ANSI: [&str; 16] = [
    "#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5", "#666666",
    "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
];

fn hex(color: Color, default: &str) -> String {
    let ansi = |i: usize| ANSI[i].to_string();
    match color {
        Color::Reset => default.to_string(),
        Color::Black => ansi(0),
        Color::Red => ansi(1),
        Color::Green => ansi(2),
        Color::Yellow => ansi(3),
        Color::Blue => ansi(4),
        Color::Magenta => ansi(5),
        Color::Cyan => ansi(6),
        Color::Gray => ansi(7),
        Color::DarkGray => ansi(8),
        Color::LightRed => ansi(9),
        Color::LightGreen => ansi(10),
        Color::LightYellow => ansi(11),
        Color::LightBlue => ansi(12),
        Color::LightMagenta => ansi(13),
        Color::LightCyan => ansi(14),
        Color::White => ansi(15),
        Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
        Color::Indexed(i) => indexed(i),
    }
}

fn indexed(i: u8) -> String {
    match i {
        0..=15 => ANSI[i as usize].to_string(),
        16..=231 => {
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            let n = i - 16;
            format!(
                "#{:02x}{:02x}{:02x}",
                level(n / 36),
                level((n / 6) % 6),
                level(n % 6)
            )
        }
        _ => {
            let v = 8 + (i - 232) * 10;
            format!("#{v:02x}{v:02x}{v:02x}")
        }
    }
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A run of cells of one style on one row; a wide character is a run of its own, so that
/// its width in the font cannot shift the cells after it.
struct Run {
    wide: bool,
    x: u16,
    cells: u16,
    text: String,
    fg: String,
    bg: String,
    modifier: Modifier,
}

fn runs(buffer: &Buffer, y: u16, term: Terminal) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    let mut x = 0;
    while x < buffer.area.width {
        let cell = &buffer[(x, y)];
        let width = statmgr::tui::sanitize::width(cell.symbol()).max(1) as u16;
        let (mut fg, mut bg) = (hex(cell.fg, term.fg), hex(cell.bg, term.bg));
        if cell.modifier.contains(Modifier::REVERSED) {
            std::mem::swap(&mut fg, &mut bg);
        }
        let modifier = cell.modifier - Modifier::REVERSED;
        let wide = width > 1;
        match out.last_mut() {
            Some(run) if !wide && !run.wide && run.fg == fg && run.bg == bg && run.modifier == modifier => {
                run.text.push_str(cell.symbol());
                run.cells += width;
            }
            _ => out.push(Run {
                wide,
                x,
                cells: width,
                text: cell.symbol().to_string(),
                fg,
                bg,
                modifier,
            }),
        }
        x += width;
    }
    out
}

/// The buffer as a standalone SVG document.
pub fn render(buffer: &Buffer, term: Terminal) -> String {
    let (w, h) = (
        buffer.area.width as f64 * CELL_W,
        buffer.area.height as f64 * CELL_H,
    );
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.1} {h:.1}\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"{}\"/>\n\
         <g font-family=\"{FONT}\" font-size=\"14px\" xml:space=\"preserve\">\n",
        term.bg
    );
    for y in 0..buffer.area.height {
        let top = y as f64 * CELL_H;
        for run in runs(buffer, y, term) {
            let (x, width) = (run.x as f64 * CELL_W, run.cells as f64 * CELL_W);
            if run.bg != term.bg {
                svg.push_str(&format!(
                    "<rect x=\"{x:.1}\" y=\"{top:.1}\" width=\"{width:.1}\" height=\"{CELL_H}\" fill=\"{}\"/>\n",
                    run.bg
                ));
            }
            if run.text.trim().is_empty() {
                continue;
            }
            let mut attrs = format!("fill=\"{}\"", run.fg);
            let m = run.modifier;
            if m.contains(Modifier::BOLD) {
                attrs.push_str(" font-weight=\"bold\"");
            }
            if m.contains(Modifier::DIM) {
                attrs.push_str(" opacity=\"0.6\"");
            }
            if m.contains(Modifier::ITALIC) {
                attrs.push_str(" font-style=\"italic\"");
            }
            if m.contains(Modifier::UNDERLINED) {
                attrs.push_str(" text-decoration=\"underline\"");
            }
            // textLength pins the run to its cells, so wide characters keep the grid.
            svg.push_str(&format!(
                "<text x=\"{x:.1}\" y=\"{:.1}\" textLength=\"{width:.1}\" lengthAdjust=\"spacingAndGlyphs\" {attrs}>{}</text>\n",
                top + CELL_H * 0.75,
                escape_xml(&run.text)
            ));
        }
    }
    svg.push_str("</g>\n</svg>\n");
    svg
}
