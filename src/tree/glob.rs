//! Shell-style patterns for group names (`vm/1*`, `ct/10?`, `vm/[12]*`): `*` any run of
//! characters, `?` one character, `[...]` one of a set (ranges `a-z`, negated with `!` or
//! `^`). As in a shell path, `*` and `?` never match the `/` between type and id.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    Any,
    Star,
    Set {
        negated: bool,
        items: Vec<(char, char)>,
    },
}

/// Whether `s` has any glob syntax (else it names one group exactly).
pub fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

impl Glob {
    /// Parses a pattern; an unclosed `[` is the only error.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '*' => Token::Star,
                '?' => Token::Any,
                '[' => parse_set(&mut chars)
                    .ok_or_else(|| format!("pattern '{pattern}': '[' without a closing ']'"))?,
                c => Token::Char(c),
            });
        }
        Ok(Self { tokens })
    }

    pub fn matches(&self, s: &str) -> bool {
        let chars: Vec<char> = s.chars().collect();
        match_from(&self.tokens, &chars)
    }
}

fn parse_set(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<Token> {
    let negated = matches!(chars.peek(), Some('!' | '^'));
    if negated {
        chars.next();
    }
    let mut items = Vec::new();
    let mut first = true;
    loop {
        let c = chars.next()?;
        // A `]` right after `[` (or `[!`) is a member, as in a shell.
        if c == ']' && !first {
            return Some(Token::Set { negated, items });
        }
        first = false;
        let mut lookahead = chars.clone();
        match (lookahead.next(), lookahead.next()) {
            (Some('-'), Some(hi)) if hi != ']' => {
                chars.next();
                chars.next();
                items.push((c, hi));
            }
            _ => items.push((c, c)),
        }
    }
}

/// Backtracking over the one `*` at a time: patterns are short, names shorter.
fn match_from(tokens: &[Token], s: &[char]) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return s.is_empty();
    };
    match first {
        Token::Star => {
            let run = s.iter().take_while(|c| **c != '/').count();
            (0..=run).any(|i| match_from(rest, &s[i..]))
        }
        _ => match s.split_first() {
            Some((c, tail)) if one(first, *c) => match_from(rest, tail),
            _ => false,
        },
    }
}

fn one(t: &Token, c: char) -> bool {
    match t {
        Token::Char(x) => *x == c,
        Token::Any => c != '/',
        Token::Set { negated, items } => {
            c != '/' && items.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
        }
        Token::Star => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Glob::parse(p).unwrap().matches(s)
    }

    #[test]
    fn stars_and_question_marks() {
        assert!(m("vm/1*", "vm/1"));
        assert!(m("vm/1*", "vm/1234"));
        assert!(!m("vm/1*", "vm/2"));
        assert!(!m("vm/1*", "ct/100"));
        assert!(m("*/100", "ct/100"));
        assert!(m("vm/10?", "vm/101"));
        assert!(!m("vm/10?", "vm/10"));
        assert!(m("vm/*a*b", "vm/xaxxb"));
        // Never across the slash.
        assert!(!m("*", "vm/100"));
        assert!(!m("vm?100", "vm/100"));
        assert!(m("vm/100", "vm/100"));
    }

    #[test]
    fn sets_and_ranges() {
        assert!(m("vm/[12]00", "vm/200"));
        assert!(!m("vm/[12]00", "vm/300"));
        assert!(m("vm/[0-4]*", "vm/3x"));
        assert!(m("vm/[!0-4]*", "vm/5"));
        assert!(!m("vm/[^0-4]*", "vm/1"));
        assert!(m("x[]]", "x]"));
        assert!(m("x[a-]", "x-"));
        assert!(Glob::parse("vm/[12").is_err());
    }

    #[test]
    fn what_counts_as_a_glob() {
        assert!(is_glob("vm/1*") && is_glob("vm/10?") && is_glob("vm/[1]"));
        assert!(!is_glob("vm/100"));
    }
}
