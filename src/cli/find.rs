//! `statmgr find UID... [--json]`: where each message is. Exit 0 when every uid was found,
//! 1 when some were not (or the call failed), 2 on a usage error, 3 when no processor is
//! reachable.

use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;

use crate::api::wire::find::{FindReport, Location, MAX_FIND_UIDS};
use crate::cli::ctl::{print_json, run, safe, ConnectArgs};

#[derive(clap::Args, Debug, Clone)]
pub struct FindArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Print the answer as JSON (the API's document)
    #[arg(long)]
    pub json: bool,
    /// The uids to look for
    #[arg(value_name = "UID", required = true, num_args = 1..)]
    pub uids: Vec<String>,
}

pub fn main(args: FindArgs) -> ExitCode {
    if args.uids.iter().any(String::is_empty) {
        eprintln!("statmgr find: an empty uid was given");
        return ExitCode::from(2);
    }
    if args.uids.len() > MAX_FIND_UIDS {
        eprintln!(
            "statmgr find: {} uids given, at most {MAX_FIND_UIDS}",
            args.uids.len()
        );
        return ExitCode::from(2);
    }
    let all_found = Rc::new(Cell::new(false));
    let flag = all_found.clone();
    let (uids, json) = (args.uids, args.json);
    let code = run(&args.connect, false, |client| async move {
        let report = client.find(&uids).await?;
        flag.set(report.results.iter().all(|r| r.found()));
        if json {
            print_json(&report)
        } else {
            print!("{}", render(&report));
            Ok(())
        }
    });
    if code == ExitCode::SUCCESS && !all_found.get() {
        return ExitCode::from(1);
    }
    code
}

/// One line per place (a uid in two places gets two), then the caveats.
pub fn render(report: &FindReport) -> String {
    let mut out = String::new();
    for r in &report.results {
        let uid = safe(&r.uid);
        if r.places.is_empty() {
            out.push_str(&format!(
                "{uid}: not seen (not in inbox/, retry/, stuck/, discarded/, corrupt/ or the database)\n"
            ));
        }
        for place in &r.places {
            out.push_str(&format!("{uid}: {}\n", describe(place)));
        }
    }
    if report.index_pending > 0 {
        out.push_str(&format!(
            "note: {} files of retry/, stuck/ and discarded/ are not indexed yet (the processor started \
             recently); a uid in one of them is not found until they are\n",
            report.index_pending
        ));
    }
    if let Some(e) = &report.database_error {
        out.push_str(&format!("note: the database could not be asked: {}\n", safe(e)));
    }
    for w in &report.warnings {
        out.push_str(&format!("note: {}\n", safe(w)));
    }
    out
}

/// One place, in words (every text from the processor escaped).
pub fn describe(place: &Location) -> String {
    match place {
        Location::Committed {
            record_id,
            batch_id,
            committed_at,
            received,
            batch_source,
            source_file,
        } => {
            let source = batch_source.as_deref().map(safe).unwrap_or_else(|| "?".into());
            let file = match source_file {
                Some(f) => format!("from retry file {}", safe(f)),
                None => "source inbox file not stored".to_string(),
            };
            let at = committed_at
                .as_deref()
                .map(safe)
                .unwrap_or_else(|| "batch row missing".into());
            format!(
                "committed: record id {record_id}, batch {batch_id} ({source}, {file}), committed {at}, received {}",
                safe(received)
            )
        }
        Location::InFlight { file } => format!(
            "in flight: read from inbox/{}, in the open batch, not durable yet",
            safe(file)
        ),
        Location::Inbox { file } => format!("inbox: inbox/{}, not read yet", safe(file)),
        Location::Retry {
            file,
            attempts,
            last_error,
            next_attempt,
        } => format!(
            "retry: retry/{}, {attempts} attempts, next {}, last error: {}",
            safe(file),
            next_attempt.as_deref().map(safe).unwrap_or_else(|| "now".into()),
            safe(last_error)
        ),
        Location::Stuck {
            file,
            attempts,
            last_error,
        } => format!(
            "stuck: stuck/{}, {attempts} attempts, last error: {}",
            safe(file),
            safe(last_error)
        ),
        Location::Discarded {
            file,
            attempts,
            last_error,
        } => format!(
            "discarded: discarded/{}, {attempts} attempts, last error: {}",
            safe(file),
            safe(last_error)
        ),
        Location::Corrupt { file, reason } => {
            format!("corrupt: corrupt/{}, reason: {}", safe(file), safe(reason))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::wire::find::FindResult;

    #[test]
    fn every_place_is_one_line_and_hostile_text_is_escaped() {
        let report = FindReport {
            results: vec![
                FindResult {
                    uid: "a\u{1b}[2J".into(),
                    places: vec![Location::Stuck {
                        file: "f.batch".into(),
                        attempts: 5,
                        last_error: "bad\nline".into(),
                    }],
                },
                FindResult {
                    uid: "b".into(),
                    places: vec![],
                },
            ],
            index_pending: 3,
            ..FindReport::default()
        };
        let text = render(&report);
        assert!(!text.contains('\u{1b}'), "{text}");
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.contains("b: not seen"), "{text}");
        assert!(text.contains("3 files"), "{text}");
    }
}
