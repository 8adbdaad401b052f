//! The dataset page's map, drawn on the server as SVG over Connecticut's 169 towns (no tiles, no
//! script): the rows' points when the dataset has a point column, or a choropleth of the rows
//! counted by town when it has a town column (`map=towns` picks it when it has both). The table's
//! filters apply. `/d/{id}/map.svg?...` is the picture; the page shows it with a description.

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use opendata_limits::PAGE_TABLE_BYTES;
use opendata_proto::common::v1::{Column, ColumnType};
use serde_json::Value;

use super::chart::format_figure;
use super::table::{TableView, soql_name};
use super::towns::{self, HEIGHT, Town, WIDTH};
use super::{PageError, PictureOf, picture_of, public_rows, query_string, svg_response};
use crate::error::SodaError;
use crate::state::EdgeState;

/// Points drawn at most: `page_map_points`.
const POINTS: u64 = opendata_limits::PAGE_MAP_POINTS.value;
/// Shades of the choropleth, lightest first.
const SHADES: [&str; 5] = ["#deebf7", "#9ecae1", "#6baed6", "#3182bd", "#08519c"];
/// Towns without rows.
const NO_DATA: &str = "#f0f0f0";

/// What the map shows.
pub enum MapKind {
    /// The rows' points in this column.
    Points(Column),
    /// The rows counted by the town named in this column.
    Towns(Column),
}

impl MapKind {
    /// The map a dataset with `columns` can have, as `query`'s `map` parameter prefers.
    pub fn of(columns: &[Column], query: Option<&str>) -> Option<MapKind> {
        let point = columns
            .iter()
            .find(|column| column.r#type() == ColumnType::Point);
        let town = columns.iter().find(|column| {
            let name = column.display_name.to_lowercase();
            column.r#type() == ColumnType::Text
                && (matches!(column.field_name.as_str(), "town" | "municipality" | "city")
                    || name.contains("town")
                    || name.contains("municipality"))
        });
        let wants_towns = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .any(|(name, value)| name == "map" && value == "towns");
        match (point, town) {
            (Some(_), Some(town)) if wants_towns => Some(MapKind::Towns(town.clone())),
            (Some(point), _) => Some(MapKind::Points(point.clone())),
            (None, Some(town)) => Some(MapKind::Towns(town.clone())),
            (None, None) => None,
        }
    }

    /// The `map` parameter of this kind.
    pub fn parameter(&self) -> &'static str {
        match self {
            MapKind::Points(_) => "points",
            MapKind::Towns(_) => "towns",
        }
    }

    /// What the map shows, in words.
    pub fn caption(&self) -> String {
        match self {
            MapKind::Points(column) => format!("Rows located by {}", column.display_name),
            MapKind::Towns(column) => format!("Rows by town ({})", column.display_name),
        }
    }

    /// The SoQL parameters of the map's figures within `view`.
    pub fn soql(&self, view: &TableView) -> String {
        let (column, select, group, limit) = match self {
            MapKind::Points(column) => (
                column,
                soql_name(&column.field_name),
                None,
                POINTS.to_string(),
            ),
            MapKind::Towns(column) => (
                column,
                format!("{} AS town, count(*) AS n", soql_name(&column.field_name)),
                Some(soql_name(&column.field_name)),
                // More than the 169 towns: rows naming other places are dropped after.
                "1000".to_owned(),
            ),
        };
        let mut filter = format!("{} IS NOT NULL", soql_name(&column.field_name));
        if let Some(rows) = view.soql_where() {
            filter = format!("({rows}) AND {filter}");
        }
        let mut pairs = vec![
            ("$select", select.as_str()),
            ("$where", filter.as_str()),
            ("$limit", limit.as_str()),
        ];
        if let Some(group) = &group {
            pairs.push(("$group", group));
        }
        query_string(pairs)
    }
}

