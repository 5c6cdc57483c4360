//! What the console knows of a message trace (`m`: where is uid X) and of the batch
//! drill-down (Enter on Batch commits): plain data, no terminal types.

use crate::api::wire::find::{BatchMessages, FindReport};
use crate::api::wire::BatchInfo;

/// Messages of a batch asked for per page.
pub const BATCH_PAGE: u64 = 100;
/// Longest uid the console lets one type.
pub const MAX_UID_CHARS: usize = 256;

/// The trace popup: the uid being typed, and the answer for the last one asked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    pub input: String,
    /// The uid of the question in flight or answered.
    pub asked: Option<String>,
    pub report: Option<FindReport>,
    pub error: Option<String>,
    pub scroll: u16,
}

impl Trace {
    pub fn waiting(&self) -> bool {
        self.asked.is_some() && self.report.is_none() && self.error.is_none()
    }
}

/// One committed batch's messages, paged from the server; `open` shows one in full.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchView {
    /// The row the operator opened (from the snapshot).
    pub batch: BatchInfo,
    /// First message of the page asked for.
    pub offset: u64,
    pub page: Option<BatchMessages>,
    pub error: Option<String>,
    /// Index of the selected message within the page.
    pub selected: usize,
    /// Showing the selected message's every field.
    pub open: bool,
    /// Lines scrolled in the message view.
    pub scroll: u16,
}

impl BatchView {
    pub fn new(batch: BatchInfo) -> BatchView {
        BatchView {
            batch,
            offset: 0,
            page: None,
            error: None,
            selected: 0,
            open: false,
            scroll: 0,
        }
    }

    pub fn selected_message(&self) -> Option<&crate::api::wire::find::StoredMessage> {
        self.page.as_ref().and_then(|p| p.items.get(self.selected))
    }
}
