//! The exact set of a bulk action as the processor holds it, compactly (100,000 files per
//! action): the action's order (name and version of each file, parsed straight from the
//! request, nothing else kept while it runs) and a preview's items (each sharing its cause
//! with the file index, the version kept as its parts until it is written out).

use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Deserializer};

use crate::api::wire::{BulkAction, BulkPreview, BulkRequest, BulkSource, SetEntry};
use crate::processor::file_index::Cause;
use crate::processor::telemetry::rfc3339;

/// One file of an action's set: what the action checks before it moves the file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Target {
    pub name: Box<str>,
    pub version: Box<str>,
    /// Checked to be a number as before, and not kept (the action counts the messages it
    /// finds in each file's header).
    #[serde(default, rename = "messages", deserialize_with = "a_number")]
    pub messages_checked: (),
}

fn a_number<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    u64::deserialize(d).map(|_| ())
}

impl Target {
    pub fn new(name: &str, version: &str) -> Target {
        Target {
            name: name.into(),
            version: version.into(),
            messages_checked: (),
        }
    }
}

/// `POST /api/v1/bulk/action`'s body as the action holds it: the causes a preview sends
/// along in each entry are for the operator and are skipped while parsing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BulkOrder {
    pub action: BulkAction,
    pub source: BulkSource,
    pub set: Vec<Target>,
    #[serde(default)]
    pub note: Option<String>,
}

impl From<BulkRequest> for BulkOrder {
    fn from(r: BulkRequest) -> BulkOrder {
        BulkOrder {
            action: r.action,
            source: r.source,
            set: r.set.iter().map(|e| Target::new(&e.name, &e.version)).collect(),
            note: r.note,
        }
    }
}

/// The version a bulk action must find unchanged (see `wire::file_version`).
pub fn version(attempts: u32, messages: u64, created: SystemTime) -> String {
    format!("{attempts}/{messages}/{}", rfc3339(created))
}

/// One file of a preview's set, before it is written out as a `wire::SetEntry`.
#[derive(Debug, Clone)]
pub struct SetItem {
    pub name: Box<str>,
    pub attempts: u32,
    pub messages: u64,
    pub created: SystemTime,
    pub cause: Arc<Cause>,
}

impl SetItem {
    pub fn version(&self) -> String {
        version(self.attempts, self.messages, self.created)
    }

    pub fn to_entry(&self) -> SetEntry {
        SetEntry {
            name: self.name.to_string(),
            version: self.version(),
            messages: self.messages,
            cause_id: self.cause.id.clone(),
            cause: self.cause.text.clone(),
        }
    }
}

/// A preview: its summary (with an empty `set`) and its exact set, written out by the
/// server as the `set` of a `wire::BulkPreview`.
#[derive(Debug)]
pub struct PreviewSet {
    pub head: BulkPreview,
    pub items: Vec<SetItem>,
}

impl PreviewSet {
    pub fn new(
        action: BulkAction,
        source: BulkSource,
        items: Vec<SetItem>,
        missing: Vec<String>,
    ) -> PreviewSet {
        let parts = items
            .iter()
            .map(|i| (i.messages, i.cause.id.as_str(), i.cause.text.as_str()));
        let head = crate::api::preview::summarise_parts(action, source, parts, missing);
        PreviewSet { head, items }
    }

    /// The whole preview as one value (tests, and callers that want the wire type).
    pub fn into_preview(self) -> BulkPreview {
        let mut p = self.head;
        p.set = self.items.iter().map(SetItem::to_entry).collect();
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_parses_a_request_body_and_keeps_name_and_version() {
        let request = BulkRequest {
            action: BulkAction::Discard,
            source: BulkSource::Stuck,
            set: vec![SetEntry {
                name: "a.batch".into(),
                version: "20/1/2026-11-27T10:00:00.000Z".into(),
                messages: 1,
                cause_id: "0123456789ab".into(),
                cause: "rejected by a database trigger: site <v> closed".into(),
            }],
            note: Some("site closed".into()),
        };
        let body = serde_json::to_vec(&request).unwrap();
        let order: BulkOrder = serde_json::from_slice(&body).unwrap();
        assert_eq!(order, BulkOrder::from(request));
        assert_eq!(&*order.set[0].name, "a.batch");
        assert_eq!(&*order.set[0].version, "20/1/2026-11-27T10:00:00.000Z");
        // Without the optional fields, and refused when a count is not a number.
        let bare = r#"{"action":"requeue","source":"retry","set":[{"name":"b","version":"v"}]}"#;
        let order: BulkOrder = serde_json::from_str(bare).unwrap();
        assert_eq!((order.set[0].clone(), order.note), (Target::new("b", "v"), None));
        let bad =
            r#"{"action":"requeue","source":"retry","set":[{"name":"b","version":"v","messages":"x"}]}"#;
        assert!(serde_json::from_str::<BulkOrder>(bad).is_err());
    }
}
