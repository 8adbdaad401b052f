//! Query parameters held to the limits before any service is called: a text within its limit, and
//! list filters (repeated parameters or comma-separated lists) of at most `FILTER_VALUES` values,
//! each within `TEXT_NAME`; none may hold a NUL character. Each refusal names the parameter and
//! the limit.

use opendata_limits::{FILTER_VALUES, Limit, TEXT_NAME};
use opendata_platform::text::{check_count, check_text};

use crate::error::SodaError;

/// `value`, unless it goes past `limit` or holds a NUL character.
pub fn within(parameter: &str, value: String, limit: Limit) -> Result<String, SodaError> {
    check_text(parameter, &value, limit).map_err(SodaError::over_limit(parameter))?;
    Ok(value)
}

/// Refuses a list filter of more than `FILTER_VALUES` values.
pub fn counted(parameter: &str, count: usize) -> Result<(), SodaError> {
    check_count(parameter, count, FILTER_VALUES).map_err(SodaError::over_limit(parameter))
}

/// Adds values of a list filter to `values`.
pub fn add_values(
    parameter: &str,
    values: &mut Vec<String>,
    added: impl IntoIterator<Item = String>,
) -> Result<(), SodaError> {
    for value in added {
        let value = within(parameter, value, TEXT_NAME)?;
        counted(parameter, values.len() + 1)?;
        values.push(value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_filters_are_held_to_their_count_and_length() {
        let mut values = Vec::new();
        add_values(
            "tags",
            &mut values,
            vec!["x".to_owned(); FILTER_VALUES.get()],
        )
        .unwrap();
        let error = add_values("tags", &mut values, ["x".to_owned()]).unwrap_err();
        assert_eq!(error.0.details["parameter"], "tags");
        assert_eq!(error.0.details["limit"], FILTER_VALUES.name);
        assert_eq!(values.len(), FILTER_VALUES.get());

        let error =
            add_values("tags", &mut Vec::new(), ["x".repeat(TEXT_NAME.get() + 1)]).unwrap_err();
        assert_eq!(error.0.details["limit"], TEXT_NAME.name);
        let error = within("q", "a\0b".to_owned(), TEXT_NAME).unwrap_err();
        assert_eq!(error.0.details["parameter"], "q");
    }
}
