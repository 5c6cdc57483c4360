//! The retry, stuck and discarded files as the processor knows them, indexed for the
//! operator's questions: each entry keeps its name and error as one searchable text and
//! its cause shared with the other files of that cause, so a filtered page, the grouping by cause and a bulk selection over 100,000 files cost one
//! pass without allocating per file.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use crate::api::wire::{
    CauseGroup, CauseList, DiscardedInfo, FilePage, FileQuery, FileSummary, SetEntry, SortKey, MAX_PAGE,
};
use crate::cause::{cause_id, normalise};
use crate::processor::exact_set::SetItem;
use crate::processor::telemetry::{rfc3339, summary, FileEntry};

pub use crate::api::wire::CAUSE_FILTER_PREFIX as CAUSE_PREFIX;

/// One file; the index is a set of these ordered by name (the name is kept once, not
/// again as a map key).
#[derive(Debug, Clone)]
pub struct IndexedFile {
    /// The name, a newline, the last error, then (only where it differs) the lowercase
    /// of those: one allocation per file, and a filter searches its lowercase part with
    /// one memory access per file.
    text: Box<str>,
    name_len: u32,
    /// Where the original part ends (and the lowercase part, if any, begins).
    original_len: u32,
    pub messages: u64,
    pub attempts: u32,
    pub next_attempt: Option<SystemTime>,
    pub created: SystemTime,
    /// Shared by every file of the cause: 100,000 files of 50 causes keep 50 copies.
    pub cause: Arc<Cause>,
    /// Discarded files: when, by whom and why (boxed: retry and stuck files pay 8 bytes).
    pub discarded: Option<Box<Discard>>,
}

/// A normalised last error and its stable id.
#[derive(Debug, PartialEq, Eq)]
pub struct Cause {
    pub text: String,
    pub id: String,
}

/// What the `.reason` of a discarded file says, kept for the Discarded tab.
#[derive(Debug, Clone, PartialEq)]
pub struct Discard {
    pub at: SystemTime,
    pub by: String,
    pub note: Option<String>,
}

impl IndexedFile {
    /// The summary of a page row (with the discard's reason for a discarded file).
    pub fn summary(&self, now: SystemTime) -> FileSummary {
        let mut s = summary(&self.entry(), now);
        s.discarded = self.discarded.as_ref().map(|d| DiscardedInfo {
            at: rfc3339(d.at),
            by: d.by.clone(),
            note: d.note.clone(),
        });
        s
    }
}

impl PartialEq for IndexedFile {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for IndexedFile {}

impl PartialOrd for IndexedFile {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// By name, as `str` orders (the set is looked up by `&str` through `Borrow`).
impl Ord for IndexedFile {
    fn cmp(&self, other: &Self) -> Ordering {
        self.name().cmp(other.name())
    }
}

impl Borrow<str> for IndexedFile {
    fn borrow(&self) -> &str {
        self.name()
    }
}

impl IndexedFile {
    fn new(entry: FileEntry, discarded: Option<Discard>, causes: &mut CausePool) -> IndexedFile {
        let cause = causes.get(normalise(&entry.last_error));
        let mut text = format!("{}\n{}", entry.name, entry.last_error);
        let original_len = text.len() as u32;
        let lower = text.to_lowercase();
        if lower != text {
            text.push_str(&lower);
        }
        IndexedFile {
            text: text.into_boxed_str(),
            name_len: entry.name.len() as u32,
            original_len,
            messages: entry.messages,
            attempts: entry.attempts,
            next_attempt: entry.next_attempt,
            created: entry.created,
            cause,
            discarded: discarded.map(Box::new),
        }
    }

    pub fn name(&self) -> &str {
        &self.text[..self.name_len as usize]
    }

    pub fn last_error(&self) -> &str {
        &self.text[self.name_len as usize + 1..self.original_len as usize]
    }

    /// The lowercase of the name, a newline and the last error: what a filter searches.
    fn lowercase(&self) -> &str {
        match &self.text[self.original_len as usize..] {
            "" => &self.text,
            lower => lower,
        }
    }

    /// The file as the processor reported it.
    pub fn entry(&self) -> FileEntry {
        FileEntry {
            name: self.name().to_string(),
            messages: self.messages,
            attempts: self.attempts,
            next_attempt: self.next_attempt,
            last_error: self.last_error().to_string(),
            created: self.created,
        }
    }

    /// Whether the lowercased name, a newline and the lowercased last error contain
    /// `needle` (already lowercased).
    fn text_contains(&self, needle: &str) -> bool {
        self.lowercase().contains(needle)
    }

