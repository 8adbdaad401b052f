//! Windows after a call: `OVER ([PARTITION BY …] [ORDER BY …] [frame])`.

use super::*;
use crate::window::{Frame, FrameBound, FrameExclusion, FrameUnits, Window};

impl Parser {
    /// `call OVER ([PARTITION BY …] [ORDER BY …] [frame])`, or the call alone.
    pub(super) fn over(&mut self, mut call: Expr) -> Parsed<Expr> {
        if !(self.is_keyword("over") && matches!(self.peek_at(1), Token::Symbol("("))) {
            return Ok(call);
        }
        self.advance();
        self.advance();
        let mut window = Window::default();
        if self.is_keyword("partition") {
            self.advance();
            self.expect_keyword("by")?;
            window.partition = self.expr_list()?;
        }
        if self.is_keyword("order") {
            self.advance();
            self.expect_keyword("by")?;
            window.order = self.order_list()?;
        }
        let units = if self.eat_keyword("rows") {
            Some(FrameUnits::Rows)
        } else if self.eat_keyword("range") {
            Some(FrameUnits::Range)
        } else if self.eat_keyword("groups") {
            Some(FrameUnits::Groups)
        } else {
            None
        };
        if let Some(units) = units {
            window.frame = Some(self.frame(units)?);
        }
        self.expect_symbol(")")?;
        // `call` is the call just parsed (see `word`).
        if let Expr::Call { window: over, .. } = &mut call {
            *over = Some(Box::new(window));
        }
        Ok(call)
    }

    /// A frame after its `ROWS`, `RANGE` or `GROUPS`.
    fn frame(&mut self, units: FrameUnits) -> Parsed<Frame> {
        let position = self.position();
        let (start, end) = if self.eat_keyword("between") {
            let start = self.frame_bound()?;
            self.expect_keyword("and")?;
            (start, Some(self.frame_bound()?))
        } else {
            (self.frame_bound()?, None)
        };
        let exclude = if self.eat_keyword("exclude") {
            Some(if self.eat_keyword("current") {
                self.expect_keyword("row")?;
                FrameExclusion::CurrentRow
            } else if self.eat_keyword("group") {
                FrameExclusion::Group
            } else if self.eat_keyword("ties") {
                FrameExclusion::Ties
            } else if self.eat_keyword("no") {
                self.expect_keyword("others")?;
                FrameExclusion::NoOthers
            } else {
                return Err(self.unexpected("`CURRENT ROW`, `GROUP`, `TIES` or `NO OTHERS`"));
            })
        } else {
            None
        };
        let frame = Frame {
            units,
            start,
            end,
            exclude,
        };
        match frame.problem() {
            Some(problem) => Err(SoqlError::malformed(position, problem)),
            None => Ok(frame),
        }
    }

    /// `UNBOUNDED PRECEDING`, `n PRECEDING`, `CURRENT ROW`, `n FOLLOWING` or `UNBOUNDED FOLLOWING`.
    fn frame_bound(&mut self) -> Parsed<FrameBound> {
        let direction = |parser: &mut Parser| {
            if parser.eat_keyword("preceding") {
                Ok(true)
            } else if parser.eat_keyword("following") {
                Ok(false)
            } else {
                Err(parser.unexpected("`PRECEDING` or `FOLLOWING`"))
            }
        };
        if self.eat_keyword("unbounded") {
            return Ok(if direction(self)? {
                FrameBound::UnboundedPreceding
            } else {
                FrameBound::UnboundedFollowing
            });
        }
        if self.eat_keyword("current") {
            self.expect_keyword("row")?;
            return Ok(FrameBound::CurrentRow);
        }
        if !matches!(self.peek(), Token::Number(_)) {
            return Err(self.unexpected("`UNBOUNDED`, `CURRENT ROW` or a whole number"));
        }
        let offset = self.count("a frame offset")?;
        Ok(if direction(self)? {
            FrameBound::Preceding(offset)
        } else {
            FrameBound::Following(offset)
        })
    }
}
