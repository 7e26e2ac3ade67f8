//! Characters a reader cannot see. With them a name can read as another's (`Ally Support
//! \u{202e}KCOL` shows as `Ally Support LOCK`, `Acme\u{200b}` as `Acme`), so text people
//! read is refused when it holds one (at the HTTP edge, for every string of a body). The
//! set is Unicode's default-ignorable code points and format characters (Unicode 15.1), the
//! line and paragraph separators and the braille blank; a few of them are what writing
//! needs in context, and are taken there: the zero-width joiner and the emoji variation
//! selectors after a pictograph (`👨‍👩‍👧`, `❤️`), the zero-width non-joiner between letters of
//! the scripts that use it (Persian `می‌خواهم`), and tag characters in a flag (`🏴󠁧󠁢󠁳󠁣󠁴󠁿`).

/// Whether `c` is never seen, in any context.
fn never_seen(c: char) -> bool {
    matches!(
        c as u32,
        0xad | 0x34f
            | 0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x890..=0x891
            | 0x8e2
            | 0x115f..=0x1160
            | 0x17b4..=0x17b5
            | 0x180b..=0x180f
            | 0x200b
            | 0x200e..=0x200f
            | 0x2028..=0x202e
            | 0x2060..=0x206f
            | 0x2800
            | 0x3164
            | 0xfe00..=0xfe0d
            | 0xfeff
            | 0xffa0
            | 0xfff0..=0xfffb
            | 0x110bd
            | 0x110cd
            | 0x13430..=0x1343f
            | 0x1bca0..=0x1bca3
            | 0x1d173..=0x1d17a
            | 0xe0000..=0xe001f
            | 0xe0080..=0xe0fff
    )
}

/// The characters taken only in context: the joiners, the emoji variation selectors, the
/// tag characters.
fn contextual(c: char) -> bool {
    matches!(c as u32, 0x200c | 0x200d | 0xfe0e | 0xfe0f | 0xe0020..=0xe007f)
}

/// Whether `c` is a pictograph an emoji sequence joins or a variation selector follows
/// (keycaps included: `1️⃣`).
fn pictograph(c: char) -> bool {
    matches!(
        c as u32,
        0x23 | 0x2a | 0x30..=0x39 | 0xa9 | 0xae | 0x203c | 0x2049 | 0x2122 | 0x2139
            | 0x2190..=0x21ff | 0x2300..=0x23ff | 0x24c2 | 0x25a0..=0x27bf | 0x2900..=0x297f
            | 0x2b00..=0x2bff | 0x3030 | 0x303d | 0x3297 | 0x3299 | 0x1f000..=0x1faff
    )
}

/// Whether `c` is a letter or mark of a script written with the zero-width non-joiner
/// (Arabic and Persian, Syriac, the Indic scripts).
fn joining_script(c: char) -> bool {
    matches!(c as u32, 0x600..=0x8ff | 0x900..=0xdff | 0xfb50..=0xfdff | 0xfe70..=0xfefc)
}

/// Whether the contextual character at `i` of `chars` is where writing needs it.
fn needed(chars: &[char], i: usize) -> bool {
    let before = i.checked_sub(1).map(|j| chars[j]);
    let after = chars.get(i + 1).copied();
    match chars[i] as u32 {
        // After a pictograph (or its variation selector), before another.
        0x200d => {
            let joined = match before {
                Some('\u{fe0f}') => i.checked_sub(2).is_some_and(|j| pictograph(chars[j])),
                Some(c) => pictograph(c) || (0x1f3fb..=0x1f3ff).contains(&(c as u32)),
                None => false,
            };
            joined && after.is_some_and(pictograph)
        }
        0xfe0e | 0xfe0f => before.is_some_and(pictograph),
        0x200c => before.is_some_and(joining_script) && after.is_some_and(joining_script),
        // Tags spell a subdivision after the black flag and end with the cancel tag.
        _ => chars[..i].iter().rev().find(|c| !(0xe0020..=0xe007f).contains(&(**c as u32))) == Some(&'\u{1f3f4}'),
    }
}

/// The first character of `text` no reader would see where it stands, if any.
pub fn first_unseen(text: &str) -> Option<char> {
    let chars: Vec<char> = text.chars().collect();
    (0..chars.len()).find(|&i| never_seen(chars[i]) || (contextual(chars[i]) && !needed(&chars, i))).map(|i| chars[i])
}

/// The characters [`first_unseen`] refuses in any context, as a JSON Schema class body of
/// the Basic Multilingual Plane (controls included; the rest need surrogate pairs, which
/// the schema leaves out, as it does the contextual ones: the server refuses them all).
macro_rules! unseen_class {
    () => {
        r"\u0000-\u001f\u007f-\u009f\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b\u200e\u200f\u2028-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0d\ufeff\uffa0\ufff0-\ufffb"
    };
}
pub(crate) use unseen_class;

#[cfg(test)]
#[path = "unseen_test.rs"]
mod tests;
