//! "Did you mean ...?" suggestions by edit distance.

/// Levenshtein distance between two strings, by characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate to `word`, if it is close enough to be a plausible typo:
/// at most a third of the word's length (and at least one edit) away. Case and
/// `-`/`_` confusions count as exact matches.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let norm = |s: &str| s.to_lowercase().replace('-', "_");
    let w = norm(word);
    let limit = (word.chars().count() / 3).max(1);
    let candidates: Vec<&'a str> = candidates.into_iter().collect();
    // An abbreviation (`prod` for `production`) is as good as a typo.
    if w.chars().count() >= 3
        && let Some(c) = candidates.iter().find(|c| norm(c).starts_with(&w) && norm(c) != w)
    {
        return Some(c);
    }
    candidates
        .into_iter()
        .map(|c| (edit_distance(&w, &norm(c)), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("per_usr", "per_user"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_only_plausible_typos() {
        let keys = ["per_ip", "per_user"];
        assert_eq!(closest("per_usr", keys), Some("per_user"));
        assert_eq!(closest("per-ip", keys), Some("per_ip"));
        assert_eq!(closest("burst", keys), None);
        assert_eq!(closest("prod", ["production", "staging", "dev"]), Some("production"));
        assert_eq!(closest("Production", ["production", "staging", "dev"]), Some("production"));
    }
}
