//! The SoQL parser: recursive descent for clauses, calls and parentheses, and precedence climbing
//! for operators, with Socrata's precedence, loosest first:
//! `OR`; `AND`; `NOT`; `IS [NOT] NULL`, `[NOT] IN`, `[NOT] BETWEEN`, `[NOT] LIKE`; comparisons;
//! `||`; `+ -`; `* / %`; `^` (right to left); unary `- +`; `::` casts; literals, names
//! (`column.field` too), calls and parentheses.
//!
//! Hostile input must not exhaust the stack of whoever walks the tree (type checking, SQL
//! generation, printing, dropping), so trees stay shallow by construction: parentheses, calls and
//! every operator of a chain count towards [`SOQL_DEPTH`] while parsing, chains of `AND` and of
//! `OR` (long lists of alternatives are ordinary) are built balanced, and every parsed expression
//! is measured without recursion against [`SOQL_DEPTH`] and [`SOQL_NODES`] before anyone walks it.

use opendata_limits::{SOQL_DEPTH, SOQL_IN_VALUES, SOQL_NODES, excerpt};

use crate::ast::{
    BinaryOp, Distinct, Expr, Literal, Nulls, OrderItem, Query, Selection, Span, UnaryOp,
    is_keyword,
};
use crate::error::{Position, SoqlError};
use crate::lexer::{Spanned, Token, tokenize};

mod statement;
mod window;

struct Parser {
    tokens: Vec<Spanned>,
    index: usize,
    depth: usize,
}

type Parsed<T> = Result<T, SoqlError>;

/// Operator precedence, loosest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Or,
    And,
    Not,
    Predicate,
    Comparison,
    Concat,
    Additive,
    Multiplicative,
    Exponent,
    Unary,
    Cast,
}

impl Level {
    /// The next tighter level: the right operand of a left-associative operator binds tighter.
    fn next(self) -> Level {
        match self {
            Level::Or => Level::And,
            Level::And => Level::Not,
            Level::Not => Level::Predicate,
            Level::Predicate => Level::Comparison,
            Level::Comparison => Level::Concat,
            Level::Concat => Level::Additive,
            Level::Additive => Level::Multiplicative,
            Level::Multiplicative => Level::Exponent,
            Level::Exponent => Level::Unary,
            Level::Unary | Level::Cast => Level::Cast,
        }
    }
}

