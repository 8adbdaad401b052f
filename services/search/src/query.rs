//! A search as the engines see it ([`SearchQuery`]), validated from the gRPC request, its result
//! ([`SearchPage`]), and the matching rules every engine follows: which words are ignored, how
//! many typos a word tolerates, and how filters and facets behave. Search text and prefixes are
//! held to `SEARCH_TEXT`; every list (filters, facets, suggestion types) to `FILTER_VALUES` values
//! of at most `TEXT_NAME` characters; no text may hold a NUL character.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use opendata_limits::{FILTER_VALUES, SEARCH_TEXT, TEXT_NAME};
use opendata_platform::error::ApiError;
use opendata_platform::text::{check_count, check_list, check_text};
use opendata_platform::timestamp::from_proto;
use opendata_proto::search::v1 as pb;

use crate::document::SearchDocument;

/// Results per page when the request does not say.
pub const DEFAULT_LIMIT: usize = 100;
/// Results reachable by paging: `offset + limit` may not exceed this.
pub const MAX_WINDOW: usize = 10_000;
/// Values reported per facet, most frequent first.
pub const MAX_FACET_VALUES: usize = 100;
/// Suggestions when the request does not say.
pub const DEFAULT_SUGGESTIONS: usize = 10;
/// Most suggestions one request may ask for.
pub const MAX_SUGGESTIONS: usize = 50;

/// Words too common to search on; both engines ignore them in queries and documents.
pub const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "is", "it", "of", "on",
    "or", "the", "to", "with",
];

/// Words of at least this many characters tolerate one typo.
pub const ONE_TYPO_MIN_CHARS: usize = 4;
/// Words of at least this many characters tolerate two typos.
pub const TWO_TYPOS_MIN_CHARS: usize = 8;

/// Whether `text` has a word to search for: not only spaces, punctuation and stop words.
pub fn has_words(text: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .any(|word| !STOP_WORDS.contains(&word.to_lowercase().as_str()))
}

/// Typos (edits) a query word of `word`'s length tolerates.
pub fn typo_budget(word: &str) -> u8 {
    match word.chars().count() {
        n if n >= TWO_TYPOS_MIN_CHARS => 2,
        n if n >= ONE_TYPO_MIN_CHARS => 1,
        _ => 0,
    }
}

/// Result order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Best match first; most recently updated first when there is no query text.
    Relevance,
    /// Title A to Z (Z to A reversed).
    Name {
        /// Z to A.
        reverse: bool,
    },
    /// Most recently updated first (oldest first reversed).
    Updated {
        /// Oldest first.
        reverse: bool,
    },
    /// Most recently created first (oldest first reversed).
    Created {
        /// Oldest first.
        reverse: bool,
    },
}

/// A facet the engines count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FacetField {
    /// Owning agency id.
    Agency,
    Category,
    Tags,
    /// Document type.
    Type,
}

impl FacetField {
    /// Every facet.
    pub const ALL: [FacetField; 4] = [
        FacetField::Agency,
        FacetField::Category,
        FacetField::Tags,
        FacetField::Type,
    ];

    /// The facet's public name.
    pub fn as_str(self) -> &'static str {
        match self {
            FacetField::Agency => "agency",
            FacetField::Category => "category",
            FacetField::Tags => "tags",
            FacetField::Type => "type",
        }
    }

    /// A facet by its public name.
    pub fn parse(name: &str) -> Option<FacetField> {
        FacetField::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// The document's values of this facet.
    pub fn values(self, document: &SearchDocument) -> Vec<&str> {
        match self {
            FacetField::Agency => vec![document.agency_id.as_str()],
            FacetField::Category if document.category.is_empty() => Vec::new(),
            FacetField::Category => vec![document.category.as_str()],
            FacetField::Tags => document.tags.iter().map(String::as_str).collect(),
            FacetField::Type => vec![document.kind.as_str()],
        }
    }
}

/// Which documents qualify, before text matching. Values compare case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Any of these agencies.
    pub agencies: Vec<String>,
    /// Any of these categories.
    pub categories: Vec<String>,
    /// All of these tags.
    pub tags: Vec<String>,
    /// Any of these types.
    pub types: Vec<String>,
    /// Any of these ids.
    pub ids: Vec<String>,
    /// Awards in any of these municipalities.
    pub municipalities: Vec<String>,
    /// Awards of any of these programs.
    pub program_ids: Vec<String>,
    /// Awards of any of these fiscal years.
    pub fiscal_years: Vec<i32>,
    /// Documents updated at or after this time, in milliseconds since the epoch.
    pub updated_since: Option<i64>,
}

fn any_of(wanted: &[String], value: &str) -> bool {
    wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(value))
}

