//! Hostile producer text never reaches the terminal raw, and fitted text never overflows its
//! columns (property tests over arbitrary Unicode, biased towards the dangerous characters).

use proptest::prelude::*;
use statmgr::tui::sanitize::{self, escape, fit_string, is_unsafe, pad, width};

/// Characters that attack terminals or alignment, mixed with ordinary and wide ones.
fn hostile_char() -> impl Strategy<Value = char> {
    prop_oneof![
        any::<char>(),
        Just('\u{1b}'),
        Just('\u{9b}'),
        Just('\u{0}'),
        Just('\u{7f}'),
        Just('\u{202e}'),
        Just('\u{2066}'),
        Just('\u{200d}'),
        Just('\u{fe0f}'),
        Just('\n'),
        Just('機'),
        Just('ｱ'),
        Just('❤'),
        Just('\u{301}'),
        Just('a'),
    ]
}

fn hostile_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(hostile_char(), 0..80).prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn escaped_text_holds_no_unsafe_character(text in hostile_text()) {
        prop_assert!(!escape(&text).chars().any(is_unsafe));
    }

    #[test]
    fn fitted_text_is_safe_and_within_its_width(text in hostile_text(), max in 0usize..60) {
        let fitted = fit_string(&text, max);
        prop_assert!(!fitted.chars().any(is_unsafe), "{fitted:?}");
        prop_assert!(width(&fitted) <= max, "{fitted:?} is {} wide, limit {max}", width(&fitted));
        // Text that fits is shown whole (escaped), never cut.
        let escaped = escape(&text);
        if width(&escaped) <= max {
            prop_assert_eq!(fitted, escaped.into_owned());
        }
    }

    #[test]
    fn padded_cells_are_exactly_their_width(text in hostile_text(), columns in 0usize..60) {
        prop_assert_eq!(width(&pad(&text, columns)), columns);
    }

    #[test]
    fn escaping_keeps_the_safe_characters_in_order(text in hostile_text()) {
        let kept: String = text.chars().filter(|c| !is_unsafe(*c)).collect();
        let shown: String = sanitize::pieces(&text).into_iter().filter(|p| !p.escaped).map(|p| p.text).collect();
        prop_assert_eq!(kept, shown);
    }
}

#[test]
fn known_attacks_are_neutralised() {
    assert_eq!(escape("\u{1b}[2J\u{1b}[H"), "\\u{1b}[2J\\u{1b}[H");
    assert_eq!(escape("\u{1b}]0;title\u{7}"), "\\u{1b}]0;title\\u{7}");
    assert_eq!(escape("abc\u{202e}fdp.exe"), "abc\\u{202e}fdp.exe");
    assert_eq!(escape("\u{9b}2J"), "\\u{9b}2J");
    assert_eq!(fit_string("データベースがロックされています", 11), "データベー…");
}
