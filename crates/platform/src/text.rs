//! Checks of text and lists from clients against the limits of `opendata_limits`: every service
//! checks its fields with these, so each limit is enforced, and reported, the same way everywhere.
//! Text may not hold NUL characters either (PostgreSQL cannot store them).

use opendata_limits::{FILTER_VALUES, Limit};

use crate::error::{ApiError, ErrorCode, FieldViolation};

/// A field past its limit, or holding a NUL character.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TextError {
    /// The field (`metadata.description`).
    pub field: String,
    /// What is wrong, naming the limit.
    pub message: String,
    /// The limit, if a limit was passed (none for a NUL character).
    pub limit: Option<&'static str>,
}

/// Checks that `value` has at most `limit` characters (bytes, when the limit counts bytes) and no
/// NUL character.
pub fn check_text(field: &str, value: &str, limit: Limit) -> Result<(), TextError> {
    match limit.text_problem(value) {
        None => Ok(()),
        Some(message) => Err(TextError {
            field: field.to_owned(),
            limit: (!value.contains('\0')).then_some(limit.name),
            message,
        }),
    }
}

/// Checks a list filter: at most [`FILTER_VALUES`] values, each within `each`.
pub fn check_list<S: AsRef<str>>(field: &str, values: &[S], each: Limit) -> Result<(), TextError> {
    check_count(field, values.len(), FILTER_VALUES)?;
    values
        .iter()
        .try_for_each(|value| check_text(field, value.as_ref(), each))
}

/// Checks that a list has at most `limit` items.
pub fn check_count(field: &str, count: usize, limit: Limit) -> Result<(), TextError> {
    match limit.count_problem(count) {
        None => Ok(()),
        Some(message) => Err(TextError {
            field: field.to_owned(),
            message,
            limit: Some(limit.name),
        }),
    }
}

impl From<TextError> for FieldViolation {
    fn from(error: TextError) -> Self {
        FieldViolation {
            field: error.field,
            description: error.message,
        }
    }
}

impl From<TextError> for ApiError {
    fn from(error: TextError) -> Self {
        ApiError::new(ErrorCode::InvalidArgument, error.to_string())
            .with("field", &error.field)
            .with_limit(error.limit)
    }
}

#[cfg(test)]
mod tests {
    use opendata_limits::{KEYWORDS, TEXT_NAME, TEXT_URL};

    use super::*;

    #[test]
    fn characters_are_counted_not_bytes_unless_the_limit_says_bytes() {
        let accented = "é".repeat(TEXT_NAME.get());
        assert!(check_text("name", &accented, TEXT_NAME).is_ok());
        let error = check_text("name", &format!("{accented}e"), TEXT_NAME).unwrap_err();
        assert_eq!(error.limit, Some(TEXT_NAME.name));
        assert!(
            error.message.contains("201 characters"),
            "{}",
            error.message
        );
        let url = format!("https://x/{}", "é".repeat(TEXT_URL.get() / 2));
        assert!(check_text("url", &url, TEXT_URL).is_err());
    }

    #[test]
    fn nul_characters_and_long_lists_are_refused() {
        assert_eq!(
            check_text("name", "a\0b", TEXT_NAME).unwrap_err().limit,
            None
        );
        let tags = vec!["x"; FILTER_VALUES.get() + 1];
        assert_eq!(
            check_list("tags", &tags, TEXT_NAME).unwrap_err().limit,
            Some(FILTER_VALUES.name)
        );
        let error = ApiError::from(check_count("keywords", 51, KEYWORDS).unwrap_err());
        assert_eq!(error.code, ErrorCode::InvalidArgument);
        assert_eq!(
            error.details.get("limit").map(String::as_str),
            Some("keywords")
        );
        assert_eq!(
            error.details.get("field").map(String::as_str),
            Some("keywords")
        );
    }
}
