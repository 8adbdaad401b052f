//! The engine behaviour suite: documents straight into a [`SearchBackend`], then searches that
//! show typo tolerance, ranking, facets, filters, orders, paging, suggestions, synonyms and the
//! index swap behave the same on every engine.

use std::sync::Arc;

use futures::StreamExt as _;
use opendata_search::backend::{BackendError, Change, DocumentBatches, SearchBackend};
use opendata_search::config::{MeilisearchSettings, SearchSettings};
use opendata_search::document::{AwardFacts, DocumentKind, SearchDocument};
use opendata_search::query::{FacetField, Filters, SearchPage, SearchQuery, Sort, Suggestion};
use opendata_testkit::{SearchEngine, drop_meilisearch_indexes};
use secrecy::SecretString;
use uuid::Uuid;

use super::engine_tests;

engine_tests!(
    typo_queries_find_the_right_dataset,
    a_typo_in_the_first_letter_counts_as_two,
    awards_filter_by_town_program_and_year,
    a_title_match_ranks_above_tags_and_description,
    facets_count_the_matching_documents,
    facet_values_differing_in_case_count_as_one,
    filters_combine,
    filter_values_with_backslashes_and_quotes_match_exactly,
    orders_and_pages,
    suggestions_complete_titles,
    synonyms_and_stop_words,
    changes_and_swaps_replace_what_is_found,
);

/// `documents` as a rebuild streams them, two at a time.
fn in_batches(documents: Vec<SearchDocument>) -> DocumentBatches<'static> {
    let batches: Vec<Result<Vec<SearchDocument>, BackendError>> = documents
        .chunks(2)
        .map(|batch| Ok(batch.to_vec()))
        .collect();
    futures::stream::iter(batches).boxed()
}

/// An engine with an empty index of its own.
pub(super) struct Index {
    pub(super) backend: Arc<dyn SearchBackend>,
    /// Meilisearch's URL, key and this index's name prefix.
    meilisearch: Option<(String, Option<String>, String)>,
}

impl Index {
    pub(super) async fn new(engine: SearchEngine, documents: Vec<SearchDocument>) -> Index {
        let mut settings = SearchSettings::default();
        let mut meilisearch = None;
        if let SearchEngine::Meilisearch { url, key } = engine {
            let prefix = format!("t{}_", Uuid::now_v7().simple());
            settings.meilisearch = MeilisearchSettings {
                url: url.clone(),
                api_key: key.clone().map(SecretString::from),
                index_prefix: prefix.clone(),
                task_timeout_secs: 30,
            };
            meilisearch = Some((url, key, prefix));
        }
        let backend = opendata_search::backend(&settings).expect("engine");
        backend
            .replace_all(in_batches(documents))
            .await
            .expect("index the documents");
        Index {
            backend,
            meilisearch,
        }
    }

    async fn search(&self, query: SearchQuery) -> SearchPage {
        self.backend.search(&query).await.expect("search")
    }

    async fn ids(&self, text: &str) -> Vec<String> {
        self.matching(text_query(text)).await
    }

    /// The ids `query` finds, in order.
    async fn matching(&self, query: SearchQuery) -> Vec<String> {
        self.search(query)
            .await
            .hits
            .into_iter()
            .map(|hit| hit.document.id.clone())
            .collect()
    }

    pub(super) async fn drop(self) {
        if let Some((url, key, prefix)) = self.meilisearch {
            drop_meilisearch_indexes(&url, key.as_deref(), &prefix).await;
        }
    }
}

fn text_query(text: &str) -> SearchQuery {
    SearchQuery {
        text: text.to_owned(),
        filters: Filters::default(),
        sort: Sort::Relevance,
        offset: 0,
        limit: 100,
        facets: Vec::new(),
    }
}

/// A dataset document; `day` orders creation and updates.
fn document(id: &str, title: &str, description: &str, day: i64) -> SearchDocument {
    let millis = 1_700_000_000_000 + day * 86_400_000;
    SearchDocument {
        id: id.to_owned(),
        kind: DocumentKind::Dataset,
        title: title.to_owned(),
        title_sort: title.to_lowercase(),
        description: description.to_owned(),
        agency_id: "opm".to_owned(),
        agency_name: "Office of Policy and Management".to_owned(),
        category: String::new(),
        tags: Vec::new(),
        column_names: Vec::new(),
        column_descriptions: Vec::new(),
        columns: Vec::new(),
        attribution: String::new(),
        contact_email: String::new(),
        created_at: millis,
        updated_at: millis,
        metadata_updated_at: millis,
        data_updated_at: Some(millis),
        published_at: Some(millis),
        award: None,
    }
}

