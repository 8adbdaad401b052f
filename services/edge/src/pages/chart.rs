//! The dataset page's chart: one aggregation of the (filtered) table — rows counted, or a number
//! column summed or averaged, grouped by a column — drawn on the server as SVG (plotters): bars
//! for the 20 largest groups, a line by month when grouped by a date. The page shows the picture
//! (`/d/{id}/chart.svg?...`), the same figures as a table, and the SoQL query behind them.
//!
//! Parameters: `chart.by` (a column's field name) and `chart.value` (`count`, `sum.{field}` or
//! `avg.{field}` of a number column); the table's filters apply too.

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use opendata_limits::{PAGE_TABLE_BYTES, excerpt};
use opendata_proto::common::v1::Column;
use plotters::prelude::*;
use serde_json::Value;

use super::Choice;
use super::table::{FilterKind, TableView, soql_name};
use super::{PageError, PictureOf, picture_of, public_rows, query_string, svg_response};
use crate::error::SodaError;
use crate::state::EdgeState;

/// Groups a bar chart shows (the largest): `page_chart_groups`.
const BARS: u64 = opendata_limits::PAGE_CHART_GROUPS.value;
/// Months a line chart shows (the latest twenty years).
const MONTHS: u64 = 240;
/// The largest figure a chart draws.
const LARGEST: f64 = 1e300;
/// The picture's size in pixels (it scales down on phones).
const SIZE: (u32, u32) = (720, 420);

/// What is measured per group.
#[derive(Clone, PartialEq, Eq)]
pub enum Measure {
    /// Rows counted.
    Count,
    /// A number column summed.
    Sum(String),
    /// A number column averaged.
    Average(String),
}

/// A chart the page asks for.
pub struct ChartSpec {
    /// The column grouped by.
    pub by: Column,
    /// What is measured.
    pub measure: Measure,
}

impl ChartSpec {
    /// The chart `query` asks for (`chart.by`, `chart.value`); `None` without `chart.by`, a 400
    /// naming the parameter when it is wrong.
    pub fn parse(query: Option<&str>, columns: &[Column]) -> Result<Option<ChartSpec>, SodaError> {
        let mut by = None;
        let mut value = None;
        for (name, text) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match name.as_ref() {
                "chart.by" if !text.is_empty() => by = Some(text.into_owned()),
                "chart.value" if !text.is_empty() => value = Some(text.into_owned()),
                _ => {}
            }
        }
        let Some(by) = by else {
            return Ok(None);
        };
        let by = columns
            .iter()
            .find(|column| column.field_name == by && FilterKind::of(column).is_some())
            .cloned()
            .ok_or_else(|| {
                SodaError::bad_parameter(
                    "chart.by",
                    format!(
                        "the chart groups by a column; {:?} is not one",
                        excerpt(&by)
                    ),
                )
            })?;
        let number = |field: &str| {
            columns
                .iter()
                .any(|c| c.field_name == field && FilterKind::of(c) == Some(FilterKind::Number))
        };
        let measure = match value.as_deref().unwrap_or("count") {
            "count" => Measure::Count,
            other => match other.split_once('.') {
                Some(("sum", field)) if number(field) => Measure::Sum(field.to_owned()),
                Some(("avg", field)) if number(field) => Measure::Average(field.to_owned()),
                _ => {
                    return Err(SodaError::bad_parameter(
                        "chart.value",
                        format!(
                            "chart.value is count, sum.{{number column}} or avg.{{number column}}, not {:?}",
                            excerpt(other)
                        ),
                    ));
                }
            },
        };
        Ok(Some(ChartSpec { by, measure }))
    }

    /// Whether the chart is a line by month.
    pub fn by_month(&self) -> bool {
        FilterKind::of(&self.by) == Some(FilterKind::Date)
    }

    /// The measure as SoQL.
    fn measure_soql(&self) -> String {
        match &self.measure {
            Measure::Count => "count(*)".to_owned(),
            Measure::Sum(field) => format!("sum({})", soql_name(field)),
            Measure::Average(field) => format!("avg({})", soql_name(field)),
        }
    }

    /// The SoQL parameters of the figures, within `view`'s filters.
    pub fn soql(&self, view: &TableView) -> String {
        let by = &soql_name(&self.by.field_name);
        let group = if self.by_month() {
            format!("date_trunc_ym({by})")
        } else {
            by.clone()
        };
        let select = format!("{group} AS label, {} AS value", self.measure_soql());
        let mut filter = format!("{by} IS NOT NULL");
        if let Some(rows) = view.soql_where() {
            filter = format!("({rows}) AND {filter}");
        }
        let (order, limit) = if self.by_month() {
            ("label DESC", MONTHS.to_string())
        } else {
            ("value DESC NULLS LAST", BARS.to_string())
        };
        query_string([
            ("$select", select.as_str()),
            ("$where", filter.as_str()),
            ("$group", group.as_str()),
            ("$order", order),
            ("$limit", limit.as_str()),
        ])
    }

    /// The `chart.value` parameter of this chart (`count`, `sum.population`).
    pub fn value_parameter(&self) -> String {
        match &self.measure {
            Measure::Count => "count".to_owned(),
            Measure::Sum(field) => format!("sum.{field}"),
            Measure::Average(field) => format!("avg.{field}"),
        }
    }

    /// The chart's own parameters, for links.
    pub fn parameters(&self) -> Vec<(String, String)> {
        vec![
            ("chart.by".to_owned(), self.by.field_name.clone()),
            ("chart.value".to_owned(), self.value_parameter()),
        ]
    }

    /// What the chart shows, in words (`Sum of Population by Town`).
    pub fn caption(&self, columns: &[Column]) -> String {
        let name = |field: &str| {
            columns
                .iter()
                .find(|column| column.field_name == field)
                .map_or_else(|| field.to_owned(), |column| column.display_name.clone())
        };
        let what = match &self.measure {
            Measure::Count => "Rows".to_owned(),
            Measure::Sum(field) => format!("Sum of {}", name(field)),
            Measure::Average(field) => format!("Average of {}", name(field)),
        };
        let by = if self.by_month() { "by month of" } else { "by" };
        format!("{what} {by} {}", self.by.display_name)
    }
}

