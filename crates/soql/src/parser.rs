//! The SoQL parser: recursive descent with Socrata's operator precedence, loosest first:
//! `OR`; `AND`; `NOT`; `IS [NOT] NULL`, `[NOT] IN`, `[NOT] BETWEEN`, `[NOT] LIKE`; comparisons;
//! `||`; `+ -`; `* / %`; unary `- +`; `::` casts; literals, names, calls and parentheses.

use crate::ast::{
    BinaryOp, Expr, Literal, Nulls, OrderItem, Query, Selection, Span, UnaryOp, is_keyword,
};
use crate::error::{Position, SoqlError};
use crate::lexer::{Spanned, Token, tokenize};

/// Deepest nesting accepted, so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

struct Parser {
    tokens: Vec<Spanned>,
    index: usize,
    depth: usize,
}

type Parsed<T> = Result<T, SoqlError>;

impl Parser {
    fn new(input: &str) -> Parsed<Parser> {
        Ok(Parser {
            tokens: tokenize(input)?,
            index: 0,
            depth: 0,
        })
    }

    fn peek(&self) -> &Token {
        &self.tokens[self.index].token
    }

    fn peek_at(&self, offset: usize) -> &Token {
        let index = (self.index + offset).min(self.tokens.len() - 1);
        &self.tokens[index].token
    }

    fn position(&self) -> Position {
        self.tokens[self.index].position
    }

