//! The content-derived uid of a message whose producer gave none.

use sha2::{Digest, Sha256};

use super::Message;

/// Prefix of every derived uid, so a reader can tell it from a producer's uid.
pub const DERIVED_UID_PREFIX: &str = "sha256:";

/// The uid of a message the producer gave none: a hash of its content.
///
/// The hashed form is a length-prefixed encoding of every field but `uid`, in a fixed
/// order, so no two different messages share it. It must never change: a re-processed
/// file would otherwise get new uids and its messages would be stored twice.
pub fn derive_uid(message: &Message) -> String {
    let mut hash = Canonical(Sha256::new());
    hash.0.update(b"statmgr-message-v1");
    hash.int(message.message_id);
    hash.text(message.severity.as_str());
    hash.text(&message.component);
    hash.text(&message.machine);
    hash.text(&message.site);
    hash.text(&message.time);
    hash.opt_text(message.module.as_deref());
    hash.opt_text(message.report_type.as_deref());
    hash.opt_int(message.process_id);
    hash.opt_int(message.thread_id);
    hash.opt_int(message.win32_error);
    hash.len(message.insertion_strings.len());
    for text in &message.insertion_strings {
        hash.text(text);
    }
    hash.len(message.attributes.len());
    // BTreeMap iterates in key order, so attribute order in the file does not matter.
    for (id, text) in &message.attributes {
        hash.int(*id);
        hash.text(text);
    }
    format!("{DERIVED_UID_PREFIX}{}", hex::encode(hash.0.finalize()))
}

/// Feeds fields to the hash so that field boundaries are unambiguous.
struct Canonical(Sha256);

impl Canonical {
    fn len(&mut self, len: usize) {
        self.0.update((len as u64).to_le_bytes());
    }

    fn int(&mut self, value: i64) {
        self.0.update(value.to_le_bytes());
    }

    fn text(&mut self, text: &str) {
        self.len(text.len());
        self.0.update(text.as_bytes());
    }

    fn opt_text(&mut self, text: Option<&str>) {
        match text {
            None => self.0.update([0u8]),
            Some(text) => {
                self.0.update([1u8]);
                self.text(text);
            }
        }
    }

    fn opt_int(&mut self, value: Option<i64>) {
        match value {
            None => self.0.update([0u8]),
            Some(value) => {
                self.0.update([1u8]);
                self.int(value);
            }
        }
    }
}
