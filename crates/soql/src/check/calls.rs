//! Calls: a call checked against its row of the function table, over a window or not (the
//! window itself is checked in [`super::windows`]); and the fields of point, location and url
//! values, each a call.

use opendata_limits::SOQL_SHAPE_VERTICES;

use super::*;
use crate::functions::{Args, Function, Kind, Param, Returns, functions, is_aggregate, lookup};
use crate::geometry::{parse_polygons, parse_shape};
use crate::typed::TypedWindow;

impl Checker {
    /// A call (an [`Expr::Call`]), over its window if it has one.
    pub(super) fn call(&mut self, expr: &Expr, scope: &Scope<'_>) -> Result<Typed, SoqlError> {
        let position = expr.position();
        let Expr::Call {
            name,
            args,
            distinct,
            star,
            window,
            ..
        } = expr
        else {
            // `node` passes calls only.
            return Err(SoqlError::malformed(position, "expected a function call"));
        };
        let function = lookup(name);
        if let Some(function) = function
            && function.needs_postgis()
            && !self.extensions.postgis
        {
            return Err(SoqlError::new(
                ErrorKind::NoSuchFunction,
                position,
                format!(
                    "{name} needs PostGIS, which this portal's database does not have; \
                     its operators can add it (CREATE EXTENSION postgis)"
                ),
            )
            .named(name));
        }
        if window.is_some() && scope.allows < Allows::Windows {
            return Err(SoqlError::mismatch(
                position,
                "window functions (OVER) are allowed only in $select and $order, and not \
                 inside aggregates or other windows",
            ));
        }
        let aggregates = is_aggregate(name);
        if aggregates && scope.allows < Allows::Aggregates {
            return Err(SoqlError::mismatch(
                position,
                format!("{name} is an aggregate, not allowed here (use $having)"),
            ));
        }
        // An aggregate's or a window's arguments hold no window.
        let inner = Scope {
            allows: if aggregates || window.is_some() {
                scope.allows.min(Allows::Aggregates)
            } else {
                scope.allows
            },
            ..*scope
        };
        let args = args
            .iter()
            .map(|a| self.expr(a, &inner))
            .collect::<Result<Vec<_>, _>>()?;
        let window = match window {
            Some(window) => Some(self.window(window, scope, position)?),
            None => None,
        };
        call(name, args, *distinct, *star, window, position)
    }
}

/// `value.field`: the call of the function that reads that part of the value's type
/// (`location.latitude` is `location_latitude(location)`), so the function table says which
/// fields each type has.
pub(super) fn field_call(
    value: Typed,
    field: &str,
    position: Position,
) -> Result<Typed, SoqlError> {
    let prefix = match value.ty {
        SoqlType::Point => "point",
        SoqlType::Location => "location",
        SoqlType::Url => "url",
        other => {
            return Err(SoqlError::mismatch(
                position,
                format!("{} values have no fields", other.name()),
            ));
        }
    };
    let name = format!("{prefix}_{field}");
    if lookup(&name).is_none() {
        let fields: Vec<&str> = functions()
            .filter_map(|function| function.name.strip_prefix(prefix)?.strip_prefix('_'))
            .collect();
        return Err(SoqlError::mismatch(
            position,
            format!(
                "{prefix} values have no field `{}`; they have {}",
                opendata_limits::excerpt(field),
                fields.join(", ")
            ),
        ));
    }
    call(&name, vec![value], false, false, None, position)
}