/// An award document: `company` is its title, as the incentives service's awards make it.
fn award(id: &str, company: &str, town: &str, program: &str, year: i32) -> SearchDocument {
    let mut award = document(id, company, "", 1);
    award.kind = DocumentKind::IncentiveAward;
    award.agency_id = "decd".to_owned();
    award.award = Some(AwardFacts {
        municipality: town.to_owned(),
        program_id: program.to_owned(),
        fiscal_year: year,
    });
    award
}

fn with(
    mut document: SearchDocument,
    agency: &str,
    category: &str,
    tags: &[&str],
) -> SearchDocument {
    document.agency_id = agency.to_owned();
    document.agency_name = format!("Agency {agency}");
    document.category = category.to_owned();
    document.tags = tags.iter().map(|t| (*t).to_owned()).collect();
    document
}

fn portal() -> Vec<SearchDocument> {
    vec![
        with(
            document(
                "resa-0001",
                "Real Estate Sales 2001-2022",
                "Every real property sale with a price of 2,000 dollars or more, by town.",
                1,
            ),
            "opm",
            "Housing and Development",
            &["property", "sales", "grand list"],
        ),
        with(
            document(
                "ptax-0002",
                "Property Tax Credits",
                "Credits claimed against the property tax, by town and year.",
                2,
            ),
            "drs",
            "Government",
            &["tax", "property"],
        ),
        with(
            document(
                "dmvr-0003",
                "Registrations by Town",
                "Passenger and commercial registrations at the Department of Motor Vehicles.",
                3,
            ),
            "dmv",
            "Transportation",
            &["vehicles"],
        ),
        with(
            document(
                "schl-0004",
                "School Enrollment",
                "Students enrolled in public schools by district and grade.",
                4,
            ),
            "sde",
            "Education",
            &["students"],
        ),
        with(
            document(
                "budg-0005",
                "District Budgets",
                "Spending per district, including projections of school enrollment.",
                5,
            ),
            "sde",
            "Education",
            &["budget", "finance"],
        ),
        with(
            document(
                "stud-0006",
                "Student Counts",
                "Headcounts taken each October.",
                6,
            ),
            "sde",
            "education",
            &["enrollment", "students"],
        ),
    ]
}

async fn typo_queries_find_the_right_dataset(engine: SearchEngine) {
    let index = Index::new(engine, portal()).await;
    for (query, expected) in [
        ("reel estate", "resa-0001"),
        ("Real Estate", "resa-0001"),
        ("propery tax", "ptax-0002"),
        ("registrations", "dmvr-0003"),
        ("regstrations", "dmvr-0003"),
        ("enrolment", "schl-0004"),
    ] {
        let ids = index.ids(query).await;
        assert_eq!(
            ids.first().map(String::as_str),
            Some(expected),
            "{query:?} found {ids:?}"
        );
    }
    assert!(index.ids("xylophone").await.is_empty());
    // Short words must match exactly: "tax" does not tolerate a typo into "tap".
    assert!(index.ids("tap").await.is_empty());
    index.drop().await;
}

/// Meilisearch's rule, followed by both engines: a typo in a word's first letter counts as two.
/// A trailing space keeps the last word from matching as a prefix.
async fn a_typo_in_the_first_letter_counts_as_two(engine: SearchEngine) {
    let index = Index::new(engine, portal()).await;
    // Words of 4 to 7 letters tolerate one typo, never in the first letter.
    assert!(index.ids("teal estate").await.is_empty());
    assert_eq!(index.ids("reap estate").await, ["resa-0001"]);
    // Longer words tolerate two: a first-letter typo takes both.
    assert_eq!(index.ids("tegistrations ").await, ["dmvr-0003"]);
    assert_eq!(index.ids("regstratons ").await, ["dmvr-0003"]);
    assert!(index.ids("tegistratons ").await.is_empty());
    index.drop().await;
}

