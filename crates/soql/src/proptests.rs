//! Property tests: the parser never panics on any input, and printing a tree gives SoQL that parses
//! back to the same tree.

use proptest::prelude::*;

use crate::ast::{
    BinaryOp, Distinct, Expr, Literal, Nulls, OrderItem, Query, Selection, Span, UnaryOp,
    is_keyword,
};
use crate::parser::{parse_expr, parse_group, parse_order, parse_query, parse_select};

fn span() -> Span {
    Span::default()
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,8}".prop_filter("not a keyword", |s| !is_keyword(s)),
        "[a-zA-Z][a-zA-Z0-9 `]{0,8}",
        Just(":id".to_owned()),
        Just(":created_at".to_owned()),
        "(and|or|select|case|null)",
    ]
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        "[ -~\n]{0,12}".prop_map(Literal::Text),
        (0u64..1_000_000).prop_map(|n| Literal::Number(n.to_string())),
        ("[0-9]{1,4}", "[0-9]{1,3}").prop_map(|(a, b)| Literal::Number(format!("{a}.{b}"))),
        any::<bool>().prop_map(Literal::Boolean),
        Just(Literal::Null),
    ]
}

fn binary_op() -> impl Strategy<Value = BinaryOp> {
    prop_oneof![
        Just(BinaryOp::Or),
        Just(BinaryOp::And),
        Just(BinaryOp::Eq),
        Just(BinaryOp::Ne),
        Just(BinaryOp::Lt),
        Just(BinaryOp::Le),
        Just(BinaryOp::Gt),
        Just(BinaryOp::Ge),
        Just(BinaryOp::Add),
        Just(BinaryOp::Sub),
        Just(BinaryOp::Mul),
        Just(BinaryOp::Div),
        Just(BinaryOp::Mod),
        Just(BinaryOp::Pow),
        Just(BinaryOp::Concat),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        name().prop_map(|name| Expr::Column { name, span: span() }),
        literal().prop_map(|value| Expr::Literal {
            value,
            span: span()
        }),
    ];
    leaf.prop_recursive(4, 48, 4, |inner| {
        let boxed = inner.clone().prop_map(Box::new);
        prop_oneof![
            (binary_op(), boxed.clone(), boxed.clone()).prop_map(|(op, left, right)| {
                Expr::Binary {
                    op,
                    left,
                    right,
                    span: span(),
                }
            }),
            (
                prop_oneof![
                    Just(UnaryOp::Not),
                    Just(UnaryOp::Minus),
                    Just(UnaryOp::Plus)
                ],
                boxed.clone()
            )
                .prop_map(|(op, expr)| Expr::Unary {
                    op,
                    expr,
                    span: span()
                }),
            (
                "[a-z][a-z_]{0,10}".prop_filter("not a keyword", |s| !is_keyword(s)),
                prop::collection::vec(inner.clone(), 1..3),
                any::<bool>()
            )
                .prop_map(|(name, args, distinct)| Expr::Call {
                    name,
                    args,
                    distinct,
                    star: false,
                    window: None,
                    span: span()
                }),
            Just(Expr::Call {
                name: "count".into(),
                args: Vec::new(),
                distinct: false,
                star: true,
                window: None,
                span: span()
            }),
            (boxed.clone(), "[a-z_]{1,10}").prop_map(|(expr, to)| Expr::Cast {
                expr,
                to,
                span: span()
            }),
            (
                boxed.clone(),
                prop::collection::vec(inner.clone(), 1..3),
                any::<bool>()
            )
                .prop_map(|(expr, list, negated)| Expr::In {
                    expr,
                    list,
                    negated,
                    span: span()
                }),
            (boxed.clone(), boxed.clone(), boxed.clone(), any::<bool>()).prop_map(
                |(expr, low, high, negated)| Expr::Between {
                    expr,
                    low,
                    high,
                    negated,
                    span: span()
                }
            ),
            (boxed.clone(), boxed.clone(), any::<bool>()).prop_map(|(expr, pattern, negated)| {
                Expr::Like {
                    expr,
                    pattern,
                    negated,
                    span: span(),
                }
            }),
            (boxed.clone(), any::<bool>()).prop_map(|(expr, negated)| Expr::IsNull {
                expr,
                negated,
                span: span()
            }),
            (
                prop::collection::vec((inner.clone(), inner.clone()), 1..3),
                prop::option::of(boxed)
            )
                .prop_map(|(branches, otherwise)| Expr::Case {
                    branches,
                    otherwise,
                    span: span()
                }),
        ]
    })
}

fn query() -> impl Strategy<Value = Query> {
    let selection = prop_oneof![
        Just(Selection::Star),
        Just(Selection::SystemStar),
        (
            expr(),
            prop::option::of(
                "[a-z_][a-z0-9_]{0,6}".prop_filter("not a keyword", |s| !is_keyword(s))
            )
        )
            .prop_map(|(expr, alias)| Selection::Expr { expr, alias }),
    ];
    let order = (
        expr(),
        any::<bool>(),
        prop::option::of(prop_oneof![Just(Nulls::First), Just(Nulls::Last)]),
    )
        .prop_map(|(expr, descending, nulls)| OrderItem {
            expr,
            descending,
            nulls,
        });
    (
        prop_oneof![
            Just(Distinct::No),
            Just(Distinct::All),
            prop::collection::vec(expr(), 1..3).prop_map(Distinct::On),
        ],
        prop::collection::vec(selection, 1..3),
        prop::option::of(expr()),
        prop::collection::vec(expr(), 0..2),
        prop::option::of(expr()),
        prop::collection::vec(order, 0..2),
        prop::option::of("[ -~]{0,8}"),
        prop::option::of(0u64..100_000),
        prop::option::of(0u64..100_000),
    )
        .prop_map(
            |(distinct, select, filter, group, having, order, search, limit, offset)| Query {
                distinct,
                select,
                filter,
                group,
                having,
                order,
                search,
                limit,
                offset,
            },
        )
}

const FRAGMENTS: [&str; 40] = [
    "select", "where", "group", "by", "order", "having", "limit", "offset", "search", "and", "or",
    "not", "in", "between", "like", "is", "null", "case", "when", "then", "else", "end", "(", ")",
    ",", "'", "\"", "`", "::", "||", "=", "!=", "<", ">=", "*", "-", "town", "count(", "1.5e",
    ":id",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn printed_expressions_parse_back_to_the_same_tree(tree in expr()) {
        let printed = tree.to_string();
        let parsed = parse_expr(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e:?}")))?;
        prop_assert_eq!(parsed, tree, "{}", printed);
    }

    #[test]
    fn printed_queries_parse_back_to_the_same_tree(tree in query()) {
        let printed = tree.to_string();
        let parsed = parse_query(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e:?}")))?;
        prop_assert_eq!(parsed, tree, "{}", printed);
    }

    #[test]
    fn the_parser_never_panics_on_any_text(text in "\\PC{0,80}") {
        let _ = parse_expr(&text);
        let _ = parse_query(&text);
        let _ = parse_select(&text);
        let _ = parse_order(&text);
        let _ = parse_group(&text);
    }

    #[test]
    fn the_parser_never_panics_on_soql_token_soup(pieces in prop::collection::vec(prop::sample::select(FRAGMENTS.to_vec()), 0..24)) {
        let text = pieces.join(" ");
        let _ = parse_expr(&text);
        let _ = parse_query(&text);
    }
}
