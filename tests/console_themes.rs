//! Themes: the built-in ones are complete and valid, a bad theme file is a clear error that
//! names its file, line and column, and the colour policy (`--color`, `NO_COLOR`) holds.

use ratatui::style::{Color, Modifier, Style};
use statmgr::tui::theme::{ColorChoice, Theme, ThemeError, BUILTIN, STYLE_NAMES};

fn invalid(text: &str) -> (usize, usize, String) {
    match Theme::parse(text, "my.toml") {
        Err(ThemeError::Invalid {
            file,
            line,
            column,
            message,
        }) => {
            assert_eq!(file, "my.toml");
            (line, column, message)
        }
        other => panic!("expected an invalid theme, got {other:?}"),
    }
}

#[test]
fn built_in_themes_parse_and_define_every_style() {
    for (name, text) in BUILTIN {
        let theme = Theme::parse(text, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(theme.name, name);
        let table: toml::Table = toml::from_str(text).expect("toml");
        let styles = table["styles"].as_table().expect("[styles]");
        let mut defined: Vec<&str> = styles.keys().map(String::as_str).collect();
        let mut known = STYLE_NAMES.to_vec();
        defined.sort_unstable();
        known.sort_unstable();
        assert_eq!(defined, known, "{name} must define exactly every style");
    }
}

#[test]
fn an_unknown_colour_points_at_its_line_and_column() {
    let text =
        "name = \"x\"\n[palette]\nok = \"red\"\n[styles]\nheader = { fg = \"ok\", bg = \"blurple\" }\n";
    let (line, column, message) = invalid(text);
    assert_eq!((line, column), (5, 28));
    assert!(
        message.contains("blurple") && message.contains("#rrggbb"),
        "{message}"
    );
}

#[test]
fn a_bad_palette_entry_an_unknown_style_and_bad_syntax_are_located() {
    let (line, _, message) = invalid("[palette]\n\nfg = \"#12345\"\n");
    assert_eq!(line, 3);
    assert!(message.contains("palette `fg`"), "{message}");

    let (line, column, message) = invalid("[styles]\nbase = {}\nheadr = { bold = true }\n");
    assert_eq!((line, column), (3, 9));
    assert!(
        message.contains("unknown style `headr`") && message.contains("header"),
        "{message}"
    );

    let (line, column, _) = invalid("[styles]\nbase = { bold = \"yes\" }\n");
    assert_eq!((line, column), (2, 17));

    let (line, _, message) = invalid("[styles]\nbase = { colour = \"red\" }\n");
    assert_eq!(line, 2);
    assert!(message.contains("colour"), "{message}");

    let (line, _, _) = invalid("name = \"x\"\n[styles\n");
    assert_eq!(line, 2);
}

#[test]
fn the_error_message_names_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "[styles]\nbase = { fg = \"nope\" }\n").expect("write");
    let spec = path.to_str().expect("utf-8 path");
    let error = Theme::load(spec).expect_err("broken theme").to_string();
    assert!(error.contains("broken.toml, line 2, column 15"), "{error}");
}

#[test]
fn a_theme_file_may_leave_styles_out() {
    let theme = Theme::parse("[styles]\nheader = { fg = \"red\" }\n", "partial.toml").expect("valid");
    assert_eq!(theme.styles.header, Style::default().fg(Color::Red));
    // What it leaves out comes from mono: the selection is still visible.
    assert!(theme.styles.selected.add_modifier.contains(Modifier::REVERSED));
}

#[test]
fn names_resolve_to_built_ins_and_anything_else_must_be_a_file() {
    assert_eq!(Theme::load("light").expect("light").name, "light");
    assert!(matches!(Theme::load("solarized"), Err(ThemeError::Unknown(_))));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mine.toml");
    std::fs::write(&path, "name = \"mine\"\n[styles]\nbase = { fg = \"blue\" }\n").expect("write");
    let theme = Theme::load(path.to_str().expect("utf-8")).expect("a theme file");
    assert_eq!(theme.name, "mine");
}

fn has_color(theme: &Theme) -> bool {
    let s = &theme.styles;
    [
        s.header,
        s.selected,
        s.error,
        s.ok,
        s.badge,
        s.base,
        s.border_focus,
    ]
    .iter()
    .any(|st| st.fg.is_some_and(|c| c != Color::Reset) || st.bg.is_some_and(|c| c != Color::Reset))
}

#[test]
fn no_color_and_color_never_drop_every_colour() {
    assert!(has_color(
        &Theme::resolve("default", ColorChoice::Auto, false).expect("theme")
    ));
    assert!(!has_color(
        &Theme::resolve("default", ColorChoice::Auto, true).expect("theme")
    ));
    assert!(!has_color(
        &Theme::resolve("light", ColorChoice::Never, false).expect("theme")
    ));
    assert!(has_color(
        &Theme::resolve("light", ColorChoice::Always, true).expect("theme")
    ));
    // A theme file without colour keeps its emphasis, and what had a background is reversed.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bright.toml");
    std::fs::write(&path, "[styles]\nbadge = { fg = \"black\", bg = \"yellow\" }\n").expect("write");
    let theme = Theme::resolve(path.to_str().expect("utf-8"), ColorChoice::Never, false).expect("theme");
    assert!(!has_color(&theme));
    assert!(theme.styles.badge.add_modifier.contains(Modifier::REVERSED));
}
