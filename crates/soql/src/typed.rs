//! The typed tree: what type checking ([`crate::check`]) makes of an expression and SQL rendering
//! ([`crate::render`]) turns into SQL. Every node knows its type, whether it contains an
//! aggregate, its weight (the parts its SQL will hold) and where it was written; names are
//! resolved, literals read as the type they meet, and every function is its entry in
//! [`crate::functions::functions`].

use crate::ast::{BinaryOp, Nulls};
use crate::error::Position;
use crate::functions::Function;
use crate::geometry::Polygon;
use crate::types::SoqlType;
use crate::window::Frame;

/// A checked expression.
#[derive(Debug, Clone)]
pub(crate) struct Typed {
    pub(crate) node: Node,
    pub(crate) ty: SoqlType,
    /// Whether it contains an aggregate.
    pub(crate) aggregate: bool,
    /// The values, names, operators and calls its SQL holds, each copy counted: SQL that repeats
    /// an operand (a distance repeats each point three times) holds it that many times, so
    /// nesting such calls grows the SQL geometrically, and the checker bounds this.
    pub(crate) weight: usize,
    /// Where it starts.
    pub(crate) position: Position,
}

/// What a checked expression is.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// A column or system field, its quoted identifier.
    Column(String),
    /// A string literal whose type is not fixed yet; it renders as a text parameter unless it
    /// meets another type first.
    TextLiteral(String),
    /// A literal read as a type: its canonical text, bound as a parameter of `sql_type`.
    Param {
        value: String,
        sql_type: &'static str,
    },
    /// `NULL`, cast to the node's type once it has one.
    Null,
    /// The point of a location value.
    LocationPoint(Box<Typed>),
    /// A WKT polygon argument, parsed.
    Polygons(Vec<Polygon>),
    Not(Box<Typed>),
    Sign {
        minus: bool,
        operand: Box<Typed>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Typed>,
        right: Box<Typed>,
    },
    /// A call; over a window, a window function or an aggregate of the window's rows.
    Call {
        function: &'static Function,
        args: Vec<Typed>,
        distinct: bool,
        star: bool,
        window: Option<Box<TypedWindow>>,
    },
    /// A conversion of the operand to the node's type.
    Cast(Box<Typed>),
    In {
        value: Box<Typed>,
        list: Vec<Typed>,
        negated: bool,
    },
    Between {
        value: Box<Typed>,
        low: Box<Typed>,
        high: Box<Typed>,
        negated: bool,
    },
    Like {
        value: Box<Typed>,
        pattern: Box<Typed>,
        negated: bool,
    },
    IsNull {
        value: Box<Typed>,
        negated: bool,
    },
    Case {
        branches: Vec<(Typed, Typed)>,
        otherwise: Option<Box<Typed>>,
    },
}

/// A checked window.
#[derive(Debug, Clone)]
pub(crate) struct TypedWindow {
    pub(crate) partition: Vec<Typed>,
    pub(crate) order: Vec<WindowKey>,
    pub(crate) frame: Option<Frame>,
}

/// One ordering key of a window.
#[derive(Debug, Clone)]
pub(crate) struct WindowKey {
    pub(crate) key: Typed,
    pub(crate) descending: bool,
    pub(crate) nulls: Option<Nulls>,
}

impl TypedWindow {
    /// The partition keys, then the ordering keys.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &Typed> {
        self.partition
            .iter()
            .chain(self.order.iter().map(|order| &order.key))
    }
}

impl Typed {
    /// A node of `ty` written at `position`; whether it aggregates and its weight follow from
    /// its parts.
    pub(crate) fn new(node: Node, ty: SoqlType, position: Position) -> Typed {
        let (aggregate, weight) = node.summary();
        Typed {
            node,
            ty,
            aggregate,
            weight,
            position,
        }
    }

    /// Whether it is a literal still waiting for a type (a string or a bare `null`).
    pub(crate) fn is_untyped_literal(&self) -> bool {
        matches!(self.node, Node::TextLiteral(_)) || self.ty == SoqlType::Null
    }
}

impl Node {
    /// Whether the node contains an aggregate, and its weight (see [`Typed::weight`]).
    fn summary(&self) -> (bool, usize) {
        let mut aggregate = false;
        let mut weight = 1usize;
        let mut part = |child: &Typed, copies: usize| {
            aggregate |= child.aggregate;
            weight = weight.saturating_add(child.weight.saturating_mul(copies));
        };
        match self {
            Node::Column(_) | Node::TextLiteral(_) | Node::Param { .. } | Node::Null => {}
            Node::Polygons(polygons) => {
                weight = weight.saturating_add(polygons.iter().map(Vec::len).sum());
            }
            Node::LocationPoint(location) => part(location, 2),
            Node::Not(operand) | Node::Sign { operand, .. } | Node::Cast(operand) => {
                part(operand, 1)
            }
            Node::Binary { op, left, right } => {
                // A number's power writes its base twice and its exponent three times (see
                // `render`).
                if *op == BinaryOp::Pow && left.ty == SoqlType::Number {
                    part(left, 2);
                    part(right, 3);
                } else {
                    part(left, 1);
                    part(right, 1);
                }
            }
            Node::Call {
                function,
                args,
                window,
                ..
            } => {
                for (index, arg) in args.iter().enumerate() {
                    part(arg, function.copies(args, index));
                }
                match window {
                    // Over a window a call is computed for each row (after grouping): not an
                    // aggregate itself, unless what it reads is.
                    Some(window) => window.keys().for_each(|key| part(key, 1)),
                    None => aggregate |= function.aggregates(),
                }
            }
            Node::In { value, list, .. } => {
                part(value, 1);
                list.iter().for_each(|item| part(item, 1));
            }
            Node::Between {
                value, low, high, ..
            } => [value, low, high].into_iter().for_each(|p| part(p, 1)),
            Node::Like { value, pattern, .. } => {
                part(value, 1);
                part(pattern, 1);
            }
            Node::IsNull { value, .. } => part(value, 1),
            Node::Case {
                branches,
                otherwise,
            } => {
                for (condition, value) in branches {
                    part(condition, 1);
                    part(value, 1);
                }
                otherwise.iter().for_each(|otherwise| part(otherwise, 1));
            }
        }
        (aggregate, weight)
    }
}
