//! Unit tests of `unseen.rs`.

use super::*;

#[test]
fn hidden_characters_are_found_wherever_they_hide() {
    for (text, hidden) in [
        ("Ally Support \u{202e}KCOL\u{202c}", '\u{202e}'),
        ("Ally\u{200b}", '\u{200b}'),
        ("\u{feff}Acme", '\u{feff}'),
        ("Acme\u{2066}", '\u{2066}'),
        ("Ac\u{ad}me", '\u{ad}'),
        ("Acme\u{e0041}", '\u{e0041}'),
        ("Acme\u{2028}Two", '\u{2028}'),
        ("\u{3164}", '\u{3164}'),
        ("\u{fe0f}", '\u{fe0f}'),
        ("Acme\u{fe0f}\u{fe0f}", '\u{fe0f}'),
        ("\u{17b5}", '\u{17b5}'),
        ("Acme\u{180b}", '\u{180b}'),
        ("Acme\u{e0100}", '\u{e0100}'),
        ("Acme\u{fff0}", '\u{fff0}'),
        ("Al\u{200c}ly", '\u{200c}'),
        ("Al\u{200d}ly", '\u{200d}'),
        ("Acme \u{e0067}\u{e007f}", '\u{e0067}'),
        ("❤️\u{fe0f}", '\u{fe0f}'),
    ] {
        assert_eq!(first_unseen(text), Some(hidden), "{text:?}");
    }
}

#[test]
fn what_writing_needs_is_seen() {
    for text in [
        "Café Ünïcode",
        "株式会社アリー",
        "شركة",
        "پارس‌نت",
        "हिन्दी‌भाषा",
        "Family 👨‍👩‍👧 Ltd",
        "Love ❤️ Co",
        "Wave 👋🏽‍♂️",
        "Key 1️⃣",
        "Scotland 🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f} Ltd",
        "Acme\u{a0}Ltd",
        "Acme 🚀",
    ] {
        assert_eq!(first_unseen(text), None, "{text:?}");
    }
}
