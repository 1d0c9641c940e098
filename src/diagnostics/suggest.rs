//! Suggestions for misspelt names: "did you mean `conntrack`?".

/// Levenshtein distance between `a` and `b` (in characters, case-insensitive
/// substitutions cost nothing extra), or `None` when it exceeds `bound`.
pub fn bounded_edit_distance(a: &str, b: &str, bound: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > bound {
        return None;
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        current[0] = i + 1;
        let mut row_min = current[0];
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(!ca.eq_ignore_ascii_case(&cb));
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
            row_min = row_min.min(current[j + 1]);
        }
        if row_min > bound {
            return None;
        }
        std::mem::swap(&mut previous, &mut current);
    }
    Some(previous[b.len()]).filter(|&distance| distance <= bound)
}

/// Levenshtein distance between `a` and `b`, unbounded (for ranking names
/// rather than picking one likely misspelling).
pub fn edit_distance(a: &str, b: &str) -> usize {
    bounded_edit_distance(a, b, usize::MAX).expect("no distance exceeds usize::MAX")
}

/// The candidate closest to `name`, when close enough to be a likely
/// misspelling: an edit distance of at most a third of the name's length,
/// and at least one. The first of equally close candidates wins.
pub fn closest<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let limit = (name.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let bound = best.map_or(limit, |(distance, _)| distance.saturating_sub(1));
        if let Some(distance) = bounded_edit_distance(name, candidate, bound)
            && best.is_none_or(|(best_distance, _)| distance < best_distance)
        {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(
            bounded_edit_distance("KUBE-SEP-A", "KUBE-SEP-A", 2),
            Some(0)
        );
        assert_eq!(
            bounded_edit_distance("KUBE-SEP-A", "KUBE-SEP-B", 2),
            Some(1)
        );
        assert_eq!(bounded_edit_distance("LOGDROP", "LOG-DROP", 2), Some(1));
        assert_eq!(bounded_edit_distance("abc", "xyz", 2), None);
        assert_eq!(bounded_edit_distance("a", "abcdef", 2), None);
        assert_eq!(edit_distance("a", "abcdef"), 5);
        assert_eq!(edit_distance("Default/Web", "default/web"), 0);
    }

    #[test]
    fn the_closest_candidate_within_a_third_of_the_length() {
        let names = ["conntrack", "connmark", "comment"];
        assert_eq!(closest("conntrak", names), Some("conntrack"));
        assert_eq!(closest("connmrk", names), Some("connmark"));
        assert_eq!(closest("owner", names), None);
        assert_eq!(closest("a", ["b"]), Some("b"));
    }
}
