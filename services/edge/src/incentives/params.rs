//! Query parameters of `/api/incentives/`: the award filters (`company`, and repeatable
//! `municipality`, `program`, `fiscal_year`, `assistance_type`, `industry`), paging (`offset`,
//! `limit`), the summary's `by`, and the tax credits' `year`. Unknown parameters are refused by
//! name, so a typo never silently widens a result. `company` is held to `SEARCH_TEXT`; each
//! repeatable filter to `FILTER_VALUES` values of at most `TEXT_NAME` characters; none may hold a
//! NUL character. Incentives holds its request to the same limits; checking here refuses before
//! calling it.

use opendata_limits::{SEARCH_TEXT, TEXT_NAME, excerpt};
use opendata_proto::incentives::v1::{SearchAwardsRequest, SummaryDimension};

use crate::error::SodaError;
use crate::limited::{add_values, counted, within};

/// The assistance types a filter may name.
const ASSISTANCE_TYPES: [&str; 3] = ["grant", "loan", "tax_credit"];

/// The filters every award route takes.
const FILTERS: &str = "company, municipality, program, fiscal_year, assistance_type, industry";

/// Parameters of an award listing, summary or download.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AwardParams {
    /// Filters and paging, as incentives takes them.
    pub request: SearchAwardsRequest,
    /// `by`: summary dimensions, in order.
    pub group_by: Vec<SummaryDimension>,
}

/// Which parameters a route accepts besides the filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A page: `offset`, `limit`.
    Page,
    /// A summary: `by`.
    Summary,
    /// A download: nothing more.
    Download,
}

/// Reads the query string of an award route.
pub fn parse(query: Option<&str>, route: Route) -> Result<AwardParams, SodaError> {
    let mut params = AwardParams::default();
    let request = &mut params.request;
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let value = value.trim().to_owned();
        match (name.as_ref(), route) {
            ("company", _) => request.company = within("company", value, SEARCH_TEXT)?,
            ("municipality", _) => {
                add_values("municipality", &mut request.municipalities, [value])?
            }
            ("program", _) => add_values("program", &mut request.program_ids, [value])?,
            ("industry", _) => add_values("industry", &mut request.industries, [value])?,
            ("assistance_type", _) => {
                let value = within("assistance_type", value, TEXT_NAME)?;
                counted("assistance_type", request.assistance_types.len() + 1)?;
                if !ASSISTANCE_TYPES.contains(&value.as_str()) {
                    return Err(bad(
                        "assistance_type",
                        format!("{value:?} is not an assistance type: grant, loan or tax_credit"),
                    ));
                }
                request.assistance_types.push(value)
            }
            ("fiscal_year", _) => {
                let value = within("fiscal_year", value, TEXT_NAME)?;
                counted("fiscal_year", request.fiscal_years.len() + 1)?;
                request.fiscal_years.push(
                    value
                        .parse()
                        .map_err(|_| bad("fiscal_year", format!("{value:?} is not a year")))?,
                )
            }
            ("offset", Route::Page) => request.offset = count("offset", &value)?,
            ("limit", Route::Page) => request.limit = count("limit", &value)?,
            ("by", Route::Summary) => {
                for name in value.split(',').map(str::trim) {
                    let dimension = dimension(name)?;
                    if params.group_by.contains(&dimension) {
                        return Err(bad("by", format!("by names {name} twice")));
                    }
                    params.group_by.push(dimension);
                }
            }
            // Checked by the rate limits; not a filter.
            ("$$app_token", _) => {}
            (other, _) => {
                let extra = match route {
                    Route::Page => ", offset and limit",
                    Route::Summary => " and by",
                    Route::Download => "",
                };
                return Err(bad(
                    other,
                    format!(
                        "unknown parameter {}; this route takes {FILTERS}{extra}",
                        excerpt(other)
                    ),
                ));
            }
        }
    }
    if route == Route::Summary && params.group_by.is_empty() {
        return Err(bad(
            "by",
            "by is required: municipality, program, fiscal_year or industry, comma-separated",
        ));
    }
    Ok(params)
}

/// The `year` of the tax credits route (0 for every year).
pub fn tax_credit_year(query: Option<&str>) -> Result<i32, SodaError> {
    let mut year = 0;
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "$$app_token" => {}
            "year" => {
                year = value
                    .trim()
                    .parse()
                    .map_err(|_| bad("year", format!("{value:?} is not a year")))?
            }
            other => {
                return Err(bad(
                    other,
                    format!(
                        "unknown parameter {}; this route takes year",
                        excerpt(other)
                    ),
                ));
            }
        }
    }
    Ok(year)
}

/// The name of a summary dimension, as `by` spells it.
pub fn dimension_name(dimension: SummaryDimension) -> &'static str {
    match dimension {
        SummaryDimension::Municipality => "municipality",
        SummaryDimension::Program => "program",
        SummaryDimension::FiscalYear => "fiscal_year",
        SummaryDimension::Industry => "industry",
        SummaryDimension::Unspecified => "unspecified",
    }
}

