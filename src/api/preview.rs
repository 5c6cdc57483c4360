//! What a bulk action will do, in words: the summary of an exact set (files, messages,
//! causes, destination, consequences). One function, used by the server's preview, the
//! CLI and the console's confirmation dialog, so all three say the same.

use std::collections::HashMap;

use crate::api::wire::{BulkAction, BulkPreview, BulkSource, CauseCount, SetEntry};

/// Where the files go and what happens then.
pub fn describe(action: BulkAction, source: BulkSource) -> (&'static str, &'static str) {
    match (action, source) {
        (BulkAction::Requeue, BulkSource::Stuck) => (
            "retry/ (due now, with a fresh set of attempts)",
            "each file is tried at once; if its cause is not fixed it fails again, backs off, \
             and after its attempts are used up goes back to stuck/",
        ),
        (BulkAction::Requeue, _) => (
            "stays in retry/, due now",
            "each file is tried at once instead of after its backoff; if its cause is not \
             fixed it fails again and keeps its attempt count",
        ),
        (BulkAction::Discard, _) => (
            "discarded/ (moved, never deleted; a .reason beside each)",
            "the messages are not committed and nothing retries them; `statmgr retry restore` \
             brings them back, only `retry purge --discarded` deletes them",
        ),
        (BulkAction::Restore, _) => (
            "retry/ (due now)",
            "each file is tried at once; if its cause is not fixed it backs off and ends in \
             stuck/ again",
        ),
        (BulkAction::Purge, _) => (
            "deleted",
            "the files and their messages are gone for good: nothing can bring them back",
        ),
    }
}

/// The preview of `set` (as it is now on the server, or as the console holds it).
pub fn summarise(
    action: BulkAction,
    source: BulkSource,
    set: Vec<SetEntry>,
    missing: Vec<String>,
) -> BulkPreview {
    let parts = set
        .iter()
        .map(|e| (e.messages, e.cause_id.as_str(), e.cause.as_str()));
    let mut preview = summarise_parts(action, source, parts, missing);
    preview.set = set;
    preview
}

/// The preview of a set given as (messages, cause id, cause) of each file, with an empty
/// `set` (the server writes its set out from a compact form).
pub fn summarise_parts<'a>(
    action: BulkAction,
    source: BulkSource,
    files: impl Iterator<Item = (u64, &'a str, &'a str)>,
    missing: Vec<String>,
) -> BulkPreview {
    let mut causes: HashMap<&str, CauseCount> = HashMap::new();
    let mut messages = 0;
    let mut count = 0;
    for (n, cause_id, cause) in files {
        count += 1;
        messages += n;
        causes
            .entry(cause_id)
            .or_insert_with(|| CauseCount {
                id: cause_id.to_string(),
                cause: cause.to_string(),
                files: 0,
            })
            .files += 1;
    }
    let mut causes: Vec<CauseCount> = causes.into_values().collect();
    causes.sort_by(|a, b| b.files.cmp(&a.files).then_with(|| a.cause.cmp(&b.cause)));
    let (destination, consequence) = describe(action, source);
    BulkPreview {
        action,
        source,
        files: count,
        messages,
        causes,
        destination: destination.to_string(),
        consequence: consequence.to_string(),
        missing,
        set: Vec::new(),
    }
}

/// The preview as lines of text (the CLI prints it; the console's dialog shows the same).
pub fn render(p: &BulkPreview, first: usize) -> Vec<String> {
    let mut lines = vec![format!(
        "{} {} {} files ({} messages) -> {}",
        p.action.as_str(),
        p.files,
        p.source.as_str(),
        p.messages,
        p.destination
    )];
    for c in p.causes.iter().take(first) {
        lines.push(format!("  {:>7} files  [{}] {}", c.files, c.id, c.cause));
    }
    if p.causes.len() > first {
        lines.push(format!("  ... and {} more causes", p.causes.len() - first));
    }
    lines.push(format!("then: {}", p.consequence));
    let names: Vec<&str> = p.set.iter().take(first).map(|e| e.name.as_str()).collect();
    if !names.is_empty() {
        let more = p.set.len().saturating_sub(first);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        lines.push(format!("files: {}{more}", names.join(", ")));
    }
    if !p.missing.is_empty() {
        lines.push(format!("not found (left out): {}", p.missing.join(", ")));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &str, cause: &str, messages: u64) -> SetEntry {
        SetEntry {
            name: name.into(),
            version: "0/1/x".into(),
            messages,
            cause_id: format!("id-{cause}"),
            cause: cause.into(),
        }
    }

    #[test]
    fn the_summary_counts_files_messages_and_causes() {
        let set = vec![e("a", "disk", 2), e("b", "trigger", 3), e("c", "trigger", 4)];
        let p = summarise(BulkAction::Discard, BulkSource::Stuck, set, vec!["z".into()]);
        assert_eq!((p.files, p.messages), (3, 9));
        assert_eq!(p.causes[0].cause, "trigger");
        assert_eq!(p.causes[0].files, 2);
        assert!(p.destination.starts_with("discarded/"));
        let text = render(&p, 2).join("\n");
        assert!(text.contains("discard 3 stuck files (9 messages)"), "{text}");
        assert!(text.contains("files: a, b and 1 more"), "{text}");
        assert!(text.contains("not found (left out): z"), "{text}");
    }
}
