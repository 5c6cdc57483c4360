//! `statmgr events --since TIME|ID [--follow] [--json]`: the durable event history, then
//! (with `--follow`) the live stream, resumed from the last event printed: no gap and no
//! duplicate at the seam, and none across a processor restart while the journal holds them.

use std::process::ExitCode;
use std::time::Duration;

use crate::api::client::history::PageAt;
use crate::api::client::{Client, ClientError};
use crate::api::when::{parse_since, stamp, Since};
use crate::api::wire::Event;
use crate::cli::ctl::{run_timeout, safe, ConnectArgs, CALL_TIMEOUT};

/// Events per history page.
const PAGE: usize = 1000;
/// Wait before reconnecting a followed stream.
const RECONNECT: Duration = Duration::from_secs(1);

#[derive(clap::Args, Debug, Clone)]
pub struct EventsArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// From this event id, or this time: RFC 3339, back from now (-24h, -90m, -2d) or a UTC
    /// clock time (03:12)
    #[arg(long, value_name = "TIME|ID", allow_hyphen_values = true)]
    pub since: String,
    /// After the history, print the live stream until interrupted (reconnects by itself)
    #[arg(long)]
    pub follow: bool,
    /// One JSON object a line (the API's event document) instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn main(args: EventsArgs) -> ExitCode {
    let since = match parse_since(&args.since, chrono::Utc::now()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("statmgr: --since {e}");
            return ExitCode::from(2);
        }
    };
    let (json, follow) = (args.json, args.follow);
    let connect = args.connect.clone();
    run_timeout(&args.connect, false, CALL_TIMEOUT, move |client| async move {
        let last = print_history(&client, since, json).await?;
        if follow {
            follow_live(&connect, client, last, json).await?;
        }
        Ok(())
    })
}

fn print(event: &Event, json: bool) -> Result<(), ClientError> {
    if json {
        let line = serde_json::to_string(event)
            .map_err(|e| ClientError::Other(format!("cannot print event {}: {e}", event.id)))?;
        println!("{line}");
    } else {
        let (_, text) = crate::tui::format::describe(&event.kind);
        println!("{} #{} {}", safe(&event.time), event.id, safe(&text));
    }
    Ok(())
}

/// Prints every kept event from `since` to the newest; returns the id printed last (or, if
/// none, the newest id when history was read: the stream resumes after it).
async fn print_history(client: &Client, since: Since, json: bool) -> Result<u64, ClientError> {
    let mut at = match since {
        Since::Id(id) => PageAt::After(id.saturating_sub(1)),
        Since::Time(t) => PageAt::Since(stamp(t)),
    };
    let mut last = None;
    loop {
        let page = client.history(&at, PAGE).await?;
        if last.is_none() && !matches!(at, PageAt::Since(_)) {
            if let (Since::Id(id), Some(oldest)) = (since, page.oldest_id) {
                if id < oldest {
                    eprintln!("statmgr: events before #{oldest} are no longer kept");
                }
            }
        }
        let Some(newest) = page.events.last().map(|e| e.id) else {
            return Ok(last.unwrap_or(match since {
                Since::Id(id) => id.saturating_sub(1).min(page.newest_id),
                Since::Time(_) => page.newest_id,
            }));
        };
        for event in &page.events {
            print(event, json)?;
        }
        last = Some(newest);
        at = PageAt::After(newest);
    }
}

/// The live stream after `last`, reconnecting (from the last event printed) when it breaks;
/// a restarted processor is found again through `<root>/control/endpoint`.
async fn follow_live(
    connect: &ConnectArgs,
    mut client: Client,
    mut last: u64,
    json: bool,
) -> Result<(), ClientError> {
    loop {
        match client.events_after(last).await {
            Ok(mut stream) => loop {
                match stream.next().await {
                    Ok(Some(event)) => {
                        if event.id > last || matches!(event.kind, crate::api::wire::EventKind::Resync { .. })
                        {
                            print(&event, json)?;
                        }
                        last = stream.last_event_id();
                    }
                    Ok(None) => break,
                    Err(e) => {
                        eprintln!("statmgr: the event stream broke: {}", safe(&e.to_string()));
                        break;
                    }
                }
            },
            Err(ClientError::Refused { status, message }) => {
                return Err(ClientError::Refused { status, message });
            }
            Err(e) => eprintln!("statmgr: reconnecting: {}", safe(&e.to_string())),
        }
        tokio::time::sleep(RECONNECT).await;
        if let Ok(target) = connect.target(false) {
            client = Client::new(target, CALL_TIMEOUT);
        }
    }
}
