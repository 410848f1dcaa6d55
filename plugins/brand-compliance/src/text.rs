//! Phrase matching on a normalized copy of the draft that remembers, for
//! every normalized char, which original char it came from, so matches map
//! back to exact spans in Unicode scalar values.

use switchboard_sdk::compliance::Span;

/// Lower-case, curly quotes as straight ones, any whitespace as a space.
fn fold(c: char) -> impl Iterator<Item = char> {
    let c = match c {
        '\u{2018}' | '\u{2019}' | '\u{02BC}' | '\u{FF07}' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{FF02}' => '"',
        c if c.is_whitespace() => ' ',
        c => c,
    };
    c.to_lowercase()
}

/// A phrase as [`NormalizedText`] sees text: folded, whitespace runs as
/// one space.
pub fn normalize(phrase: &str) -> Vec<char> {
    let chars: Vec<char> = phrase.chars().collect();
    NormalizedText::new(&chars).lower
}

/// Whether `c` is part of a word in a script that separates words with
/// spaces. Hangul, CJK, kana, Thai and similar scripts glue particles to
/// words, so a phrase there matches anywhere.
pub fn is_spaced_word_char(c: char) -> bool {
    c.is_alphanumeric()
        && !matches!(c as u32,
            0x0E00..=0x0EFF      // Thai, Lao
            | 0x1000..=0x109F    // Myanmar
            | 0x1100..=0x11FF    // Hangul Jamo
            | 0x1780..=0x17FF    // Khmer
            | 0x3040..=0x30FF    // Hiragana, Katakana
            | 0x3130..=0x318F    // Hangul compatibility Jamo
            | 0x3400..=0x4DBF    // CJK extension A
            | 0x4E00..=0x9FFF    // CJK
            | 0xAC00..=0xD7A3    // Hangul syllables
            | 0xF900..=0xFAFF    // CJK compatibility
            | 0x20000..=0x2FFFF) // CJK extensions
}

/// The draft normalized for matching.
pub struct NormalizedText<'a> {
    original: &'a [char],
    pub lower: Vec<char>,
    origin: Vec<usize>,
}

impl<'a> NormalizedText<'a> {
    pub fn new(original: &'a [char]) -> Self {
        let mut lower = Vec::with_capacity(original.len());
        let mut origin = Vec::with_capacity(original.len());
        for (i, &c) in original.iter().enumerate() {
            for l in fold(c) {
                if l == ' ' && lower.last() == Some(&' ') {
                    continue;
                }
                lower.push(l);
                origin.push(i);
            }
        }
        NormalizedText {
            original,
            lower,
            origin,
        }
    }

    /// Non-overlapping occurrences of `needle` (normalized), as spans of the
    /// original text. With `whole_words`, a match may not start or end in
    /// the middle of a word of a space-separated script.
    pub fn find_all(&self, needle: &[char], whole_words: bool) -> Vec<Span> {
        let mut spans = Vec::new();
        let n = needle.len();
        if n == 0 || n > self.lower.len() {
            return spans;
        }
        let mut i = 0;
        while i + n <= self.lower.len() {
            if self.lower[i..i + n] == *needle {
                let start = self.origin[i];
                let end = self.origin[i + n - 1] + 1;
                if !whole_words || self.at_word_edges(start, end) {
                    spans.push(Span {
                        start: super::to_u32(start),
                        end: super::to_u32(end),
                    });
                    i += n;
                    continue;
                }
            }
            i += 1;
        }
        spans
    }

    fn at_word_edges(&self, start: usize, end: usize) -> bool {
        let joined = |a: Option<&char>, b: Option<&char>| match (a, b) {
            (Some(&a), Some(&b)) => is_spaced_word_char(a) && is_spaced_word_char(b),
            _ => false,
        };
        let before = start.checked_sub(1).and_then(|i| self.original.get(i));
        !joined(before, self.original.get(start))
            && !joined(self.original.get(end - 1), self.original.get(end))
    }
}
