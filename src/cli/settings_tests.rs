//! Unit tests of the config file: keys against flags and the shipped example, positions in
//! error messages, precedence for every key, redaction.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Write;

use super::*;

const EXAMPLE: &str = include_str!("../../contrib/statmgr.toml");

fn file_with(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn err_text(text: &str) -> (String, String) {
    let f = file_with(text);
    let path = f.path().display().to_string();
    (path, load(f.path()).unwrap_err().to_string())
}

/// The example with every `# key = value` line uncommented.
fn example_uncommented() -> String {
    EXAMPLE
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest)
                if rest
                    .split_once(" = ")
                    .is_some_and(|(k, _)| KEYS.iter().any(|(n, _)| *n == k)) =>
            {
                rest
            }
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn run_flag_ids() -> BTreeSet<String> {
    run_command()
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .filter(|id| id != "help" && !NOT_IN_FILE.contains(&id.as_str()))
        .collect()
}

#[test]
fn every_run_flag_is_a_key_and_every_key_is_a_run_flag() {
    let keys: BTreeSet<String> = KEYS.iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(
        keys,
        run_flag_ids(),
        "a new `run` flag needs a KEYS entry (or NOT_IN_FILE)"
    );
}

#[test]
fn the_shipped_example_parses_and_names_every_key() {
    let f = file_with(&example_uncommented());
    let settings = load(f.path()).expect("the example, uncommented, must be valid");
    let named: BTreeSet<String> = settings.into_iter().map(|s| s.key).collect();
    let keys: BTreeSet<String> = KEYS.iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(named, keys, "contrib/statmgr.toml must show every key");
    // And as shipped (all commented out) it sets nothing.
    let f = file_with(EXAMPLE);
    assert!(load(f.path()).unwrap().is_empty());
}

#[test]
fn an_unknown_key_names_file_line_and_column() {
    let (path, err) = err_text("batch_size = 10\n  batch_sise = 5\n");
    assert_eq!(
        err,
        format!(
            "{path}:2:3: unknown key `batch_sise` (the keys are the flags of `statmgr run`: {})",
            key_list()
        )
    );
}

#[test]
fn a_bad_value_names_file_line_and_column() {
    let (path, err) = err_text("# comment\nbatch_size = 0\n");
    assert_eq!(
        err,
        format!("{path}:2:14: bad value for `batch_size`: invalid value '0' for '--batch-size <BATCH_SIZE>': 0 is not in 1..=100000")
    );
    let (path, err) = err_text("batch_age = \"fast\"\n");
    assert_eq!(
        err,
        format!("{path}:1:13: `batch_age` must be an integer, not a string")
    );
    let (path, err) = err_text("retain = \"fatal=3\"\n");
    assert_eq!(
        err,
        format!("{path}:1:10: bad value for `retain`: invalid value 'fatal=3' for '--retain <SEV=DAYS,...>': \"fatal\" is not a severity (error, warning, info)")
    );
    let (path, err) = err_text("listen = \"not an address\"\n");
    assert!(
        err.starts_with(&format!(
            "{path}:1:10: bad value for `listen`: invalid value 'not an address'"
        )),
        "{err}"
    );
    let (path, err) = err_text("listen_public = 1\n");
    assert_eq!(
        err,
        format!("{path}:1:17: `listen_public` must be true or false, not an integer")
    );
}

#[test]
fn a_syntax_error_names_file_line_and_column() {
    let (path, err) = err_text("batch_size = 10\nbatch_age = = 3\n");
    assert!(err.starts_with(&format!("{path}:2:")), "{err}");
    let (path, err) = err_text("[section]\nbatch_size = 1\n");
    assert!(
        err.starts_with(&format!("{path}:1:2: unknown key `section`")),
        "{err}"
    );
}

fn argv(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn raw(resolved: &Resolved, key: &str) -> String {
    resolved
        .matches
        .get_raw(key)
        .and_then(|mut v| v.next())
        .map(|v| v.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every key: the file's value is used when no flag is given, and a flag beats it.
#[test]
fn for_every_key_the_file_beats_the_default_and_a_flag_beats_the_file() {
    let f = file_with(&example_uncommented());
    let path = f.path().to_str().unwrap();
    let from_file = resolve(argv(&["--config", path])).unwrap();
    for line in example_uncommented().lines() {
        let Some((key, value)) = line.split_once(" = ") else {
            continue;
        };
        let Some(&(_, kind)) = KEYS.iter().find(|(k, _)| *k == key) else {
            continue;
        };
        assert!(
            from_file.from_file.iter().any(|k| k == key),
            "{key} not taken from the file"
        );
        match kind {
            Kind::Bool => assert_eq!(from_file.matches.get_flag(key).to_string(), value, "{key}"),
            Kind::Str => assert_eq!(raw(&from_file, key), value.trim_matches('"'), "{key}"),
            Kind::Int => {
                assert_eq!(raw(&from_file, key), value, "{key}");
                let other = (value.parse::<i64>().unwrap() + 1).to_string();
                let flag = format!("--{}", key.replace('_', "-"));
                let by_flag = resolve(argv(&["--config", path, &flag, &other])).unwrap();
                assert_eq!(raw(&by_flag, key), other, "{key}: the flag must win");
                assert!(!by_flag.from_file.iter().any(|k| k == key));
            }
        }
    }
    let by_flag = resolve(argv(&[
        "--config",
        path,
        "--retain",
        "info=3",
        "--root",
        "/elsewhere",
    ]))
    .unwrap();
    assert_eq!(by_flag.args.retain.unwrap().info, Some(3));
    assert_eq!(by_flag.args.root.path(), std::path::PathBuf::from("/elsewhere"));
    // Without a file, every value is the default.
    let defaults = resolve(argv(&[])).unwrap();
    assert_eq!(defaults.args.batch_size, 1000);
    assert!(defaults.from_file.is_empty());
}

#[test]
fn the_resolved_settings_drive_the_processor_config() {
    let f = file_with("batch_size = 17\nretain_days = 30\nretain = \"error=90\"\nretain_interval = 5\n");
    let resolved = resolve(argv(&[
        "--config",
        f.path().to_str().unwrap(),
        "--batch-age",
        "9",
    ]))
    .unwrap();
    let config = resolved.args.config();
    assert_eq!(config.batch_size, 17);
    assert_eq!(config.batch_age, std::time::Duration::from_millis(9));
    assert_eq!(
        (
            config.retention.error,
            config.retention.warning,
            config.retention.info
        ),
        (Some(90), Some(30), Some(30))
    );
    assert_eq!(config.retain_interval, std::time::Duration::from_secs(5));
}

#[test]
fn show_redacts_the_password_and_says_where_each_value_came_from() {
    let f = file_with("database = \"postgres://app:s3cret@db:5432/stat\"\nbatch_size = 17\n");
    let resolved = resolve(argv(&[
        "--config",
        f.path().to_str().unwrap(),
        "--batch-age",
        "9",
    ]))
    .unwrap();
    let text = show(&resolved);
    assert!(!text.contains("s3cret"), "{text}");
    assert!(
        text.contains("database = \"postgres://app:***@db:5432/stat\""),
        "{text}"
    );
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} =")))
            .unwrap()
            .to_string()
    };
    assert!(line("batch_size").ends_with("# file"), "{text}");
    assert!(line("batch_age").ends_with("# flag"), "{text}");
    assert!(line("rescan").ends_with("# default"), "{text}");
    // What show prints is itself a valid config file.
    let again = file_with(&text);
    load(again.path()).expect("show's output parses");
}

#[test]
fn redact_url_hides_only_the_password() {
    assert_eq!(redact_url("postgres://u:p@h/db"), "postgres://u:***@h/db");
    assert_eq!(
        redact_url("postgresql://u:p%40ss@h:5/db?sslmode=require"),
        "postgresql://u:***@h:5/db?sslmode=require"
    );
    assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    assert_eq!(redact_url("postgres://h/db?user=x"), "postgres://h/db?user=x");
    assert_eq!(
        redact_url("postgres://h/db?user=x&password=p"),
        "postgres://h/db?user=x&password=***"
    );
}
