//! Geography over points, in plain PostgreSQL: distances, boxes, circles and polygons.

use super::*;
use crate::geometry::{haversine, polygon_literal};

pub(super) static FUNCTIONS: &[Function] = &[
    Function {
        name: "distance_in_meters",
        kind: Kind::Scalar,
        usage: "distance_in_meters(point, point)",
        doc: "The great-circle distance between two points, in metres.",
        example: example(
            "distance_in_meters(location, 'POINT (-72.86 41.80)')",
            "(2 * 6371008.8 * asin(sqrt(power(sin(radians((($1::point)[1] - (\"location\")[1]) / 2)), 2) + cos(radians((\"location\")[1])) * cos(radians(($1::point)[1])) * power(sin(radians((($1::point)[0] - (\"location\")[0]) / 2)), 2))))",
            "0",
        ),
        args: fixed(&[P::Point, P::Point]),
        returns: Returns::Is(T::Double),
        sql: Render::With(distance_in_meters, Copies::Each(3)),
    },
    Function {
        name: "within_box",
        kind: Kind::Scalar,
        usage: "within_box(point, nw_latitude, nw_longitude, se_latitude, se_longitude)",
        doc: "Whether the point lies in the box.",
        example: example(
            "within_box(location, 42, -73, 41, -72)",
            "((\"location\")[1] BETWEEN ($3::numeric)::double precision AND ($1::numeric)::double precision AND (\"location\")[0] BETWEEN ((-$2::numeric))::double precision AND ((-$4::numeric))::double precision)",
            "true",
        ),
        args: fixed(&[P::Point, P::Double, P::Double, P::Double, P::Double]),
        returns: Returns::Is(T::Boolean),
        sql: Render::Template("(({0})[1] BETWEEN {3} AND {1} AND ({0})[0] BETWEEN {2} AND {4})"),
    },
    Function {
        name: "within_circle",
        kind: Kind::Scalar,
        usage: "within_circle(point, latitude, longitude, metres)",
        doc: "Whether the point lies within so many metres of the centre.",
        example: example(
            "within_circle(location, 41.80, -72.86, 1000)",
            "((2 * 6371008.8 * asin(sqrt(power(sin(radians(((point(((-$2::numeric))::double precision, ($1::numeric)::double precision))[1] - (\"location\")[1]) / 2)), 2) + cos(radians((\"location\")[1])) * cos(radians((point(((-$2::numeric))::double precision, ($1::numeric)::double precision))[1])) * power(sin(radians(((point(((-$2::numeric))::double precision, ($1::numeric)::double precision))[0] - (\"location\")[0]) / 2)), 2)))) <= ($3::numeric)::double precision)",
            "true",
        ),
        args: fixed(&[P::Point, P::Double, P::Double, P::Double]),
        returns: Returns::Is(T::Boolean),
        sql: Render::With(within_circle, Copies::Each(3)),
    },
    Function {
        name: "within_polygon",
        kind: Kind::Scalar,
        usage: "within_polygon(point, 'MULTIPOLYGON (…)')",
        doc: "Whether the point lies in the WKT polygon or multipolygon (holes respected).",
        example: example(
            "within_polygon(location, 'POLYGON ((-73 41, -72 41, -72 42, -73 42, -73 41))')",
            "(((\"location\") <@ $1::polygon))",
            "true",
        ),
        args: fixed(&[P::Point, P::Polygon]),
        returns: Returns::Is(T::Boolean),
        sql: Render::With(within_polygon, Copies::PerRing),
    },
];

fn distance_in_meters(binds: &mut Binds, call: &Invocation<'_>) -> String {
    let a = sql(binds, &call.args[0]);
    let b = sql(binds, &call.args[1]);
    haversine(&a, &b)
}

fn within_circle(binds: &mut Binds, call: &Invocation<'_>) -> String {
    let point = sql(binds, &call.args[0]);
    let latitude = sql(binds, &call.args[1]);
    let longitude = sql(binds, &call.args[2]);
    let radius = sql(binds, &call.args[3]);
    let center = format!("point({longitude}, {latitude})");
    format!("({} <= {radius})", haversine(&point, &center))
}

fn within_polygon(binds: &mut Binds, call: &Invocation<'_>) -> String {
    let point = sql(binds, &call.args[0]);
    let Node::Polygons(polygons) = &call.args[1].node else {
        // The checker admits only a parsed polygon here (Param::Polygon).
        return "false".to_owned();
    };
    let tests: Vec<String> = polygons
        .iter()
        .map(|rings| {
            let mut test = format!(
                "({point}) <@ {}",
                binds.bind(polygon_literal(&rings[0]), "polygon")
            );
            for hole in &rings[1..] {
                test.push_str(&format!(
                    " AND NOT ({point}) <@ {}",
                    binds.bind(polygon_literal(hole), "polygon")
                ));
            }
            format!("({test})")
        })
        .collect();
    format!("({})", tests.join(" OR "))
}
