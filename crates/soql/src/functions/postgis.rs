//! Geography with PostGIS: hulls, extents, unions, intersections and simplification. Only a
//! database with PostGIS runs these; without it the checker refuses them by name.

use super::*;

pub(super) static FUNCTIONS: &[Function] = &[
    Function {
        name: "convex_hull",
        kind: Kind::Gathering,
        usage: "convex_hull(geometry)",
        doc: "The smallest convex polygon around the points (or the geometry spatial_union gathered).",
        example: example(
            "convex_hull(location)",
            "ST_Multi(ST_ConvexHull(ST_Collect(ST_SetSRID((\"location\")::geometry, 4326))))",
            "{\"type\":\"MultiPolygon\",\"coordinates\":[[[[-72.95,41.67],[-72.87,41.79],[-72.86,41.8],[-72.59,41.98],[-72.67,41.77],[-72.68,41.76],[-72.95,41.67]]]]}",
        ),
        args: fixed(&[P::Geometry]),
        returns: Returns::Is(T::MultiPolygon),
        sql: Render::PostGis(convex_hull),
    },
    Function {
        name: "extent",
        kind: Kind::Gathering,
        usage: "extent(geometry)",
        doc: "The bounding box of the points (or of a gathered geometry).",
        example: example(
            "extent(location)",
            "ST_Multi(ST_Envelope(ST_Collect(ST_SetSRID((\"location\")::geometry, 4326))))",
            "{\"type\":\"MultiPolygon\",\"coordinates\":[[[[-72.95,41.67],[-72.95,41.98],[-72.59,41.98],[-72.59,41.67],[-72.95,41.67]]]]}",
        ),
        args: fixed(&[P::Geometry]),
        returns: Returns::Is(T::MultiPolygon),
        sql: Render::PostGis(extent),
    },
    Function {
        name: "spatial_union",
        kind: Kind::Aggregate,
        usage: "spatial_union(point)",
        doc: "The points gathered into one multipoint, each place once.",
        example: example(
            "spatial_union(location)",
            "ST_Multi(ST_Union(ST_SetSRID((\"location\")::geometry, 4326)))",
            "{\"type\":\"MultiPoint\",\"coordinates\":[[-72.95,41.67],[-72.87,41.79],[-72.86,41.8],[-72.68,41.76],[-72.67,41.77],[-72.59,41.98]]}",
        ),
        args: fixed(&[P::Geometry]),
        returns: Returns::Is(T::MultiPoint),
        sql: Render::PostGis(spatial_union),
    },
    Function {
        name: "intersects",
        kind: Kind::Scalar,
        usage: "intersects(geometry, 'WKT')",
        doc: "Whether the geometry meets the WKT point, line, polygon or multipolygon (its edge included).",
        example: example(
            "intersects(location, 'POLYGON ((-73 41, -72 41, -72 42, -73 42, -73 41))')",
            "ST_Intersects(ST_SetSRID((\"location\")::geometry, 4326), ST_MakeValid(ST_GeomFromText($1::text, 4326)))",
            "true",
        ),
        args: fixed(&[P::Geometry, P::Shape]),
        returns: Returns::Is(T::Boolean),
        sql: Render::PostGis(intersects),
    },
    Function {
        name: "num_points",
        kind: Kind::Scalar,
        usage: "num_points(geometry)",
        doc: "The vertices of the geometry (1 for a point).",
        example: example(
            "num_points(location)",
            "ST_NPoints(ST_SetSRID((\"location\")::geometry, 4326))::numeric",
            "1",
        ),
        args: fixed(&[P::Geometry]),
        returns: Returns::Is(T::Number),
        sql: Render::PostGis(num_points),
    },
    Function {
        name: "simplify",
        kind: Kind::Scalar,
        usage: "simplify(geometry, tolerance)",
        doc: "The geometry with fewer vertices (Douglas-Peucker, tolerance in degrees); a point stays as it is.",
        example: example(
            "simplify(location, 0.001)",
            "\"location\"",
            "{\"type\":\"Point\",\"coordinates\":[-72.86,41.8]}",
        ),
        args: fixed(&[P::Geometry, P::Double]),
        returns: Returns::First,
        sql: Render::PostGis(simplify),
    },
    Function {
        name: "simplify_preserve_topology",
        kind: Kind::Scalar,
        usage: "simplify_preserve_topology(geometry, tolerance)",
        doc: "As simplify, but never collapsing a polygon or crossing its rings.",
        example: example(
            "simplify_preserve_topology(location, 0.5)",
            "\"location\"",
            "{\"type\":\"Point\",\"coordinates\":[-72.86,41.8]}",
        ),
        args: fixed(&[P::Geometry, P::Double]),
        returns: Returns::First,
        sql: Render::PostGis(simplify_preserve_topology),
    },
];

/// A geometry argument as PostGIS takes it: points become geometries (WGS 84); geometries made
/// by other functions already are.
fn geometry(binds: &mut Binds, arg: &Typed) -> String {
    let sql = sql(binds, arg);
    if arg.ty == SoqlType::Point {
        format!("ST_SetSRID(({sql})::geometry, 4326)")
    } else {
        sql
    }
}

/// The geometry of a [`Kind::Gathering`] call's rows, or of the one already gathered.
fn gathered(binds: &mut Binds, call: &Invocation<'_>) -> String {
    let geometry = geometry(binds, &call.args[0]);
    if call.args[0].aggregate {
        geometry
    } else {
        format!("ST_Collect({geometry})")
    }
}

fn convex_hull(binds: &mut Binds, call: &Invocation<'_>) -> String {
    format!("ST_Multi(ST_ConvexHull({}))", gathered(binds, call))
}

fn extent(binds: &mut Binds, call: &Invocation<'_>) -> String {
    format!("ST_Multi(ST_Envelope({}))", gathered(binds, call))
}

fn spatial_union(binds: &mut Binds, call: &Invocation<'_>) -> String {
    format!("ST_Multi(ST_Union({}))", geometry(binds, &call.args[0]))
}

/// The caller's shape is made valid first: a self-crossing polygon would make PostGIS fail the
/// query against anything but a point.
fn intersects(binds: &mut Binds, call: &Invocation<'_>) -> String {
    let geometry = geometry(binds, &call.args[0]);
    let shape = sql(binds, &call.args[1]);
    format!("ST_Intersects({geometry}, ST_MakeValid(ST_GeomFromText({shape}, 4326)))")
}

fn num_points(binds: &mut Binds, call: &Invocation<'_>) -> String {
    format!("ST_NPoints({})::numeric", geometry(binds, &call.args[0]))
}

/// `simplify` and `simplify_preserve_topology` with PostGIS's `function`, keeping the geometry
/// a multi-geometry as its type says. A point has nothing to simplify and stays a point value.
fn simplified(binds: &mut Binds, call: &Invocation<'_>, function: &str) -> String {
    if call.args[0].ty == SoqlType::Point {
        return sql(binds, &call.args[0]);
    }
    let geometry = geometry(binds, &call.args[0]);
    let tolerance = sql(binds, &call.args[1]);
    format!("ST_Multi({function}({geometry}, {tolerance}))")
}

fn simplify(binds: &mut Binds, call: &Invocation<'_>) -> String {
    simplified(binds, call, "ST_Simplify")
}

fn simplify_preserve_topology(binds: &mut Binds, call: &Invocation<'_>) -> String {
    simplified(binds, call, "ST_SimplifyPreserveTopology")
}