    fn advance(&mut self) -> Spanned {
        let token = self.tokens[self.index].clone();
        if self.index < self.tokens.len() - 1 {
            self.index += 1;
        }
        token
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Token::Word(word) if word.eq_ignore_ascii_case(keyword))
    }

    fn is_keyword_at(&self, offset: usize, keyword: &str) -> bool {
        matches!(self.peek_at(offset), Token::Word(word) if word.eq_ignore_ascii_case(keyword))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        if self.is_keyword(keyword) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn expect_keyword(&mut self, keyword: &str) -> Parsed<()> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{}`", keyword.to_ascii_uppercase())))
        }
    }

    fn is_symbol(&self, symbol: &str) -> bool {
        matches!(self.peek(), Token::Symbol(s) if *s == symbol)
    }

    fn eat_symbol(&mut self, symbol: &str) -> bool {
        if self.is_symbol(symbol) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn expect_symbol(&mut self, symbol: &str) -> Parsed<()> {
        if self.eat_symbol(symbol) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{symbol}`")))
        }
    }

    fn unexpected(&self, expected: &str) -> SoqlError {
        let found = match self.peek() {
            Token::End => "the end".to_owned(),
            Token::Word(word) => format!("`{word}`"),
            Token::QuotedIdent(name) => format!("`{name}`"),
            Token::SystemField(name) => format!("`{name}`"),
            Token::Str(text) => format!("'{text}'"),
            Token::Number(number) => format!("`{number}`"),
            Token::Symbol(symbol) => format!("`{symbol}`"),
        };
        SoqlError::malformed(
            self.position(),
            format!("expected {expected} but found {found}"),
        )
    }

    fn expect_end(&self) -> Parsed<()> {
        match self.peek() {
            Token::End => Ok(()),
            _ => Err(self.unexpected("the end of the clause")),
        }
    }

    fn nested<T>(&mut self, parse: impl FnOnce(&mut Parser) -> Parsed<T>) -> Parsed<T> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SoqlError::malformed(
                self.position(),
                format!("expressions nest deeper than {MAX_DEPTH} levels"),
            ));
        }
        let result = parse(self);
        self.depth -= 1;
        result
    }

    fn expr(&mut self) -> Parsed<Expr> {
        self.nested(Parser::or)
    }

    fn binary_left(
        &mut self,
        next: fn(&mut Parser) -> Parsed<Expr>,
        ops: &[(&str, BinaryOp)],
        keyword_ops: bool,
    ) -> Parsed<Expr> {
        let mut left = next(self)?;
        loop {
            let span = Span(self.position());
            let op = ops.iter().find(|(text, _)| {
                if keyword_ops {
                    self.is_keyword(text)
                } else {
                    self.is_symbol(text)
                }
            });
            let Some((_, op)) = op else { return Ok(left) };
            let op = *op;
            self.advance();
            let right = next(self)?;
            left = Expr::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
                span,
            };
        }
    }

    fn or(&mut self) -> Parsed<Expr> {
        self.binary_left(Parser::and, &[("or", BinaryOp::Or)], true)
    }

    fn and(&mut self) -> Parsed<Expr> {
        self.binary_left(Parser::not, &[("and", BinaryOp::And)], true)
    }

    fn not(&mut self) -> Parsed<Expr> {
        if self.is_keyword("not") {
            let span = Span(self.position());
            self.advance();
            let expr = self.nested(Parser::not)?;
            return Ok(Expr::Unary {
                op: UnaryOp::Not,
                expr: Box::new(expr),
                span,
            });
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Parsed<Expr> {
        let expr = self.comparison()?;
        let span = Span(self.position());
        if self.eat_keyword("is") {
            let negated = self.eat_keyword("not");
            self.expect_keyword("null")?;
            return Ok(Expr::IsNull {
                expr: Box::new(expr),
                negated,
                span,
            });
        }
        let negated = self.is_keyword("not")
            && (self.is_keyword_at(1, "in")
                || self.is_keyword_at(1, "between")
                || self.is_keyword_at(1, "like"));
        if negated {
            self.advance();
        }
        if self.eat_keyword("in") {
            self.expect_symbol("(")?;
            let list = self.expr_list()?;
            self.expect_symbol(")")?;
            return Ok(Expr::In {
                expr: Box::new(expr),
                list,
                negated,
                span,
            });
        }
        if self.eat_keyword("between") {
            let low = self.comparison()?;
            self.expect_keyword("and")?;
            let high = self.comparison()?;
            return Ok(Expr::Between {
                expr: Box::new(expr),
                low: Box::new(low),
                high: Box::new(high),
                negated,
                span,
            });
        }
        if self.eat_keyword("like") {
            let pattern = self.comparison()?;
            return Ok(Expr::Like {
                expr: Box::new(expr),
                pattern: Box::new(pattern),
                negated,
                span,
            });
        }
        Ok(expr)
    }

    fn comparison(&mut self) -> Parsed<Expr> {
        let left = self.concat()?;
        let span = Span(self.position());
        let op = match self.peek() {
            Token::Symbol("=") => BinaryOp::Eq,
            Token::Symbol("!=") | Token::Symbol("<>") => BinaryOp::Ne,
            Token::Symbol("<") => BinaryOp::Lt,
            Token::Symbol("<=") => BinaryOp::Le,
            Token::Symbol(">") => BinaryOp::Gt,
            Token::Symbol(">=") => BinaryOp::Ge,
            _ => return Ok(left),
        };
        self.advance();
        let right = self.concat()?;
        Ok(Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
            span,
        })
    }

    fn concat(&mut self) -> Parsed<Expr> {
        self.binary_left(Parser::additive, &[("||", BinaryOp::Concat)], false)
    }

    fn additive(&mut self) -> Parsed<Expr> {
        self.binary_left(
            Parser::multiplicative,
            &[("+", BinaryOp::Add), ("-", BinaryOp::Sub)],
            false,
        )
    }

    fn multiplicative(&mut self) -> Parsed<Expr> {
        self.binary_left(
            Parser::unary,
            &[
                ("*", BinaryOp::Mul),
                ("/", BinaryOp::Div),
                ("%", BinaryOp::Mod),
            ],
            false,
        )
    }

    fn unary(&mut self) -> Parsed<Expr> {
        let span = Span(self.position());
        let op = if self.eat_symbol("-") {
            UnaryOp::Minus
        } else if self.eat_symbol("+") {
            UnaryOp::Plus
        } else {
            return self.cast();
        };
        let expr = self.nested(Parser::unary)?;
        Ok(Expr::Unary {
            op,
            expr: Box::new(expr),
            span,
        })
    }

    fn cast(&mut self) -> Parsed<Expr> {
        let mut expr = self.primary()?;
        while self.is_symbol("::") {
            let span = Span(self.position());
            self.advance();
            let to = match self.advance().token {
                Token::Word(word) => word.to_ascii_lowercase(),
                _ => {
                    return Err(SoqlError::malformed(
                        span.0,
                        "expected a type name after `::`",
                    ));
                }
            };
            expr = Expr::Cast {
                expr: Box::new(expr),
                to,
                span,
            };
        }
        Ok(expr)
    }

    fn expr_list(&mut self) -> Parsed<Vec<Expr>> {
        let mut items = vec![self.expr()?];
        while self.eat_symbol(",") {
            items.push(self.expr()?);
        }
        Ok(items)
    }

    fn primary(&mut self) -> Parsed<Expr> {
        let span = Span(self.position());
        let token = self.peek().clone();
        match token {
            Token::Str(text) => {
                self.advance();
                Ok(Expr::Literal {
                    value: Literal::Text(text),
                    span,
                })
            }
            Token::Number(number) => {
                self.advance();
                Ok(Expr::Literal {
                    value: Literal::Number(number),
                    span,
                })
            }
            Token::SystemField(name) if name != ":*" => {
                self.advance();
                Ok(Expr::Column { name, span })
            }
            Token::QuotedIdent(name) => {
                self.advance();
                Ok(Expr::Column { name, span })
            }
            Token::Symbol("(") => {
                self.advance();
                let expr = self.expr()?;
                self.expect_symbol(")")?;
                Ok(expr)
            }
            Token::Word(word) => self.word(word, span),
            _ => Err(self.unexpected("a value, a column or a function")),
        }
    }

    fn word(&mut self, word: String, span: Span) -> Parsed<Expr> {
        let lower = word.to_ascii_lowercase();
        match lower.as_str() {
            "true" | "false" => {
                self.advance();
                return Ok(Expr::Literal {
                    value: Literal::Boolean(lower == "true"),
                    span,
                });
            }
            "null" => {
                self.advance();
                return Ok(Expr::Literal {
                    value: Literal::Null,
                    span,
                });
            }
            "case" if !matches!(self.peek_at(1), Token::Symbol("(")) => return self.case(span),
            _ => {}
        }
        if matches!(self.peek_at(1), Token::Symbol("(")) {
            self.advance();
            self.advance();
            return self.call(lower, span);
        }
        if is_keyword(&word) {
            return Err(self.unexpected("a value, a column or a function"));
        }
        self.advance();
        Ok(Expr::Column { name: word, span })
    }

    fn call(&mut self, name: String, span: Span) -> Parsed<Expr> {
        if self.eat_symbol("*") {
            self.expect_symbol(")")?;
            return Ok(Expr::Call {
                name,
                args: Vec::new(),
                distinct: false,
                star: true,
                span,
            });
        }
        if self.eat_symbol(")") {
            return Ok(Expr::Call {
                name,
                args: Vec::new(),
                distinct: false,
                star: false,
                span,
            });
        }
        let distinct = self.eat_keyword("distinct");
        let args = self.expr_list()?;
        self.expect_symbol(")")?;
        Ok(Expr::Call {
            name,
            args,
            distinct,
            star: false,
            span,
        })
    }

    fn case(&mut self, span: Span) -> Parsed<Expr> {
        self.advance();
        let mut branches = Vec::new();
        while self.eat_keyword("when") {
            let condition = self.expr()?;
            self.expect_keyword("then")?;
            let value = self.expr()?;
            branches.push((condition, value));
        }
        if branches.is_empty() {
            return Err(self.unexpected("`WHEN`"));
        }
        let otherwise = if self.eat_keyword("else") {
            Some(Box::new(self.expr()?))
        } else {
            None
        };
        self.expect_keyword("end")?;
        Ok(Expr::Case {
            branches,
            otherwise,
            span,
        })
    }

    fn alias(&mut self) -> Parsed<Option<String>> {
        if !self.eat_keyword("as") {
            return Ok(None);
        }
        match self.advance().token {
            Token::Word(word) if !is_keyword(&word) => Ok(Some(word)),
            Token::QuotedIdent(name) => Ok(Some(name)),
            _ => Err(SoqlError::malformed(
                self.tokens[self.index.saturating_sub(1)].position,
                "expected an alias after `AS`",
            )),
        }
    }

    fn selection(&mut self) -> Parsed<Selection> {
        if self.eat_symbol("*") {
            return Ok(Selection::Star);
        }
        if matches!(self.peek(), Token::SystemField(name) if name == ":*") {
            self.advance();
            return Ok(Selection::SystemStar);
        }
        let expr = self.expr()?;
        let alias = self.alias()?;
        Ok(Selection::Expr { expr, alias })
    }

    fn select_list(&mut self) -> Parsed<(bool, Vec<Selection>)> {
        let distinct = self.eat_keyword("distinct");
        let mut items = vec![self.selection()?];
        while self.eat_symbol(",") {
            items.push(self.selection()?);
        }
        Ok((distinct, items))
    }

    fn order_list(&mut self) -> Parsed<Vec<OrderItem>> {
        let mut items = Vec::new();
        loop {
            let expr = self.expr()?;
            let descending = if self.eat_keyword("desc") {
                true
            } else {
                self.eat_keyword("asc");
                false
            };
            let nulls = if self.eat_keyword("nulls") {
                if self.eat_keyword("first") {
                    Some(Nulls::First)
                } else if self.eat_keyword("last") {
                    Some(Nulls::Last)
                } else {
                    return Err(self.unexpected("`FIRST` or `LAST`"));
                }
            } else {
                None
            };
            items.push(OrderItem {
                expr,
                descending,
                nulls,
            });
            if !self.eat_symbol(",") {
                return Ok(items);
            }
        }
    }

    fn count(&mut self, clause: &str) -> Parsed<u64> {
        let position = self.position();
        match self.advance().token {
            Token::Number(number) => number
                .parse::<u64>()
                .ok()
                .filter(|n| i64::try_from(*n).is_ok())
                .ok_or_else(|| {
                    SoqlError::malformed(
                        position,
                        format!("{clause} takes a whole number, not `{number}`"),
                    )
                }),
            _ => Err(SoqlError::malformed(
                position,
                format!("{clause} takes a whole number"),
            )),
        }
    }

    fn string(&mut self, clause: &str) -> Parsed<String> {
        let position = self.position();
        match self.advance().token {
            Token::Str(text) => Ok(text),
            _ => Err(SoqlError::malformed(
                position,
                format!("{clause} takes a quoted string"),
            )),
        }
    }

    fn query(&mut self) -> Parsed<Query> {
        let mut query = Query::default();
        if self.eat_keyword("select") {
            let (distinct, select) = self.select_list()?;
            query.distinct = distinct;
            query.select = select;
        }
        if self.eat_keyword("where") {
            query.filter = Some(self.expr()?);
        }
        if self.is_keyword("group") {
            self.advance();
            self.expect_keyword("by")?;
            query.group = self.expr_list()?;
        }
        if self.eat_keyword("having") {
            query.having = Some(self.expr()?);
        }
        loop {
            if self.is_keyword("order") {
                self.advance();
                self.expect_keyword("by")?;
                query.order = self.order_list()?;
            } else if self.eat_keyword("search") {
                query.search = Some(self.string("SEARCH")?);
            } else if self.eat_keyword("limit") {
                query.limit = Some(self.count("LIMIT")?);
            } else if self.eat_keyword("offset") {
                query.offset = Some(self.count("OFFSET")?);
            } else {
                break;
            }
        }
        self.eat_symbol(";");
        self.expect_end()?;
        Ok(query)
    }
}

