//! Statements and their lists: select lists (with `DISTINCT [ON (…)]` and aliases), orderings,
//! and a whole `$query` with its clauses in Socrata's order.

use super::*;

impl Parser {
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

    pub(super) fn select_list(&mut self) -> Parsed<(Distinct, Vec<Selection>)> {
        let distinct = if !self.eat_keyword("distinct") {
            Distinct::No
        } else if self.is_keyword("on") && matches!(self.peek_at(1), Token::Symbol("(")) {
            self.advance();
            self.advance();
            let exprs = self.expr_list()?;
            self.expect_symbol(")")?;
            Distinct::On(exprs)
        } else {
            Distinct::All
        };
        let mut items = vec![self.selection()?];
        while self.eat_symbol(",") {
            items.push(self.selection()?);
        }
        Ok((distinct, items))
    }

    pub(super) fn order_list(&mut self) -> Parsed<Vec<OrderItem>> {
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

    pub(super) fn count(&mut self, clause: &str) -> Parsed<u64> {
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

    pub(super) fn string(&mut self, clause: &str) -> Parsed<String> {
        let position = self.position();
        match self.advance().token {
            Token::Str(text) => Ok(text),
            _ => Err(SoqlError::malformed(
                position,
                format!("{clause} takes a quoted string"),
            )),
        }
    }

    pub(super) fn query(&mut self) -> Parsed<Query> {
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
        // These four come in any order, each at most once, as Socrata's parser has them.
        let mut seen = Vec::new();
        loop {
            let position = self.position();
            let clause = if self.is_keyword("order") {
                self.advance();
                self.expect_keyword("by")?;
                query.order = self.order_list()?;
                "ORDER BY"
            } else if self.eat_keyword("search") {
                query.search = Some(self.string("SEARCH")?);
                "SEARCH"
            } else if self.eat_keyword("limit") {
                query.limit = Some(self.count("LIMIT")?);
                "LIMIT"
            } else if self.eat_keyword("offset") {
                query.offset = Some(self.count("OFFSET")?);
                "OFFSET"
            } else {
                break;
            };
            if seen.contains(&clause) {
                return Err(SoqlError::malformed(
                    position,
                    format!("{clause} is given twice; a query has at most one"),
                ));
            }
            seen.push(clause);
        }
        self.eat_symbol(";");
        self.expect_end()?;
        Ok(query)
    }
}
