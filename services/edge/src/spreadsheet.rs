//! Text written into CSV files that people open in spreadsheets, written by one party and read
//! by another (agencies' titles in the CDO's inventory plan, DECD's award records in the public
//! download): a cell that would start a formula is kept from becoming one.

/// A text a spreadsheet shows as written: one that would start a formula (`=`, `+`, `-`, `@`, a
/// tab or a carriage return) gets a leading `'`.
pub fn inert(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_written_as_text_and_the_rest_as_is() {
        assert_eq!(inert("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(inert("@cmd"), "'@cmd");
        assert_eq!(inert("-2+3"), "'-2+3");
        assert_eq!(inert("Grand List"), "Grand List");
        assert_eq!(inert("O'Brien = 1"), "O'Brien = 1");
    }
}