    /// The version a bulk action must find unchanged (see `wire::file_version`).
    pub fn version(&self) -> String {
        crate::processor::exact_set::version(self.attempts, self.messages, self.created)
    }

    /// This file as one of a preview's set.
    pub fn set_item(&self) -> SetItem {
        SetItem {
            name: self.name().into(),
            attempts: self.attempts,
            messages: self.messages,
            created: self.created,
            cause: self.cause.clone(),
        }
    }
}

pub fn version_of(entry: &FileEntry) -> String {
    crate::processor::exact_set::version(entry.attempts, entry.messages, entry.created)
}

/// A parsed filter: a lowercased substring, or a cause id.
enum Needle {
    All,
    Text(String),
    Cause(String),
}

impl Needle {
    fn parse(filter: Option<&str>) -> Needle {
        match filter.filter(|f| !f.is_empty()) {
            None => Needle::All,
            Some(f) => match f.strip_prefix(CAUSE_PREFIX) {
                Some(id) => Needle::Cause(id.trim().to_string()),
                None => Needle::Text(f.to_lowercase()),
            },
        }
    }

    fn matches(&self, f: &IndexedFile) -> bool {
        match self {
            Needle::All => true,
            Needle::Text(n) => f.text_contains(n),
            Needle::Cause(id) => f.cause.id == *id,
        }
    }
}

/// The causes of the files in an index, each kept once.
#[derive(Debug, Default)]
struct CausePool {
    by_text: HashMap<String, Arc<Cause>>,
}

impl CausePool {
    fn get(&mut self, text: String) -> Arc<Cause> {
        if let Some(c) = self.by_text.get(&text) {
            return c.clone();
        }
        let cause = Arc::new(Cause {
            id: cause_id(&text),
            text: text.clone(),
        });
        self.by_text.insert(text, cause.clone());
        cause
    }

