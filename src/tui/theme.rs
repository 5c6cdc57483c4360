//! Themes: a palette and named styles read from TOML (the built-in ones are embedded), the
//! colour policy (`--color`, `NO_COLOR`), and errors that point at file, line and column.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use toml::Spanned;

pub const BUILTIN: [(&str, &str); 3] = [
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
];

macro_rules! styles {
    ($($name:ident: $doc:literal,)*) => {
        /// Every style the views use, by name (the `[styles]` keys of a theme file).
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct Styles { $(#[doc = $doc] pub $name: Style,)* }

        pub const STYLE_NAMES: &[&str] = &[$(stringify!($name)),*];

        impl Styles {
            fn get_mut(&mut self, name: &str) -> Option<&mut Style> {
                match name { $(stringify!($name) => Some(&mut self.$name),)* _ => None }
            }
            fn for_each(&mut self, f: impl Fn(&mut Style)) { $(f(&mut self.$name);)* }
        }
    };
}

styles! {
    base: "ordinary text",
    header: "the header bar",
    state_running: "processor state: running",
    state_paused: "processor state: paused",
    state_draining: "processor state: draining, starting or stopped",
    state_down: "processor state: disconnected",
    badge: "the READ-ONLY badge",
    border: "panel borders",
    border_focus: "the focused panel's border",
    title: "panel titles",
    title_focus: "the focused panel's title",
    table_header: "column headers",
    selected: "the selected row of the focused list",
    selected_unfocused: "the selected row of a list without focus",
    label: "field names",
    value: "field values",
    muted: "secondary text",
    ok: "good news",
    warn: "warnings",
    error: "errors and alarms",
    key: "keys in the footer and the help",
    hint: "what a key does, in the footer",
    escaped: "escaped control characters in producer text",
    sparkline: "the inbox depth sparkline",
    throughput: "the throughput chart",
    latency: "the latency chart",
    overlay: "dialogs, help and detail views",
    overlay_border: "the border of dialogs",
    notice_info: "a pending action in the footer",
    notice_ok: "an action's result in the footer",
    notice_error: "a refusal or failure in the footer",
    operator: "operator actions in the events panel",
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub styles: Styles,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// Colours unless `NO_COLOR` is set (to anything but the empty string).
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("theme {file}, line {line}, column {column}: {message}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("cannot read theme file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("unknown theme `{0}`: not a built-in theme (default, light, mono) and no such file")]
    Unknown(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTheme {
    name: Option<String>,
    #[serde(default)]
    palette: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    styles: BTreeMap<String, Spanned<RawStyle>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStyle {
    fg: Option<Spanned<String>>,
    bg: Option<Spanned<String>>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    dim: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underlined: bool,
    #[serde(default)]
    reversed: bool,
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

struct Source<'a> {
    text: &'a str,
    file: &'a str,
}

impl Source<'_> {
    fn error(&self, span: Option<std::ops::Range<usize>>, message: String) -> ThemeError {
        let (line, column) = line_column(self.text, span.map_or(0, |s| s.start));
        ThemeError::Invalid {
            file: self.file.to_string(),
            line,
            column,
            message,
        }
    }
}

impl Theme {
    /// A built-in theme by name.
    pub fn builtin(name: &str) -> Option<Theme> {
        let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        // The built-in files are checked by the tests; a broken one falls back to no styles.
        Some(Theme::parse(text, &format!("themes/{name}.toml")).unwrap_or_else(|_| Theme::plain()))
    }

    /// No styles at all (what a missing style falls back to before the mono theme's).
    pub fn plain() -> Theme {
        Theme {
            name: "plain".into(),
            styles: Styles::default(),
        }
    }

    /// `--theme NAME|PATH`: a built-in name, or a file to read.
    pub fn load(spec: &str) -> Result<Theme, ThemeError> {
        if let Some(theme) = Theme::builtin(spec) {
            return Ok(theme);
        }
        let path = Path::new(spec);
        if !path.exists() {
            return Err(ThemeError::Unknown(spec.to_string()));
        }
        let text = std::fs::read_to_string(path).map_err(|source| ThemeError::Read {
            path: spec.to_string(),
            source,
        })?;
        Theme::parse(&text, spec)
    }

    /// Parses a theme file; `file` names it in errors. Styles it leaves out are the mono theme's.
    pub fn parse(text: &str, file: &str) -> Result<Theme, ThemeError> {
        let source = Source { text, file };
        let raw: RawTheme = toml::from_str(text).map_err(|e| source.error(e.span(), e.message().into()))?;
        let palette = parse_palette(&source, &raw.palette)?;
        let mut styles = if file == "themes/mono.toml" {
            Styles::default()
        } else {
            Theme::builtin("mono").map(|t| t.styles).unwrap_or_default()
        };
        for (name, raw_style) in &raw.styles {
            let style = parse_style(&source, &palette, raw_style.get_ref())?;
            let Some(slot) = styles.get_mut(name) else {
                let known = STYLE_NAMES.join(", ");
                let message = format!("unknown style `{name}` (known: {known})");
                return Err(source.error(Some(raw_style.span()), message));
            };
            *slot = style;
        }
        Ok(Theme {
            name: raw.name.unwrap_or_else(|| file.to_string()),
            styles,
        })
    }

    /// The same theme without any colour: what had a background is reversed instead, so
    /// highlights stay visible.
    pub fn without_color(&self) -> Theme {
        let mut styles = self.styles.clone();
        styles.for_each(|style| {
            let had_background = matches!(style.bg, Some(c) if c != Color::Reset);
            style.fg = None;
            style.bg = None;
            if had_background {
                style.add_modifier.insert(Modifier::REVERSED);
            }
        });
        Theme {
            name: format!("{} (no colour)", self.name),
            styles,
        }
    }

    /// The theme to use: `spec` with the colour policy applied (`no_color`: `NO_COLOR` is set).
    /// Without colour a built-in theme gives way to `mono` (designed for it); a theme file
    /// keeps its bold, underline and reverse video, and loses its colours.
    pub fn resolve(spec: &str, color: ColorChoice, no_color: bool) -> Result<Theme, ThemeError> {
        let colorless = match color {
            ColorChoice::Always => false,
            ColorChoice::Never => true,
            ColorChoice::Auto => no_color,
        };
        let theme = Theme::load(spec)?;
        Ok(match (colorless, Theme::builtin(spec).is_some()) {
            (false, _) => theme,
            (true, true) => Theme::builtin("mono").unwrap_or_else(|| theme.without_color()),
            (true, false) => theme.without_color(),
        })
    }
}

/// `NO_COLOR` as https://no-color.org says: set to anything but the empty string.
pub fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

fn parse_palette(
    source: &Source,
    raw: &BTreeMap<String, Spanned<String>>,
) -> Result<BTreeMap<String, Color>, ThemeError> {
    let mut palette = BTreeMap::new();
    for (name, value) in raw {
        let color = Color::from_str(value.get_ref()).map_err(|_| {
            let message = format!(
                "palette `{name}`: `{}` is not a colour ({COLOR_HELP})",
                value.get_ref()
            );
            source.error(Some(value.span()), message)
        })?;
        palette.insert(name.clone(), color);
    }
    Ok(palette)
}

const COLOR_HELP: &str = "use a name like red or lightblue, #rrggbb, an index 0-255, or reset";

fn parse_color(
    source: &Source,
    palette: &BTreeMap<String, Color>,
    value: &Spanned<String>,
) -> Result<Color, ThemeError> {
    let text = value.get_ref();
    if let Some(color) = palette.get(text) {
        return Ok(*color);
    }
    Color::from_str(text).map_err(|_| {
        let message = format!("`{text}` is neither a [palette] name nor a colour ({COLOR_HELP})");
        source.error(Some(value.span()), message)
    })
}

fn parse_style(
    source: &Source,
    palette: &BTreeMap<String, Color>,
    raw: &RawStyle,
) -> Result<Style, ThemeError> {
    let mut style = Style::default();
    if let Some(fg) = &raw.fg {
        style = style.fg(parse_color(source, palette, fg)?);
    }
    if let Some(bg) = &raw.bg {
        style = style.bg(parse_color(source, palette, bg)?);
    }
    let flags = [
        (raw.bold, Modifier::BOLD),
        (raw.dim, Modifier::DIM),
        (raw.italic, Modifier::ITALIC),
        (raw.underlined, Modifier::UNDERLINED),
        (raw.reversed, Modifier::REVERSED),
    ];
    for (on, modifier) in flags {
        if on {
            style = style.add_modifier(modifier);
        }
    }
    Ok(style)
}
