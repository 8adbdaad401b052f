//! The SoQL syntax tree, and its printing back to SoQL text. Printing puts every compound
//! expression in parentheses, so what is printed parses to the same tree.

use std::fmt;

use crate::error::Position;
use crate::window::Window;

/// Where a node starts. Ignored when trees are compared, so a printed and re-parsed tree equals the
/// original.
#[derive(Debug, Clone, Copy, Default)]
pub struct Span(pub Position);

impl PartialEq for Span {
    fn eq(&self, _other: &Span) -> bool {
        true
    }
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string.
    Text(String),
    /// A number, as written.
    Number(String),
    /// `true` or `false`.
    Boolean(bool),
    /// `null`.
    Null,
}

/// A prefix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `NOT`.
    Not,
    /// `-`.
    Minus,
    /// `+`.
    Plus,
}

/// An infix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `OR`.
    Or,
    /// `AND`.
    And,
    /// `=`.
    Eq,
    /// `!=` or `<>`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `%`.
    Mod,
    /// `^`: power.
    Pow,
    /// `||`.
    Concat,
}

impl BinaryOp {
    /// Every operator.
    pub const ALL: [BinaryOp; 15] = [
        BinaryOp::Or,
        BinaryOp::And,
        BinaryOp::Eq,
        BinaryOp::Ne,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Gt,
        BinaryOp::Ge,
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Mod,
        BinaryOp::Pow,
        BinaryOp::Concat,
    ];

    /// The operator as SoQL (and SQL) writes it.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "OR",
            BinaryOp::And => "AND",
            BinaryOp::Eq => "=",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Concat => "||",
        }
    }

    /// A word for the operator, used in implicit output names.
    pub fn word(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "eq",
            BinaryOp::Ne => "ne",
            BinaryOp::Lt => "lt",
            BinaryOp::Le => "le",
            BinaryOp::Gt => "gt",
            BinaryOp::Ge => "ge",
            BinaryOp::Add => "plus",
            BinaryOp::Sub => "minus",
            BinaryOp::Mul => "times",
            BinaryOp::Div => "div",
            BinaryOp::Mod => "mod",
            BinaryOp::Pow => "pow",
            BinaryOp::Concat => "concat",
        }
    }
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A column, system field or alias.
    Column {
        /// The name.
        name: String,
        /// Where.
        span: Span,
    },
    /// A literal.
    Literal {
        /// The value.
        value: Literal,
        /// Where.
        span: Span,
    },
    /// A prefix operation.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<Expr>,
        /// Where.
        span: Span,
    },
    /// An infix operation.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
        /// Where.
        span: Span,
    },
    /// A function call; `count(*)` has `star`, `count(distinct x)` has `distinct`.
    Call {
        /// Lowercase function name.
        name: String,
        /// Arguments.
        args: Vec<Expr>,
        /// `DISTINCT` before the arguments.
        distinct: bool,
        /// `*` as the argument.
        star: bool,
        /// `OVER (…)`: a window function, or an aggregate over a window of rows.
        window: Option<Box<Window>>,
        /// Where.
        span: Span,
    },
    /// `expr::type`.
    Cast {
        /// The value.
        expr: Box<Expr>,
        /// Lowercase type name.
        to: String,
        /// Where.
        span: Span,
    },
    /// `expr [NOT] IN (list)`.
    In {
        /// The value.
        expr: Box<Expr>,
        /// The candidates.
        list: Vec<Expr>,
        /// `NOT IN`.
        negated: bool,
        /// Where.
        span: Span,
    },
    /// `expr [NOT] BETWEEN low AND high`.
    Between {
        /// The value.
        expr: Box<Expr>,
        /// Lower bound.
        low: Box<Expr>,
        /// Upper bound.
        high: Box<Expr>,
        /// `NOT BETWEEN`.
        negated: bool,
        /// Where.
        span: Span,
    },
    /// `expr [NOT] LIKE pattern`.
    Like {
        /// The value.
        expr: Box<Expr>,
        /// The pattern.
        pattern: Box<Expr>,
        /// `NOT LIKE`.
        negated: bool,
        /// Where.
        span: Span,
    },
    /// `expr IS [NOT] NULL`.
    IsNull {
        /// The value.
        expr: Box<Expr>,
        /// `IS NOT NULL`.
        negated: bool,
        /// Where.
        span: Span,
    },
    /// `param(@view, 'name')` or `param('name')`: a parameter of a saved query, which Socrata
    /// fills in from the values the query was saved with.
    SavedQueryParam {
        /// The view whose parameter it is (`@aaaa-aaaa`), if named.
        view: Option<String>,
        /// The parameter's name.
        name: String,
        /// Where.
        span: Span,
    },
    /// `value.field`: a part of a point, location or url value (`location.latitude`,
    /// `link.description`).
    Field {
        /// The value, a column.
        expr: Box<Expr>,
        /// Lowercase field name.
        field: String,
        /// Where.
        span: Span,
    },
    /// `CASE WHEN c THEN v ... [ELSE v] END`.
    Case {
        /// Conditions and values.
        branches: Vec<(Expr, Expr)>,
        /// The value when no condition holds.
        otherwise: Option<Box<Expr>>,
        /// Where.
        span: Span,
    },
}

