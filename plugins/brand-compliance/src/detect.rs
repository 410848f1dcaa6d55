//! Detectors over the draft's chars: card numbers, IBANs, national ids,
//! secrets, e-mail addresses, phone numbers and shouting. Each returns
//! char indices, so spans are exact on any script. Every scan is linear or
//! bounded per position, so a 100 KB draft stays fast.

use switchboard_sdk::compliance::Span;

use crate::text::NormalizedText;
use crate::{Secrets, Shouting, span};

/// Something found: chars `start..end`; `positions` are its significant
/// chars (the digits of a card or phone, the letters and digits of an
/// IBAN or id, the secret's chars; for an e-mail address, the `@`).
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub start: usize,
    pub end: usize,
    pub positions: Vec<usize>,
}

impl Match {
    fn whole(start: usize, end: usize) -> Match {
        Match {
            start,
            end,
            positions: (start..end).collect(),
        }
    }

    /// The last `n` significant chars.
    pub fn keep_last(&self, chars: &[char], n: usize) -> String {
        self.positions[self.positions.len().saturating_sub(n)..]
            .iter()
            .map(|&i| chars[i])
            .collect()
    }

    /// Replace every significant char but the last `keep` by `*`.
    pub fn mask(&self, out: &mut [char], keep: usize) {
        for &i in &self.positions[..self.positions.len().saturating_sub(keep)] {
            out[i] = '*';
        }
    }

    /// The last four digits of a card.
    pub fn last_four(&self, chars: &[char]) -> String {
        self.keep_last(chars, 4)
    }
}

fn alnum_at(chars: &[char], i: Option<usize>) -> bool {
    i.and_then(|i| chars.get(i))
        .is_some_and(|c| c.is_alphanumeric())
}

/// Luhn-valid runs of 13-19 digits. A run is digit groups separated by one
/// space or dash, not glued to a preceding letter; within a longer run (a
/// phone number next to a card, say), the longest valid window of whole
/// groups wins.
pub fn card_numbers(chars: &[char]) -> Vec<Match> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut groups: Vec<Vec<usize>> = vec![Vec::new()];
        let mut j = i;
        while j < chars.len() {
            if chars[j].is_ascii_digit() {
                if let Some(group) = groups.last_mut() {
                    group.push(j);
                }
                j += 1;
            } else if matches!(chars[j], ' ' | '-')
                && chars.get(j + 1).is_some_and(char::is_ascii_digit)
            {
                groups.push(Vec::new());
                j += 1;
            } else {
                break;
            }
        }
        // Digits glued to letters are a code or an account (an IBAN with a
        // typo, an order reference), not a card number typed by a person.
        if !(i > 0 && chars[i - 1].is_alphabetic()) {
            found.extend(cards_in_run(&groups, chars));
        }
        i = j;
    }
    found
}

fn cards_in_run(groups: &[Vec<usize>], chars: &[char]) -> Vec<Match> {
    let mut found = Vec::new();
    let mut first = 0;
    while first < groups.len() {
        // At most 19 digits per window: a long run stays linear.
        let mut best = None;
        let mut count = 0;
        for last in first..groups.len() {
            count += groups[last].len();
            if count > 19 {
                break;
            }
            let digits = groups[first..=last].iter().flatten().map(|&d| chars[d]);
            if count >= 13 && luhn_valid(digits) {
                best = Some(last);
            }
        }
        match best {
            Some(last) => {
                let digits: Vec<usize> = groups[first..=last].iter().flatten().copied().collect();
                found.push(Match {
                    start: digits[0],
                    end: digits[digits.len() - 1] + 1,
                    positions: digits,
                });
                first = last + 1;
            }
            None => first += 1,
        }
    }
    found
}

