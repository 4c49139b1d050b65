//! The canonical order: every acquisition sorts its names by it, which is what
//! makes deadlock impossible (no two holders can wait on each other in a cycle).

use serde::{Deserialize, Serialize};

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

/// The order and umbrella a lock directory uses, recorded in it on first use
/// (`multilock.order.json`) so that every process agrees on one total order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderRecord {
    pub(crate) order: CanonicalOrder,
    pub(crate) umbrella: Option<String>,
}

/// The on-disk form of [`OrderRecord`].
#[derive(Serialize, Deserialize)]
struct OrderFile {
    format: String,
    order: Vec<String>,
    umbrella: Option<String>,
}

const ORDER_FORMAT: &str = "multilock-order/1";

impl OrderRecord {
    pub(crate) fn new(
        order: CanonicalOrder,
        umbrella: Option<String>,
    ) -> std::result::Result<OrderRecord, &'static str> {
        if umbrella.as_ref().is_some_and(|u| order.knows(u)) {
            return Err("the umbrella cannot also be a name of the canonical order");
        }
        Ok(OrderRecord { order, umbrella })
    }

    /// `queue,runs,archive,docs`, with ` (umbrella tidy)` when there is one.
    pub(crate) fn describe(&self) -> String {
        let mut text = self.order.names().join(",");
        if let Some(umbrella) = &self.umbrella {
            text.push_str(&format!(" (umbrella {umbrella})"));
        }
        text
    }

    pub(crate) fn to_json(&self) -> Vec<u8> {
        let file = OrderFile {
            format: ORDER_FORMAT.to_owned(),
            order: self.order.names().to_vec(),
            umbrella: self.umbrella.clone(),
        };
        let mut bytes = serde_json::to_vec_pretty(&file).expect("order record always serializes");
        bytes.push(b'\n');
        bytes
    }

    pub(crate) fn parse(bytes: &[u8], path: &std::path::Path) -> Result<OrderRecord> {
        let corrupt = |reason: String| Error::CorruptOrderRecord { path: path.to_owned(), reason };
        let file: OrderFile = serde_json::from_slice(bytes)
            .map_err(|e| corrupt(format!("not a multilock order record: {e}")))?;
        if file.format != ORDER_FORMAT {
            return Err(corrupt(format!(
                "unknown format {:?} (expected {ORDER_FORMAT:?})",
                file.format
            )));
        }
        let order = CanonicalOrder::new(&file.order).map_err(|e| corrupt(e.to_string()))?;
        if let Some(umbrella) = &file.umbrella {
            validate_name(umbrella).map_err(|e| corrupt(e.to_string()))?;
        }
        OrderRecord::new(order, file.umbrella).map_err(|reason| corrupt(reason.to_owned()))
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
