//! Each processor of a fleet has its own connection and command tasks: a processor that
//! accepts connections and never answers holds up neither the snapshots nor the commands of
//! a real one (`statmgr run` on a temporary state directory).

mod console_support;

use std::sync::Arc;

use console_support::tmux::Processor;
use statmgr::api::client::{Client, Target};
use statmgr::api::wire::FileQuery;
use statmgr::tui::action::{Action, ApiUpdate, Command};
use statmgr::tui::conn::{self, Links, REQUEST_TIMEOUT};
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken;

struct Wired {
    commands: mpsc::UnboundedSender<Command>,
    /// Kept: the loop takes a closed query channel for the end of the UI.
    _queries: watch::Sender<(FileQuery, FileQuery, FileQuery)>,
}

fn wire(
    processor: usize,
    client: Client,
    updates: &mpsc::Sender<Action>,
    cancel: &CancellationToken,
) -> Wired {
    let queries = (FileQuery::default(), FileQuery::default(), FileQuery::default());
    let (queries_tx, queries_rx) = watch::channel(queries);
    let (client_tx, client_rx) = watch::channel(Some(client.clone()));
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let refresh_now = Arc::new(Notify::new());
    let links = Links {
        processor,
        updates: updates.clone(),
        queries: queries_rx,
        refresh_now: refresh_now.clone(),
        client: client_tx,
        cancel: cancel.clone(),
    };
    tokio::spawn(conn::run(Some(client), None, links));
    tokio::spawn(conn::execute(
        processor,
        commands_rx,
        client_rx,
        updates.clone(),
        refresh_now,
    ));
    Wired {
        commands,
        _queries: queries_tx,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_processor_holds_up_neither_the_snapshots_nor_the_commands_of_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = Processor::start(dir.path());
    let hung = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let hung_url = format!("http://{}", hung.local_addr().expect("address"));
    let target = |url: &str| Target {
        token: std::fs::read_to_string(real.root.join("control").join("token"))
            .ok()
            .map(|t| t.trim().to_string()),
        ..Target::from_url(url, None).expect("a URL")
    };
    let (updates, mut actions) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    let hung_link = wire(
        0,
        Client::new(target(&hung_url), REQUEST_TIMEOUT),
        &updates,
        &cancel,
    );
    let real_link = wire(
        1,
        Client::new(target(&real.url()), REQUEST_TIMEOUT),
        &updates,
        &cancel,
    );
    // The hung processor's command is sent first: it waits for its timeout, alone.
    hung_link.commands.send(Command::Flush).expect("send");
    real_link.commands.send(Command::Flush).expect("send");

    let (mut snapshots, mut flushed) = (0, false);
    let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT * 3;
    while snapshots < 2 || !flushed {
        let action = tokio::time::timeout_at(deadline, actions.recv())
            .await
            .expect("the real processor's updates within the deadline")
            .expect("the channel stays open");
        let Action::Processor { processor, update } = action else {
            panic!("untagged update: {action:?}");
        };
        match (processor, update) {
            (1, ApiUpdate::Snapshot { .. }) => snapshots += 1,
            (1, ApiUpdate::ActionDone { result, .. }) => {
                assert!(result.is_ok(), "{result:?}");
                flushed = true;
            }
            (0, ApiUpdate::Connecting { .. }) | (1, _) => {}
            (_, other) => panic!("the hung processor answered before the real one was done: {other:?}"),
        }
    }
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_root_whose_processor_is_not_running_yet_is_found_when_it_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (updates, mut actions) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    let (_queries, queries_rx) =
        watch::channel((FileQuery::default(), FileQuery::default(), FileQuery::default()));
    let (client_tx, client_rx) = watch::channel(None);
    let links = Links {
        processor: 4,
        updates,
        queries: queries_rx,
        refresh_now: Arc::new(Notify::new()),
        client: client_tx,
        cancel: cancel.clone(),
    };
    let rediscover = conn::Rediscover {
        root: dir.path().to_path_buf(),
        with_token: true,
    };
    tokio::spawn(conn::run(None, Some(rediscover), links));
    match next(&mut actions).await {
        ApiUpdate::Disconnected { error, .. } => {
            assert!(error.contains("no processor is running"), "{error}")
        }
        other => panic!("expected why it is not connected: {other:?}"),
    }
    assert!(
        client_rx.borrow().is_none(),
        "no client before an endpoint is known"
    );
    let processor = Processor::start(dir.path());
    loop {
        if let ApiUpdate::Connected { endpoint } = next(&mut actions).await {
            assert_eq!(endpoint, processor.url());
            break;
        }
    }
    assert!(client_rx
        .borrow()
        .as_ref()
        .is_some_and(|c| c.target().token.is_some()));
    cancel.cancel();
}

/// The next update of processor 4, within three request timeouts.
async fn next(actions: &mut mpsc::Receiver<Action>) -> ApiUpdate {
    let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT * 3;
    match tokio::time::timeout_at(deadline, actions.recv()).await {
        Ok(Some(Action::Processor { processor: 4, update })) => update,
        other => panic!("expected an update of processor 4: {other:?}"),
    }
}