/// The map the page shows.
pub struct MapView {
    /// Whether the page asked for the map (`map=`); otherwise it is offered by a link, so a page
    /// view draws no map nobody looks at.
    pub shown: bool,
    /// The link that shows it, when it is not shown.
    pub offer: String,
    /// The picture's address.
    pub src: String,
    /// What it shows.
    pub caption: String,
    /// The other map of a dataset with both a point and a town column: its link and name.
    pub other: Option<(String, &'static str)>,
}

impl MapView {
    /// The map of dataset `id`, if its columns have one (shown when the page asks for it).
    pub fn of(
        id: &str,
        columns: &[Column],
        query: Option<&str>,
        view: &TableView,
    ) -> Option<MapView> {
        let kind = MapKind::of(columns, query)?;
        // The picture needs the filters; the link to the other map keeps the whole view.
        let (filters, kept) = (view.filter_params(), view.kept(|name| name != "map"));
        let with_map = |kind: &str, pairs: &[(String, String)]| {
            query_string(
                std::iter::once(("map", kind)).chain(
                    pairs
                        .iter()
                        .map(|(name, value)| (name.as_str(), value.as_str())),
                ),
            )
        };
        let other = match &kind {
            MapKind::Points(_) => MapKind::of(columns, Some("map=towns"))
                .filter(|other| matches!(other, MapKind::Towns(_)))
                .map(|_| {
                    (
                        format!("/d/{id}?{}#map", with_map("towns", &kept)),
                        "by town",
                    )
                }),
            MapKind::Towns(_) => MapKind::of(columns, None)
                .filter(|other| matches!(other, MapKind::Points(_)))
                .map(|_| {
                    (
                        format!("/d/{id}?{}#map", with_map("points", &kept)),
                        "as points",
                    )
                }),
        };
        let shown = view.others.iter().any(|(name, _)| name == "map");
        Some(MapView {
            shown,
            offer: format!("/d/{id}?{}#map", with_map(kind.parameter(), &kept)),
            src: format!("/d/{id}/map.svg?{}", with_map(kind.parameter(), &filters)),
            caption: kind.caption(),
            other,
        })
    }
}

/// The map of `kind` over dataset `id` (at data `version`) within `view`, as SVG.
pub async fn draw(
    state: &EdgeState,
    id: &str,
    version: &str,
    kind: &MapKind,
    view: &TableView,
) -> Result<String, SodaError> {
    let soql = kind.soql(view);
    let rows = public_rows(state, id, Some(version), &soql, PAGE_TABLE_BYTES.get())
        .await?
        .unwrap_or_default();
    Ok(match kind {
        MapKind::Points(column) => {
            let points: Vec<(f64, f64)> = rows
                .iter()
                .filter_map(|row| {
                    let coordinates = row.get(&column.field_name)?.get("coordinates")?;
                    towns::project(coordinates.get(0)?.as_f64()?, coordinates.get(1)?.as_f64()?)
                })
                .collect();
            points_svg(&points, &kind.caption())
        }
        MapKind::Towns(_) => {
            let counts: Vec<(&Town, f64)> = rows
                .iter()
                .filter_map(|row| {
                    let town = towns::find(row.get("town")?.as_str()?)?;
                    let count = match row.get("n")? {
                        Value::String(text) => text.parse().ok()?,
                        other => other.as_f64()?,
                    };
                    Some((town, count))
                })
                .collect();
            towns_svg(&counts, &kind.caption(), "no rows")
        }
    })
}

/// `&`, `<`, `>` and `"` escaped for SVG text and attributes.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The SVG document's opening, with a title.
fn open(out: &mut String, caption: &str) {
    out.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" \
         height=\"{HEIGHT}\" font-family=\"sans-serif\"><title>{}</title>\
         <rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#ffffff\"/>",
        escaped(caption)
    ));
}

/// The towns' outlines, each filled with `fill` of its name.
fn outlines(out: &mut String, fill: impl Fn(&Town) -> (&'static str, String)) {
    for town in towns::towns() {
        let (color, title) = fill(town);
        out.push_str(&format!(
            "<path d=\"{}\" fill=\"{color}\" stroke=\"#8d9297\" stroke-width=\"0.5\"><title>{}</title></path>",
            town.path,
            escaped(&title)
        ));
    }
}

/// Points over the towns.
pub fn points_svg(points: &[(f64, f64)], caption: &str) -> String {
    let mut out = String::new();
    open(&mut out, caption);
    outlines(&mut out, |town| (NO_DATA, town.name.clone()));
    out.push_str("<g fill=\"#005ea2\" fill-opacity=\"0.6\">");
    for (x, y) in points {
        out.push_str(&format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.5\"/>"));
    }
    out.push_str(&format!(
        "</g><text x=\"12\" y=\"{}\" font-size=\"14\">{} · {} located</text></svg>",
        HEIGHT - 14.0,
        escaped(caption),
        points.len()
    ));
    out
}