/// Checks a call of `name` against its row of the function table, over `window` if given (a
/// window function, or an aggregate over a window, whose arguments may be aggregates of the
/// group).
fn call(
    name: &str,
    args: Vec<Typed>,
    distinct: bool,
    star: bool,
    window: Option<Box<TypedWindow>>,
    position: Position,
) -> Result<Typed, SoqlError> {
    let windowed = window.is_some();
    let function = lookup(name);
    let kind = function.map(|f| f.kind);
    let aggregates = matches!(kind, Some(Kind::Aggregate | Kind::Counting));
    if let Some(nested) = args
        .iter()
        .find(|a| a.aggregate)
        .filter(|_| aggregates && !windowed)
    {
        return Err(SoqlError::mismatch(
            nested.position,
            "aggregates cannot be nested",
        ));
    }
    if windowed {
        if function.is_some_and(|f| !f.takes_over()) {
            return Err(SoqlError::mismatch(
                position,
                format!(
                    "{name} cannot take OVER: only aggregates (but PostGIS's) and window \
                     functions do"
                ),
            ));
        }
        if distinct {
            return Err(SoqlError::mismatch(
                position,
                format!("{name} cannot take both DISTINCT and OVER"),
            ));
        }
    } else if kind == Some(Kind::Window) {
        return Err(SoqlError::mismatch(
            position,
            format!("{name} is a window function: it needs OVER (…)"),
        ));
    }
    let counting = function.is_some_and(|f| f.kind == Kind::Counting);
    if (distinct || star) && !counting {
        return Err(no_such_function(
            name,
            position,
            if star { "(*)" } else { " with DISTINCT" },
        ));
    }
    let Some(function) = function else {
        return Err(no_such_function(name, position, ""));
    };
    let (args, ty) = if star {
        (Vec::new(), SoqlType::Number)
    } else {
        arguments(function, args, position)?
    };
    // A gathering aggregate takes the rows' geometries, or one its argument gathered already;
    // an expression mixing aggregates with the rows' values is neither.
    if function.kind == Kind::Gathering
        && let Some(arg) = args.first()
        && arg.aggregate
        && !matches!(&arg.node, Node::Call { function, window: None, .. } if function.aggregates())
    {
        return Err(SoqlError::mismatch(
            arg.position,
            format!(
                "{name} takes the rows' points, or one geometry an aggregate gathered \
                 (spatial_union(…)), not an expression of aggregates"
            ),
        ));
    }
    Ok(Typed::new(
        Node::Call {
            function,
            args,
            distinct,
            star,
            window,
        },
        ty,
        position,
    ))
}

/// The arguments of a call, each checked against its parameter, and the call's type.
fn arguments(
    function: &'static Function,
    args: Vec<Typed>,
    position: Position,
) -> Result<(Vec<Typed>, SoqlType), SoqlError> {
    let name = function.name;
    let (args, shared) = match &function.args {
        Args::Fixed { params, optional } => {
            let most = params.len();
            let least = most - optional;
            if !(least..=most).contains(&args.len()) {
                let expected = if least == most {
                    format!("{most}")
                } else {
                    format!("{least} to {most}")
                };
                return Err(no_such_function(
                    name,
                    position,
                    &format!(" with {} arguments (it takes {expected})", args.len()),
                ));
            }
            let args = args
                .into_iter()
                .zip(params.iter())
                .map(|(arg, param)| argument(name, arg, *param))
                .collect::<Result<Vec<_>, _>>()?;
            (args, None)
        }
        Args::Same { ordered } => {
            if args.is_empty() {
                return Err(no_such_function(name, position, " without arguments"));
            }
            let (args, ty) = unify(args, &format!("the arguments of {name}"))?;
            if *ordered && !ty.is_ordered() {
                return Err(SoqlError::mismatch(
                    position,
                    format!("{name} cannot compare {} values", ty.name()),
                ));
            }
            (args, Some(ty))
        }
        Args::Pairs => {
            if args.len() < 2 || !args.len().is_multiple_of(2) {
                return Err(no_such_function(
                    name,
                    position,
                    " with an odd number of arguments (it takes condition, value pairs)",
                ));
            }
            let mut conditions = Vec::new();
            let mut values = Vec::new();
            for (index, arg) in args.into_iter().enumerate() {
                if index % 2 == 0 {
                    conditions.push(argument(name, arg, Param::Boolean)?);
                } else {
                    values.push(arg);
                }
            }
            let (values, ty) = unify(values, "case values")?;
            let pairs = conditions
                .into_iter()
                .zip(values)
                .flat_map(|(condition, value)| [condition, value])
                .collect();
            (pairs, Some(ty))
        }
    };
    let ty = match function.returns {
        Returns::Is(ty) => ty,
        Returns::First => match args.first().map(|arg| arg.ty) {
            Some(SoqlType::Null) | None => SoqlType::Text,
            Some(ty) => ty,
        },
        Returns::Shared => shared.unwrap_or(SoqlType::Null),
    };
    Ok((args, ty))
}

