//! A local attacker against the API of a real processor: floods of idle connections, huge
//! bodies, hostile text that must never reach the logs as escape sequences.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::*;

fn host_port(url: &str) -> String {
    url.trim_start_matches("http://").to_string()
}

#[test]
fn ten_thousand_idle_connections_do_not_lock_the_operator_out() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &[]);
    let url = p.endpoint();
    let addr = host_port(&url);
    let n: usize = std::env::var("STATMGR_IDLE_CONNECTIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let mut idle = Vec::with_capacity(n);
    let opening = Instant::now();
    for _ in 0..n {
        match TcpStream::connect(&addr) {
            Ok(s) => idle.push(s),
            Err(e) => panic!("connection {} failed: {e}", idle.len()),
        }
    }
    eprintln!("{n} connections opened in {:?}", opening.elapsed());
    // With every idle socket still open, the operator's request is answered.
    let t0 = Instant::now();
    let (code, out, err) = p.cli(&["status", "--json"]);
    assert_eq!(
        code,
        Some(0),
        "status refused with {n} idle connections open: {out}{err}"
    );
    eprintln!("{n} idle connections open; status answered in {:?}", t0.elapsed());
    // And the processor goes on processing.
    drop_messages(&root, 0..10, 10);
    wait_for(Duration::from_secs(20), "10 rows", || row_count(&root) == 10);
    drop(idle);
    let (st, _) = p.terminate(Duration::from_secs(15));
    assert!(st.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gigabyte_body_is_refused_without_being_read() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &[]);
    let url = p.endpoint();
    let auth = format!("Bearer {}", p.token());
    let http = reqwest::Client::new();

    // Declared: refused from the header alone.
    let addr = host_port(&url);
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "POST /api/v1/flush HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\nContent-Length: 1073741824\r\n\r\n"
    )
    .unwrap();
    let mut reply = [0u8; 64];
    let got = std::io::Read::read(&mut s, &mut reply).unwrap();
    assert!(
        String::from_utf8_lossy(&reply[..got]).contains("413"),
        "{}",
        String::from_utf8_lossy(&reply[..got])
    );

    // Streamed without a length: cut off after the limit, not read to the end.
    let stream = futures_util::stream::iter((0..1024).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 1 << 20])));
    let t0 = Instant::now();
    let res = http
        .post(format!("{url}/api/v1/flush"))
        .header("Authorization", &auth)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    match res {
        Ok(r) => assert_eq!(r.status().as_u16(), 413),
        // The server throws away a bounded amount of what follows the refusal (lingering
        // close, 16 MiB or 5 s), then closes while this client is still sending.
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    eprintln!("1 GiB streamed body refused after {:?}", t0.elapsed());
    let (code, _, _) = p.cli(&["status"]);
    assert_eq!(code, Some(0), "the server still answers");
    let rss_kb: u64 = std::fs::read_to_string(format!("/proc/{}/status", p.pid()))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(
        rss_kb < 512 * 1024,
        "peak RSS {rss_kb} KiB: the body was buffered"
    );
}

#[test]
fn escape_sequences_in_producer_text_never_reach_the_log() {
    hostile_text_stays_escaped_in_the_log(&[]);
}

/// The same with `--log-format json`: still no raw escape, and every line is one JSON object.
#[test]
fn escape_sequences_in_producer_text_never_reach_the_json_log() {
    let log = hostile_text_stays_escaped_in_the_log(&["--log-format", "json"]);
    let mut warned_of_evil = false;
    for line in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not one JSON object: {line:?}: {e}"));
        for key in ["timestamp", "level", "target"] {
            assert!(v[key].is_string(), "{key} missing: {line}");
        }
        assert!(v["fields"]["message"].is_string(), "{line}");
        // The escaped form (the text `\u{1b}`) is what the processor logged.
        let fields = v["fields"].as_object().unwrap();
        warned_of_evil |= fields
            .values()
            .any(|f| f.as_str().is_some_and(|t| t.contains("\\u{1b}")));
    }
    assert!(warned_of_evil, "the hostile text was logged, escaped:\n{log}");
}

/// Drops hostile files on a processor started with `flags`; returns its log after checking
/// that no raw ESC, CSI or bidi override reached it.
fn hostile_text_stays_escaped_in_the_log(flags: &[&str]) -> String {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, flags);
    // The endpoint is published once the schema is in place (the file exists a moment earlier).
    p.endpoint();
    db(&root)
        .execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON status_messages WHEN NEW.site = 'EVIL'
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
    let mut m = message(1, "\u{1b}[2J\u{1b}]0;pwned\u{7}\u{202e}HOST\u{9b}31m");
    m["site"] = serde_json::json!("EVIL");
    drop_file(&root, "evil\u{1b}[31m.json", m.to_string().as_bytes());
    drop_file(
        &root,
        "bad\u{1b}[2J.json",
        b"{\"uid\": \"\x1b[2J\", \"severty\": 1}",
    );
    let long = format!("{{\"machine\": \"{}\"}}", "\u{1b}[5m".repeat(1000));
    drop_file(&root, "long.json", long.as_bytes());
    wait_for(Duration::from_secs(20), "the inbox to empty", || {
        files_in(&root, "inbox").is_empty()
    });
    wait_for(Duration::from_secs(5), "the poison in stuck/", || {
        files_in(&root, "stuck").len() == 1
    });
    let (st, log) = p.terminate_with_log(Duration::from_secs(15));
    assert!(st.success());
    let log = log.into_bytes();
    assert!(!log.is_empty(), "the processor logged what happened");
    assert!(
        !log.contains(&0x1b),
        "a raw ESC reached the log:\n{}",
        String::from_utf8_lossy(&log)
    );
    assert!(
        !String::from_utf8_lossy(&log).contains('\u{9b}'),
        "a raw CSI reached the log"
    );
    assert!(
        !String::from_utf8_lossy(&log).contains('\u{202e}'),
        "a bidi override reached the log"
    );
    for reason in files_in(&root, "corrupt")
        .iter()
        .filter(|n| n.ends_with(".reason"))
    {
        let text = std::fs::read(root.join("corrupt").join(reason)).unwrap();
        assert!(!text.contains(&0x1b), "{reason} holds a raw ESC");
    }
    String::from_utf8(log).expect("the log is UTF-8")
}