/// The towns shaded by their figures, in five classes of as many towns each, with a legend; towns
/// without a figure say `none` (`no rows`, `no awards`).
pub fn towns_svg(counts: &[(&Town, f64)], caption: &str, none: &str) -> String {
    let mut values: Vec<f64> = counts
        .iter()
        .map(|(_, n)| *n)
        .filter(|n| *n > 0.0)
        .collect();
    values.sort_by(f64::total_cmp);
    // Each class's upper bound (fewer classes when few values differ), spread over the shades.
    let mut bounds: Vec<f64> = (1..=SHADES.len())
        .filter_map(|class| {
            let index = (values.len() * class)
                .div_ceil(SHADES.len())
                .checked_sub(1)?;
            values.get(index).copied()
        })
        .collect();
    bounds.dedup();
    let darkest = SHADES.len() - 1;
    let shade = |value: f64| {
        let class = bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(darkest);
        match bounds.len() {
            0 | 1 => SHADES[darkest],
            classes => SHADES[(class * darkest / (classes - 1)).min(darkest)],
        }
    };
    let mut out = String::new();
    open(&mut out, caption);
    outlines(&mut out, |town| {
        match counts.iter().find(|(counted, _)| counted.name == town.name) {
            Some((_, n)) if *n > 0.0 => {
                (shade(*n), format!("{}: {}", town.name, format_figure(*n)))
            }
            _ => (NO_DATA, format!("{}: {none}", town.name)),
        }
    });
    // The legend sits in the south-east, over Long Island Sound.
    let left = WIDTH - 240.0;
    let mut y = HEIGHT - 20.0 - 18.0 * bounds.len() as f64;
    out.push_str(&format!(
        "<text x=\"{left}\" y=\"{:.0}\" font-size=\"14\">{}</text>",
        y - 8.0,
        escaped(caption)
    ));
    let mut low: Option<f64> = None;
    for bound in &bounds {
        let range = match low {
            None => format!("{} to {}", format_figure(values[0]), format_figure(*bound)),
            Some(low) => format!("over {} to {}", format_figure(low), format_figure(*bound)),
        };
        out.push_str(&format!(
            "<rect x=\"{left}\" y=\"{y:.0}\" width=\"16\" height=\"14\" fill=\"{}\" stroke=\"#8d9297\"/>\
             <text x=\"{}\" y=\"{:.0}\" font-size=\"12\">{range}</text>",
            shade(*bound),
            left + 22.0,
            y + 11.0,
        ));
        low = Some(*bound);
        y += 18.0;
    }
    out.push_str("</svg>");
    out
}

/// `GET /d/{id}/map.svg?map=&...`: the map as a picture.
pub async fn picture(
    State(state): State<EdgeState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let PictureOf {
        version,
        columns,
        view,
    } = picture_of(&state, &id, query.as_deref()).await?;
    let api = |error: SodaError| PageError::from_api(&state, error);
    let kind = MapKind::of(&columns, query.as_deref()).ok_or_else(|| {
        api(SodaError::bad_parameter(
            "map",
            "this dataset has no point or town column to map",
        ))
    })?;
    let picture = draw(&state, &id, &version, &kind, &view)
        .await
        .map_err(api)?;
    Ok(svg_response(picture))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choropleths_shade_towns_by_class_and_say_so() {
        let hartford = towns::find("Hartford").expect("Hartford");
        let andover = towns::find("Andover").expect("Andover");
        let svg = towns_svg(
            &[(hartford, 500.0), (andover, 2.0)],
            "Sales by town <Town>",
            "no rows",
        );
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<path").count(), 169);
        assert!(svg.contains("<title>Hartford: 500</title>"), "{svg}");
        assert!(svg.contains("<title>Bolton: no rows</title>"));
        assert!(svg.contains("&lt;Town&gt;"), "captions are escaped");
        assert!(
            svg.contains(SHADES[4]) && svg.contains(SHADES[0]),
            "the least and the most"
        );
        let points = points_svg(&[(10.0, 20.0)], "Sales");
        assert_eq!(points.matches("<circle").count(), 1);
        assert!(points.contains("1 located"));
    }

    #[test]
    fn maps_prefer_points_and_find_town_columns() {
        let column = |name: &str, kind: ColumnType| Column {
            display_name: name.to_owned(),
            field_name: name.to_lowercase().replace(' ', "_"),
            r#type: kind as i32,
            ..Column::default()
        };
        let both = vec![
            column("Town", ColumnType::Text),
            column("Location", ColumnType::Point),
        ];
        assert!(matches!(MapKind::of(&both, None), Some(MapKind::Points(_))));
        // At most `page_map_points` points are read.
        let view = TableView::parse(None, &both).expect("a view");
        let points = MapKind::of(&both, None).expect("a map").soql(&view);
        assert!(points.contains("%24limit=5000"), "{points}");
        assert!(matches!(
            MapKind::of(&both, Some("map=towns")),
            Some(MapKind::Towns(_))
        ));
        let towns_only = vec![column("Municipality Name", ColumnType::Text)];
        assert!(matches!(
            MapKind::of(&towns_only, None),
            Some(MapKind::Towns(_))
        ));
        assert!(MapKind::of(&[column("Amount", ColumnType::Number)], None).is_none());
    }
}
