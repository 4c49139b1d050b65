//! Lock names: `[a-z0-9_-]{1,64}`, so that no name can escape the lock directory
//! or collide with another name on a case-insensitive file system.

use crate::error::{Error, Result};

/// The longest accepted lock name.
pub const MAX_NAME_LEN: usize = 64;

/// Checks that `name` is a valid lock name.
pub fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_NAME_LEN {
        "it is longer than 64 characters"
    } else if !name.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-')) {
        "only lowercase ASCII letters, digits, '_' and '-' are allowed"
    } else {
        return Ok(());
    };
    Err(Error::InvalidName { name: name.to_owned(), reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_alphabet() {
        for name in ["queue", "docs", "a", "runs-2", "build_cache", &"x".repeat(64)] {
            assert!(validate_name(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn refuses_names_that_could_escape_or_collide() {
        let cases = [
            ("", "it is empty"),
            ("../x", "only lowercase"),
            ("a/b", "only lowercase"),
            ("Queue", "only lowercase"),
            (".hidden", "only lowercase"),
            ("q ueue", "only lowercase"),
            ("quéue", "only lowercase"),
        ];
        for (name, reason) in cases {
            let err = validate_name(name).unwrap_err().to_string();
            assert!(err.contains(reason), "{name:?}: {err}");
        }
        let long = "x".repeat(65);
        assert!(validate_name(&long).unwrap_err().to_string().contains("longer than 64"));
    }
}
