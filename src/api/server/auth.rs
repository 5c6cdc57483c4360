//! Who may ask what: the control token (made, checked in constant time) and the `Host`
//! check that keeps a web page from reaching the API through DNS rebinding.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// A new control token: 32 random bytes from the thread's CSPRNG, as 64 hex characters.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Compares every byte whatever the first difference, so the time taken says nothing about
/// how much of a guess was right (only whether its length was).
pub fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    // An empty expected token (never made by `new_token`) must not accept an empty guess.
    let mut diff = u8::from(given.len() != expected.len()) | u8::from(expected.is_empty());
    for (i, e) in expected.iter().enumerate() {
        let g = given.get(i).copied().unwrap_or(!e);
        diff |= std::hint::black_box(g ^ e);
    }
    std::hint::black_box(diff) == 0
}

/// The token of an `Authorization: Bearer <token>` header value.
pub fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    Some(rest.trim_ascii())
}

/// Which `Host` headers name this server.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    port: u16,
    listen: IpAddr,
    /// Listening on every address (`0.0.0.0`, `::`) with `--listen-public`: any IP literal is
    /// one of ours, and an IP literal cannot be rebound (only a DNS name can).
    any_ip_literal: bool,
}

impl HostPolicy {
    pub fn new(listen: SocketAddr, public: bool) -> HostPolicy {
        HostPolicy {
            port: listen.port(),
            listen: listen.ip(),
            any_ip_literal: public && listen.ip().is_unspecified(),
        }
    }

    /// `Ok` for `127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT` and the listen address.
    pub fn check(&self, host: Option<&[u8]>) -> Result<(), String> {
        let host = host.ok_or("the request has no Host header")?;
        let text = std::str::from_utf8(host).map_err(|_| "the Host header is not text".to_string())?;
        let refuse = || {
            format!(
                "Host {text:?} is not this server (expected 127.0.0.1:{p}, localhost:{p} or [::1]:{p}); \
                 requests through another name are refused to defeat DNS rebinding",
                p = self.port
            )
        };
        let (name, port) = split_host(text).ok_or_else(refuse)?;
        if port != self.port {
            return Err(refuse());
        }
        let ours = if name.eq_ignore_ascii_case("localhost") {
            true
        } else {
            match name.parse::<IpAddr>() {
                Ok(ip) => {
                    ip == IpAddr::from([127, 0, 0, 1])
                        || ip == IpAddr::V6(Ipv6Addr::LOCALHOST)
                        || ip == self.listen
                        || self.any_ip_literal
                }
                Err(_) => false,
            }
        };
        if ours {
            Ok(())
        } else {
            Err(refuse())
        }
    }
}

/// `name` and port of a Host header (`[v6]:port`, `name:port`, or a bare name for port 80).
fn split_host(text: &str) -> Option<(&str, u16)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        if !ip.contains(':') {
            return None;
        }
        let port = match after {
            "" => 80,
            _ => after.strip_prefix(':')?.parse().ok()?,
        };
        return Some((ip, port));
    }
    match text.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => Some((name, port.parse().ok()?)),
        Some(_) => None,
        None => Some((text, 80)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_64_hex_and_differ() {
        let a = new_token();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, new_token());
    }

    #[test]
    fn only_the_exact_token_matches() {
        let t = b"0123456789abcdef";
        assert!(constant_time_eq(t, t));
        assert!(!constant_time_eq(b"0123456789abcdeF", t));
        assert!(!constant_time_eq(b"0123456789abcde", t));
        assert!(!constant_time_eq(b"0123456789abcdef0", t));
        assert!(!constant_time_eq(b"", t));
        assert!(!constant_time_eq(b"", b""), "an empty token is never valid");
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer_token(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"Basic abc"), None);
        assert_eq!(bearer_token(b"Bearer"), None);
        assert_eq!(bearer_token(b"Bear"), None);
    }

    #[test]
    fn loopback_names_with_our_port_pass() {
        let p = HostPolicy::new("127.0.0.1:4000".parse().unwrap(), false);
        for ok in [
            "127.0.0.1:4000",
            "localhost:4000",
            "LocalHost:4000",
            "[::1]:4000",
            "[0:0:0:0:0:0:0:1]:4000",
        ] {
            assert_eq!(p.check(Some(ok.as_bytes())), Ok(()), "{ok}");
        }
        for bad in [
            "127.0.0.1:4001",
            "127.0.0.1",
            "localhost",
            "evil.example:4000",
            "localhost.evil.example:4000",
            "10.0.0.5:4000",
            "[::1]",
            "[::1]:x",
            "127.0.0.1:4000:1",
            "",
        ] {
            let err = p.check(Some(bad.as_bytes())).unwrap_err();
            assert!(err.contains("DNS rebinding"), "{bad}: {err}");
        }
        assert!(p.check(None).unwrap_err().contains("no Host header"));
        assert!(p.check(Some(b"\xff:4000")).is_err());
    }

    #[test]
    fn a_public_server_also_accepts_its_listen_address() {
        let p = HostPolicy::new("192.0.2.7:80".parse().unwrap(), true);
        assert_eq!(p.check(Some(b"192.0.2.7")), Ok(()));
        assert_eq!(p.check(Some(b"192.0.2.7:80")), Ok(()));
        assert!(p.check(Some(b"198.51.100.1:80")).is_err());
        assert!(p.check(Some(b"statmgr.example:80")).is_err());

        let any = HostPolicy::new("0.0.0.0:9000".parse().unwrap(), true);
        assert_eq!(any.check(Some(b"198.51.100.1:9000")), Ok(()));
        assert_eq!(any.check(Some(b"[2001:db8::1]:9000")), Ok(()));
        assert!(any.check(Some(b"statmgr.example:9000")).is_err());
    }
}