/// The Luhn checksum over ASCII digits.
pub fn luhn_valid(digits: impl DoubleEndedIterator<Item = char>) -> bool {
    let mut sum = 0u32;
    for (k, c) in digits.rev().enumerate() {
        let Some(mut d) = c.to_digit(10) else {
            return false;
        };
        if k % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// Whether `iban` (letters and digits only, any case) passes the ISO 13616
/// check: 15-34 chars, country letters, check digits, mod 97 = 1.
pub fn iban_valid(iban: &[char]) -> bool {
    if !(15..=34).contains(&iban.len())
        || !iban[..2].iter().all(char::is_ascii_alphabetic)
        || !iban[2..4].iter().all(char::is_ascii_digit)
    {
        return false;
    }
    let mut rem: u32 = 0;
    for c in iban[4..].iter().chain(&iban[..4]) {
        let v = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// IBANs: two letters and two digits at a word start, then letters and
/// digits in groups separated by single spaces; the longest valid prefix
/// that ends at a group boundary.
pub fn ibans(chars: &[char]) -> Vec<Match> {
    let mut found = Vec::new();
    let mut i = 0;
    while i + 4 <= chars.len() {
        let starts = !alnum_at(chars, i.checked_sub(1))
            && chars[i].is_ascii_alphabetic()
            && chars[i + 1].is_ascii_alphabetic()
            && chars[i + 2].is_ascii_digit()
            && chars[i + 3].is_ascii_digit();
        if !starts {
            i += 1;
            continue;
        }
        let mut pos = Vec::new();
        let mut j = i;
        while j < chars.len() && pos.len() < 34 {
            if chars[j].is_ascii_alphanumeric() {
                pos.push(j);
                j += 1;
            } else if chars[j] == ' ' && chars.get(j + 1).is_some_and(char::is_ascii_alphanumeric) {
                j += 1;
            } else {
                break;
            }
        }
        let mut hit = None;
        for len in (15..=pos.len()).rev() {
            let last = pos[len - 1];
            if alnum_at(chars, Some(last + 1)) {
                continue; // ends inside a word
            }
            let ib: Vec<char> = pos[..len].iter().map(|&p| chars[p]).collect();
            if iban_valid(&ib) {
                hit = Some(len);
                break;
            }
        }
        match hit {
            Some(len) => {
                let positions = pos[..len].to_vec();
                let end = positions[len - 1] + 1;
                found.push(Match {
                    start: i,
                    end,
                    positions,
                });
                i = end;
            }
            None => i += 1,
        }
    }
    found
}

/// How to validate a national id once its format matched.
#[derive(Debug, Clone, Copy)]
enum IdCheck {
    None,
    /// Korea: YYMMDD birth date and a 7th digit 1-8.
    Kr,
    /// US SSN: area not 000, 666 or 9xx; group not 00; serial not 0000.
    Us,
    /// UK NINO prefix and suffix rules.
    Gb,
    /// Netherlands BSN: the 11-test.
    Nl,
    /// Spain DNI / NIE check letter.
    Es,
}

/// A national-id format.
#[derive(Debug, Clone)]
pub struct IdFormat {
    name: String,
    pattern: Vec<char>,
    check: IdCheck,
}

impl IdFormat {
    /// A custom format (`#` digit, `A` upper-case letter, `a` letter, `*`
    /// letter or digit, else literal).
    pub fn custom(country: &str, name: &str, pattern: &str) -> Result<IdFormat, String> {
        let pattern: Vec<char> = pattern.chars().collect();
        if pattern
            .iter()
            .filter(|c| matches!(c, '#' | 'A' | 'a' | '*'))
            .count()
            < 4
        {
            return Err(format!(
                "national_ids.custom {country}: pattern {:?} needs at least 4 of # A a *",
                pattern.iter().collect::<String>()
            ));
        }
        Ok(IdFormat {
            name: format!("{country} {name}"),
            pattern,
            check: IdCheck::None,
        })
    }

    fn matches_at(&self, chars: &[char], i: usize) -> Option<usize> {
        let end = i + self.pattern.len();
        if end > chars.len() || alnum_at(chars, i.checked_sub(1)) || alnum_at(chars, Some(end)) {
            return None;
        }
        let ok = self
            .pattern
            .iter()
            .zip(&chars[i..end])
            .all(|(p, c)| match p {
                '#' => c.is_ascii_digit(),
                'A' => c.is_ascii_uppercase(),
                'a' => c.is_ascii_alphabetic(),
                '*' => c.is_ascii_alphanumeric(),
                lit => lit == c,
            });
        let alnum: Vec<char> = chars[i..end]
            .iter()
            .copied()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        (ok && check(self.check, &alnum)).then_some(end)
    }
}

/// The built-in formats of a country.
pub fn builtin_ids(country: &str) -> Result<Vec<IdFormat>, String> {
    let f = |name: &str, pattern: &str, check| IdFormat {
        name: name.to_string(),
        pattern: pattern.chars().collect(),
        check,
    };
    Ok(match country.to_ascii_uppercase().as_str() {
        "KR" => vec![
            f(
                "KR resident registration number",
                "######-#######",
                IdCheck::Kr,
            ),
            f(
                "KR resident registration number",
                "#############",
                IdCheck::Kr,
            ),
        ],
        "US" => vec![
            f("US social security number", "###-##-####", IdCheck::Us),
            f("US social security number", "### ## ####", IdCheck::Us),
        ],
        "GB" => vec![
            f("GB national insurance number", "AA######A", IdCheck::Gb),
            f("GB national insurance number", "AA ## ## ## A", IdCheck::Gb),
        ],
        "NL" => vec![f(
            "NL citizen service number (BSN)",
            "#########",
            IdCheck::Nl,
        )],
        "ES" => vec![
            f("ES DNI", "########A", IdCheck::Es),
            f("ES NIE", "A#######A", IdCheck::Es),
        ],
        other => {
            return Err(format!(
                "data_protection.national_ids.countries: no built-in formats for {other:?} \
                 (KR, US, GB, NL, ES); add them under custom"
            ));
        }
    })
}

fn digits_of(s: &[char]) -> Vec<u32> {
    s.iter().filter_map(|c| c.to_digit(10)).collect()
}

fn check(kind: IdCheck, id: &[char]) -> bool {
    match kind {
        IdCheck::None => true,
        IdCheck::Kr => {
            let d = digits_of(id);
            d.len() == 13 && {
                let month = d[2] * 10 + d[3];
                let day = d[4] * 10 + d[5];
                (1..=12).contains(&month) && (1..=31).contains(&day) && (1..=8).contains(&d[6])
            }
        }
        IdCheck::Us => {
            let d = digits_of(id);
            d.len() == 9 && {
                let area = d[0] * 100 + d[1] * 10 + d[2];
                let group = d[3] * 10 + d[4];
                let serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8];
                area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
            }
        }
        IdCheck::Gb => {
            id.len() == 9
                && !matches!(id[0], 'D' | 'F' | 'I' | 'Q' | 'U' | 'V')
                && !matches!(id[1], 'D' | 'F' | 'I' | 'O' | 'Q' | 'U' | 'V')
                && !matches!(
                    [id[0], id[1]],
                    ['B', 'G']
                        | ['G', 'B']
                        | ['N', 'K']
                        | ['K', 'N']
                        | ['T', 'N']
                        | ['N', 'T']
                        | ['Z', 'Z']
                )
                && matches!(id[8], 'A'..='D')
        }
        IdCheck::Nl => {
            let d = digits_of(id);
            d.len() == 9 && d.iter().any(|&x| x != 0) && {
                let sum: i64 = d[..8]
                    .iter()
                    .zip((2..=9).rev())
                    .map(|(&x, w)| i64::from(x) * w)
                    .sum::<i64>()
                    - i64::from(d[8]);
                sum % 11 == 0
            }
        }
        IdCheck::Es => {
            const LETTERS: &[u8] = b"TRWAGMYFPDXBNJZSQVHLCKE";
            if id.len() != 9 {
                return false;
            }
            let prefix = match id[0] {
                'X' => Some(0),
                'Y' => Some(1),
                'Z' => Some(2),
                c if c.is_ascii_digit() => c.to_digit(10).map(|_| 99),
                _ => None,
            };
            let Some(prefix) = prefix else { return false };
            let body: String = if prefix == 99 {
                id[..8].iter().collect()
            } else {
                std::iter::once(char::from(b'0' + prefix as u8))
                    .chain(id[1..8].iter().copied())
                    .collect()
            };
            body.parse::<usize>()
                .is_ok_and(|n| char::from(LETTERS[n % 23]) == id[8])
        }
    }
}

/// National ids of the configured formats.
pub fn national_ids(chars: &[char], formats: &[IdFormat]) -> Vec<(Match, String)> {
    let mut found = Vec::new();
    if formats.is_empty() {
        return found;
    }
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        match formats
            .iter()
            .find_map(|f| f.matches_at(chars, i).map(|e| (e, f)))
        {
            Some((end, f)) => {
                let m = Match {
                    start: i,
                    end,
                    positions: (i..end)
                        .filter(|&k| chars[k].is_ascii_alphanumeric())
                        .collect(),
                };
                found.push((m, f.name.clone()));
                i = end;
            }
            None => i += 1,
        }
    }
    found
}

fn is_secret_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&*+-/=?@^_~".contains(c)
}

/// A keyword ("password", "인증번호", ...) followed, within the window, by
/// a token of secret chars (ASCII letters, digits, some symbols) with a
/// digit and at least `min_length` chars.
pub fn secrets(
    chars: &[char],
    text: &NormalizedText,
    keywords: &[Vec<char>],
    cfg: &Secrets,
) -> Vec<Match> {
    let mut found: Vec<Match> = Vec::new();
    let window = cfg.window_chars as usize;
    for k in keywords {
        for kw in text.find_all(k, true) {
            let from = kw.end as usize;
            let mut i = from;
            while i < chars.len() && i < from + window {
                if !is_secret_char(chars[i]) {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < chars.len() && is_secret_char(chars[i]) {
                    i += 1;
                }
                // Trailing sentence punctuation is no part of it.
                let mut end = i;
                while end > start && matches!(chars[end - 1], '!' | '?' | '-' | '/') {
                    end -= 1;
                }
                let token = &chars[start..end];
                if token.len() >= cfg.min_length as usize && token.iter().any(char::is_ascii_digit)
                {
                    if !found.iter().any(|m| m.start < end && start < m.end) {
                        found.push(Match::whole(start, end));
                    }
                    break;
                }
            }
        }
    }
    found.sort_by_key(|m| m.start);
    found
}

fn is_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._%+-".contains(c)
}

fn is_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '-'
}

