//! Tokens of SoQL. Keywords are case-insensitive; identifiers are bare (`sale_amount`), system
//! fields (`:id`, `:@computed_region_x`) or backquoted (`` `sale amount` ``); strings use single or
//! double quotes with the quote doubled to escape it.

use crate::error::{Position, SoqlError};

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// An identifier or keyword, as written.
    Word(String),
    /// A backquoted identifier (never a keyword).
    QuotedIdent(String),
    /// A system field (`:id`), including the colon.
    SystemField(String),
    /// A reference to a view (`@aaaa-aaaa`), without the `@`, as `param(@view, 'name')` takes.
    View(String),
    /// A string literal's value.
    Str(String),
    /// A number literal as written.
    Number(String),
    /// An operator or punctuation.
    Symbol(&'static str),
    /// The end of the input.
    End,
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned {
    /// The token.
    pub token: Token,
    /// Its position.
    pub position: Position,
}

const SYMBOLS: [&str; 22] = [
    "::", "||", "<=", ">=", "!=", "<>", "=", "<", ">", "+", "-", "*", "/", "%", "^", "(", ")", ",",
    ".", ";", "[", "]",
];

/// Splits a clause into tokens.
pub fn tokenize(input: &str) -> Result<Vec<Spanned>, SoqlError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    let mut line = 1u32;
    let mut line_start = 0usize;
    let position_of = |index: usize, line: u32, line_start: usize| Position {
        line,
        column: (index - line_start + 1) as u32,
    };
    while index < chars.len() {
        let c = chars[index];
        if c == '\n' {
            line += 1;
            index += 1;
            line_start = index;
            continue;
        }
        if c.is_whitespace() {
            index += 1;
            continue;
        }
        let position = position_of(index, line, line_start);
        let start = index;
        let token = if c.is_alphabetic() || c == '_' {
            while index < chars.len() && (chars[index].is_alphanumeric() || chars[index] == '_') {
                index += 1;
            }
            Token::Word(chars[start..index].iter().collect())
        } else if c == '@' && chars.get(index + 1).is_some_and(|n| n.is_alphanumeric()) {
            index += 1;
            while index < chars.len()
                && (chars[index].is_alphanumeric() || chars[index] == '-' || chars[index] == '_')
            {
                index += 1;
            }
            Token::View(chars[start + 1..index].iter().collect())
        } else if c == ':'
            && chars
                .get(index + 1)
                .is_some_and(|n| n.is_alphabetic() || *n == '_' || *n == '@' || *n == '*')
        {
            index += 1;
            if chars[index] == '*' {
                index += 1;
            } else {
                while index < chars.len()
                    && (chars[index].is_alphanumeric()
                        || chars[index] == '_'
                        || chars[index] == '@')
                {
                    index += 1;
                }
            }
            Token::SystemField(chars[start..index].iter().collect())
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(index + 1).is_some_and(char::is_ascii_digit))
        {
            while index < chars.len() && (chars[index].is_ascii_digit() || chars[index] == '.') {
                index += 1;
            }
            if index < chars.len() && (chars[index] == 'e' || chars[index] == 'E') {
                let mark = index;
                index += 1;
                if index < chars.len() && (chars[index] == '+' || chars[index] == '-') {
                    index += 1;
                }
                if index < chars.len() && chars[index].is_ascii_digit() {
                    while index < chars.len() && chars[index].is_ascii_digit() {
                        index += 1;
                    }
                } else {
                    index = mark;
                }
            }
            let text: String = chars[start..index].iter().collect();
            if text.matches('.').count() > 1 {
                return Err(SoqlError::malformed(
                    position,
                    format!("`{text}` is not a number"),
                ));
            }
            Token::Number(text)
        } else if c == '\'' || c == '"' || c == '`' {
            let quote = c;
            index += 1;
            let mut value = String::new();
            loop {
                match chars.get(index) {
                    None => {
                        let what = if quote == '`' { "identifier" } else { "string" };
                        return Err(SoqlError::malformed(
                            position,
                            format!("this {what} is never closed"),
                        ));
                    }
                    Some(&next) if next == quote => {
                        if chars.get(index + 1) == Some(&quote) {
                            value.push(quote);
                            index += 2;
                        } else {
                            index += 1;
                            break;
                        }
                    }
                    Some(&next) => {
                        if next == '\n' {
                            line += 1;
                            line_start = index + 1;
                        }
                        value.push(next);
                        index += 1;
                    }
                }
            }
            if quote == '`' {
                Token::QuotedIdent(value)
            } else {
                Token::Str(value)
            }
        } else {
            let rest: String = chars[index..chars.len().min(index + 2)].iter().collect();
            match SYMBOLS.iter().find(|symbol| rest.starts_with(**symbol)) {
                Some(symbol) => {
                    index += symbol.chars().count();
                    Token::Symbol(symbol)
                }
                None => {
                    return Err(SoqlError::malformed(
                        position,
                        format!("unexpected character `{c}`"),
                    ));
                }
            }
        };
        tokens.push(Spanned { token, position });
    }
    tokens.push(Spanned {
        token: Token::End,
        position: position_of(index, line, line_start),
    });
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(input: &str) -> Vec<Token> {
        tokenize(input)
            .unwrap()
            .into_iter()
            .map(|t| t.token)
            .collect()
    }

    #[test]
    fn words_strings_numbers_and_symbols() {
        assert_eq!(
            tokens("town = 'O''Brien' AND sale_amount>=1.5e3 OR :id != \"x\""),
            vec![
                Token::Word("town".into()),
                Token::Symbol("="),
                Token::Str("O'Brien".into()),
                Token::Word("AND".into()),
                Token::Word("sale_amount".into()),
                Token::Symbol(">="),
                Token::Number("1.5e3".into()),
                Token::Word("OR".into()),
                Token::SystemField(":id".into()),
                Token::Symbol("!="),
                Token::Str("x".into()),
                Token::End,
            ]
        );
        assert_eq!(
            tokens("`sale amount`::text"),
            vec![
                Token::QuotedIdent("sale amount".into()),
                Token::Symbol("::"),
                Token::Word("text".into()),
                Token::End
            ]
        );
    }

    #[test]
    fn positions_count_lines_and_columns() {
        let spanned = tokenize("a =\n  'b'").unwrap();
        assert_eq!(spanned[2].position, Position { line: 2, column: 3 });
    }

    #[test]
    fn unclosed_strings_and_stray_characters_are_malformed() {
        assert!(
            tokenize("town = 'Hartford")
                .unwrap_err()
                .message
                .contains("never closed")
        );
        assert_eq!(
            tokenize("a # b").unwrap_err().position,
            Position { line: 1, column: 3 }
        );
    }
}