/// The WKT text of a `what` argument of `function`, which must be a string literal.
fn wkt_of<'a>(function: &str, arg: &'a Typed, what: &str) -> Result<&'a str, SoqlError> {
    match &arg.node {
        Node::TextLiteral(wkt) => Ok(wkt),
        _ => Err(SoqlError::mismatch(
            arg.position,
            format!("{function} takes the {what} as a WKT string"),
        )),
    }
}

/// Refuses a WKT argument of more than [`SOQL_SHAPE_VERTICES`].
fn within_vertex_limit(vertices: usize, position: Position) -> Result<(), SoqlError> {
    if vertices > SOQL_SHAPE_VERTICES.get() {
        return Err(SoqlError::over_limit(
            SOQL_SHAPE_VERTICES,
            position,
            format!(
                "the shape has {vertices} vertices; at most {} are allowed",
                SOQL_SHAPE_VERTICES.value
            ),
        ));
    }
    Ok(())
}

/// One argument of `function`, checked against what the parameter takes.
fn argument(function: &str, arg: Typed, param: Param) -> Result<Typed, SoqlError> {
    let position = arg.position;
    let exactly = |arg: Typed, ty: SoqlType| {
        let found = arg.ty;
        coerce(arg, ty).map_err(|_| {
            SoqlError::mismatch(
                position,
                format!(
                    "{function} expects a {} here, not a {}",
                    ty.name(),
                    found.name()
                ),
            )
        })
    };
    match param {
        Param::Text => exactly(arg, SoqlType::Text),
        Param::Number => exactly(arg, SoqlType::Number),
        Param::Double => exactly(arg, SoqlType::Double),
        Param::Boolean => exactly(arg, SoqlType::Boolean),
        Param::Numeric => {
            let ty = if arg.ty == SoqlType::Double {
                SoqlType::Double
            } else {
                SoqlType::Number
            };
            exactly(arg, ty)
        }
        Param::Timestamp => {
            let ty = if arg.ty == SoqlType::FixedTimestamp {
                SoqlType::FixedTimestamp
            } else {
                SoqlType::FloatingTimestamp
            };
            exactly(arg, ty)
        }
        Param::Point if arg.ty == SoqlType::Location => Ok(Typed::new(
            Node::LocationPoint(boxed(arg)),
            SoqlType::Point,
            position,
        )),
        Param::Point => exactly(arg, SoqlType::Point),
        Param::Location => exactly(arg, SoqlType::Location),
        Param::Geometry => match arg.ty {
            SoqlType::Location => Ok(Typed::new(
                Node::LocationPoint(boxed(arg)),
                SoqlType::Point,
                position,
            )),
            SoqlType::Point | SoqlType::MultiPoint | SoqlType::MultiPolygon => Ok(arg),
            _ => exactly(arg, SoqlType::Point),
        },
        Param::Shape => {
            let (canonical, vertices) = parse_shape(wkt_of(function, &arg, "shape")?, position)?;
            within_vertex_limit(vertices, position)?;
            Ok(Typed::new(
                Node::Param {
                    value: canonical,
                    sql_type: "text",
                },
                SoqlType::Text,
                position,
            ))
        }
        Param::Url => exactly(arg, SoqlType::Url),
        Param::Ordered if !arg.ty.is_ordered() => Err(SoqlError::mismatch(
            position,
            format!("{function} cannot compare {} values", arg.ty.name()),
        )),
        // A bare null meets nothing to take a type from: it is text, as PostgreSQL's
        // polymorphic functions need one.
        Param::Ordered | Param::Any if arg.ty == SoqlType::Null => coerce(arg, SoqlType::Text),
        Param::Ordered | Param::Any => Ok(arg),
        Param::Polygon => {
            let polygons = parse_polygons(wkt_of(function, &arg, "polygon")?, position)?;
            within_vertex_limit(polygons.iter().flatten().map(Vec::len).sum(), position)?;
            Ok(Typed::new(
                Node::Polygons(polygons),
                SoqlType::Text,
                position,
            ))
        }
    }
}
