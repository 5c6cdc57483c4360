//! Who may do what through the API: the token (401), a read-only server and a foreign Host
//! (403), a processor that is stopping (503), and the control files the server publishes.

mod api_harness;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;

use api_harness::Harness;
use statmgr::api::client::ClientError;
use statmgr::api::server::{self, ServerOptions};
use statmgr::api::wire::{ApiError, EventKind, ProcessorState};
use tokio_util::sync::CancellationToken;

const MUTATIONS: [&str; 5] = [
    "/api/v1/pause",
    "/api/v1/resume",
    "/api/v1/flush",
    "/api/v1/resync",
    "/api/v1/retry/none.retry/requeue",
];

async fn status_and_error(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: ApiError = response.json().await.expect("an ApiError body");
    assert_eq!(body.status, status);
    (status, body.error)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_need_the_exact_token() {
    let h = Harness::start().await;
    let raw = h.raw();
    let token = h.token();
    let wrong_same_length: String = token.chars().rev().collect();
    let cases: [(&str, Option<String>); 5] = [
        ("no header", None),
        ("wrong token", Some(format!("Bearer {wrong_same_length}"))),
        ("too short", Some(format!("Bearer {}", &token[..63]))),
        ("too long", Some(format!("Bearer {token}0"))),
        ("other scheme", Some(format!("Basic {token}"))),
    ];
    for path in MUTATIONS {
        for (what, header) in &cases {
            let mut request = raw.post(h.url(path));
            if let Some(value) = header {
                request = request.header("Authorization", value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
            let (status, message) = status_and_error(response).await;
            assert_eq!(status, 401, "{path} with {what}: {message}");
            assert!(message.contains("token"), "{message}");
        }
    }
    assert!(!h.handle.is_paused(), "no refused call may have paused intake");

    let ok = h.client();
    assert_eq!(ok.pause().await.unwrap().outcome, "intake paused");
    assert!(h.handle.is_paused());
    assert_eq!(ok.resume().await.unwrap().outcome, "intake resumed");
    assert!(ok.flush().await.unwrap().outcome.contains("committed"));
    assert!(ok.resync().await.unwrap().outcome.contains("reconciled"));
    let last = h.telemetry.events_after(0, 100).unwrap().pop().unwrap();
    match last.kind {
        EventKind::OperatorAction { action, origin, .. } => {
            assert_eq!(action, "resync");
            assert!(origin.starts_with("api 127.0.0.1:"), "{origin}");
        }
        other => panic!("expected the resync to be recorded, got {other:?}"),
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_server_refuses_every_mutation_even_with_the_token() {
    let h = Harness::start_with(true).await;
    let client = h.client();
    for path in MUTATIONS {
        let response = h
            .raw()
            .post(h.url(path))
            .bearer_auth(h.token())
            .send()
            .await
            .unwrap();
        let (status, message) = status_and_error(response).await;
        assert_eq!(status, 403, "{path}: {message}");
        assert!(message.contains("read-only"), "{message}");
    }
    match client.pause().await {
        Err(ClientError::Refused { status: 403, message }) => assert!(message.contains("read-only")),
        other => panic!("expected 403, got {other:?}"),
    }
    assert!(!h.handle.is_paused());
    // Reads stay open.
    let snapshot = client
        .snapshot(&Default::default(), &Default::default())
        .await
        .unwrap();
    assert!(snapshot.config.read_only_api);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_host_header_is_refused_everywhere() {
    let h = Harness::start().await;
    let port = h.addr.port();
    let raw = h.raw();
    for host in [
        format!("evil.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        "localhost".to_string(),
    ] {
        for (method, path) in [
            ("GET", "/api/v1/snapshot"),
            ("GET", "/metrics"),
            ("POST", "/api/v1/pause"),
        ] {
            let request = match method {
                "GET" => raw.get(h.url(path)),
                _ => raw.post(h.url(path)).bearer_auth(h.token()),
            };
            let response = request.header("Host", &host).send().await.unwrap();
            let (status, message) = status_and_error(response).await;
            assert_eq!(status, 403, "{method} {path} with Host {host}: {message}");
            assert!(message.contains("DNS rebinding"), "{message}");
        }
    }
    assert!(!h.handle.is_paused());
    for host in [
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        format!("127.0.0.1:{port}"),
    ] {
        let response = raw
            .get(h.url("/api/v1/snapshot"))
            .header("Host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "Host {host}");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_host_is_refused() {
    let h = Harness::start().await;
    let addr = h.addr;
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"GET /api/v1/snapshot HTTP/1.0\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.0 403"), "{answer}");
    assert!(answer.contains("no Host header"), "{answer}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_processor_answers_503() {
    let h = Harness::start().await;
    h.telemetry.set_state(ProcessorState::Draining);
    match h.client().flush().await {
        Err(ClientError::Refused { status: 503, message }) => assert!(message.contains("shutting down")),
        other => panic!("expected 503, got {other:?}"),
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_files_are_private_and_the_endpoint_goes_away_at_shutdown() {
    let h = Harness::start().await;
    let control = h.dirs.control.clone();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&control), 0o700);
    assert_eq!(mode(&control.join("token")), 0o600);
    let token = std::fs::read_to_string(control.join("token")).unwrap();
    assert_eq!(token.len(), 65, "64 hex characters and a newline: {token:?}");
    assert!(token.trim_end().bytes().all(|b| b.is_ascii_hexdigit()));
    let endpoint = std::fs::read_to_string(control.join("endpoint")).unwrap();
    assert_eq!(endpoint, format!("http://{}\n", h.addr));
    let addr = h.addr;
    let h = h.stop().await;
    assert!(!control.join("endpoint").exists(), "endpoint withdrawn");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "nothing listens any more"
    );
    match statmgr::api::client::Target::from_root(&h.dirs.root, true).unwrap_err() {
        ClientError::Unreachable(message) => {
            assert!(message.contains("endpoint"), "{message}");
            assert!(message.contains("statmgr run --root"), "{message}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_endpoint_is_reported_unreachable_with_where_it_looked() {
    let h = Harness::start().await;
    let client = h.client();
    let h = h.stop().await;
    // The endpoint file as a killed processor would have left it.
    std::fs::write(h.dirs.control.join("endpoint"), &client.target().url).unwrap();
    let stale = h.client();
    match stale.snapshot(&Default::default(), &Default::default()).await {
        Err(ClientError::Unreachable(message)) => {
            assert!(message.contains(&client.target().url), "{message}");
            assert!(message.contains("control/endpoint"), "{message}");
            assert!(message.contains("statmgr run --root"), "{message}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_loopback_address_is_refused_unless_public() {
    let h = Harness::start().await;
    let opts = ServerOptions {
        listen: "0.0.0.0:0".parse().unwrap(),
        listen_public: false,
        read_only: false,
        liveness_limit: statmgr::api::server::DEFAULT_LIVENESS_LIMIT,
    };
    let err = server::start(h.handle.clone(), opts, CancellationToken::new())
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(matches!(err, statmgr::error::Error::Config(_)), "{text}");
    assert!(
        text.contains("0.0.0.0") && text.contains("--listen-public"),
        "{text}"
    );
    h.stop().await;
}
