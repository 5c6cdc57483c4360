//! A parser of the server-sent events wire format (the WHATWG "event stream"), fed with
//! whatever byte chunks the connection delivers.

use std::collections::VecDeque;
use std::time::Duration;

/// The longest line kept while waiting for its end; a longer one is an error, not a memory hog.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The `event:` field; `message` when absent.
    pub event: String,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
    /// The last event id in force when the event was dispatched (`id:` fields persist).
    pub id: Option<String>,
}

#[derive(Debug, Default)]
pub struct Parser {
    buf: Vec<u8>,
    /// The previous chunk ended with `\r`: a `\n` starting the next one belongs to it.
    after_cr: bool,
    event: String,
    data: String,
    has_data: bool,
    last_id: Option<String>,
    retry: Option<Duration>,
    ready: VecDeque<Frame>,
}

impl Parser {
    pub fn new() -> Parser {
        Parser::default()
    }

    /// Feeds bytes; complete events become available from [`Parser::next_frame`].
    pub fn push(&mut self, mut bytes: &[u8]) -> Result<(), String> {
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'\n' || b == b'\r' {
                self.buf.extend_from_slice(&bytes[start..i]);
                let line = std::mem::take(&mut self.buf);
                self.line(&line);
                if b == b'\r' {
                    if i + 1 == bytes.len() {
                        self.after_cr = true;
                    } else if bytes[i + 1] == b'\n' {
                        i += 1;
                    }
                }
                start = i + 1;
            }
            i += 1;
        }
        self.buf.extend_from_slice(&bytes[start..]);
        if self.buf.len() > MAX_LINE_BYTES {
            return Err(format!("event stream line longer than {MAX_LINE_BYTES} bytes"));
        }
        Ok(())
    }

    pub fn next_frame(&mut self) -> Option<Frame> {
        self.ready.pop_front()
    }

    /// The reconnection delay the server asked for, if it did (`retry:`).
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// The last `id:` seen, dispatched or not.
    pub fn last_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    fn line(&mut self, raw: &[u8]) {
        let line = String::from_utf8_lossy(raw);
        if line.is_empty() {
            self.dispatch();
            return;
        }
        if line.starts_with(':') {
            return; // a comment (keep-alive)
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            // An id containing NUL is ignored, as the standard says.
            "id" if !value.contains('\0') => self.last_id = Some(value.to_string()),
            "retry" => {
                if let Ok(ms) = value.parse::<u64>() {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
    }

    fn dispatch(&mut self) {
        let event = std::mem::take(&mut self.event);
        if !self.has_data {
            return;
        }
        self.has_data = false;
        self.ready.push_back(Frame {
            event: if event.is_empty() { "message".into() } else { event },
            data: std::mem::take(&mut self.data),
            id: self.last_id.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(p: &mut Parser) -> Vec<Frame> {
        std::iter::from_fn(|| p.next_frame()).collect()
    }

    #[test]
    fn ids_multi_line_data_comments_and_retry() {
        let mut p = Parser::new();
        p.push(b"retry: 2500\n\n: keep-alive\n\nid: 7\ndata: {\"a\":\ndata:1}\n\nevent: x\ndata: y\n\n")
            .unwrap();
        assert_eq!(p.retry(), Some(Duration::from_millis(2500)));
        let got = frames(&mut p);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].data, "{\"a\":\n1}");
        assert_eq!(got[0].id.as_deref(), Some("7"));
        assert_eq!(got[0].event, "message");
        // The id persists until the next `id:` field.
        assert_eq!(got[1].id.as_deref(), Some("7"));
        assert_eq!(got[1].event, "x");
    }

    #[test]
    fn chunks_split_anywhere_and_every_line_ending() {
        let text = b"id: 1\r\ndata: one\r\n\r\nid: 2\rdata: two\r\rid: 3\ndata: three\n\n";
        for split in 0..text.len() {
            let mut p = Parser::new();
            p.push(&text[..split]).unwrap();
            p.push(&text[split..]).unwrap();
            let got: Vec<(String, String)> = frames(&mut p)
                .into_iter()
                .map(|f| (f.id.unwrap_or_default(), f.data))
                .collect();
            assert_eq!(
                got,
                [("1", "one"), ("2", "two"), ("3", "three")].map(|(a, b)| (a.to_string(), b.to_string())),
                "split at {split}"
            );
        }
    }

    #[test]
    fn an_event_without_data_is_not_dispatched_and_a_partial_one_waits() {
        let mut p = Parser::new();
        p.push(b"id: 9\n\ndata: half").unwrap();
        assert!(p.next_frame().is_none());
        assert_eq!(p.last_id(), Some("9"));
        p.push(b"\n\n").unwrap();
        assert_eq!(p.next_frame().unwrap().data, "half");
    }

    #[test]
    fn an_endless_line_is_an_error() {
        let mut p = Parser::new();
        let chunk = vec![b'x'; 1024 * 1024];
        let mut result = Ok(());
        for _ in 0..=16 {
            result = p.push(&chunk);
        }
        assert!(result.unwrap_err().contains("longer than"));
    }
}