async fn a_title_match_ranks_above_tags_and_description(engine: SearchEngine) {
    let index = Index::new(engine, portal()).await;
    let ids = index.ids("enrollment").await;
    assert_eq!(
        ids,
        ["schl-0004", "stud-0006", "budg-0005"],
        "title, then tags, then description"
    );
    index.drop().await;
}

async fn facets_count_the_matching_documents(engine: SearchEngine) {
    let index = Index::new(engine, portal()).await;
    let mut query = text_query("");
    query.facets = vec![FacetField::Agency, FacetField::Tags, FacetField::Type];
    let page = index.search(query.clone()).await;
    assert_eq!(page.total, 6);
    let counts = |page: &SearchPage, facet: FacetField| -> Vec<(String, u64)> {
        page.facets.get(&facet).cloned().unwrap_or_default()
    };
    assert_eq!(
        counts(&page, FacetField::Agency),
        [
            ("sde".to_owned(), 3),
            ("dmv".to_owned(), 1),
            ("drs".to_owned(), 1),
            ("opm".to_owned(), 1)
        ]
    );
    let tags = counts(&page, FacetField::Tags);
    assert_eq!(tags[0], ("property".to_owned(), 2));
    assert_eq!(tags[1], ("students".to_owned(), 2));
    assert_eq!(tags.iter().map(|(_, n)| n).sum::<u64>(), 11);
    assert_eq!(counts(&page, FacetField::Type), [("dataset".to_owned(), 6)]);
    assert!(!page.facets.contains_key(&FacetField::Category));

    // Facets count what matches the text and filters, not the whole index.
    query.text = "property".to_owned();
    let page = index.search(query.clone()).await;
    assert_eq!(page.total, 2);
    assert_eq!(
        counts(&page, FacetField::Agency),
        [("drs".to_owned(), 1), ("opm".to_owned(), 1)]
    );
    query.text = String::new();
    query.filters.agencies = vec!["sde".to_owned()];
    let page = index.search(query).await;
    assert_eq!(counts(&page, FacetField::Agency), [("sde".to_owned(), 3)]);
    index.drop().await;
}

async fn facet_values_differing_in_case_count_as_one(engine: SearchEngine) {
    let tagged = |id: &str, tags: &[&str]| {
        with(
            document(id, &format!("Dataset {id}"), "Schools.", 1),
            "sde",
            "Education",
            tags,
        )
    };
    let index = Index::new(
        engine,
        vec![
            tagged("educ-0001", &["Education"]),
            tagged("educ-0002", &["Education", "tax"]),
            tagged("educ-0003", &["education"]),
        ],
    )
    .await;
    let mut query = text_query("");
    query.facets = vec![FacetField::Tags];
    let page = index.search(query).await;
    assert_eq!(
        page.facets
            .get(&FacetField::Tags)
            .cloned()
            .unwrap_or_default(),
        [("Education".to_owned(), 3), ("tax".to_owned(), 1)],
        "one value, in its most frequent spelling"
    );
    index.drop().await;
}

async fn filters_combine(engine: SearchEngine) {
    let index = Index::new(engine, portal()).await;
    let ids = |page: SearchPage| -> Vec<String> {
        let mut ids: Vec<String> = page
            .hits
            .into_iter()
            .map(|h| h.document.id.clone())
            .collect();
        ids.sort();
        ids
    };
    let mut query = text_query("");
    query.filters.categories = vec!["EDUCATION".to_owned()];
    assert_eq!(
        ids(index.search(query.clone()).await),
        ["budg-0005", "schl-0004", "stud-0006"],
        "categories compare without case"
    );
    query.filters.tags = vec!["students".to_owned(), "enrollment".to_owned()];
    assert_eq!(
        ids(index.search(query.clone()).await),
        ["stud-0006"],
        "every tag"
    );
    let mut query = text_query("");
    query.filters.agencies = vec!["opm".to_owned(), "drs".to_owned()];
    assert_eq!(
        ids(index.search(query.clone()).await),
        ["ptax-0002", "resa-0001"],
        "any agency"
    );
    query.filters.ids = vec!["ptax-0002".to_owned(), "schl-0004".to_owned()];
    assert_eq!(ids(index.search(query.clone()).await), ["ptax-0002"]);
    query.filters.types = vec!["incentive_award".to_owned()];
    assert_eq!(index.search(query).await.total, 0);
    index.drop().await;
}