fn whole<T>(input: &str, parse: impl FnOnce(&mut Parser) -> Parsed<T>) -> Parsed<T> {
    let mut parser = Parser::new(input)?;
    let result = parse(&mut parser)?;
    parser.expect_end()?;
    Ok(result)
}

/// Parses one expression (`$where`, `$having`).
pub fn parse_expr(input: &str) -> Parsed<Expr> {
    whole(input, Parser::expr)
}

/// Parses a select list (`$select`), with an optional leading `DISTINCT`.
pub fn parse_select(input: &str) -> Parsed<(bool, Vec<Selection>)> {
    whole(input, Parser::select_list)
}

/// Parses an ordering (`$order`).
pub fn parse_order(input: &str) -> Parsed<Vec<OrderItem>> {
    whole(input, Parser::order_list)
}

/// Parses a grouping (`$group`).
pub fn parse_group(input: &str) -> Parsed<Vec<Expr>> {
    whole(input, Parser::expr_list)
}

/// Parses a whole statement (`$query`): `SELECT … WHERE … GROUP BY … HAVING … ORDER BY … SEARCH …
/// LIMIT … OFFSET …`, every clause optional.
pub fn parse_query(input: &str) -> Parsed<Query> {
    let mut parser = Parser::new(input)?;
    parser.query()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(input: &str) -> String {
        parse_expr(input).unwrap().to_string()
    }

    #[test]
    fn precedence_follows_socrata() {
        assert_eq!(
            printed("a = 1 OR b = 2 AND NOT c"),
            "((a = 1) OR ((b = 2) AND (NOT c)))"
        );
        assert_eq!(printed("a + b * c - d"), "((a + (b * c)) - d)");
        assert_eq!(printed("-x::number + 1"), "((-(x::number)) + 1)");
        assert_eq!(printed("a || b = 'xy'"), "((a || b) = 'xy')");
        assert_eq!(
            printed("x NOT BETWEEN 1 AND 2 AND y IS NOT NULL"),
            "((x NOT BETWEEN 1 AND 2) AND (y IS NOT NULL))"
        );
        assert_eq!(
            printed("town NOT IN ('A', 'B')"),
            "(town NOT IN ('A', 'B'))"
        );
        assert_eq!(printed("NOT town LIKE 'H%'"), "(NOT (town LIKE 'H%'))");
    }

    #[test]
    fn calls_cases_and_names() {
        assert_eq!(printed("count(*)"), "count(*)");
        assert_eq!(printed("COUNT(DISTINCT town)"), "count(DISTINCT town)");
        assert_eq!(
            printed("case(a > 1, 'x', true, 'y')"),
            "case((a > 1), 'x', true, 'y')"
        );
        assert_eq!(
            printed("CASE WHEN a THEN 1 ELSE 2 END"),
            "CASE WHEN a THEN 1 ELSE 2 END"
        );
        assert_eq!(printed("`sale amount` + :id"), "(`sale amount` + :id)");
        assert_eq!(printed("\"double\" = 'single'"), "('double' = 'single')");
    }

    #[test]
    fn whole_statements_parse_in_socratas_clause_order() {
        let query = parse_query(
            "SELECT town, sum(sale_amount) AS total WHERE sale_amount > 100 GROUP BY town HAVING total > 5 ORDER BY total DESC NULLS LAST LIMIT 10 OFFSET 5",
        )
        .unwrap();
        assert_eq!(query.select.len(), 2);
        assert_eq!(query.group.len(), 1);
        assert_eq!(query.limit, Some(10));
        assert_eq!(query.offset, Some(5));
        assert_eq!(query.order[0].nulls, Some(Nulls::Last));
        assert_eq!(parse_query(&query.to_string()).unwrap(), query);
    }

    #[test]
    fn errors_say_what_was_expected_and_where() {
        let error = parse_expr("town = ").unwrap_err();
        assert_eq!(error.position, Position { line: 1, column: 8 });
        assert!(
            error.message.contains("expected a value"),
            "{}",
            error.message
        );
        let error = parse_expr("town = 'x' sale_amount").unwrap_err();
        assert!(error.message.contains("`sale_amount`"), "{}", error.message);
        assert!(parse_select("town,").is_err());
        assert!(parse_order("town sideways").is_err());
        assert!(parse_query("SELECT * LIMIT -1").is_err());
        let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
        assert!(
            parse_expr(&deep)
                .unwrap_err()
                .message
                .contains("nest deeper")
        );
    }
}
