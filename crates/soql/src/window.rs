//! Windows: what `OVER (PARTITION BY … ORDER BY … frame)` says, as Socrata's parser takes it
//! (`count(*) OVER (PARTITION BY town)`, `row_number() OVER (ORDER BY amount DESC NULLS LAST)`,
//! `avg(x) OVER (ORDER BY m RANGE 123 PRECEDING)`), and the rules a frame must keep.
//! Frames print as PostgreSQL writes them: their offsets are whole numbers the parser read, never
//! a caller's text.

use std::fmt;

use crate::ast::{Expr, OrderItem};

/// The rows a window function sees.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Window {
    /// `PARTITION BY`: rows with equal values share a window.
    pub partition: Vec<Expr>,
    /// `ORDER BY` within the window.
    pub order: Vec<OrderItem>,
    /// Which of the ordered rows, around the current one.
    pub frame: Option<Frame>,
}

/// `ROWS`, `RANGE` or `GROUPS`, from a start to an end, maybe excluding some rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// What the offsets count.
    pub units: FrameUnits,
    /// Where the frame starts.
    pub start: FrameBound,
    /// Where it ends (`CURRENT ROW` when not said).
    pub end: Option<FrameBound>,
    /// Rows left out of it.
    pub exclude: Option<FrameExclusion>,
}

/// What a frame's offsets count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameUnits {
    /// Rows.
    Rows,
    /// Values of the one ordering key.
    Range,
    /// Groups of rows with equal ordering keys.
    Groups,
}

/// One end of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameBound {
    /// `UNBOUNDED PRECEDING`.
    UnboundedPreceding,
    /// `n PRECEDING`.
    Preceding(u64),
    /// `CURRENT ROW`.
    CurrentRow,
    /// `n FOLLOWING`.
    Following(u64),
    /// `UNBOUNDED FOLLOWING`.
    UnboundedFollowing,
}

/// `EXCLUDE …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameExclusion {
    /// `EXCLUDE CURRENT ROW`.
    CurrentRow,
    /// `EXCLUDE GROUP`.
    Group,
    /// `EXCLUDE TIES`.
    Ties,
    /// `EXCLUDE NO OTHERS`.
    NoOthers,
}

impl FrameBound {
    /// Where the bound lies, from the first row to the last.
    fn rank(self) -> u8 {
        match self {
            FrameBound::UnboundedPreceding => 0,
            FrameBound::Preceding(_) => 1,
            FrameBound::CurrentRow => 2,
            FrameBound::Following(_) => 3,
            FrameBound::UnboundedFollowing => 4,
        }
    }

    /// Whether the bound is so many rows, values or groups away.
    pub fn has_offset(self) -> bool {
        matches!(self, FrameBound::Preceding(_) | FrameBound::Following(_))
    }
}

impl Frame {
    /// Why the frame cannot be, if it cannot: it must start before it ends, never at the very
    /// end nor end at the very start, as PostgreSQL requires.
    pub fn problem(&self) -> Option<&'static str> {
        let end = self.end.unwrap_or(FrameBound::CurrentRow);
        if self.start == FrameBound::UnboundedFollowing {
            return Some("a frame cannot start at UNBOUNDED FOLLOWING");
        }
        if end == FrameBound::UnboundedPreceding {
            return Some("a frame cannot end at UNBOUNDED PRECEDING");
        }
        if end.rank() < self.start.rank() {
            return Some("a frame must not end before it starts");
        }
        None
    }

    /// Whether either end is an offset.
    pub fn has_offset(&self) -> bool {
        self.start.has_offset() || self.end.is_some_and(FrameBound::has_offset)
    }
}

impl fmt::Display for FrameBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameBound::UnboundedPreceding => f.write_str("UNBOUNDED PRECEDING"),
            FrameBound::Preceding(n) => write!(f, "{n} PRECEDING"),
            FrameBound::CurrentRow => f.write_str("CURRENT ROW"),
            FrameBound::Following(n) => write!(f, "{n} FOLLOWING"),
            FrameBound::UnboundedFollowing => f.write_str("UNBOUNDED FOLLOWING"),
        }
    }
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.units {
            FrameUnits::Rows => "ROWS ",
            FrameUnits::Range => "RANGE ",
            FrameUnits::Groups => "GROUPS ",
        })?;
        match self.end {
            Some(end) => write!(f, "BETWEEN {} AND {end}", self.start)?,
            None => write!(f, "{}", self.start)?,
        }
        match self.exclude {
            Some(FrameExclusion::CurrentRow) => f.write_str(" EXCLUDE CURRENT ROW"),
            Some(FrameExclusion::Group) => f.write_str(" EXCLUDE GROUP"),
            Some(FrameExclusion::Ties) => f.write_str(" EXCLUDE TIES"),
            Some(FrameExclusion::NoOthers) => f.write_str(" EXCLUDE NO OTHERS"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.partition.is_empty() {
            let keys: Vec<String> = self.partition.iter().map(ToString::to_string).collect();
            parts.push(format!("PARTITION BY {}", keys.join(", ")));
        }
        if !self.order.is_empty() {
            let keys: Vec<String> = self.order.iter().map(ToString::to_string).collect();
            parts.push(format!("ORDER BY {}", keys.join(", ")));
        }
        if let Some(frame) = &self.frame {
            parts.push(frame.to_string());
        }
        write!(f, "OVER ({})", parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(start: FrameBound, end: Option<FrameBound>) -> Frame {
        Frame {
            units: FrameUnits::Rows,
            start,
            end,
            exclude: None,
        }
    }

    #[test]
    fn frames_keep_postgresqls_rules() {
        use FrameBound::*;
        assert_eq!(frame(Preceding(2), Some(Following(1))).problem(), None);
        assert_eq!(frame(Preceding(1), Some(Preceding(5))).problem(), None);
        assert_eq!(frame(UnboundedPreceding, None).problem(), None);
        for (start, end) in [
            (UnboundedFollowing, Some(UnboundedFollowing)),
            (UnboundedPreceding, Some(UnboundedPreceding)),
            (CurrentRow, Some(Preceding(1))),
            (Following(1), Some(CurrentRow)),
            (Following(1), None),
        ] {
            assert!(frame(start, end).problem().is_some(), "{start} {end:?}");
        }
    }

    #[test]
    fn frames_print_as_sql() {
        let frame = Frame {
            units: FrameUnits::Range,
            start: FrameBound::Preceding(123),
            end: Some(FrameBound::UnboundedFollowing),
            exclude: Some(FrameExclusion::Ties),
        };
        assert_eq!(
            frame.to_string(),
            "RANGE BETWEEN 123 PRECEDING AND UNBOUNDED FOLLOWING EXCLUDE TIES"
        );
    }
}