impl Filters {
    /// Whether `document` passes every filter.
    pub fn admit(&self, document: &SearchDocument) -> bool {
        any_of(&self.agencies, &document.agency_id)
            && any_of(&self.categories, &document.category)
            && any_of(&self.types, document.kind.as_str())
            && any_of(&self.ids, &document.id)
            && self
                .tags
                .iter()
                .all(|tag| document.tags.iter().any(|t| t.eq_ignore_ascii_case(tag)))
            && self
                .updated_since
                .is_none_or(|since| document.updated_at >= since)
            && self.admit_award(document)
    }

    /// Whether any award filter is set.
    pub fn has_award_filters(&self) -> bool {
        !(self.municipalities.is_empty()
            && self.program_ids.is_empty()
            && self.fiscal_years.is_empty())
    }

    /// Whether `document` passes the award filters: any document when there are none, otherwise
    /// only an award with a matching municipality, program and fiscal year.
    fn admit_award(&self, document: &SearchDocument) -> bool {
        if !self.has_award_filters() {
            return true;
        }
        document.award.as_ref().is_some_and(|award| {
            // Municipalities compare as the incentives database does (`lower()`, any alphabet).
            let place = award.municipality.to_lowercase();
            (self.municipalities.is_empty()
                || self
                    .municipalities
                    .iter()
                    .any(|m| m.to_lowercase() == place))
                && any_of(&self.program_ids, &award.program_id)
                && (self.fiscal_years.is_empty() || self.fiscal_years.contains(&award.fiscal_year))
        })
    }
}

/// A validated search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// Words to look for; empty matches every document that passes the filters.
    pub text: String,
    pub filters: Filters,
    /// Order.
    pub sort: Sort,
    /// Results to skip.
    pub offset: usize,
    /// Results to return.
    pub limit: usize,
    /// Facets to count over all matches.
    pub facets: Vec<FacetField>,
}

impl SearchQuery {
    /// Validates a gRPC request, naming the offending field (and the limit, for one past its
    /// limit) on error.
    pub fn from_proto(request: pb::SearchRequest) -> Result<SearchQuery, ApiError> {
        check_text("query", &request.query, SEARCH_TEXT)?;
        for (field, values) in [
            ("agencies", &request.agencies),
            ("categories", &request.categories),
            ("tags", &request.tags),
            ("types", &request.types),
            ("ids", &request.ids),
            ("facets", &request.facets),
            ("municipalities", &request.municipalities),
            ("program_ids", &request.program_ids),
        ] {
            check_list(field, values, TEXT_NAME)?;
        }
        check_count("fiscal_years", request.fiscal_years.len(), FILTER_VALUES)?;
        let reverse = request.reverse;
        let sort = match request.sort() {
            pb::SortOrder::Unspecified | pb::SortOrder::Relevance if reverse => {
                return Err(ApiError::invalid_field(
                    "reverse",
                    "relevance order cannot be reversed",
                ));
            }
            pb::SortOrder::Unspecified | pb::SortOrder::Relevance => Sort::Relevance,
            pb::SortOrder::Name => Sort::Name { reverse },
            pb::SortOrder::Updated => Sort::Updated { reverse },
            pb::SortOrder::Created => Sort::Created { reverse },
        };
        let offset = request.offset as usize;
        let limit = match request.limit as usize {
            0 => DEFAULT_LIMIT,
            limit => limit,
        };
        if offset.saturating_add(limit) > MAX_WINDOW {
            return Err(ApiError::invalid_field(
                "limit",
                format!("offset + limit must not exceed {MAX_WINDOW} (got {offset} + {limit})"),
            ));
        }
        let mut facets = Vec::new();
        for name in &request.facets {
            let facet = FacetField::parse(name).ok_or_else(|| {
                ApiError::invalid_field(
                    "facets",
                    format!("unknown facet {name:?}; facets are agency, category, tags and type"),
                )
            })?;
            if !facets.contains(&facet) {
                facets.push(facet);
            }
        }
        Ok(SearchQuery {
            text: request.query.trim_start().to_owned(),
            filters: Filters {
                agencies: request.agencies,
                categories: request.categories,
                tags: request.tags,
                types: request.types,
                ids: request.ids,
                municipalities: request.municipalities,
                program_ids: request.program_ids,
                fiscal_years: request.fiscal_years,
                updated_since: request
                    .updated_since
                    .as_ref()
                    .and_then(from_proto)
                    .map(|time| time.timestamp_millis()),
            },
            sort,
            offset,
            limit,
            facets,
        })
    }
}

/// One hit of a page.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The document (shared with the engine's copy where it has one).
    pub document: Arc<SearchDocument>,
    /// Relevance score, higher is better.
    pub score: f64,
}