fn dimension(name: &str) -> Result<SummaryDimension, SodaError> {
    [
        SummaryDimension::Municipality,
        SummaryDimension::Program,
        SummaryDimension::FiscalYear,
        SummaryDimension::Industry,
    ]
    .into_iter()
    .find(|d| dimension_name(*d) == name)
    .ok_or_else(|| {
        bad(
            "by",
            format!("{name:?} is not a dimension: municipality, program, fiscal_year or industry"),
        )
    })
}

fn count(parameter: &str, value: &str) -> Result<u32, SodaError> {
    value.parse().map_err(|_| {
        bad(
            parameter,
            format!("{parameter} must be a whole number, not {value:?}"),
        )
    })
}

fn bad(parameter: &str, message: impl Into<String>) -> SodaError {
    SodaError::bad_parameter(parameter, message)
}

#[cfg(test)]
mod tests {
    use opendata_limits::FILTER_VALUES;

    use super::*;

    #[test]
    fn filters_repeat_and_paging_is_read() {
        let params = parse(
            Some("company=acme&municipality=Hartford&municipality=New%20Haven&fiscal_year=2017&industry=Agriculture%2C%20Forestry&limit=5&offset=10"),
            Route::Page,
        )
        .unwrap();
        assert_eq!(params.request.company, "acme");
        assert_eq!(params.request.municipalities, ["Hartford", "New Haven"]);
        assert_eq!(params.request.industries, ["Agriculture, Forestry"]);
        assert_eq!(params.request.fiscal_years, [2017]);
        assert_eq!((params.request.offset, params.request.limit), (10, 5));
    }

    #[test]
    fn long_and_nul_values_are_refused_naming_the_parameter_and_the_limit() {
        let long_company = format!("company={}", "a".repeat(SEARCH_TEXT.get() + 1));
        let long_town = format!("municipality={}", "m".repeat(TEXT_NAME.get() + 1));
        let many_programs = vec!["program=maa"; FILTER_VALUES.get() + 1].join("&");
        let many_years = vec!["fiscal_year=2017"; FILTER_VALUES.get() + 1].join("&");
        for (query, parameter, limit) in [
            (long_company.as_str(), "company", Some(SEARCH_TEXT.name)),
            (long_town.as_str(), "municipality", Some(TEXT_NAME.name)),
            (many_programs.as_str(), "program", Some(FILTER_VALUES.name)),
            (many_years.as_str(), "fiscal_year", Some(FILTER_VALUES.name)),
            ("company=ac%00me", "company", None),
            ("industry=Farm%00ing", "industry", None),
            ("assistance_type=grant%00", "assistance_type", None),
        ] {
            let error = parse(Some(query), Route::Download).unwrap_err();
            let details = &error.0.details;
            assert_eq!(
                details.get("parameter").map(String::as_str),
                Some(parameter),
                "{query}"
            );
            assert_eq!(details.get("limit").map(String::as_str), limit, "{query}");
        }
        let at_the_limits = format!(
            "company={}&{}",
            "a".repeat(SEARCH_TEXT.get()),
            vec!["municipality=Putnam"; FILTER_VALUES.get()].join("&")
        );
        assert!(parse(Some(&at_the_limits), Route::Page).is_ok());
    }

    #[test]
    fn bad_parameters_are_named() {
        let error = parse(Some("municipalty=Hartford"), Route::Page).unwrap_err();
        assert_eq!(error.0.details["parameter"], "municipalty");
        let error = parse(Some("limit=5"), Route::Summary).unwrap_err();
        assert_eq!(error.0.details["parameter"], "limit");
        let error = parse(Some("by=town"), Route::Summary).unwrap_err();
        assert_eq!(error.0.details["parameter"], "by");
        let error = parse(Some("by=program,program"), Route::Summary).unwrap_err();
        assert_eq!(error.0.details["parameter"], "by");
        let error = parse(Some("assistance_type=gift"), Route::Page).unwrap_err();
        assert_eq!(error.0.details["parameter"], "assistance_type");
        let error = parse(Some("by=town"), Route::Summary).unwrap_err();
        assert_eq!(error.0.details["parameter"], "by");
        let error = parse(None, Route::Summary).unwrap_err();
        assert_eq!(error.0.details["parameter"], "by");
        let error = parse(Some("fiscal_year=FY17"), Route::Download).unwrap_err();
        assert_eq!(error.0.details["parameter"], "fiscal_year");
        let by = parse(Some("by=municipality,fiscal_year"), Route::Summary).unwrap();
        assert_eq!(
            by.group_by,
            [SummaryDimension::Municipality, SummaryDimension::FiscalYear]
        );
    }
}
