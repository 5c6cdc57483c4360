//! Naming retry and stuck files through the API: only a bare name inside its own directory,
//! never a path, never through a link; missing (404), stale (409) and oversized (413) requests.

mod api_harness;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering;

use api_harness::Harness;
use statmgr::api::client::ClientError;
use statmgr::api::wire::{ApiError, FileKind};

/// Every file under `root` with its content: what must not change when a request is refused.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let key = path.strip_prefix(root).unwrap().display().to_string();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.file_type().is_symlink() {
                out.insert(
                    key,
                    fs::read_link(&path).unwrap().display().to_string().into_bytes(),
                );
            } else {
                out.insert(key, fs::read(&path).unwrap());
            }
        }
    }
    out
}

async fn status_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: ApiError = response.json().await.expect("an ApiError body");
    (status, body.error)
}

const BAD_NAMES: [(&str, &str); 8] = [
    ("..%2Fsecret", "path separator"),
    ("..", "not a file name"),
    ("%2Fetc%2Fpasswd", "path separator"),
    ("a%00b", "control character"),
    ("a%1B%5B2Jb", "control character"),
    ("a%0Ab", "control character"),
    (".hidden", "temporary file"),
    ("%FF%FE", "bad file name"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_and_bad_names_are_refused_and_nothing_moves() {
    let h = Harness::start().await;
    h.put_file(FileKind::Retry, "a.retry", 1, "database is locked");
    h.put_file(FileKind::Stuck, "b.retry", 20, "UNIQUE constraint failed");
    fs::write(h.dir.path().join("secret"), b"outside").unwrap();
    let before = tree(h.dir.path());
    let long = "x".repeat(256);
    let mut names: Vec<(String, &str)> = BAD_NAMES.iter().map(|(n, w)| (n.to_string(), *w)).collect();
    names.push((long, "longer than 255 bytes"));
    let raw = h.raw();
    for (name, why) in &names {
        for (method, path) in [
            ("GET", format!("/api/v1/retry/{name}")),
            ("GET", format!("/api/v1/stuck/{name}")),
            ("POST", format!("/api/v1/retry/{name}/requeue")),
        ] {
            let request = match method {
                "GET" => raw.get(h.url(&path)),
                _ => raw.post(h.url(&path)).bearer_auth(h.token()),
            };
            let (status, message) = status_of(request.send().await.unwrap()).await;
            // `..` alone is resolved by the URL rules before routing: no route, 404.
            let expected = if name == ".." { 404 } else { 400 };
            assert_eq!(status, expected, "{method} {path}: {message}");
            if expected == 400 {
                assert!(message.contains(why), "{method} {path}: {message}");
            }
        }
    }
    // The client encodes a name as one path segment, so a path in it stays a refused name.
    let client = h.client();
    for name in ["../secret", "/etc/passwd", "a\0b", "retry/a.retry"] {
        match client.requeue(name, None).await {
            Err(ClientError::Refused { status: 400, .. }) => {}
            other => panic!("requeue {name:?}: expected 400, got {other:?}"),
        }
        match client.file_detail(FileKind::Retry, name, 0, 10).await {
            Err(ClientError::Refused { status: 400, .. }) => {}
            other => panic!("detail {name:?}: expected 400, got {other:?}"),
        }
    }
    assert_eq!(
        tree(h.dir.path()),
        before,
        "a refused request moved or changed a file"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_planted_in_retry_is_refused_never_followed() {
    let h = Harness::start().await;
    let outside = h.dir.path().join("precious.retry");
    fs::write(&outside, b"not yours").unwrap();
    std::os::unix::fs::symlink(&outside, h.dirs.retry.join("link.retry")).unwrap();
    std::os::unix::fs::symlink(&outside, h.dirs.stuck.join("stuck-link.retry")).unwrap();
    let before = tree(h.dir.path());
    let client = h.client();
    for name in ["link.retry", "stuck-link.retry"] {
        match client.requeue(name, None).await {
            Err(ClientError::Refused { status: 400, message }) => {
                assert!(message.contains("not a regular file"), "{message}")
            }
            other => panic!("requeue {name}: expected 400, got {other:?}"),
        }
    }
    match client.file_detail(FileKind::Retry, "link.retry", 0, 10).await {
        Err(ClientError::Refused { status: 400, message }) => {
            assert!(message.contains("links are never followed"))
        }
        other => panic!("expected 400, got {other:?}"),
    }
    assert_eq!(tree(h.dir.path()), before);
    assert_eq!(fs::read(&outside).unwrap(), b"not yours");
    assert_eq!(
        h.requeues_seen.load(Ordering::SeqCst),
        0,
        "the server refused the links itself"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_files_are_404_and_stale_requeues_409() {
    let h = Harness::start().await;
    let client = h.client();
    h.put_file(
        FileKind::Stuck,
        "poison.retry",
        20,
        "UNIQUE constraint failed: status_messages.uid",
    );
    for kind in [FileKind::Retry, FileKind::Stuck] {
        match client.file_detail(kind, "nothing.retry", 0, 10).await {
            Err(ClientError::Refused { status: 404, message }) => assert!(message.contains("nothing.retry")),
            other => panic!("expected 404, got {other:?}"),
        }
    }
    match client.requeue("nothing.retry", None).await {
        Err(ClientError::Refused { status: 404, .. }) => {}
        other => panic!("expected 404, got {other:?}"),
    }
    match client.requeue("poison.retry", Some(19)).await {
        Err(ClientError::Refused { status: 409, message }) => {
            assert!(message.contains("changed"), "{message}")
        }
        other => panic!("expected 409, got {other:?}"),
    }
    assert!(
        h.dirs.stuck.join("poison.retry").exists(),
        "a stale requeue moves nothing"
    );
    let done = client.requeue("poison.retry", Some(20)).await.unwrap();
    assert_eq!(done.action, "requeue");
    assert!(h.dirs.retry.join("poison.retry").exists());
    assert!(!h.dirs.stuck.join("poison.retry").exists());

    let raw = h.raw();
    let (status, message) = status_of(raw.get(h.url("/api/v1/nothing")).send().await.unwrap()).await;
    assert_eq!(status, 404, "{message}");
    let (status, _) = status_of(raw.get(h.url("/api/v1/pause")).send().await.unwrap()).await;
    assert_eq!(status, 405);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_malformed_bodies_are_refused() {
    let h = Harness::start().await;
    h.put_file(FileKind::Retry, "a.retry", 1, "locked");
    let raw = h.raw();
    let url = h.url("/api/v1/retry/a.retry/requeue");
    let big = format!("{{\"attempts\":1,\"pad\":\"{}\"}}", "x".repeat(70 * 1024));
    let (status, message) = status_of(
        raw.post(&url)
            .bearer_auth(h.token())
            .body(big.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 413, "{message}");
    // Without a declared length (chunked), the limit holds while reading.
    let chunks = futures_util::stream::iter(
        big.into_bytes()
            .chunks(4096)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let response = raw
        .post(&url)
        .bearer_auth(h.token())
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await;
    // The server answers 413 and closes after reading the rest (lingering close): a client
    // still sending reads the answer, never a reset.
    let response = response.expect("the 413 is read, not a reset");
    assert_eq!(status_of(response).await.0, 413);
    let (status, message) = status_of(
        raw.post(&url)
            .bearer_auth(h.token())
            .body("{\"attempts\":\"x\"}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{message}");
    let ok = raw
        .post(&url)
        .bearer_auth(h.token())
        .body("{\"attempts\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    h.stop().await;
}
