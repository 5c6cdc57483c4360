//! Lingering close (as nginx does it): after an answer sent before the request body was
//! read (413, 401...), the write side is shut down and what the client still sends is read
//! and thrown away, bounded in time and bytes, before the socket closes. Closing with unread
//! bytes makes the kernel send a reset, which fails a client still writing its body
//! (`BrokenPipe`) before it could read the answer.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

/// The bounds of one lingering close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest the whole lingering lasts.
    pub total: Duration,
    /// Closed when the client sends nothing for this long.
    pub idle: Duration,
    /// Closed once this many bytes were thrown away.
    pub bytes: u64,
}

/// The server's bounds: a client sending 1 MiB (16 times the body limit) reads its 413;
/// one sending a gigabyte is cut off after 16 MiB or 5 seconds, whichever comes first.
pub const LIMITS: Limits = Limits {
    total: Duration::from_secs(5),
    idle: Duration::from_secs(2),
    bytes: 16 * 1024 * 1024,
};

/// Why a lingering close ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The client closed its side: everything it sent was read.
    ClientClosed,
    /// The client sent nothing for `idle`.
    Idle,
    /// `total` passed.
    Time,
    /// `bytes` were thrown away.
    Bytes,
    /// Reading failed (the client reset the connection, most likely).
    Error,
}

/// Shuts the write side down (the client sees the end of the answer), then reads and
/// discards until the client closes or a bound is reached. Returns why it ended and how many
/// bytes were thrown away; the caller closes the socket by dropping it.
pub async fn discard<S>(stream: &mut S, limits: Limits) -> (End, u64)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let deadline = Instant::now() + limits.total;
    if stream.shutdown().await.is_err() {
        return (End::Error, 0);
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut thrown = 0u64;
    loop {
        if thrown >= limits.bytes {
            return (End::Bytes, thrown);
        }
        let now = Instant::now();
        if now >= deadline {
            return (End::Time, thrown);
        }
        let wait = limits.idle.min(deadline - now);
        let read = tokio::time::timeout(wait, stream.read(&mut buf)).await;
        match read {
            Ok(Ok(0)) => return (End::ClientClosed, thrown),
            Ok(Ok(n)) => thrown += n as u64,
            Ok(Err(_)) => return (End::Error, thrown),
            Err(_) if Instant::now() >= deadline => return (End::Time, thrown),
            Err(_) => return (End::Idle, thrown),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    const TEST: Limits = Limits {
        total: Duration::from_secs(5),
        idle: Duration::from_secs(2),
        bytes: 1000,
    };

    #[tokio::test]
    async fn everything_the_client_sends_before_closing_is_read() {
        let (mut server, mut client) = duplex(64);
        let writer = tokio::spawn(async move {
            client.write_all(&[7u8; 300]).await.unwrap();
            // The server shut its side down: the client reads the end of the answer.
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty());
            drop(client);
        });
        assert_eq!(discard(&mut server, TEST).await, (End::ClientClosed, 300));
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn a_client_that_sends_without_end_is_cut_off_at_the_byte_bound() {
        let (mut server, mut client) = duplex(64);
        let writer = tokio::spawn(async move { while client.write_all(&[1u8; 100]).await.is_ok() {} });
        let (end, thrown) = discard(&mut server, TEST).await;
        assert_eq!(end, End::Bytes);
        assert!((1000..1100).contains(&thrown), "{thrown}");
        drop(server);
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn a_silent_client_is_closed_after_the_idle_time() {
        let (mut server, _client) = duplex(64);
        let limits = Limits {
            idle: Duration::from_millis(200),
            ..TEST
        };
        let t0 = Instant::now();
        assert_eq!(discard(&mut server, limits).await, (End::Idle, 0));
        assert!(t0.elapsed() >= limits.idle);
    }

    #[tokio::test]
    async fn a_client_that_trickles_is_closed_after_the_total_time() {
        let (mut server, mut client) = duplex(64);
        let writer = tokio::spawn(async move {
            while client.write_all(b"x").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let limits = Limits {
            total: Duration::from_millis(600),
            idle: Duration::from_secs(3),
            bytes: 1000,
        };
        let t0 = Instant::now();
        let (end, thrown) = discard(&mut server, limits).await;
        assert_eq!(end, End::Time);
        assert!(t0.elapsed() >= limits.total);
        assert!((1..1000).contains(&thrown), "{thrown}");
        drop(server);
        writer.await.unwrap();
    }
}