/// How big an expression is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Nodes on the longest path from the root to a leaf (a lone value is 1).
    pub depth: usize,
    /// Nodes in all.
    pub nodes: usize,
}

impl Expr {
    /// The expressions directly inside this one, in order.
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Column { .. } | Expr::Literal { .. } | Expr::SavedQueryParam { .. } => Vec::new(),
            Expr::Unary { expr, .. }
            | Expr::Cast { expr, .. }
            | Expr::IsNull { expr, .. }
            | Expr::Field { expr, .. } => vec![expr],
            Expr::Binary { left, right, .. } => vec![left, right],
            Expr::Like { expr, pattern, .. } => vec![expr, pattern],
            Expr::Between {
                expr, low, high, ..
            } => vec![expr, low, high],
            Expr::Call { args, window, .. } => match window {
                Some(window) => args
                    .iter()
                    .chain(&window.partition)
                    .chain(window.order.iter().map(|item| &item.expr))
                    .collect(),
                None => args.iter().collect(),
            },
            Expr::In { expr, list, .. } => std::iter::once(&**expr).chain(list).collect(),
            Expr::Case {
                branches,
                otherwise,
                ..
            } => branches
                .iter()
                .flat_map(|(condition, value)| [condition, value])
                .chain(otherwise.as_deref())
                .collect(),
        }
    }

    /// Measures the tree without recursion, so a hostile tree cannot exhaust the stack here.
    pub fn size(&self) -> Size {
        let mut size = Size { depth: 0, nodes: 0 };
        let mut pending = vec![(self, 1)];
        while let Some((expr, depth)) = pending.pop() {
            size.nodes += 1;
            size.depth = size.depth.max(depth);
            pending.extend(expr.children().into_iter().map(|child| (child, depth + 1)));
        }
        size
    }

    /// Where the expression starts.
    pub fn position(&self) -> Position {
        match self {
            Expr::Column { span, .. }
            | Expr::Literal { span, .. }
            | Expr::Unary { span, .. }
            | Expr::Binary { span, .. }
            | Expr::Call { span, .. }
            | Expr::Cast { span, .. }
            | Expr::In { span, .. }
            | Expr::Between { span, .. }
            | Expr::Like { span, .. }
            | Expr::IsNull { span, .. }
            | Expr::Field { span, .. }
            | Expr::SavedQueryParam { span, .. }
            | Expr::Case { span, .. } => span.0,
        }
    }
}

/// One item of a select list.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// `*`: every column.
    Star,
    /// `:*`: every system field.
    SystemStar,
    /// An expression with an optional alias.
    Expr {
        /// The expression.
        expr: Expr,
        /// `AS alias`.
        alias: Option<String>,
    },
}

impl Selection {
    /// The selected expression, unless this is `*` or `:*`.
    pub fn expr(&self) -> Option<&Expr> {
        match self {
            Selection::Expr { expr, .. } => Some(expr),
            Selection::Star | Selection::SystemStar => None,
        }
    }
}

/// `NULLS FIRST` or `NULLS LAST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nulls {
    /// Nulls before values.
    First,
    /// Nulls after values.
    Last,
}

/// One ordering key.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    /// What to order by.
    pub expr: Expr,
    /// `DESC`.
    pub descending: bool,
    /// Where nulls go, when said.
    pub nulls: Option<Nulls>,
}

/// Whether a query answers each row once.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Distinct {
    /// Every row.
    #[default]
    No,
    /// `SELECT DISTINCT`: each different row once.
    All,
    /// `SELECT DISTINCT ON (…)`: the first row (in `ORDER BY`'s order) of each different value
    /// of these.
    On(Vec<Expr>),
}

impl Distinct {
    /// The values of `DISTINCT ON (…)`, or none.
    pub fn on(&self) -> &[Expr] {
        match self {
            Distinct::On(exprs) => exprs,
            Distinct::No | Distinct::All => &[],
        }
    }
}

/// A whole query, clause by clause.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// `SELECT DISTINCT [ON (…)]`.
    pub distinct: Distinct,
    /// The select list; empty means every column.
    pub select: Vec<Selection>,
    /// `WHERE`.
    pub filter: Option<Expr>,
    /// `GROUP BY`.
    pub group: Vec<Expr>,
    /// `HAVING`.
    pub having: Option<Expr>,
    /// `ORDER BY`.
    pub order: Vec<OrderItem>,
    /// `SEARCH`: full-text search over the text columns.
    pub search: Option<String>,
    /// `LIMIT`.
    pub limit: Option<u64>,
    /// `OFFSET`.
    pub offset: Option<u64>,
}

impl Query {
    /// Every expression of every clause.
    pub fn expressions(&self) -> Vec<&Expr> {
        self.select
            .iter()
            .filter_map(Selection::expr)
            .chain(self.distinct.on())
            .chain(&self.filter)
            .chain(&self.group)
            .chain(&self.having)
            .chain(self.order.iter().map(|item| &item.expr))
            .collect()
    }
}

