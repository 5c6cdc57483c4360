//! Query parameters of the snapshot and file-detail calls: their names, their encoding by
//! the client and their parsing by the server, in one place so both sides spell them alike.
//!
//! Snapshot (`GET /api/v1/snapshot`): `offset`, `limit`, `sort`, `desc`, `filter` page the
//! retry list; `stuck_offset`, `stuck_limit`, `stuck_sort`, `stuck_desc`, `stuck_filter` page
//! the stuck list; the same with `discarded_` page `discarded/`. A filter `cause:ID` selects
//! the files of one cause (see `GET /api/v1/causes`). File detail (`GET /api/v1/{retry,stuck}/{name}`): `offset`, `limit` page
//! its messages. `limit` defaults to 100 and may not exceed 1,000; `sort` is one of `name`,
//! `age`, `messages`, `attempts`, `next_attempt`, `error`; `desc` is `true` or `false`;
//! `filter` is a case-insensitive substring of the name or the last error.

use crate::api::wire::{FileQuery, SortKey, DEFAULT_PAGE, MAX_PAGE};

/// Prefix of the stuck list's parameters.
pub const STUCK_PREFIX: &str = "stuck_";
/// Prefix of the discarded list's parameters.
pub const DISCARDED_PREFIX: &str = "discarded_";
/// Longest filter accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 1024;

const SORT_KEYS: [(SortKey, &str); 6] = [
    (SortKey::Name, "name"),
    (SortKey::Age, "age"),
    (SortKey::Messages, "messages"),
    (SortKey::Attempts, "attempts"),
    (SortKey::NextAttempt, "next_attempt"),
    (SortKey::Error, "error"),
];

pub fn sort_key_name(key: SortKey) -> &'static str {
    SORT_KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, n)| *n)
        .unwrap_or("name")
}

pub fn parse_sort_key(text: &str) -> Result<SortKey, String> {
    SORT_KEYS
        .iter()
        .find(|(_, n)| *n == text)
        .map(|(k, _)| *k)
        .ok_or_else(|| {
            let names: Vec<&str> = SORT_KEYS.iter().map(|(_, n)| *n).collect();
            format!("{text:?} is not one of {}", names.join(", "))
        })
}

/// The pairs that ask for `q`, every name prefixed with `prefix` ("" or [`STUCK_PREFIX`]).
pub fn file_query_pairs(prefix: &str, q: &FileQuery) -> Vec<(String, String)> {
    let mut pairs = vec![
        (format!("{prefix}offset"), q.offset.to_string()),
        (format!("{prefix}limit"), q.limit.to_string()),
        (format!("{prefix}sort"), sort_key_name(q.sort).to_string()),
        (format!("{prefix}desc"), q.desc.to_string()),
    ];
    if let Some(filter) = q.filter.as_deref().filter(|f| !f.is_empty()) {
        pairs.push((format!("{prefix}filter"), filter.to_string()));
    }
    pairs
}

fn parse_u64(name: &str, value: &str) -> Result<u64, String> {
    value
        .parse::<u64>()
        .map_err(|_| format!("query parameter `{name}`: {value:?} is not a non-negative integer"))
}

fn parse_limit(name: &str, value: &str) -> Result<u64, String> {
    let limit = parse_u64(name, value)?;
    if limit > MAX_PAGE {
        return Err(format!(
            "query parameter `{name}`: {limit} is over the largest page, {MAX_PAGE}"
        ));
    }
    Ok(limit)
}

fn parse_bool(name: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!(
            "query parameter `{name}`: {value:?} is not true or false"
        )),
    }
}

/// Refuses a parameter given twice: which one would win is not obvious to the caller.
fn once(seen: &mut Vec<String>, name: &str) -> Result<(), String> {
    if seen.iter().any(|s| s == name) {
        return Err(format!("query parameter `{name}` is given more than once"));
    }
    seen.push(name.to_string());
    Ok(())
}

