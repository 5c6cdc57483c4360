//! The fields a message file may name, and the checks that depend on which field it is.

use std::collections::BTreeMap;
use std::fmt;

use chrono::DateTime;

use super::escape::{needs_escape, quote};
use super::{Message, Severity};

/// One top-level field of a message object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Uid,
    MessageId,
    Severity,
    Component,
    Machine,
    Site,
    Time,
    Module,
    ReportType,
    ProcessId,
    ThreadId,
    Win32Error,
    InsertionStrings,
    Attributes,
}

const ALL: [Field; 14] = [
    Field::Uid,
    Field::MessageId,
    Field::Severity,
    Field::Component,
    Field::Machine,
    Field::Site,
    Field::Time,
    Field::Module,
    Field::ReportType,
    Field::ProcessId,
    Field::ThreadId,
    Field::Win32Error,
    Field::InsertionStrings,
    Field::Attributes,
];

impl Field {
    pub(super) fn name(self) -> &'static str {
        match self {
            Field::Uid => "uid",
            Field::MessageId => "message_id",
            Field::Severity => "severity",
            Field::Component => "component",
            Field::Machine => "machine",
            Field::Site => "site",
            Field::Time => "time",
            Field::Module => "module",
            Field::ReportType => "report_type",
            Field::ProcessId => "process_id",
            Field::ThreadId => "thread_id",
            Field::Win32Error => "win32_error",
            Field::InsertionStrings => "insertion_strings",
            Field::Attributes => "attributes",
        }
    }

    pub(super) fn from_name(name: &str) -> Option<Field> {
        ALL.into_iter().find(|field| field.name() == name)
    }

    /// A bit of its own, to notice a field given twice.
    pub(super) fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The reason for a key that names no field, with a guess when it looks like a typo.
    pub(super) fn unknown(name: &str) -> String {
        let guess = ALL
            .into_iter()
            .map(|field| (edit_distance(name, field.name()), field))
            .min_by_key(|&(distance, _)| distance);
        match guess {
            Some((distance, field)) if distance <= 2 && name.len() > 2 => {
                format!(
                    "unknown field {} (did you mean \"{}\"?)",
                    quote(name),
                    field.name()
                )
            }
            _ => format!("unknown field {}", quote(name)),
        }
    }

    /// Checks a text value must pass beyond its length, by field.
    pub(super) fn check_text(self, text: &str) -> Result<(), String> {
        match self {
            Field::Component | Field::Machine | Field::Site if text.is_empty() => {
                Err("must not be empty".to_owned())
            }
            Field::Uid => check_uid(text),
            Field::Time => match DateTime::parse_from_rfc3339(text) {
                Ok(_) => Ok(()),
                Err(why) => Err(format!("{} is not an RFC 3339 timestamp ({why})", quote(text))),
            },
            _ => Ok(()),
        }
    }
}

fn check_uid(uid: &str) -> Result<(), String> {
    if uid.is_empty() {
        return Err("must not be empty".to_owned());
    }
    match uid.char_indices().find(|&(_, c)| needs_escape(c)) {
        Some((at, c)) => Err(format!(
            "contains the control character {} at byte {at}",
            c.escape_unicode()
        )),
        None => Ok(()),
    }
}

/// Levenshtein distance on bytes; field names are short ASCII, and longer input is cut.
fn edit_distance(a: &str, b: &str) -> usize {
    let a = &a.as_bytes()[..a.len().min(32)];
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// Where in a message a value sits, as a reason names it.
#[derive(Debug, Clone, Copy)]
pub(super) enum At {
    /// The message object itself.
    Top,
    Field(Field),
    /// An element of an array field (0-based).
    Item(Field, usize),
    /// The value of one attribute.
    Attribute(i64),
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Top => f.write_str("message"),
            At::Field(field) => write!(f, "field \"{}\"", field.name()),
            At::Item(field, index) => write!(f, "field \"{}[{index}]\"", field.name()),
            At::Attribute(id) => write!(f, "field \"attributes\", key \"{id}\""),
        }
    }
}

/// The fields read so far from one message object.
#[derive(Default)]
pub(super) struct Raw {
    pub seen: u16,
    pub uid: Option<String>,
    pub message_id: Option<i64>,
    pub severity: Option<Severity>,
    pub component: Option<String>,
    pub machine: Option<String>,
    pub site: Option<String>,
    pub time: Option<String>,
    pub module: Option<String>,
    pub report_type: Option<String>,
    pub process_id: Option<i64>,
    pub thread_id: Option<i64>,
    pub win32_error: Option<i64>,
    pub insertion_strings: Option<Vec<String>>,
    pub attributes: Option<BTreeMap<i64, String>>,
}

impl Raw {
    /// The message, or the reason naming every required field that is missing.
    /// A message without uid gets an empty one here; the caller derives it.
    pub fn finish(self) -> Result<Message, String> {
        let (Some(message_id), Some(severity), Some(component), Some(machine), Some(site), Some(time)) = (
            self.message_id,
            self.severity,
            self.component,
            self.machine,
            self.site,
            self.time,
        ) else {
            return Err(missing(self.seen));
        };
        Ok(Message {
            uid: self.uid.unwrap_or_default(),
            message_id,
            severity,
            component,
            machine,
            site,
            time,
            module: self.module,
            report_type: self.report_type,
            process_id: self.process_id,
            thread_id: self.thread_id,
            win32_error: self.win32_error,
            insertion_strings: self.insertion_strings.unwrap_or_default(),
            attributes: self.attributes.unwrap_or_default(),
        })
    }
}

/// Required fields are never null (the decoder refuses it), so "not seen" means missing.
fn missing(seen: u16) -> String {
    let required = [
        Field::MessageId,
        Field::Severity,
        Field::Component,
        Field::Machine,
        Field::Site,
        Field::Time,
    ];
    let names: Vec<String> = required
        .into_iter()
        .filter(|field| seen & field.bit() == 0)
        .map(|field| format!("\"{}\"", field.name()))
        .collect();
    match names.len() {
        1 => format!("missing required field {}", names[0]),
        _ => format!("missing required fields {}", names.join(", ")),
    }
}