const KEYWORDS: [&str; 24] = [
    "and", "or", "not", "in", "is", "null", "between", "like", "true", "false", "case", "when",
    "then", "else", "end", "as", "asc", "desc", "nulls", "select", "where", "distinct", "search",
    "from",
];

/// Whether a word is reserved (a column with that name must be backquoted).
pub fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word.to_ascii_lowercase().as_str())
}

fn write_name(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    let plain = name.starts_with(|c: char| c.is_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !is_keyword(name);
    let system = name.starts_with(':')
        && name.len() > 1
        && name[1..]
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '@');
    if plain || system {
        f.write_str(name)
    } else {
        write!(f, "`{}`", name.replace('`', "``"))
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Text(text) => write!(f, "'{}'", text.replace('\'', "''")),
            Literal::Number(number) => f.write_str(number),
            Literal::Boolean(value) => f.write_str(if *value { "true" } else { "false" }),
            Literal::Null => f.write_str("null"),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = |negated: bool| if negated { "NOT " } else { "" };
        match self {
            Expr::Column { name, .. } => write_name(f, name),
            Expr::Literal { value, .. } => write!(f, "{value}"),
            Expr::Unary { op, expr, .. } => match op {
                UnaryOp::Not => write!(f, "(NOT {expr})"),
                UnaryOp::Minus => write!(f, "(-{expr})"),
                UnaryOp::Plus => write!(f, "(+{expr})"),
            },
            Expr::Binary {
                op, left, right, ..
            } => write!(f, "({left} {} {right})", op.symbol()),
            Expr::Call {
                name,
                args,
                distinct,
                star,
                window,
                ..
            } => {
                write!(f, "{name}(")?;
                if *star {
                    f.write_str("*")?;
                } else {
                    if *distinct {
                        f.write_str("DISTINCT ")?;
                    }
                    write_list(f, args)?;
                }
                f.write_str(")")?;
                match window {
                    Some(window) => write!(f, " {window}"),
                    None => Ok(()),
                }
            }
            Expr::Cast { expr, to, .. } => write!(f, "({expr}::{to})"),
            Expr::In {
                expr,
                list,
                negated,
                ..
            } => {
                write!(f, "({expr} {}IN (", not(*negated))?;
                write_list(f, list)?;
                f.write_str("))")
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
                ..
            } => {
                write!(f, "({expr} {}BETWEEN {low} AND {high})", not(*negated))
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                ..
            } => write!(f, "({expr} {}LIKE {pattern})", not(*negated)),
            Expr::IsNull { expr, negated, .. } => write!(f, "({expr} IS {}NULL)", not(*negated)),
            Expr::Field { expr, field, .. } => write!(f, "{expr}.{field}"),
            Expr::SavedQueryParam { view, name, .. } => {
                f.write_str("param(")?;
                if let Some(view) = view {
                    write!(f, "@{view}, ")?;
                }
                write!(f, "{})", Literal::Text(name.clone()))
            }
            Expr::Case {
                branches,
                otherwise,
                ..
            } => {
                f.write_str("CASE")?;
                for (condition, value) in branches {
                    write!(f, " WHEN {condition} THEN {value}")?;
                }
                if let Some(otherwise) = otherwise {
                    write!(f, " ELSE {otherwise}")?;
                }
                f.write_str(" END")
            }
        }
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selection::Star => f.write_str("*"),
            Selection::SystemStar => f.write_str(":*"),
            Selection::Expr { expr, alias } => {
                write!(f, "{expr}")?;
                if let Some(alias) = alias {
                    f.write_str(" AS ")?;
                    write_name(f, alias)?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for OrderItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            self.expr,
            if self.descending { "DESC" } else { "ASC" }
        )?;
        match self.nulls {
            Some(Nulls::First) => f.write_str(" NULLS FIRST"),
            Some(Nulls::Last) => f.write_str(" NULLS LAST"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        match &self.distinct {
            Distinct::No => {}
            Distinct::All => f.write_str("DISTINCT ")?,
            Distinct::On(exprs) => {
                f.write_str("DISTINCT ON (")?;
                write_list(f, exprs)?;
                f.write_str(") ")?;
            }
        }
        if self.select.is_empty() {
            f.write_str("*")?;
        }
        for (index, selection) in self.select.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{selection}")?;
        }
        if let Some(filter) = &self.filter {
            write!(f, " WHERE {filter}")?;
        }
        if !self.group.is_empty() {
            f.write_str(" GROUP BY ")?;
            write_list(f, &self.group)?;
        }
        if let Some(having) = &self.having {
            write!(f, " HAVING {having}")?;
        }
        if !self.order.is_empty() {
            f.write_str(" ORDER BY ")?;
            for (index, item) in self.order.iter().enumerate() {
                if index > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{item}")?;
            }
        }
        if let Some(search) = &self.search {
            write!(f, " SEARCH {}", Literal::Text(search.clone()))?;
        }
        if let Some(limit) = self.limit {
            write!(f, " LIMIT {limit}")?;
        }
        if let Some(offset) = self.offset {
            write!(f, " OFFSET {offset}")?;
        }
        Ok(())
    }
}
