//! The typed tree: what type checking ([`crate::check`]) makes of an expression and SQL rendering
//! ([`crate::render`]) turns into SQL. Every node knows its type, whether it contains an
//! aggregate and where it was written; names are resolved, literals read as the type they meet,
//! and every function is its entry in [`crate::functions::FUNCTIONS`].

use crate::ast::BinaryOp;
use crate::error::Position;
use crate::functions::Function;
use crate::geometry::Polygon;
use crate::types::SoqlType;

/// A checked expression.
#[derive(Debug, Clone)]
pub(crate) struct Typed {
    pub(crate) node: Node,
    pub(crate) ty: SoqlType,
    /// Whether it contains an aggregate.
    pub(crate) aggregate: bool,
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
    Call {
        function: &'static Function,
        args: Vec<Typed>,
        distinct: bool,
        star: bool,
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

impl Typed {
    /// A leaf: a column or a literal.
    pub(crate) fn leaf(node: Node, ty: SoqlType, position: Position) -> Typed {
        Typed {
            node,
            ty,
            aggregate: false,
            position,
        }
    }

    /// Whether it is a literal still waiting for a type (a string or a bare `null`).
    pub(crate) fn is_untyped_literal(&self) -> bool {
        matches!(self.node, Node::TextLiteral(_)) || self.ty == SoqlType::Null
    }
}