    /// A file of `cause` left the index: the cause goes when its last file does.
    fn release(&mut self, cause: Arc<Cause>) {
        // Held by the pool and by `cause`: no file has it any more.
        if Arc::strong_count(&cause) == 2 {
            self.by_text.remove(&cause.text);
        }
    }
}

#[derive(Debug, Default)]
pub struct FileIndex {
    files: BTreeSet<IndexedFile>,
    causes: CausePool,
}

impl FileIndex {
    pub fn insert(&mut self, entry: FileEntry, discarded: Option<Discard>) {
        let file = IndexedFile::new(entry, discarded, &mut self.causes);
        if let Some(old) = self.files.replace(file) {
            self.causes.release(old.cause);
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<FileEntry> {
        let f = self.files.take(name)?;
        let entry = f.entry();
        self.causes.release(f.cause);
        Some(entry)
    }

    /// Distinct causes held (each once, whatever the number of files).
    pub fn cause_count(&self) -> usize {
        self.causes.by_text.len()
    }

    pub fn get(&self, name: &str) -> Option<&IndexedFile> {
        self.files.get(name)
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn messages(&self) -> u64 {
        self.files.iter().map(|f| f.messages).sum()
    }

    /// [`FileIndex::select_items`] as wire entries.
    pub fn select(
        &self,
        filter: Option<&str>,
        cause: Option<&str>,
        older_than: Option<std::time::Duration>,
        now: SystemTime,
    ) -> Vec<SetEntry> {
        self.select_items(filter, cause, older_than, now)
            .iter()
            .map(SetItem::to_entry)
            .collect()
    }

    /// Every file matching `filter` (a substring, or `cause:ID`) and `cause`, with the
    /// given minimum age (by discard time for discarded files, else by creation).
    pub fn select_items(
        &self,
        filter: Option<&str>,
        cause: Option<&str>,
        older_than: Option<std::time::Duration>,
        now: SystemTime,
    ) -> Vec<SetItem> {
        let needle = Needle::parse(filter);
        let cause = cause.map(str::trim).filter(|c| !c.is_empty());
        self.files
            .iter()
            .filter(|f| needle.matches(f))
            .filter(|f| cause.is_none_or(|c| f.cause.id == c))
            .filter(|f| match older_than {
                None => true,
                Some(age) => {
                    let at = f.discarded.as_ref().map_or(f.created, |d| d.at);
                    now.duration_since(at).is_ok_and(|d| d >= age)
                }
            })
            .map(IndexedFile::set_item)
            .collect()
    }

    /// The files matching `filter`, grouped by cause, largest group first.
    pub fn causes(&self, filter: Option<&str>, now: SystemTime) -> CauseList {
        let needle = Needle::parse(filter);
        let mut groups: HashMap<&str, (CauseGroup, SystemTime, SystemTime)> = HashMap::new();
        let mut list = CauseList::default();
        for f in self.files.iter().filter(|f| needle.matches(f)) {
            let e = f;
            list.files += 1;
            list.messages += e.messages;
            let g = groups.entry(f.cause.id.as_str()).or_insert_with(|| {
                let group = CauseGroup {
                    id: f.cause.id.clone(),
                    cause: f.cause.text.clone(),
                    example: e.last_error().to_string(),
                    min_attempts: e.attempts,
                    max_attempts: e.attempts,
                    ..CauseGroup::default()
                };
                (group, e.created, e.created)
            });
            g.0.files += 1;
            g.0.messages += e.messages;
            g.0.min_attempts = g.0.min_attempts.min(e.attempts);
            g.0.max_attempts = g.0.max_attempts.max(e.attempts);
            g.1 = g.1.min(e.created);
            g.2 = g.2.max(e.created);
        }
        let age = |t: SystemTime| now.duration_since(t).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        list.groups = groups
            .into_values()
            .map(|(mut g, oldest, newest)| {
                g.oldest_age_s = age(oldest);
                g.newest_age_s = age(newest);
                g
            })
            .collect();
        list.groups
            .sort_by(|a, b| b.files.cmp(&a.files).then_with(|| a.cause.cmp(&b.cause)));
        list
    }

    /// One page, filtered and sorted as `q` asks.
    pub fn page(&self, q: &FileQuery, now: SystemTime) -> FilePage {
        let needle = Needle::parse(q.filter.as_deref());
        let limit = q.limit.min(MAX_PAGE) as usize;
        let offset = q.offset as usize;
        let mut total = 0u64;
        let selected: Vec<&IndexedFile> = if q.sort == SortKey::Name {
            // The map is already in name order: no sort, no copy of the whole list.
            let mut out = Vec::with_capacity(limit);
            let iter: Box<dyn Iterator<Item = &IndexedFile>> = if q.desc {
                Box::new(self.files.iter().rev())
            } else {
                Box::new(self.files.iter())
            };
            for f in iter.filter(|f| needle.matches(f)) {
                if total as usize >= offset && out.len() < limit {
                    out.push(f);
                }
                total += 1;
            }
            out
        } else {
            let mut all: Vec<&IndexedFile> = self.files.iter().filter(|f| needle.matches(f)).collect();
            total = all.len() as u64;
            sort_entries(&mut all, q.sort, q.desc);
            all.into_iter().skip(offset).take(limit).collect()
        };
        FilePage {
            total,
            total_unfiltered: self.files.len() as u64,
            offset: q.offset,
            limit: limit as u64,
            files: selected
                .into_iter()
                .map(|f| f.summary(now))
                .collect::<Vec<FileSummary>>(),
        }
    }
}

fn sort_entries(all: &mut [&IndexedFile], key: SortKey, desc: bool) {
    all.sort_by(|a, b| {
        let ord = match key {
            SortKey::Name => a.name().cmp(b.name()),
            SortKey::Age => b.created.cmp(&a.created),
            SortKey::Messages => a.messages.cmp(&b.messages),
            SortKey::Attempts => a.attempts.cmp(&b.attempts),
            SortKey::NextAttempt => a.next_attempt.cmp(&b.next_attempt),
            SortKey::Error => a.last_error().cmp(b.last_error()),
        }
        .then_with(|| a.name().cmp(b.name()));
        if desc {
            ord.reverse()
        } else {
            ord
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn entry(name: &str, uid: u32, machine: &str, messages: u64) -> FileEntry {
        FileEntry {
            name: name.into(),
            messages,
            attempts: 5,
            next_attempt: None,
            last_error: format!(
                "message uid \"u{uid}\" (record id {uid}): rejected by a database trigger: {machine}"
            ),
            created: SystemTime::UNIX_EPOCH + Duration::from_secs(1000 + uid as u64),
        }
    }

    #[test]
    fn files_group_by_normalised_cause_largest_first() {
        let mut idx = FileIndex::default();
        for i in 0..30 {
            let machine = if i % 3 == 0 { "site A closed" } else { "poison" };
            idx.insert(entry(&format!("f{i:03}"), i, machine, 2), None);
        }
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(5000);
        let list = idx.causes(None, now);
        assert_eq!((list.files, list.messages), (30, 60));
        assert_eq!(list.groups.len(), 2);
        let top = &list.groups[0];
        assert_eq!((top.files, top.messages), (20, 40));
        assert!(top.cause.ends_with("trigger: poison"), "{}", top.cause);
        assert_eq!(top.oldest_age_s, 5000.0 - 1001.0);
        assert_eq!(top.newest_age_s, 5000.0 - 1029.0);
        // Filtering by the cause id selects exactly that group, on a page and in a set.
        let filter = format!("{CAUSE_PREFIX}{}", top.id);
        let page = idx.page(
            &FileQuery {
                filter: Some(filter.clone()),
                limit: 5,
                ..FileQuery::default()
            },
            now,
        );
        assert_eq!(page.total, 20);
        let set = idx.select(Some(&filter), None, None, now);
        assert_eq!(set.len(), 20);
        assert!(set.iter().all(|s| s.cause_id == top.id));
        assert_eq!(set[0].name, "f001");
        assert_eq!(set[0].version, "5/2/1970-01-01T00:16:41.000Z");
        let by_cause = idx.select(None, Some(&list.groups[1].id), None, now);
        assert_eq!(by_cause.len(), 10);
        // Each cause is kept once, and forgotten with its last file.
        assert_eq!(idx.cause_count(), 2);
        for i in (0..30).step_by(3) {
            idx.remove(&format!("f{i:03}"));
        }
        assert_eq!(idx.cause_count(), 1);
        idx.insert(entry("f000", 99, "site A closed", 1), None);
        idx.insert(entry("f000", 98, "site A closed", 1), None);
        assert_eq!(idx.cause_count(), 2, "replacing a file keeps one copy");
    }

    #[test]
    fn a_text_filter_is_case_insensitive_on_name_and_error() {
        let mut idx = FileIndex::default();
        idx.insert(entry("Alpha", 1, "Poison", 1), None);
        idx.insert(entry("beta", 2, "fine", 1), None);
        let now = SystemTime::now();
        assert_eq!(idx.select(Some("ALPHA"), None, None, now).len(), 1);
        assert_eq!(idx.select(Some("poison"), None, None, now).len(), 1);
        assert_eq!(idx.select(Some("TRIGGER"), None, None, now).len(), 2);
        // The searched text is the name, a newline, the error: a needle may span both.
        assert_eq!(idx.select(Some("alpha\nMESSAGE"), None, None, now).len(), 1);
        assert_eq!(idx.select(Some("beta\nmessage uid"), None, None, now).len(), 1);
        assert_eq!(idx.select(Some("alpha\nbeta"), None, None, now).len(), 0);
        // Lookups, replacement and removal go by name.
        assert_eq!(idx.get("Alpha").map(|f| f.name()), Some("Alpha"));
        assert_eq!(
            idx.get("Alpha").map(|f| f.last_error()),
            Some(entry("Alpha", 1, "Poison", 1).last_error.as_str())
        );
        assert_eq!(
            idx.get("beta").map(|f| f.lowercase().len()),
            Some(entry("beta", 2, "fine", 1).last_error.len() + 5)
        );
        assert_eq!(
            idx.get("Alpha").map(|f| f.entry()),
            Some(entry("Alpha", 1, "Poison", 1))
        );
        assert!(idx.get("alpha").is_none());
        idx.insert(entry("Alpha", 3, "other", 4), None);
        assert_eq!((idx.len(), idx.messages()), (2, 5));
        assert!(idx.remove("Alpha").is_some_and(|e| e.messages == 4));
        idx.insert(entry("Übel-Ä", 7, "Straße ZU", 1), None);
        assert_eq!(idx.select(Some("ÜBEL-ä"), None, None, now).len(), 1);
        assert_eq!(idx.select(Some("straße zu"), None, None, now).len(), 1);
        assert_eq!(
            idx.get("Übel-Ä").map(|f| f.entry()),
            Some(entry("Übel-Ä", 7, "Straße ZU", 1))
        );
        idx.remove("Übel-Ä");
        assert!(idx.remove("Alpha").is_none());
        idx.insert(entry("Alpha", 1, "Poison", 1), None);
        let old = idx.select(None, None, Some(Duration::from_secs(10)), now);
        assert_eq!(old.len(), 2);
        let young = SystemTime::UNIX_EPOCH + Duration::from_secs(1001);
        assert_eq!(
            idx.select(None, None, Some(Duration::from_secs(1)), young).len(),
            0
        );
    }
}
