//! The case-insensitive search of the file lists' filters without a lowercased copy of
//! each text: ASCII text is searched without regard to ASCII case (memchr finds the
//! candidates of the needle's first byte), which finds what a search of its lowercase finds.

/// `text` lowercased, or `None` when an ASCII case-insensitive search of `text` finds
/// what a search of its lowercase would: ASCII text, or text without capitals.
pub fn lowered(text: &str) -> Option<Box<str>> {
    if text.is_ascii() {
        return None;
    }
    let lower = text.to_lowercase();
    (lower != text).then(|| lower.into_boxed_str())
}

/// Whether `hay` contains `needle` (lowercase), ASCII letters compared without case.
pub fn contains_ascii_ci(hay: &str, needle: &str) -> bool {
    let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if needle.len() > hay.len() {
        return false;
    }
    let last_start = hay.len() - needle.len();
    let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let mut from = 0;
    while from <= last_start {
        let Some(i) = memchr::memchr2(lower, upper, &hay[from..=last_start]) else {
            return false;
        };
        let at = from + i;
        if hay[at + 1..at + needle.len()].eq_ignore_ascii_case(rest) {
            return true;
        }
        from = at + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ascii_search_finds_what_a_lowercase_search_finds() {
        let texts = [
            "20261127T100000.000-000001-1.batch",
            "message uid \"api-1\" (record id 1000): rejected by a database trigger: site AB closed",
            "Database Is LOCKED",
            "",
            "aaaB",
        ];
        let needles = [
            "t100",
            "site ab",
            "ab closed",
            "locked",
            "database is",
            "d",
            "closed!",
            "aab",
            "ab",
            "1-1.batch",
            "x",
            "trigger: site ab closed",
            "é",
        ];
        for t in texts {
            for n in needles {
                assert_eq!(
                    contains_ascii_ci(t, n),
                    t.to_lowercase().contains(n),
                    "{t:?} / {n:?}"
                );
            }
        }
        // Not ASCII: a lowercased copy is kept where it differs, and searched.
        assert_eq!(lowered("Übel"), Some("übel".into()));
        assert_eq!(lowered("übel"), None);
        assert_eq!(lowered("ASCII Only"), None);
    }
}
