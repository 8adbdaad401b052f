//! The embedded engine's tantivy side: the schema (searchable text fields with their weights, the
//! id to delete by, the key that maps a hit back to its document), the analyzer, and the query a
//! search text becomes.
//!
//! Ranking intent, shared with the Meilisearch settings: a match in the title counts most, then
//! tags, then category and agency, then the description, then column names and descriptions. An
//! exact word scores by BM25; a word within its typo budget ([`typo_budget`]) still matches, with a
//! flat, lower score, a typo in its first letter counting as two as in Meilisearch
//! ([`super::typos`]); the last word also matches as a prefix while the user is still typing.

use std::sync::Arc;

use tantivy::query::{BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, StopWordFilter, TextAnalyzer,
};
use tantivy::{Index, TantivyDocument, Term};

use crate::document::SearchDocument;
use crate::query::{STOP_WORDS, typo_budget};
use crate::synonyms::Synonyms;

use super::typos::{FirstLetterTypos, TypoQuery};

/// Name the analyzer is registered under.
const ANALYZER: &str = "opendata";

/// The fields of the embedded index.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// Document id, untokenized, to delete by.
    pub id: Field,
    /// Key of the document in the snapshot (a fast field).
    pub key: Field,
    /// Searchable fields with their weights.
    pub searchable: [(Field, f32); 6],
    /// The title alone, for suggestions.
    pub title: Field,
}

/// Builds the schema.
pub fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let id = builder.add_text_field("id", STRING);
    let key = builder.add_u64_field("key", FAST | INDEXED);
    let title = builder.add_text_field("title", text.clone());
    let tags = builder.add_text_field("tags", text.clone());
    let category = builder.add_text_field("category", text.clone());
    let agency = builder.add_text_field("agency", text.clone());
    let description = builder.add_text_field("description", text.clone());
    let columns = builder.add_text_field("columns", text);
    let fields = Fields {
        id,
        key,
        searchable: [
            (title, 8.0),
            (tags, 4.0),
            (category, 3.0),
            (agency, 3.0),
            (description, 1.5),
            (columns, 1.0),
        ],
        title,
    };
    (builder.build(), fields)
}

/// The analyzer of every searchable field: words, lowercased, accents folded, stop words removed.
/// No stemming: typo tolerance covers plurals, as in Meilisearch.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(StopWordFilter::remove(
            STOP_WORDS.iter().map(|w| (*w).to_owned()),
        ))
        .build()
}

/// Registers the analyzer with `index`.
pub fn register(index: &Index) {
    index.tokenizers().register(ANALYZER, analyzer());
}

/// The tantivy document of `document`, stored under `key`.
pub fn to_tantivy(fields: &Fields, document: &SearchDocument, key: u64) -> TantivyDocument {
    let [
        (title, _),
        (tags, _),
        (category, _),
        (agency, _),
        (description, _),
        (columns, _),
    ] = fields.searchable;
    let mut doc = TantivyDocument::default();
    doc.add_text(fields.id, &document.id);
    doc.add_u64(fields.key, key);
    doc.add_text(title, &document.title);
    for tag in &document.tags {
        doc.add_text(tags, tag);
    }
    doc.add_text(category, &document.category);
    doc.add_text(agency, &document.agency_name);
    doc.add_text(agency, &document.agency_id);
    doc.add_text(description, &document.description);
    for text in document
        .column_names
        .iter()
        .chain(&document.column_descriptions)
    {
        doc.add_text(columns, text);
    }
    doc
}

/// The words of a search text as the index stores them, and whether the last one may be
/// unfinished (the text does not end with a space).
pub fn words(text: &str) -> (Vec<String>, bool) {
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut words = Vec::new();
    while stream.advance() {
        words.push(stream.token().text.clone());
    }
    let last_is_prefix = !text.ends_with(char::is_whitespace);
    (words, last_is_prefix)
}

fn word_query(fields: &[(Field, f32)], word: &str, prefix: bool) -> Box<dyn Query> {
    let typos = typo_budget(word);
    let near_words = (typos > 0).then(|| Arc::new(FirstLetterTypos::new(word, typos, prefix)));
    let mut alternatives: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for &(field, weight) in fields {
        let term = Term::from_field_text(field, word);
        let exact = TermQuery::new(term.clone(), IndexRecordOption::WithFreqs);
        alternatives.push((
            Occur::Should,
            Box::new(BoostQuery::new(Box::new(exact), weight * 2.0)),
        ));
        let near: Option<Box<dyn Query>> = match (&near_words, prefix) {
            (Some(automaton), _) => Some(Box::new(TypoQuery::new(field, Arc::clone(automaton)))),
            (None, true) => Some(Box::new(FuzzyTermQuery::new_prefix(term, 0, true))),
            (None, false) => None,
        };
        if let Some(near) = near {
            alternatives.push((Occur::Should, Box::new(BoostQuery::new(near, weight))));
        }
    }
    Box::new(BooleanQuery::new(alternatives))
}

/// A word, or any of its synonyms (a synonym phrase matches when all its words do).
fn word_or_synonyms(
    fields: &[(Field, f32)],
    word: &str,
    prefix: bool,
    synonyms: &Synonyms,
) -> Box<dyn Query> {
    let alternatives = synonyms.of(word);
    if alternatives.is_empty() {
        return word_query(fields, word, prefix);
    }
    let mut options: Vec<(Occur, Box<dyn Query>)> =
        vec![(Occur::Should, word_query(fields, word, prefix))];
    for alternative in alternatives {
        let (phrase, _) = words(alternative);
        let all: Vec<(Occur, Box<dyn Query>)> = phrase
            .iter()
            .map(|w| (Occur::Must, word_query(fields, w, false)))
            .collect();
        if !all.is_empty() {
            options.push((Occur::Should, Box::new(BooleanQuery::new(all))));
        }
    }
    Box::new(BooleanQuery::new(options))
}

/// The query for `text` over `fields`: every word (or one of its synonyms) must match in some
/// field, stop words aside. `None` when the text has no words to look for (empty, or only stop
/// words).
pub fn text_query(
    fields: &[(Field, f32)],
    text: &str,
    synonyms: &Synonyms,
) -> Option<Box<dyn Query>> {
    let (words, last_is_prefix) = words(text);
    if words.is_empty() {
        return None;
    }
    let last = words.len() - 1;
    let clauses = words
        .iter()
        .enumerate()
        .map(|(i, word)| {
            let prefix = last_is_prefix && i == last;
            (
                Occur::Must,
                word_or_synonyms(fields, word, prefix, synonyms),
            )
        })
        .collect();
    Some(Box::new(BooleanQuery::new(clauses)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_folded_and_stop_words_dropped() {
        let (found, prefix) = words("Sales of Real-Estate in Montréal ");
        assert_eq!(found, ["sales", "real", "estate", "montreal"]);
        assert!(!prefix);
        let (_, prefix) = words("real est");
        assert!(prefix);
    }
}