/// E-mail addresses (ASCII): `local@domain.tld`; with the lower-cased domain.
pub fn emails(chars: &[char]) -> Vec<(Match, String)> {
    let mut found = Vec::new();
    let mut last_end = 0;
    for at in (0..chars.len()).filter(|&i| chars[i] == '@') {
        if at < last_end {
            continue;
        }
        let mut start = at;
        while start > last_end && is_local_char(chars[start - 1]) {
            start -= 1;
        }
        while start < at && chars[start] == '.' {
            start += 1;
        }
        let mut end = at + 1;
        while end < chars.len() && is_domain_char(chars[end]) {
            end += 1;
        }
        while end > at + 1 && matches!(chars[end - 1], '.' | '-') {
            end -= 1;
        }
        let domain: String = chars[at + 1..end]
            .iter()
            .collect::<String>()
            .to_ascii_lowercase();
        let tld_ok = domain.rsplit_once('.').is_some_and(|(host, tld)| {
            !host.is_empty() && tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())
        });
        if start == at || !tld_ok {
            continue;
        }
        found.push((
            Match {
                start,
                end,
                positions: vec![at],
            },
            domain,
        ));
        last_end = end;
    }
    found
}

/// Phone numbers: runs of digits with single separators (space, `-`, `.`)
/// and parentheses, optionally after `+`; `min_digits`..=`max_digits`
/// digits; starting with `+`, `(` or `0`, or written with separators.
/// Dates (`2026-01-05`, `05.01.2026`) are not phone numbers.
pub fn phones(chars: &[char], cfg: &crate::PhoneRule) -> Vec<Match> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts = (c.is_ascii_digit() || c == '+' || c == '(')
            && !alnum_at(chars, i.checked_sub(1))
            && !(i > 0 && matches!(chars[i - 1], '+' | '-' | '.' | '/'));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i + usize::from(c == '+');
        let mut digits = Vec::new();
        let mut separators = 0;
        let mut last_digit = None;
        while j < chars.len() {
            let d = chars[j];
            if d.is_ascii_digit() {
                digits.push(j);
                last_digit = Some(j);
            } else if matches!(d, '(' | ')')
                || (matches!(d, ' ' | '-' | '.')
                    && chars
                        .get(j + 1)
                        .is_some_and(|n| n.is_ascii_digit() || *n == '(')
                    && j > i)
            {
                separators += 1;
            } else {
                break;
            }
            j += 1;
        }
        let Some(last) = last_digit else {
            i += 1;
            continue;
        };
        let end = last + 1;
        let n = digits.len() as u32;
        let text: String = chars[i..end].iter().collect();
        let leading = matches!(c, '+' | '(') || chars[digits[0]] == '0';
        let ok = (cfg.min_digits..=cfg.max_digits).contains(&n)
            && (leading || separators > 0)
            && !alnum_at(chars, Some(end))
            && !looks_like_date(&text);
        if ok {
            found.push(Match {
                start: i,
                end,
                positions: digits,
            });
            i = end;
        } else {
            i = end.max(i + 1);
        }
    }
    found
}