fn apply(q: &mut FileQuery, field: &str, name: &str, value: &str) -> Result<bool, String> {
    match field {
        "offset" => q.offset = parse_u64(name, value)?,
        "limit" => q.limit = parse_limit(name, value)?,
        "sort" => q.sort = parse_sort_key(value).map_err(|e| format!("query parameter `{name}`: {e}"))?,
        "desc" => q.desc = parse_bool(name, value)?,
        "filter" => {
            if value.len() > MAX_FILTER_BYTES {
                return Err(format!(
                    "query parameter `{name}`: longer than {MAX_FILTER_BYTES} bytes"
                ));
            }
            q.filter = Some(value.to_string()).filter(|f| !f.is_empty());
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The retry and stuck queries of a snapshot request.
pub fn parse_snapshot_query(pairs: &[(String, String)]) -> Result<(FileQuery, FileQuery), String> {
    let q = parse_snapshot_queries(pairs)?;
    Ok((q.retry, q.stuck))
}

/// The three lists of a snapshot request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotQueries {
    pub retry: FileQuery,
    pub stuck: FileQuery,
    pub discarded: FileQuery,
}

/// The retry, stuck and discarded queries of a snapshot request.
pub fn parse_snapshot_queries(pairs: &[(String, String)]) -> Result<SnapshotQueries, String> {
    let mut q = SnapshotQueries::default();
    let mut seen = Vec::new();
    for (name, value) in pairs {
        once(&mut seen, name)?;
        let known = if let Some(field) = name.strip_prefix(STUCK_PREFIX) {
            apply(&mut q.stuck, field, name, value)?
        } else if let Some(field) = name.strip_prefix(DISCARDED_PREFIX) {
            apply(&mut q.discarded, field, name, value)?
        } else {
            apply(&mut q.retry, name, name, value)?
        };
        if !known {
            return Err(format!(
                "unknown query parameter `{name}`; known: offset, limit, sort, desc, filter, \
                 and the same with the prefix `{STUCK_PREFIX}` for the stuck list and \
                 `{DISCARDED_PREFIX}` for the discarded list"
            ));
        }
    }
    Ok(q)
}

/// `offset` and `limit` of a file-detail request.
pub fn parse_message_page(pairs: &[(String, String)]) -> Result<(u64, u64), String> {
    let (mut offset, mut limit) = (0, DEFAULT_PAGE);
    let mut seen = Vec::new();
    for (name, value) in pairs {
        once(&mut seen, name)?;
        match name.as_str() {
            "offset" => offset = parse_u64(name, value)?,
            "limit" => limit = parse_limit(name, value)?,
            _ => return Err(format!("unknown query parameter `{name}`; known: offset, limit")),
        }
    }
    Ok((offset, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn defaults_when_nothing_is_given() {
        let (retry, stuck) = parse_snapshot_query(&[]).unwrap();
        assert_eq!(retry, FileQuery::default());
        assert_eq!(stuck, FileQuery::default());
        assert_eq!(parse_message_page(&[]).unwrap(), (0, DEFAULT_PAGE));
    }

    #[test]
    fn retry_and_stuck_parameters_go_to_their_own_list() {
        let (retry, stuck) = parse_snapshot_query(&pairs(&[
            ("offset", "20"),
            ("limit", "5"),
            ("sort", "next_attempt"),
            ("desc", "true"),
            ("filter", "Locked"),
            ("stuck_limit", "1000"),
            ("stuck_sort", "error"),
            ("stuck_filter", ""),
        ]))
        .unwrap();
        assert_eq!(
            retry,
            FileQuery {
                offset: 20,
                limit: 5,
                sort: SortKey::NextAttempt,
                desc: true,
                filter: Some("Locked".into())
            }
        );
        assert_eq!(stuck.limit, 1000);
        assert_eq!(stuck.sort, SortKey::Error);
        assert_eq!(stuck.filter, None);
    }

    #[test]
    fn bad_values_are_refused_with_the_parameter_named() {
        for (name, value, expect) in [
            ("limit", "1001", "over the largest page"),
            ("stuck_limit", "-1", "`stuck_limit`"),
            ("offset", "abc", "not a non-negative integer"),
            ("sort", "size", "not one of name, age"),
            ("desc", "yes", "not true or false"),
            ("colour", "red", "unknown query parameter `colour`"),
            ("stuck_colour", "red", "unknown query parameter `stuck_colour`"),
        ] {
            let err = parse_snapshot_query(&pairs(&[(name, value)])).unwrap_err();
            assert!(err.contains(expect), "{name}={value}: {err}");
        }
        let long = "x".repeat(MAX_FILTER_BYTES + 1);
        assert!(parse_snapshot_query(&pairs(&[("filter", &long)])).is_err());
        let err = parse_snapshot_query(&pairs(&[("limit", "1"), ("limit", "2")])).unwrap_err();
        assert!(err.contains("more than once"), "{err}");
        assert!(parse_message_page(&pairs(&[("sort", "name")])).is_err());
        assert!(parse_message_page(&pairs(&[("limit", "5000")])).is_err());
    }

    #[test]
    fn what_the_client_sends_the_server_reads_back() {
        let q = FileQuery {
            offset: 7,
            limit: 9,
            sort: SortKey::Attempts,
            desc: true,
            filter: Some("disk full".into()),
        };
        let mut all = file_query_pairs("", &q);
        all.extend(file_query_pairs(STUCK_PREFIX, &FileQuery::default()));
        assert_eq!(parse_snapshot_query(&all).unwrap(), (q, FileQuery::default()));
        for (key, name) in SORT_KEYS {
            assert_eq!(parse_sort_key(sort_key_name(key)).unwrap(), key, "{name}");
        }
    }
}
