//! API key secrets: generated from the operating system's randomness, shown once, stored only as a
//! SHA-256 hash (keys are long random strings, so a fast hash is enough).

use sha2::{Digest, Sha256};

use crate::identity::KeyKind;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Random characters in a secret (~238 bits).
const SECRET_CHARS: usize = 40;
/// Characters of a secret kept in clear to recognise the key in listings.
const PREFIX_CHARS: usize = 8;

/// A freshly generated secret.
pub struct NewSecret {
    /// The whole secret, to show once.
    pub secret: String,
    /// Its recognisable beginning.
    pub prefix: String,
    /// Its hash, to store.
    pub hash: Vec<u8>,
}

/// How a session's secret begins.
pub const SESSION_PREFIX: &str = "ods_";

/// Generates a secret of the given kind (`odk_...` for API keys, `odt_...` for app tokens,
/// [`SESSION_PREFIX`] for sessions).
pub fn generate(kind: KeyKind) -> NewSecret {
    let mut random = [0u8; SECRET_CHARS];
    getrandom::fill(&mut random).expect("the operating system provides randomness");
    let mut secret = String::from(match kind {
        KeyKind::ApiKey => "odk_",
        KeyKind::AppToken => "odt_",
        KeyKind::Session => SESSION_PREFIX,
    });
    // 256 is not a multiple of 62; rejection sampling would be exact, but the bias of one modulo
    // (at most 1/62 per character) leaves far more entropy than any key needs.
    secret.extend(
        random
            .iter()
            .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char),
    );
    NewSecret {
        prefix: secret[..4 + PREFIX_CHARS].to_owned(),
        hash: hash(&secret),
        secret,
    }
}

/// The stored hash of a secret.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_prefixed_and_hashed() {
        let first = generate(KeyKind::ApiKey);
        let second = generate(KeyKind::ApiKey);
        assert_ne!(first.secret, second.secret);
        assert!(first.secret.starts_with("odk_"));
        assert_eq!(first.secret.len(), 44);
        assert!(first.secret.starts_with(&first.prefix));
        assert_eq!(first.hash, hash(&first.secret));
        assert!(generate(KeyKind::AppToken).secret.starts_with("odt_"));
        assert!(
            generate(KeyKind::Session)
                .secret
                .starts_with(SESSION_PREFIX)
        );
    }
}