/// A page of results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchPage {
    /// This page's hits.
    pub hits: Vec<Hit>,
    /// Matching documents in all.
    pub total: u64,
    /// Counts per requested facet, each most frequent first.
    pub facets: BTreeMap<FacetField, Vec<(String, u64)>>,
}

/// Counts facet values as both engines report them (Meilisearch does it itself): values that
/// differ only in case are one value, counted once per document and shown in their most frequent
/// spelling (the first in byte order on a tie).
pub fn count_facet_values<'a>(
    documents: impl IntoIterator<Item = Vec<&'a str>>,
) -> Vec<(String, u64)> {
    // Per value (lowercased): the documents holding it, and how often each spelling appears.
    let mut values: HashMap<String, (u64, HashMap<&'a str, u64>)> = HashMap::new();
    for document in documents {
        let mut seen: HashSet<String> = HashSet::new();
        for spelling in document {
            let folded = spelling.to_lowercase();
            let (documents, spellings) = values.entry(folded.clone()).or_default();
            *spellings.entry(spelling).or_default() += 1;
            if seen.insert(folded) {
                *documents += 1;
            }
        }
    }
    values
        .into_values()
        .map(|(documents, spellings)| {
            let shown = spellings
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
                .map(|(spelling, _)| spelling.to_owned())
                .unwrap_or_default();
            (shown, documents)
        })
        .collect()
}

/// Orders facet counts most frequent first, then by value, keeping at most [`MAX_FACET_VALUES`].
pub fn top_facet_values(counts: impl IntoIterator<Item = (String, u64)>) -> Vec<(String, u64)> {
    let mut values: Vec<_> = counts.into_iter().collect();
    values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    values.truncate(MAX_FACET_VALUES);
    values
}

impl SearchPage {
    /// The page as the gRPC response.
    pub fn into_proto(self, took_millis: u32) -> pb::SearchResponse {
        pb::SearchResponse {
            hits: self
                .hits
                .iter()
                .map(|hit| hit.document.to_hit(hit.score))
                .collect(),
            total: self.total,
            facets: self
                .facets
                .into_iter()
                .map(|(facet, values)| pb::Facet {
                    name: facet.as_str().to_owned(),
                    values: values
                        .into_iter()
                        .map(|(value, count)| pb::FacetValue { value, count })
                        .collect(),
                })
                .collect(),
            took_millis,
        }
    }
}

/// What to complete: the prefix, the document types (all when empty) and how many titles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// What the user typed.
    pub prefix: String,
    /// Only documents of these types.
    pub types: Vec<String>,
    /// At most this many titles.
    pub limit: usize,
}

/// Validates a suggestion request.
pub fn suggest_args(request: &pb::SuggestRequest) -> Result<Suggestion, ApiError> {
    check_text("prefix", &request.prefix, SEARCH_TEXT)?;
    check_list("types", &request.types, TEXT_NAME)?;
    let limit = match request.limit as usize {
        0 => DEFAULT_SUGGESTIONS,
        n if n > MAX_SUGGESTIONS => {
            return Err(ApiError::invalid_field(
                "limit",
                format!("at most {MAX_SUGGESTIONS} suggestions may be asked for"),
            ));
        }
        n => n,
    };
    Ok(Suggestion {
        prefix: request.prefix.trim_start().to_owned(),
        types: request.types.clone(),
        limit,
    })
}

#[cfg(test)]
mod tests {
    use opendata_limits::FILTER_VALUES;

    use super::*;

    #[test]
    fn typo_budget_grows_with_word_length() {
        assert_eq!(typo_budget("tax"), 0);
        assert_eq!(typo_budget("reel"), 1);
        assert_eq!(typo_budget("housing"), 1);
        assert_eq!(typo_budget("property"), 2);
        assert_eq!(typo_budget("écoles"), 1);
    }

    #[test]
    fn paging_window_is_bounded() {
        let request = pb::SearchRequest {
            offset: 9_950,
            limit: 100,
            ..Default::default()
        };
        let error = SearchQuery::from_proto(request).unwrap_err();
        assert_eq!(
            error.details.get("field").map(String::as_str),
            Some("limit")
        );
        assert!(error.message.contains("10000"), "{}", error.message);
        let request = pb::SearchRequest {
            offset: 9_900,
            ..Default::default()
        };
        let query = SearchQuery::from_proto(request).unwrap();
        assert_eq!((query.offset, query.limit), (9_900, 100));
    }