/// The chart the page shows.
pub struct ChartView {
    /// The column grouped by.
    pub by: String,
    /// What is measured (`count`, `sum.population`).
    pub value: String,
    /// The picture's address.
    pub src: String,
    /// What it shows, in words.
    pub caption: String,
    /// The same figures, as a table.
    pub figures: Vec<(String, String)>,
    /// The query behind them.
    pub query_url: String,
}

impl ChartView {
    /// The chart `spec` of dataset `id` (at data `version`) within `view`.
    pub async fn read(
        state: &EdgeState,
        id: &str,
        version: &str,
        spec: &ChartSpec,
        view: &TableView,
        columns: &[Column],
    ) -> Result<ChartView, SodaError> {
        let figures = figures(state, id, version, spec, view).await?;
        let params = spec.parameters();
        let filters = view.filter_params();
        let picture = query_string(
            params
                .iter()
                .chain(&filters)
                .map(|(name, value)| (name.as_str(), value.as_str())),
        );
        Ok(ChartView {
            by: spec.by.field_name.clone(),
            value: spec.value_parameter(),
            src: format!("/d/{id}/chart.svg?{picture}"),
            caption: spec.caption(columns),
            figures: figures
                .into_iter()
                .map(|(label, value)| (label, format_figure(value)))
                .collect(),
            query_url: format!("/resource/{id}.json?{}", spec.soql(view)),
        })
    }
}

/// What a chart can measure: rows counted, or each number column summed or averaged.
pub fn measures(columns: &[Column], chosen: Option<&str>) -> Vec<Choice> {
    let mut choices = vec![("count".to_owned(), "Count of rows".to_owned())];
    for column in columns
        .iter()
        .filter(|column| FilterKind::of(column) == Some(FilterKind::Number))
    {
        let (field, name) = (&column.field_name, &column.display_name);
        choices.push((format!("sum.{field}"), format!("Sum of {name}")));
        choices.push((format!("avg.{field}"), format!("Average of {name}")));
    }
    choices
        .into_iter()
        .map(|(value, label)| Choice {
            selected: chosen == Some(value.as_str()),
            value,
            label,
        })
        .collect()
}