async fn awards_filter_by_town_program_and_year(engine: SearchEngine) {
    let mut documents = portal();
    documents.extend([
        award("awd-1", "Acme Manufacturing", "Hartford", "MAA", 2017),
        award("awd-2", "Acme Manufacturing", "New Haven", "MAA", 2018),
        award("awd-3", "Acme Tooling", "Hartford", "SSBF", 2018),
        award("awd-4", "Beacon Labs", "Hartford", "MAA", 2018),
    ]);
    let index = Index::new(engine, documents).await;
    let found = |filters: Filters, text: &str| {
        let mut query = text_query(text);
        query.filters = filters;
        let index = &index;
        async move {
            let mut ids = index.matching(query).await;
            ids.sort();
            ids
        }
    };
    let hartford = Filters {
        municipalities: vec!["HARTFORD".to_owned()],
        ..Filters::default()
    };
    assert_eq!(
        found(hartford.clone(), "acme").await,
        ["awd-1", "awd-3"],
        "towns compare without case"
    );
    assert_eq!(
        found(
            Filters {
                program_ids: vec!["MAA".to_owned()],
                fiscal_years: vec![2018],
                ..hartford
            },
            ""
        )
        .await,
        ["awd-4"],
        "every award filter at once"
    );
    assert_eq!(
        found(
            Filters {
                fiscal_years: vec![2017, 2019],
                ..Filters::default()
            },
            ""
        )
        .await,
        ["awd-1"],
        "any of the years; no dataset matches an award filter"
    );
    index.drop().await;
}

