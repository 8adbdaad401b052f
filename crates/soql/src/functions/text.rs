//! Text.

use super::*;

pub(super) static FUNCTIONS: &[Function] = &[
    Function {
        name: "length",
        kind: Kind::Scalar,
        usage: "length(text)",
        doc: "The number of characters.",
        example: example("length(town)", "length(\"town\")::numeric", "4"),
        args: fixed(&[P::Text]),
        returns: Returns::Is(T::Number),
        sql: Render::Template("length({0})::numeric"),
    },
    Function {
        name: "lower",
        kind: Kind::Scalar,
        usage: "lower(text)",
        doc: "The text in lower case.",
        example: example("lower(town)", "lower(\"town\")", "avon"),
        args: fixed(&[P::Text]),
        returns: Returns::Is(T::Text),
        sql: Render::Template("lower({0})"),
    },
    Function {
        name: "starts_with",
        kind: Kind::Scalar,
        usage: "starts_with(text, prefix)",
        doc: "Whether the text starts with the prefix (case matters).",
        example: example(
            "starts_with(town, 'Av')",
            "starts_with(\"town\", $1::text)",
            "true",
        ),
        args: fixed(&[P::Text, P::Text]),
        returns: Returns::Is(T::Boolean),
        sql: Render::Template("starts_with({0}, {1})"),
    },
    Function {
        name: "trim",
        kind: Kind::Scalar,
        usage: "trim(text)",
        doc: "The text without leading and trailing spaces.",
        example: example("trim('  Avon ')", "btrim($1::text)", "Avon"),
        args: fixed(&[P::Text]),
        returns: Returns::Is(T::Text),
        sql: Render::Template("btrim({0})"),
    },
    Function {
        name: "unaccent",
        kind: Kind::Scalar,
        usage: "unaccent(text)",
        doc: "The text without accents (`Énfield` → `Enfield`).",
        example: example(
            "unaccent('Café')",
            "data.unaccent('data.unaccent'::regdictionary, $1::text)",
            "Cafe",
        ),
        args: fixed(&[P::Text]),
        returns: Returns::Is(T::Text),
        sql: Render::Template("data.unaccent('data.unaccent'::regdictionary, {0})"),
    },
    Function {
        name: "upper",
        kind: Kind::Scalar,
        usage: "upper(text)",
        doc: "The text in upper case.",
        example: example("upper(town)", "upper(\"town\")", "AVON"),
        args: fixed(&[P::Text]),
        returns: Returns::Is(T::Text),
        sql: Render::Template("upper({0})"),
    },
];
