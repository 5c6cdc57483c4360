//! A client still sending its body when the API of a real processor refuses the request
//! (413 over the body limit, 401 without the token) reads the refusal instead of a reset:
//! the server closes the way nginx's lingering close does.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::*;

fn host_port(url: &str) -> String {
    url.trim_start_matches("http://").to_string()
}

/// How the body is framed.
#[derive(Clone, Copy, PartialEq)]
enum Framing {
    ContentLength,
    Chunked,
}

/// Sends `head`, then `total` body bytes in chunks of 16 KiB with a pause after each (so the
/// server has answered long before the body ends), then reads the whole answer; or says
/// what failed.
fn send_slowly_then_read(addr: &str, head: &str, total: usize, framing: Framing) -> Result<String, String> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b' '; 16 * 1024];
    let mut sent = 0;
    while sent < total {
        let n = chunk.len().min(total - sent);
        let written = match framing {
            Framing::ContentLength => s.write_all(&chunk[..n]),
            Framing::Chunked => s
                .write_all(format!("{n:x}\r\n").as_bytes())
                .and_then(|()| s.write_all(&chunk[..n]))
                .and_then(|()| s.write_all(b"\r\n")),
        };
        if let Err(e) = written {
            return Err(format!(
                "writing the body failed after {sent} of {total} bytes: {e} \
                 (the server closed without reading what the client still sent)"
            ));
        }
        sent += n;
        std::thread::sleep(Duration::from_millis(1));
    }
    if framing == Framing::Chunked {
        if let Err(e) = s.write_all(b"0\r\n\r\n") {
            return Err(format!("writing the last chunk failed: {e}"));
        }
    }
    let mut answer = Vec::new();
    if let Err(e) = s.read_to_end(&mut answer) {
        return Err(format!(
            "reading the answer failed after sending all {total} bytes: {e}; got so far: {}",
            String::from_utf8_lossy(&answer)
        ));
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[test]
fn a_client_still_sending_a_large_body_reads_the_refusal() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &[]);
    let addr = host_port(&p.endpoint());
    let token = p.token();
    let total = 2 << 20;
    let with_token = format!("Host: {addr}\r\nAuthorization: Bearer {token}\r\n");
    let cases = [
        (
            "413, declared length",
            format!("POST /api/v1/flush HTTP/1.1\r\n{with_token}Content-Length: {total}\r\n\r\n"),
            Framing::ContentLength,
            "HTTP/1.1 413",
        ),
        (
            "401, no token",
            format!("POST /api/v1/pause HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {total}\r\n\r\n"),
            Framing::ContentLength,
            "HTTP/1.1 401",
        ),
        (
            "413, chunked (refused once 64 KiB were read)",
            format!("POST /api/v1/flush HTTP/1.1\r\n{with_token}Transfer-Encoding: chunked\r\n\r\n"),
            Framing::Chunked,
            "HTTP/1.1 413",
        ),
    ];
    let mut failed = Vec::new();
    for (case, head, framing, status) in cases {
        match send_slowly_then_read(&addr, &head, total, framing) {
            Ok(answer) if answer.starts_with(status) => {
                assert!(
                    answer.to_ascii_lowercase().contains("connection: close"),
                    "{case}: the client is told not to reuse the connection: {answer}"
                );
                if status.ends_with("413") {
                    assert!(answer.contains("over the 64 KiB limit"), "{case}: {answer}");
                }
            }
            Ok(answer) => failed.push(format!("{case}: expected {status}, got {answer}")),
            Err(e) => failed.push(format!("{case}: {e}")),
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));

    let (code, _, _) = p.cli(&["status"]);
    assert_eq!(code, Some(0), "the server still answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_streaming_a_body_without_length_reads_the_413() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &[]);
    let url = p.endpoint();
    let auth = format!("Bearer {}", p.token());
    // 2 MiB in 16 KiB chunks, a pause between them: the server answers after 64 KiB.
    let chunks = futures_util::stream::unfold(0usize, |i| async move {
        if i == 128 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        Some((Ok::<_, std::io::Error>(vec![b' '; 16 * 1024]), i + 1))
    });
    let res = reqwest::Client::new()
        .post(format!("{url}/api/v1/flush"))
        .header("Authorization", &auth)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await;
    match res {
        Ok(r) => assert_eq!(r.status().as_u16(), 413),
        Err(e) => panic!("the client could not read the answer: {e:?}"),
    }
}

#[test]
fn a_client_that_never_stops_sending_is_cut_off() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &[]);
    let addr = host_port(&p.endpoint());
    let token = p.token();
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "POST /api/v1/flush HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: 1099511627776\r\n\r\n"
    )
    .unwrap();
    // The server throws away a bounded amount (16 MiB) and closes: a write fails well
    // before a terabyte.
    let chunk = vec![b'x'; 1 << 20];
    let mut sent: u64 = 0;
    let failed = loop {
        match s.write_all(&chunk) {
            Ok(()) => sent += chunk.len() as u64,
            Err(e) => break e,
        }
        assert!(sent < 1 << 30, "the server read 1 GiB of a refused body");
    };
    eprintln!("cut off after {} MiB sent: {failed}", sent >> 20);
    let (code, _, _) = p.cli(&["status"]);
    assert_eq!(code, Some(0), "the server still answers");
}
