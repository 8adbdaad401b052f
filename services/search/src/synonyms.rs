//! Synonym groups from configuration, in the forms the engines need: Meilisearch takes a map from
//! each word or phrase to its alternatives; the embedded engine expands a query word into its
//! alternatives.

use std::collections::HashMap;

/// Words or phrases that mean the same thing, each group mutual.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Synonyms {
    alternatives: HashMap<String, Vec<String>>,
}

impl Synonyms {
    /// Synonyms from configured groups. Entries are lowercased and trimmed; empty entries and
    /// groups of one are ignored.
    pub fn new(groups: &[Vec<String>]) -> Synonyms {
        let mut alternatives: HashMap<String, Vec<String>> = HashMap::new();
        for group in groups {
            let mut entries: Vec<String> = group
                .iter()
                .map(|entry| entry.trim().to_lowercase())
                .filter(|entry| !entry.is_empty())
                .collect();
            entries.dedup();
            for entry in &entries {
                let others = alternatives.entry(entry.clone()).or_default();
                for other in &entries {
                    if other != entry && !others.contains(other) {
                        others.push(other.clone());
                    }
                }
            }
        }
        alternatives.retain(|_, others| !others.is_empty());
        Synonyms { alternatives }
    }

    /// The alternatives of one lowercased word or phrase.
    pub fn of(&self, entry: &str) -> &[String] {
        self.alternatives.get(entry).map_or(&[], Vec::as_slice)
    }

    /// The map Meilisearch's `synonyms` setting takes.
    pub fn as_map(&self) -> &HashMap<String, Vec<String>> {
        &self.alternatives
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_mutual() {
        let synonyms = Synonyms::new(&[vec!["DMV".into(), "motor vehicles".into(), " ".into()]]);
        assert_eq!(synonyms.of("dmv"), ["motor vehicles"]);
        assert_eq!(synonyms.of("motor vehicles"), ["dmv"]);
        assert!(synonyms.of("tax").is_empty());
        assert_eq!(synonyms.as_map().len(), 2);
    }
}