fn binary(op: BinaryOp, left: Expr, right: Expr, span: Span) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
        span,
    }
}

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
            Token::Word(word) => format!("`{}`", excerpt(word)),
            Token::QuotedIdent(name) => format!("`{}`", excerpt(name)),
            Token::SystemField(name) => format!("`{}`", excerpt(name)),
            Token::View(name) => format!("`@{}`", excerpt(name)),
            Token::Str(text) => format!("'{}'", excerpt(text)),
            Token::Number(number) => format!("`{}`", excerpt(number)),
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

    /// Goes one level deeper, or refuses past [`SOQL_DEPTH`]. The caller restores `depth` when it
    /// succeeds; a failed parse is abandoned whole.
    fn deeper(&mut self) -> Parsed<()> {
        self.depth += 1;
        if self.depth > SOQL_DEPTH.get() {
            return Err(too_deep(self.position()));
        }
        Ok(())
    }

    /// A whole expression.
    fn expr(&mut self) -> Parsed<Expr> {
        self.expr_at(Level::Or)
    }

    /// An expression whose operators all bind at least as tightly as `min` (precedence climbing:
    /// one frame per level of nesting, so deep input costs little stack). Each call is one level
    /// deeper, and so is each operator of a left-associative chain.
    fn expr_at(&mut self, min: Level) -> Parsed<Expr> {
        let base_depth = self.depth;
        self.deeper()?;
        let mut left = self.prefixed(min)?;
        // Comparisons and predicates do not chain: after one, only looser operators may follow.
        let mut tightest = Level::Cast;
        while let Some(level) = self.operator_level() {
            if level < min || level > tightest {
                break;
            }
            let span = Span(self.position());
            left = match level {
                Level::Or => self.associative_chain(left, "or", BinaryOp::Or)?,
                Level::And => self.associative_chain(left, "and", BinaryOp::And)?,
                Level::Predicate => {
                    tightest = Level::Not;
                    self.predicate(left, span)?
                }
                Level::Comparison => {
                    tightest = Level::Predicate;
                    let op = self.comparison_op();
                    self.advance();
                    let right = self.expr_at(Level::Concat)?;
                    binary(op, left, right, span)
                }
                Level::Exponent => {
                    // Right to left: `2 ^ 3 ^ 2` is `2 ^ (3 ^ 2)`.
                    self.advance();
                    self.deeper()?;
                    let right = self.expr_at(Level::Exponent)?;
                    binary(BinaryOp::Pow, left, right, span)
                }
                Level::Concat | Level::Additive | Level::Multiplicative => {
                    let op = self.arithmetic_op();
                    self.advance();
                    self.deeper()?;
                    let right = self.expr_at(level.next())?;
                    binary(op, left, right, span)
                }
                Level::Cast => {
                    self.advance();
                    self.deeper()?;
                    let to = self.type_name(span)?;
                    Expr::Cast {
                        expr: Box::new(left),
                        to,
                        span,
                    }
                }
                Level::Not | Level::Unary => break,
            };
        }
        self.depth = base_depth;
        Ok(left)
    }

    /// A primary expression, or a prefix operator (`NOT`, `-`, `+`) that binds at least as tightly
    /// as `min` applied to its operand.
    fn prefixed(&mut self, min: Level) -> Parsed<Expr> {
        let span = Span(self.position());
        let (op, level) = if min <= Level::Not && self.is_keyword("not") {
            (UnaryOp::Not, Level::Not)
        } else if min <= Level::Unary && self.is_symbol("-") {
            (UnaryOp::Minus, Level::Unary)
        } else if min <= Level::Unary && self.is_symbol("+") {
            (UnaryOp::Plus, Level::Unary)
        } else {
            return self.primary();
        };
        self.advance();
        let expr = self.expr_at(level)?;
        Ok(Expr::Unary {
            op,
            expr: Box::new(expr),
            span,
        })
    }

    /// The level of the operator at the cursor, if one is there.
    fn operator_level(&self) -> Option<Level> {
        let level = match self.peek() {
            Token::Word(word) if word.eq_ignore_ascii_case("or") => Level::Or,
            Token::Word(word) if word.eq_ignore_ascii_case("and") => Level::And,
            Token::Word(word) if word.eq_ignore_ascii_case("not") => {
                let negates_predicate = self.is_keyword_at(1, "in")
                    || self.is_keyword_at(1, "between")
                    || self.is_keyword_at(1, "like");
                return negates_predicate.then_some(Level::Predicate);
            }
            Token::Word(word)
                if ["is", "in", "between", "like"]
                    .iter()
                    .any(|keyword| word.eq_ignore_ascii_case(keyword)) =>
            {
                Level::Predicate
            }
            Token::Symbol("=" | "!=" | "<>" | "<" | "<=" | ">" | ">=") => Level::Comparison,
            Token::Symbol("||") => Level::Concat,
            Token::Symbol("+" | "-") => Level::Additive,
            Token::Symbol("*" | "/" | "%") => Level::Multiplicative,
            Token::Symbol("^") => Level::Exponent,
            Token::Symbol("::") => Level::Cast,
            _ => return None,
        };
        Some(level)
    }

    fn comparison_op(&self) -> BinaryOp {
        match self.peek() {
            Token::Symbol("!=" | "<>") => BinaryOp::Ne,
            Token::Symbol("<") => BinaryOp::Lt,
            Token::Symbol("<=") => BinaryOp::Le,
            Token::Symbol(">") => BinaryOp::Gt,
            Token::Symbol(">=") => BinaryOp::Ge,
            _ => BinaryOp::Eq,
        }
    }

    fn arithmetic_op(&self) -> BinaryOp {
        match self.peek() {
            Token::Symbol("||") => BinaryOp::Concat,
            Token::Symbol("-") => BinaryOp::Sub,
            Token::Symbol("*") => BinaryOp::Mul,
            Token::Symbol("/") => BinaryOp::Div,
            Token::Symbol("%") => BinaryOp::Mod,
            _ => BinaryOp::Add,
        }
    }

    /// The rest of a chain of `AND` or of `OR` after its first operand, built as a balanced tree:
    /// the operator is associative, and a list of hundreds of alternatives must not make a tree
    /// hundreds of levels deep.
    fn associative_chain(&mut self, first: Expr, keyword: &str, op: BinaryOp) -> Parsed<Expr> {
        let tighter = if op == BinaryOp::Or {
            Level::And
        } else {
            Level::Not
        };
        let mut operands = vec![(Span::default(), first)];
        while self.is_keyword(keyword) {
            let span = Span(self.position());
            self.advance();
            operands.push((span, self.expr_at(tighter)?));
        }
        Ok(balanced(operands, op))
    }

    /// `IS [NOT] NULL`, `[NOT] IN (...)`, `[NOT] BETWEEN low AND high` or `[NOT] LIKE pattern`
    /// applied to `expr`.
    fn predicate(&mut self, expr: Expr, span: Span) -> Parsed<Expr> {
        if self.eat_keyword("is") {
            let negated = self.eat_keyword("not");
            self.expect_keyword("null")?;
            return Ok(Expr::IsNull {
                expr: Box::new(expr),
                negated,
                span,
            });
        }
        let negated = self.eat_keyword("not");
        if self.eat_keyword("in") {
            self.expect_symbol("(")?;
            let list = self.in_list()?;
            self.expect_symbol(")")?;
            return Ok(Expr::In {
                expr: Box::new(expr),
                list,
                negated,
                span,
            });
        }
        if self.eat_keyword("between") {
            let low = self.expr_at(Level::Comparison)?;
            self.expect_keyword("and")?;
            let high = self.expr_at(Level::Comparison)?;
            return Ok(Expr::Between {
                expr: Box::new(expr),
                low: Box::new(low),
                high: Box::new(high),
                negated,
                span,
            });
        }
        self.expect_keyword("like")?;
        let pattern = self.expr_at(Level::Comparison)?;
        Ok(Expr::Like {
            expr: Box::new(expr),
            pattern: Box::new(pattern),
            negated,
            span,
        })
    }

    /// The type name after `::`.
    fn type_name(&mut self, span: Span) -> Parsed<String> {
        match self.advance().token {
            Token::Word(word) => Ok(word.to_ascii_lowercase()),
            _ => Err(SoqlError::malformed(
                span.0,
                "expected a type name after `::`",
            )),
        }
    }

    fn expr_list(&mut self) -> Parsed<Vec<Expr>> {
        let mut items = vec![self.expr()?];
        while self.eat_symbol(",") {
            items.push(self.expr()?);
        }
        Ok(items)
    }

    /// The values of `IN (...)`, at most [`SOQL_IN_VALUES`].
    fn in_list(&mut self) -> Parsed<Vec<Expr>> {
        let position = self.position();
        let list = self.expr_list()?;
        if list.len() > SOQL_IN_VALUES.get() {
            return Err(SoqlError::over_limit(
                SOQL_IN_VALUES,
                position,
                format!(
                    "IN lists {} values; at most {} are allowed",
                    list.len(),
                    SOQL_IN_VALUES.value
                ),
            ));
        }
        Ok(list)
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
                self.field_of(Expr::Column { name, span })
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
            "param" if matches!(self.peek_at(1), Token::Symbol("(")) => return self.param(span),
            _ => {}
        }
        if matches!(self.peek_at(1), Token::Symbol("(")) {
            self.advance();
            self.advance();
            let call = self.call(lower, span)?;
            return self.over(call);
        }
        if is_keyword(&word) {
            return Err(self.unexpected("a value, a column or a function"));
        }
        self.advance();
        self.field_of(Expr::Column { name: word, span })
    }

    /// `column.field` (`location.latitude`), or the column alone.
    fn field_of(&mut self, column: Expr) -> Parsed<Expr> {
        if !self.is_symbol(".") {
            return Ok(column);
        }
        let span = Span(column.position());
        let dot = self.position();
        self.advance();
        match self.advance().token {
            Token::Word(field) => Ok(Expr::Field {
                expr: Box::new(column),
                field: field.to_ascii_lowercase(),
                span,
            }),
            _ => Err(SoqlError::malformed(
                dot,
                "expected a field name after `.` (latitude, longitude, url, description, …)",
            )),
        }
    }

    fn call(&mut self, name: String, span: Span) -> Parsed<Expr> {
        if self.eat_symbol("*") {
            self.expect_symbol(")")?;
            return Ok(Expr::Call {
                name,
                args: Vec::new(),
                distinct: false,
                star: true,
                window: None,
                span,
            });
        }
        if self.eat_symbol(")") {
            return Ok(Expr::Call {
                name,
                args: Vec::new(),
                distinct: false,
                star: false,
                window: None,
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
            window: None,
            span,
        })
    }

    /// `param(@view, 'name')` or `param('name')`: a parameter of a saved query.
    fn param(&mut self, span: Span) -> Parsed<Expr> {
        self.advance();
        self.advance();
        let view = match self.peek().clone() {
            Token::View(view) => {
                self.advance();
                self.expect_symbol(",")?;
                Some(view)
            }
            _ => None,
        };
        let name = self.string("param(…)")?;
        self.expect_symbol(")")?;
        Ok(Expr::SavedQueryParam { view, name, span })
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
}

fn too_deep(position: Position) -> SoqlError {
    SoqlError::over_limit(
        SOQL_DEPTH,
        position,
        format!(
            "expressions nest deeper than {} levels; simplify the expression",
            SOQL_DEPTH.value
        ),
    )
}

/// Builds `operands` (each after the first with its operator's span) into a balanced tree of `op`,
/// keeping their order: pairs of neighbours are joined until one tree is left.
pub(crate) fn balanced(mut operands: Vec<(Span, Expr)>, op: BinaryOp) -> Expr {
    while operands.len() > 1 {
        let mut joined = Vec::with_capacity(operands.len().div_ceil(2));
        let mut pending = operands.into_iter();
        while let Some((span, left)) = pending.next() {
            joined.push(match pending.next() {
                Some((op_span, right)) => (
                    span,
                    Expr::Binary {
                        op,
                        left: Box::new(left),
                        right: Box::new(right),
                        span: op_span,
                    },
                ),
                None => (span, left),
            });
        }
        operands = joined;
    }
    operands
        .pop()
        .map(|(_, expr)| expr)
        .unwrap_or(Expr::Literal {
            value: Literal::Null,
            span: Span::default(),
        })
}

/// Refuses an expression deeper than [`SOQL_DEPTH`] or larger than [`SOQL_NODES`], measured
/// without recursion.
fn check_size(expr: &Expr) -> Parsed<()> {
    let size = expr.size();
    if size.depth > SOQL_DEPTH.get() {
        return Err(too_deep(expr.position()));
    }
    if size.nodes > SOQL_NODES.get() {
        return Err(SoqlError::over_limit(
            SOQL_NODES,
            expr.position(),
            format!(
                "the expression has {} parts; at most {} are allowed",
                size.nodes, SOQL_NODES.value
            ),
        ));
    }
    Ok(())
}

fn whole<T>(
    input: &str,
    parse: impl FnOnce(&mut Parser) -> Parsed<T>,
    expressions: impl Fn(&T) -> Vec<&Expr>,
) -> Parsed<T> {
    let mut parser = Parser::new(input)?;
    let result = parse(&mut parser)?;
    parser.expect_end()?;
    expressions(&result).into_iter().try_for_each(check_size)?;
    Ok(result)
}

/// Parses one expression (`$where`, `$having`).
pub fn parse_expr(input: &str) -> Parsed<Expr> {
    whole(input, Parser::expr, |expr| vec![expr])
}

/// Parses a select list (`$select`), with an optional leading `DISTINCT` or `DISTINCT ON (…)`.
pub fn parse_select(input: &str) -> Parsed<(Distinct, Vec<Selection>)> {
    whole(input, Parser::select_list, |(distinct, select)| {
        select
            .iter()
            .filter_map(Selection::expr)
            .chain(distinct.on())
            .collect()
    })
}

/// Parses an ordering (`$order`).
pub fn parse_order(input: &str) -> Parsed<Vec<OrderItem>> {
    whole(input, Parser::order_list, |order| {
        order.iter().map(|item| &item.expr).collect()
    })
}

/// Parses a grouping (`$group`).
pub fn parse_group(input: &str) -> Parsed<Vec<Expr>> {
    whole(input, Parser::expr_list, |group| group.iter().collect())
}

/// Parses a whole statement (`$query`): `SELECT … WHERE … GROUP BY … HAVING … ORDER BY … SEARCH …
/// LIMIT … OFFSET …`, every clause optional.
pub fn parse_query(input: &str) -> Parsed<Query> {
    whole(input, Parser::query, Query::expressions)
}

#[cfg(test)]
mod tests;
