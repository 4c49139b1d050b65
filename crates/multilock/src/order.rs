//! The canonical order: every acquisition sorts its names by it, which is what
//! makes deadlock impossible (no two holders can wait on each other in a cycle).

use crate::error::{Error, Result};
use crate::name::validate_name;

/// The default subsystem order of a tidy run.
pub const DEFAULT_ORDER: [&str; 4] = ["queue", "runs", "archive", "docs"];

/// A total order over lock names: the configured names by position, then any
/// other (unknown) name after them, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalOrder {
    names: Vec<String>,
}

impl Default for CanonicalOrder {
    fn default() -> Self {
        CanonicalOrder { names: DEFAULT_ORDER.iter().map(|s| (*s).to_owned()).collect() }
    }
}

/// Names sorted into the order they are taken in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderedNames {
    /// Every distinct requested name, in acquisition order.
    pub names: Vec<String>,
    /// The requested names that the order does not know (a warning for the user).
    pub unknown: Vec<String>,
}

impl CanonicalOrder {
    /// An order from a list of names; each must be valid and appear once.
    pub fn new<S: AsRef<str>>(names: &[S]) -> Result<CanonicalOrder> {
        let mut out: Vec<String> = Vec::with_capacity(names.len());
        for name in names {
            let name = name.as_ref();
            validate_name(name)?;
            if out.iter().any(|n| n == name) {
                return Err(Error::InvalidName {
                    name: name.to_owned(),
                    reason: "it appears twice in the order",
                });
            }
            out.push(name.to_owned());
        }
        Ok(CanonicalOrder { names: out })
    }

    /// The configured names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether `name` is one of the configured names.
    pub fn knows(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// Sorts, deduplicates and validates `requested`.
    pub fn sort<S: AsRef<str>>(&self, requested: &[S]) -> Result<OrderedNames> {
        let mut keyed: Vec<(usize, &str)> = Vec::with_capacity(requested.len());
        for name in requested {
            let name = name.as_ref();
            validate_name(name)?;
            let rank = self.names.iter().position(|n| n == name).unwrap_or(self.names.len());
            keyed.push((rank, name));
        }
        keyed.sort_unstable();
        keyed.dedup();
        let unknown = keyed
            .iter()
            .filter(|(rank, _)| *rank == self.names.len())
            .map(|(_, n)| (*n).to_owned())
            .collect();
        Ok(OrderedNames { names: keyed.into_iter().map(|(_, n)| n.to_owned()).collect(), unknown })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_known_names_canonically_and_unknown_after_by_name() {
        let order = CanonicalOrder::default();
        let sorted = order.sort(&["zeta", "docs", "queue", "alpha", "docs"]).unwrap();
        assert_eq!(sorted.names, ["queue", "docs", "alpha", "zeta"]);
        assert_eq!(sorted.unknown, ["alpha", "zeta"]);
    }

    #[test]
    fn custom_order_rejects_duplicates_and_bad_names() {
        assert!(CanonicalOrder::new(&["a", "b"]).is_ok());
        assert!(CanonicalOrder::new(&["a", "a"]).unwrap_err().to_string().contains("twice"));
        assert!(CanonicalOrder::new(&["A"]).is_err());
    }
}
