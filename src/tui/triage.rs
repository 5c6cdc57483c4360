//! What the console knows for triage (plain data): the cause view of a file list, the
//! files the operator marked (name + version, the exact set an action will carry), and the
//! progress of a bulk action as the event stream reports it.

use std::collections::BTreeMap;

use crate::api::wire::{file_version, BulkAction, CauseList, FileKind, FileSummary, SetEntry};

/// The files marked for a bulk action, all of one list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Marked {
    pub kind: Option<FileKind>,
    pub set: BTreeMap<String, SetEntry>,
}

impl Marked {
    pub fn files(&self) -> u64 {
        self.set.len() as u64
    }

    pub fn messages(&self) -> u64 {
        self.set.values().map(|e| e.messages).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    pub fn contains(&self, kind: FileKind, name: &str) -> bool {
        self.kind == Some(kind) && self.set.contains_key(name)
    }

    pub fn clear(&mut self) {
        self.set.clear();
        self.kind = None;
    }

    /// Marks belong to one list: marking in the other starts afresh.
    fn for_kind(&mut self, kind: FileKind) {
        if self.kind != Some(kind) {
            self.set.clear();
            self.kind = Some(kind);
        }
    }

    /// Space on a file: marked if it was not, unmarked if it was. Returns whether it is marked now.
    pub fn toggle(&mut self, kind: FileKind, file: &FileSummary) -> bool {
        self.for_kind(kind);
        if self.set.remove(&file.name).is_some() {
            if self.set.is_empty() {
                self.kind = None;
            }
            return false;
        }
        self.set.insert(file.name.clone(), entry_of(file));
        true
    }

    /// Every file of a server selection (all pages).
    pub fn add_all(&mut self, kind: FileKind, set: Vec<SetEntry>) {
        self.for_kind(kind);
        for e in set {
            self.set.insert(e.name.clone(), e);
        }
    }

    pub fn entries(&self) -> Vec<SetEntry> {
        self.set.values().cloned().collect()
    }
}

/// The exact-set entry of a file as the console saw it.
pub fn entry_of(file: &FileSummary) -> SetEntry {
    let cause = crate::cause::normalise(&file.last_error);
    SetEntry {
        name: file.name.clone(),
        version: file_version(file),
        messages: file.messages,
        cause_id: crate::cause::cause_id(&cause),
        cause,
    }
}

/// A bulk action under way, from its progress events.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub id: u64,
    pub action: BulkAction,
    pub done: u64,
    pub total: u64,
    pub skipped: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Triage {
    /// The list shown grouped by cause, if any.
    pub causes_of: Option<FileKind>,
    /// The groups of that list, as the server computed them.
    pub causes: Option<CauseList>,
    pub cause_selected: usize,
    pub marked: Marked,
    pub progress: Option<Progress>,
}

impl Triage {
    /// The cause under the cursor in the cause view.
    pub fn selected_cause(&self) -> Option<&crate::api::wire::CauseGroup> {
        self.causes.as_ref()?.groups.get(self.cause_selected)
    }

    /// "N files selected (M messages)", when something is marked.
    pub fn marked_line(&self) -> Option<String> {
        if self.marked.is_empty() {
            return None;
        }
        let (n, m) = (self.marked.files(), self.marked.messages());
        Some(format!(
            "{} file{} selected ({} message{})",
            crate::tui::format::count(n),
            if n == 1 { "" } else { "s" },
            crate::tui::format::count(m),
            if m == 1 { "" } else { "s" }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, attempts: u32) -> FileSummary {
        FileSummary {
            name: name.into(),
            messages: 3,
            attempts,
            next_attempt: None,
            next_attempt_in_s: None,
            last_error: format!("message uid \"{name}\" (record id 9): rejected by a database trigger: x"),
            age_s: 1.0,
            created: "2026-11-27T10:00:00.000Z".into(),
            discarded: None,
        }
    }

    #[test]
    fn marks_toggle_count_and_stay_in_one_list() {
        let mut m = Marked::default();
        assert!(m.toggle(FileKind::Stuck, &file("a", 5)));
        assert!(m.toggle(FileKind::Stuck, &file("b", 5)));
        assert_eq!((m.files(), m.messages()), (2, 6));
        let e = &m.set["a"];
        assert_eq!(e.version, "5/3/2026-11-27T10:00:00.000Z");
        assert_eq!(e.cause_id, m.set["b"].cause_id, "one cause whatever the uid");
        assert!(!m.toggle(FileKind::Stuck, &file("a", 5)));
        assert_eq!(m.files(), 1);
        assert!(m.toggle(FileKind::Retry, &file("c", 1)));
        assert_eq!(m.files(), 1, "marking in another list starts afresh");
        assert!(m.contains(FileKind::Retry, "c"));
        let t = Triage {
            marked: m,
            ..Triage::default()
        };
        assert_eq!(t.marked_line().unwrap(), "1 file selected (3 messages)");
    }
}