/// The figures of `spec` over dataset `id` within `view`: (group, value), in the chart's order
/// (months oldest first, bars largest first).
pub async fn figures(
    state: &EdgeState,
    id: &str,
    version: &str,
    spec: &ChartSpec,
    view: &TableView,
) -> Result<Vec<(String, f64)>, SodaError> {
    let soql = spec.soql(view);
    let rows = public_rows(state, id, Some(version), &soql, PAGE_TABLE_BYTES.get())
        .await?
        .unwrap_or_default();
    let mut figures: Vec<(String, f64)> = rows
        .iter()
        .map(|row| {
            let label = match row.get("label") {
                Some(Value::String(text)) if spec.by_month() => text.chars().take(7).collect(),
                Some(Value::String(text)) => text.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            let value = match row.get("value") {
                Some(Value::String(text)) => text.parse().unwrap_or_default(),
                Some(Value::Number(number)) => number.as_f64().unwrap_or_default(),
                _ => 0.0,
            };
            (label, value)
        })
        // A figure past what a double holds cannot be drawn (nor summed sensibly).
        .filter(|(_, value)| value.is_finite())
        .collect();
    if spec.by_month() {
        figures.reverse();
    }
    Ok(figures)
}

/// The chart as SVG: bars across, largest first (group names read across), or a line by month.
pub fn svg(figures: &[(String, f64)], line: bool, caption: &str) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let values = figures.iter().map(|(_, value)| *value);
        let low = values.clone().fold(0.0_f64, f64::min);
        let high = values.fold(0.0_f64, f64::max);
        // Axes over figures near the largest doubles (or not numbers at all) have no ticks to
        // draw: refuse them rather than loop.
        if figures
            .iter()
            .any(|(_, value)| value.is_nan() || value.abs() > LARGEST)
        {
            return Err("the figures are too large to draw".to_owned());
        }
        let range = low..if high > low { high * 1.05 } else { low + 1.0 };
        let count = figures.len().max(1);
        let label = |index: usize| {
            figures
                .get(index)
                .map(|(label, _)| excerpt_chars(label, 20))
                .unwrap_or_default()
        };
        let ink = RGBColor(0x00, 0x5e, 0xa2);
        let draw = |error: DrawingAreaErrorKind<_>| error.to_string();
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(caption, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(32);
        if line {
            let mut chart = builder
                .y_label_area_size(72)
                .build_cartesian_2d((0..count).into_segmented(), range)
                .map_err(draw)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(12)
                .x_label_formatter(&|segment| match segment {
                    SegmentValue::CenterOf(index) | SegmentValue::Exact(index) => label(*index),
                    SegmentValue::Last => String::new(),
                })
                .y_label_formatter(&|value| format_figure(*value))
                .draw()
                .map_err(draw)?;
            chart
                .draw_series(LineSeries::new(
                    figures
                        .iter()
                        .enumerate()
                        .map(|(index, (_, value))| (SegmentValue::CenterOf(index), *value)),
                    ink.stroke_width(2),
                ))
                .map_err(draw)?;
        } else {
            // The first (largest) group on top; rows past the last have no group.
            let row = |index: usize| count.saturating_sub(index + 1);
            let mut chart = builder
                .y_label_area_size(150)
                .build_cartesian_2d(range, (0..count).into_segmented())
                .map_err(draw)?;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(count)
                .y_label_formatter(&|segment| match segment {
                    SegmentValue::CenterOf(index) | SegmentValue::Exact(index)
                        if *index < count =>
                    {
                        label(row(*index))
                    }
                    SegmentValue::CenterOf(_) | SegmentValue::Exact(_) => String::new(),
                    SegmentValue::Last => String::new(),
                })
                .x_label_formatter(&|value| format_figure(*value))
                .draw()
                .map_err(draw)?;
            chart
                .draw_series(figures.iter().enumerate().map(|(index, (_, value))| {
                    let mut bar = Rectangle::new(
                        [
                            (0.0, SegmentValue::Exact(row(index))),
                            (*value, SegmentValue::Exact(row(index) + 1)),
                        ],
                        ink.filled(),
                    );
                    bar.set_margin(2, 2, 0, 0);
                    bar
                }))
                .map_err(draw)?;
        }
        root.present().map_err(draw)?;
    }
    Ok(out)
}

