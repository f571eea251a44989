//! "Did you mean" suggestions for misspelt names.

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= (word.len().max(c.len()) / 3).max(1) + usize::from(word.len() > 6))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `"; did you mean `x`?"` or an empty string.
pub fn hint<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(word, candidates).map(|m| format!("did you mean `{m}`?")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested_far_ones_are_not() {
        assert_eq!(did_you_mean("resolutoin", ["resolution", "runs"]), Some("resolution"));
        assert_eq!(did_you_mean("grm", ["grn", "gmm"]), Some("grn"));
        assert_eq!(did_you_mean("banana", ["resolution", "runs"]), None);
    }
}
