//! Whether two Redis key globs can match a common key (`check` proves error queues private with it).
//!
//! Used to prove that no user except an error queue's consumers can read the
//! queue. Character classes (`[...]`) are treated as "any one character", which
//! over-approximates: a false "overlaps" only asks the user to narrow a pattern.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Star,
    One,
    Lit(char),
}

fn tokens(p: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut it = p.chars();
    while let Some(c) = it.next() {
        match c {
            '*' => {
                if out.last() != Some(&Tok::Star) {
                    out.push(Tok::Star)
                }
            }
            '?' => out.push(Tok::One),
            '\\' => out.push(it.next().map(Tok::Lit).unwrap_or(Tok::Lit('\\'))),
            '[' => {
                for c in it.by_ref() {
                    if c == ']' {
                        break;
                    }
                }
                out.push(Tok::One);
            }
            c => out.push(Tok::Lit(c)),
        }
    }
    out
}

/// True when some key matches both globs.
pub fn overlaps(a: &str, b: &str) -> bool {
    let (a, b) = (tokens(a), tokens(b));
    // reach[i][j]: the prefixes a[..i] and b[..j] can produce the same string.
    let mut reach = vec![vec![false; b.len() + 1]; a.len() + 1];
    reach[0][0] = true;
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            if !reach[i][j] {
                continue;
            }
            let (ta, tb) = (a.get(i).copied(), b.get(j).copied());
            // A star may produce nothing.
            if ta == Some(Tok::Star) {
                reach[i + 1][j] = true;
            }
            if tb == Some(Tok::Star) {
                reach[i][j + 1] = true;
            }
            match (ta, tb) {
                // A star absorbs one character produced by the other side and stays.
                (Some(Tok::Star), Some(t)) if t != Tok::Star => reach[i][j + 1] = true,
                (Some(t), Some(Tok::Star)) if t != Tok::Star => reach[i + 1][j] = true,
                (Some(Tok::Lit(x)), Some(Tok::Lit(y))) if x != y => {}
                (Some(x), Some(y)) if x != Tok::Star && y != Tok::Star => {
                    reach[i + 1][j + 1] = true
                }
                _ => {}
            }
        }
    }
    reach[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::overlaps;

    #[test]
    fn overlap_cases() {
        assert!(overlaps("*", "errors:*"));
        assert!(overlaps("err*", "errors:*"));
        assert!(overlaps("errors:api", "errors:*"));
        assert!(overlaps("*:api", "errors:*"));
        assert!(overlaps("e?rors:x", "errors:*"));
        // Classes over-approximate to "any one character".
        assert!(overlaps("[ab]rrors:x", "errors:x"));
        assert!(!overlaps("jobs:*", "errors:*"));
        assert!(!overlaps("cache:ai:*", "errors:*"));
        assert!(!overlaps("ratelimit:*", "errors:*"));
        assert!(!overlaps("errors", "errors:*x"));
        assert!(overlaps("a*b*c", "*b*"));
        assert!(!overlaps("a*", "b*"));
    }
}