/// A figure as people read it: whole numbers without decimals, others with two.
pub fn format_figure(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// At most `limit` characters of `text`, with an ellipsis when cut.
fn excerpt_chars(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// `GET /d/{id}/chart.svg?chart.by=&chart.value=&...`: the chart as a picture.
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
    let spec = ChartSpec::parse(query.as_deref(), &columns)
        .map_err(api)?
        .ok_or_else(|| api(SodaError::bad_parameter("chart.by", "chart.by is required")))?;
    let figures = figures(&state, &id, &version, &spec, &view)
        .await
        .map_err(api)?;
    let picture = svg(&figures, spec.by_month(), &spec.caption(&columns)).map_err(|error| {
        api(SodaError(opendata_platform::error::internal(
            &std::io::Error::other(error),
        )))
    })?;
    Ok(svg_response(picture))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opendata_proto::common::v1::ColumnType;

    fn columns() -> Vec<Column> {
        let column = |name: &str, kind: ColumnType| Column {
            display_name: name.to_owned(),
            field_name: name.to_lowercase(),
            r#type: kind as i32,
            ..Column::default()
        };
        vec![
            column("Town", ColumnType::Text),
            column("Population", ColumnType::Number),
            column("Counted", ColumnType::CalendarDate),
            column("Seat", ColumnType::Point),
        ]
    }

    #[test]
    fn charts_group_by_a_column_and_measure_a_number_column() {
        let view = TableView::parse(Some("min.population=5"), &columns()).expect("view");
        let spec = ChartSpec::parse(Some("chart.by=town&chart.value=sum.population"), &columns())
            .expect("parses")
            .expect("a chart");
        assert_eq!(spec.caption(&columns()), "Sum of Population by Town");
        let soql = spec.soql(&view);
        assert!(soql.contains("sum%28population%29+AS+value"), "{soql}");
        assert!(
            soql.contains("%28population+%3E%3D+5%29+AND+town+IS+NOT+NULL"),
            "{soql}"
        );
        let months = ChartSpec::parse(Some("chart.by=counted"), &columns())
            .expect("parses")
            .expect("a chart");
        assert!(months.by_month());
        assert!(months.soql(&view).contains("date_trunc_ym%28counted%29"));
        assert_eq!(months.caption(&columns()), "Rows by month of Counted");
        assert!(
            ChartSpec::parse(None, &columns())
                .expect("parses")
                .is_none()
        );
        for (query, named) in [
            ("chart.by=seat", "chart.by"),
            ("chart.by=nope", "chart.by"),
            ("chart.by=town&chart.value=sum.town", "chart.value"),
            ("chart.by=town&chart.value=median", "chart.value"),
        ] {
            let error = ChartSpec::parse(Some(query), &columns())
                .err()
                .expect(query);
            assert_eq!(
                error.0.details.get("parameter").map(String::as_str),
                Some(named),
                "{query}"
            );
        }
    }

    #[test]
    fn pictures_are_svg_with_a_bar_per_group_or_a_line() {
        let figures = vec![
            ("Hartford".to_owned(), 120.0),
            ("<b>Mystic</b>".to_owned(), 80.0),
        ];
        let bars = svg(&figures, false, "Rows by Town").expect("drawn");
        assert!(bars.starts_with("<svg"), "{bars}");
        assert!(bars.contains("Rows by Town"));
        assert!(bars.contains("Hartford"));
        assert!(
            bars.contains("&lt;b&gt;Mystic"),
            "labels are escaped: {bars}"
        );
        let line = svg(&figures, true, "Rows by month").expect("drawn");
        assert!(line.contains("<polyline"), "{line}");
        assert!(
            svg(&[], false, "Nothing")
                .expect("drawn")
                .starts_with("<svg")
        );
        for huge in [f64::INFINITY, f64::NAN, 1.75e308, -1.75e308] {
            let error = svg(&[("x".to_owned(), huge)], false, "Huge").expect_err("refused");
            assert!(error.contains("too large"), "{error}");
        }
    }
}