    #[test]
    fn unknown_facets_and_reversed_relevance_are_refused() {
        let request = pb::SearchRequest {
            facets: vec!["colour".into()],
            ..Default::default()
        };
        let error = SearchQuery::from_proto(request).unwrap_err();
        assert!(error.message.contains("colour"), "{}", error.message);
        let request = pb::SearchRequest {
            reverse: true,
            ..Default::default()
        };
        let error = SearchQuery::from_proto(request).unwrap_err();
        assert_eq!(
            error.details.get("field").map(String::as_str),
            Some("reverse")
        );
    }

    #[test]
    fn stop_words_alone_are_no_text() {
        assert!(has_words("real estate"));
        assert!(!has_words(" The, of  AND "));
        assert!(!has_words(""));
    }

    #[test]
    fn facet_values_differing_in_case_are_one_in_their_most_frequent_spelling() {
        let counts = count_facet_values(vec![
            vec!["Education"],
            vec!["Education", "education"],
            vec!["education"],
            vec!["EDUCATION", "Tax"],
            vec!["Education"],
        ]);
        let mut counts = top_facet_values(counts);
        counts.sort();
        assert_eq!(counts, [("Education".to_owned(), 5), ("Tax".to_owned(), 1)]);
        let tie = count_facet_values(vec![vec!["b"], vec!["B"]]);
        assert_eq!(tie, [("B".to_owned(), 2)]);
    }

    #[test]
    fn filter_values_may_hold_backslashes() {
        let request = pb::SearchRequest {
            tags: vec!["ok".into(), "ends\\".into(), r"c\d".into()],
            ..Default::default()
        };
        let query = SearchQuery::from_proto(request).unwrap();
        assert_eq!(query.filters.tags, ["ok", "ends\\", r"c\d"]);
    }

    #[test]
    fn long_lists_are_refused_naming_filter_values() {
        let request = pb::SearchRequest {
            tags: vec!["tax".into(); FILTER_VALUES.get() + 1],
            ..Default::default()
        };
        let error = SearchQuery::from_proto(request).unwrap_err();
        assert_eq!(error.details["field"], "tags");
        assert_eq!(error.details["limit"], FILTER_VALUES.name);
        assert!(error.message.contains("101 values"), "{}", error.message);
        let request = pb::SearchRequest {
            tags: vec!["tax".into(); FILTER_VALUES.get()],
            categories: vec!["c".repeat(TEXT_NAME.get())],
            ..Default::default()
        };
        assert!(SearchQuery::from_proto(request).is_ok());
        let request = pb::SearchRequest {
            facets: vec!["tags".into(); FILTER_VALUES.get() + 1],
            ..Default::default()
        };
        let error = SearchQuery::from_proto(request).unwrap_err();
        assert_eq!(error.details["field"], "facets");
        assert_eq!(error.details["limit"], FILTER_VALUES.name);
        let request = pb::SearchRequest {
            categories: vec!["c".repeat(TEXT_NAME.get() + 1)],
            ..Default::default()
        };
        let error = SearchQuery::from_proto(request).unwrap_err();
        assert_eq!(error.details["limit"], TEXT_NAME.name);
    }

    #[test]
    fn search_text_past_its_limit_or_with_a_nul_is_refused() {
        let request = pb::SearchRequest {
            query: "q".repeat(SEARCH_TEXT.get() + 1),
            ..Default::default()
        };
        let error = SearchQuery::from_proto(request).unwrap_err();
        assert_eq!(error.details["field"], "query");
        assert_eq!(error.details["limit"], SEARCH_TEXT.name);
        let request = pb::SearchRequest {
            query: "q".repeat(SEARCH_TEXT.get()),
            ..Default::default()
        };
        assert!(SearchQuery::from_proto(request).is_ok());
        let request = pb::SearchRequest {
            query: "real\0estate".into(),
            ..Default::default()
        };
        let error = SearchQuery::from_proto(request).unwrap_err();
        assert_eq!(error.details["field"], "query");
        assert!(error.message.contains("NUL"), "{}", error.message);
        let suggestion = pb::SuggestRequest {
            prefix: "p".repeat(SEARCH_TEXT.get() + 1),
            ..Default::default()
        };
        let error = suggest_args(&suggestion).unwrap_err();
        assert_eq!(error.details["field"], "prefix");
        assert_eq!(error.details["limit"], SEARCH_TEXT.name);
        let suggestion = pb::SuggestRequest {
            prefix: "real".into(),
            types: vec!["t".repeat(TEXT_NAME.get() + 1)],
            ..Default::default()
        };
        assert_eq!(
            suggest_args(&suggestion).unwrap_err().details["field"],
            "types"
        );
    }

    #[test]
    fn facet_values_are_most_frequent_first() {
        let values = top_facet_values([("b".into(), 2), ("a".into(), 2), ("c".into(), 5)]);
        assert_eq!(
            values,
            vec![("c".into(), 5), ("a".into(), 2), ("b".into(), 2)]
        );
    }
}
