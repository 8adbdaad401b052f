//! Typo-tolerant word matching, with Meilisearch's rule for the first letter: a query word matches
//! an indexed word within as many typos (edits, a swap of two neighbours counting as one) as its
//! length allows ([`crate::query::typo_budget`]), but a typo in the first letter counts as two.
//! So "teal" (one typo allowed) does not find "real", while "tegistrations" (two allowed) finds
//! "registrations" and "tegistratons" does not. Both engines then forgive the same misspellings.

use std::sync::{Arc, LazyLock};

use levenshtein_automata::{DFA, Distance, LevenshteinAutomatonBuilder, SINK_STATE};
use tantivy::query::{AutomatonWeight, EnableScoring, Query, Weight};
use tantivy::schema::Field;
use tantivy_fst::Automaton;

/// Automaton builders for one and two typos (building one is costly; they are shared).
static BUILDERS: LazyLock<[LevenshteinAutomatonBuilder; 2]> = LazyLock::new(|| {
    [
        LevenshteinAutomatonBuilder::new(1, true),
        LevenshteinAutomatonBuilder::new(2, true),
    ]
});

/// Indexed words of a field near a query word (see [`FirstLetterTypos`]).
#[derive(Debug, Clone)]
pub struct TypoQuery {
    field: Field,
    automaton: Arc<FirstLetterTypos>,
}

impl TypoQuery {
    /// Words of `field` that `automaton` accepts.
    pub fn new(field: Field, automaton: Arc<FirstLetterTypos>) -> TypoQuery {
        TypoQuery { field, automaton }
    }
}

impl Query for TypoQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(AutomatonWeight::<FirstLetterTypos>::new(
            self.field,
            Arc::clone(&self.automaton),
        )))
    }
}

/// Words within `typos` of a query word (or, for a prefix, starting with such a word), a typo in
/// the first letter counting as two: a Levenshtein automaton that also follows whether the word
/// read so far still begins with the query word's first letter. Built once per query word and
/// shared by every field searched.
pub struct FirstLetterTypos {
    dfa: DFA,
    first_letter: Vec<u8>,
    typos: u8,
}

impl std::fmt::Debug for FirstLetterTypos {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("FirstLetterTypos")
            .field("first_letter", &String::from_utf8_lossy(&self.first_letter))
            .field("typos", &self.typos)
            .finish_non_exhaustive()
    }
}

/// Where the automaton is: the Levenshtein state, and how much of the first letter matched.
#[derive(Debug, Clone, Copy)]
pub struct State {
    dfa: u32,
    first_letter: FirstLetter,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum FirstLetter {
    /// This many of the first letter's bytes read and equal so far.
    Matching(usize),
    /// The word read begins with another letter.
    Different,
}

impl FirstLetterTypos {
    /// Words near `word`, `typos` being 1 or 2 (clamped).
    pub fn new(word: &str, typos: u8, prefix: bool) -> FirstLetterTypos {
        let typos = typos.clamp(1, 2);
        let builder = &BUILDERS[usize::from(typos - 1)];
        let dfa = if prefix {
            builder.build_prefix_dfa(word)
        } else {
            builder.build_dfa(word)
        };
        let first_letter = word
            .chars()
            .next()
            .map(|letter| letter.to_string().into_bytes())
            .unwrap_or_default();
        FirstLetterTypos {
            dfa,
            first_letter,
            typos,
        }
    }

    /// The typos the first letter costs beyond the edit the automaton counts: one more when it
    /// differs (or the word read ended inside it).
    fn first_letter_surcharge(&self, state: &State) -> u8 {
        match state.first_letter {
            FirstLetter::Matching(read) if read >= self.first_letter.len() => 0,
            _ => 1,
        }
    }
}

impl Automaton for FirstLetterTypos {
    type State = State;

    fn start(&self) -> State {
        State {
            dfa: self.dfa.initial_state(),
            first_letter: FirstLetter::Matching(0),
        }
    }

    fn is_match(&self, state: &State) -> bool {
        match self.dfa.distance(state.dfa) {
            Distance::Exact(edits) => edits + self.first_letter_surcharge(state) <= self.typos,
            Distance::AtLeast(_) => false,
        }
    }

    fn can_match(&self, state: &State) -> bool {
        // A different first letter already costs two typos: with one allowed, nothing matches.
        state.dfa != SINK_STATE && !(state.first_letter == FirstLetter::Different && self.typos < 2)
    }

    fn accept(&self, state: &State, byte: u8) -> State {
        let first_letter = match state.first_letter {
            FirstLetter::Matching(read) if read < self.first_letter.len() => {
                if self.first_letter[read] == byte {
                    FirstLetter::Matching(read + 1)
                } else {
                    FirstLetter::Different
                }
            }
            other => other,
        };
        State {
            dfa: self.dfa.transition(state.dfa, byte),
            first_letter,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `automaton` accepts `word`.
    fn accepts(automaton: &FirstLetterTypos, word: &str) -> bool {
        let mut state = automaton.start();
        for &byte in word.as_bytes() {
            if !automaton.can_match(&state) {
                return false;
            }
            state = automaton.accept(&state, byte);
        }
        automaton.is_match(&state)
    }

    #[test]
    fn one_typo_anywhere_but_the_first_letter() {
        let real = FirstLetterTypos::new("real", 1, false);
        assert!(accepts(&real, "real"));
        assert!(accepts(&real, "reap"));
        assert!(accepts(&real, "rael"), "a swap is one typo");
        assert!(!accepts(&real, "teal"), "the first letter counts two");
        assert!(!accepts(&real, "eal"), "so does dropping it");
        assert!(!accepts(&real, "rep"));
    }

    #[test]
    fn a_first_letter_typo_uses_both_of_two() {
        let word = FirstLetterTypos::new("registrations", 2, false);
        assert!(accepts(&word, "regstratons"));
        assert!(accepts(&word, "tegistrations"));
        assert!(!accepts(&word, "tegistratons"));
        assert!(!accepts(&word, "regstratns"));
    }

    #[test]
    fn prefixes_follow_the_same_rule() {
        let word = FirstLetterTypos::new("esta", 1, true);
        assert!(accepts(&word, "estate"));
        assert!(accepts(&word, "esteem"));
        assert!(!accepts(&word, "testate"));
        let accented = FirstLetterTypos::new("école", 1, true);
        assert!(accepts(&accented, "écoles"));
        assert!(
            !accepts(&accented, "ecoles"),
            "é and e are different letters"
        );
    }
}
