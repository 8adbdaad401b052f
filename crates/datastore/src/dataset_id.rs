//! Socrata-style dataset ids ("4x4"): `[a-z0-9]{4}-[a-z0-9]{4}`.

use std::fmt;

/// Letters and digits used for generated ids; easily confused characters (0/o, 1/l/i) are left out.
const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// A valid dataset id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DatasetId(String);

impl DatasetId {
    /// Parses an id; `None` unless it is exactly `[a-z0-9]{4}-[a-z0-9]{4}`.
    pub fn parse(text: &str) -> Option<DatasetId> {
        let bytes = text.as_bytes();
        let valid = bytes.len() == 9
            && bytes[4] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(index, b)| index == 4 || b.is_ascii_lowercase() || b.is_ascii_digit());
        valid.then(|| DatasetId(text.to_owned()))
    }

    /// A new random id.
    pub fn generate() -> DatasetId {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).expect("the operating system provides randomness");
        let mut id = String::with_capacity(9);
        for (index, byte) in random.iter().enumerate() {
            if index == 4 {
                id.push('-');
            }
            id.push(ALPHABET[usize::from(*byte) % ALPHABET.len()] as char);
        }
        DatasetId(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_four_by_four() {
        assert!(DatasetId::parse("abcd-1234").is_some());
        for bad in [
            "abcd1234",
            "ABCD-1234",
            "abc-12345",
            "abcd-123",
            "abcd-12;4",
            "",
        ] {
            assert!(DatasetId::parse(bad).is_none(), "{bad}");
        }
        for _ in 0..100 {
            let id = DatasetId::generate();
            assert_eq!(DatasetId::parse(id.as_str()), Some(id));
        }
    }
}