fn looks_like_date(s: &str) -> bool {
    let groups: Vec<usize> = s
        .split(['-', '.', '/'])
        .map(|g| {
            if g.chars().all(|c| c.is_ascii_digit()) {
                g.len()
            } else {
                0
            }
        })
        .collect();
    matches!(
        groups[..],
        [4, 2, 2] | [2, 2, 4] | [1 | 2, 1 | 2, 4] | [4, 1 | 2, 1 | 2]
    )
}

/// Shouting: runs of all-capital words, and runs of `!`.
pub fn shouting(chars: &[char], cfg: &Shouting) -> Vec<(Span, String)> {
    let mut found = Vec::new();
    // Words: maximal runs of letters.
    let mut words: Vec<(usize, usize, bool)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_alphabetic() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_alphabetic() {
            i += 1;
        }
        let w = &chars[start..i];
        let upper = w.len() >= 2
            && w.iter().any(|c| c.is_uppercase())
            && !w.iter().any(|c| c.is_lowercase());
        words.push((start, i, upper));
    }
    let mut k = 0;
    while k < words.len() {
        if !words[k].2 {
            k += 1;
            continue;
        }
        let first = k;
        while k < words.len() && words[k].2 {
            k += 1;
        }
        let run = &words[first..k];
        let letters: usize = run.iter().map(|(s, e, _)| e - s).sum();
        if run.len() >= cfg.min_words as usize && letters >= cfg.min_letters as usize {
            found.push((
                span(run[0].0, run[run.len() - 1].1),
                format!("{} words in capitals read as shouting", run.len()),
            ));
        }
    }
    if cfg.exclamation_run > 0 {
        let mut i = 0;
        while i < chars.len() {
            if !matches!(chars[i], '!' | '！') {
                i += 1;
                continue;
            }
            let start = i;
            while i < chars.len() && matches!(chars[i], '!' | '！') {
                i += 1;
            }
            if i - start >= cfg.exclamation_run as usize {
                found.push((
                    span(start, i),
                    format!("{} exclamation marks read as shouting", i - start),
                ));
            }
        }
    }
    found
}