async fn filter_values_with_backslashes_and_quotes_match_exactly(engine: SearchEngine) {
    let tagged = |id: &str, tag: &str| {
        with(
            document(id, &format!("Dataset {id}"), "Odd tags.", 1),
            "opm",
            "Government",
            &[tag],
        )
    };
    let index = Index::new(
        engine,
        vec![
            tagged("back-0001", r"c\d"),
            tagged("ends-0002", "x\\"),
            tagged("quot-0003", r#"say "hi""#),
            tagged("plan-0004", "cd"),
            tagged("newl-0005", r"a\nb"),
        ],
    )
    .await;
    for (tag, expected) in [
        (r"c\d", vec!["back-0001"]),
        ("x\\", vec!["ends-0002"]),
        (r#"say "hi""#, vec!["quot-0003"]),
        ("cd", vec!["plan-0004"]),
        (r"a\nb", vec!["newl-0005"]),
        (r"x\o", vec![]),
    ] {
        let mut query = text_query("");
        query.filters.tags = vec![tag.to_owned()];
        let ids = index.matching(query).await;
        assert_eq!(ids, expected, "the tag {tag:?} matches itself only");
    }
    index.drop().await;
}

async fn orders_and_pages(engine: SearchEngine) {
    let index = Index::new(engine, portal()).await;
    let titles = |page: SearchPage| -> Vec<String> {
        page.hits
            .into_iter()
            .map(|h| h.document.title.clone())
            .collect()
    };
    let mut query = text_query("");
    let newest = index.search(query.clone()).await;
    assert_eq!(
        newest.hits[0].document.id, "stud-0006",
        "no text: newest first"
    );
    query.sort = Sort::Name { reverse: false };
    query.limit = 3;
    let page = index.search(query.clone()).await;
    assert_eq!(page.total, 6);
    assert_eq!(
        titles(page),
        [
            "District Budgets",
            "Property Tax Credits",
            "Real Estate Sales 2001-2022"
        ]
    );
    query.offset = 3;
    assert_eq!(
        titles(index.search(query.clone()).await),
        [
            "Registrations by Town",
            "School Enrollment",
            "Student Counts"
        ]
    );
    query.offset = 0;
    query.sort = Sort::Name { reverse: true };
    assert_eq!(
        titles(index.search(query.clone()).await)[0],
        "Student Counts"
    );
    query.sort = Sort::Updated { reverse: true };
    assert_eq!(
        titles(index.search(query.clone()).await)[0],
        "Real Estate Sales 2001-2022"
    );
    query.sort = Sort::Created { reverse: false };
    assert_eq!(
        titles(index.search(query.clone()).await)[0],
        "Student Counts"
    );
    // An explicit order is a real order even with text.
    query.text = "enrollment".to_owned();
    query.sort = Sort::Name { reverse: false };
    assert_eq!(
        titles(index.search(query).await),
        ["District Budgets", "School Enrollment", "Student Counts"]
    );
    index.drop().await;
}

async fn suggestions_complete_titles(engine: SearchEngine) {
    let index = Index::new(engine, portal()).await;
    let of_types = |prefix: &'static str, types: &[&str]| {
        let backend = Arc::clone(&index.backend);
        let suggestion = Suggestion {
            prefix: prefix.to_owned(),
            types: types.iter().map(|t| (*t).to_owned()).collect(),
            limit: 5,
        };
        async move { backend.suggest(&suggestion).await.expect("suggest") }
    };
    let suggest = |prefix: &'static str| of_types(prefix, &[]);
    assert_eq!(suggest("real es").await, ["Real Estate Sales 2001-2022"]);
    assert_eq!(suggest("regis").await, ["Registrations by Town"]);
    let school = suggest("sch").await;
    assert_eq!(
        school,
        ["School Enrollment"],
        "titles only, not descriptions"
    );
    assert!(suggest("").await.is_empty());
    assert!(suggest("zzz").await.is_empty());
    assert_eq!(
        of_types("real es", &["dataset"]).await,
        ["Real Estate Sales 2001-2022"]
    );
    assert!(
        of_types("real es", &["incentive_award"]).await.is_empty(),
        "only titles of the types asked for"
    );
    index.drop().await;
}

async fn synonyms_and_stop_words(engine: SearchEngine) {
    let index = Index::new(engine, portal()).await;
    assert_eq!(
        index.ids("dmv").await,
        ["dmvr-0003"],
        "dmv means motor vehicles"
    );
    assert_eq!(
        index.ids("the sales of real estate").await,
        ["resa-0001"],
        "stop words are not required"
    );
    index.drop().await;
}

async fn changes_and_swaps_replace_what_is_found(engine: SearchEngine) {
    let index = Index::new(engine, portal()).await;
    let mut renamed = portal().remove(0);
    renamed.title = "Land Transfers".to_owned();
    renamed.title_sort = "land transfers".to_owned();
    renamed.description = "Deeds recorded by town clerks.".to_owned();
    index
        .backend
        .apply(vec![
            Change::Upsert(Box::new(renamed)),
            Change::Delete("ptax-0002".to_owned()),
            Change::Delete("none-0000".to_owned()),
        ])
        .await
        .expect("apply");
    index.backend.refresh().await.expect("refresh");
    assert!(index.ids("real estate").await.is_empty(), "old title gone");
    assert_eq!(index.ids("land transfers").await, ["resa-0001"]);
    assert!(index.ids("property tax credits").await.is_empty());
    assert_eq!(index.backend.count().await.expect("count"), 5);

    // A rebuild whose source fails part way leaves the live index as it was.
    let failing = futures::stream::iter([
        Ok(vec![document(
            "half-0008",
            "Half Built",
            "Never swapped in",
            8,
        )]),
        Err(BackendError::Unavailable(
            "the catalog went away".to_owned(),
        )),
    ])
    .boxed();
    let refused = index.backend.replace_all(failing).await.unwrap_err();
    assert!(
        refused.to_string().contains("the catalog went away"),
        "{refused}"
    );
    assert_eq!(index.backend.count().await.expect("count"), 5);
    assert!(index.ids("half built").await.is_empty());
    assert_eq!(index.ids("land transfers").await, ["resa-0001"]);

    index
        .backend
        .replace_all(in_batches(vec![
            document("newd-0007", "Fishing Licenses", "Issued", 7),
            document("newd-0009", "Hunting Licenses", "Issued", 9),
            document("newd-0010", "Boat Registrations", "Issued", 10),
        ]))
        .await
        .expect("replace");
    assert_eq!(index.backend.count().await.expect("count"), 3);
    assert_eq!(index.ids("fishing").await, ["newd-0007"]);
    assert!(index.ids("land").await.is_empty());
    index.drop().await;
}
