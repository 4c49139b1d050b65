//! Property tests of the report ID: invariant under volatile fields and action
//! order, sensitive to any byte of any action.

use proptest::prelude::*;
use serde_json::{Value, json};
use storage_approval::report_id_of_json;

fn action() -> impl Strategy<Value = Value> {
    (
        prop::bool::ANY,
        "[a-z]{1,8}(/[a-z0-9._-]{1,8}){0,3}",
        0u64..10_000_000,
        "[0-9a-f]{64}",
        "[a-z ]{0,20}",
        prop::option::of("dup:[0-9a-f]{16}"),
        "[a-z]{1,8}(/[a-z0-9._-]{1,8}){0,2}",
    )
        .prop_map(|(is_move, src, bytes, sha, reason, group, keep)| {
            let mut a = json!({
                "action": if is_move { "move" } else { "delete" }, "src": src, "bytes": bytes,
                "sha256": sha, "mtime": "2024-01-01T00:00:00.5Z", "policy_reason": reason, "group": group,
            });
            if is_move {
                a["dest"] = format!("archive/{src}").into();
            }
            if group.is_some() {
                a["keep"] = keep.into();
            }
            a
        })
}

fn report(actions: Vec<Value>) -> Value {
    json!({
        "version": 1, "root": "/srv/data", "generated_at": "2026-01-01T00:00:00Z", "runtime_ms": 12,
        "host": "a", "policy": {"junk": {"patterns": ["**/*.tmp"]}}, "actions": actions,
    })
}

proptest! {
    #[test]
    fn id_ignores_volatile_fields_and_action_order(
        actions in prop::collection::vec(action(), 0..12),
        seed in any::<u64>(),
        when in "[0-9TZ:-]{1,30}",
        runtime in any::<u64>(),
        host in "[a-z.-]{0,20}",
    ) {
        let original = report(actions.clone());
        let mut shuffled = actions;
        // A deterministic shuffle from the seed.
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        let mut other = report(shuffled);
        other["generated_at"] = when.into();
        other["runtime_ms"] = runtime.into();
        other["host"] = host.into();
        prop_assert_eq!(report_id_of_json(&original), report_id_of_json(&other));
    }

    #[test]
    fn id_changes_with_any_byte_of_any_action(
        actions in prop::collection::vec(action(), 1..8),
        which in any::<prop::sample::Index>(),
        field in prop::sample::select(vec!["action", "src", "dest", "bytes", "sha256", "mtime", "policy_reason", "group", "keep"]),
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let original = report(actions.clone());
        let mut changed = actions;
        let i = which.index(changed.len());
        let value = changed[i].get(field).cloned().unwrap_or(Value::Null);
        let new_value = match value {
            Value::Number(n) => Value::from(n.as_u64().unwrap() + 1 + u64::from(byte)),
            Value::String(text) => {
                let mut bytes = text.into_bytes();
                let p = pos.index(bytes.len().max(1));
                // Replace one byte by a different ASCII byte (or append one).
                let new = b'!' + (byte % 90);
                match bytes.get_mut(p) {
                    Some(b) if *b != new => *b = new,
                    Some(b) => *b = new + 1,
                    None => bytes.push(new),
                }
                Value::String(String::from_utf8(bytes).unwrap())
            }
            _ => Value::String(format!("x{byte}")),
        };
        changed[i][field] = new_value;
        prop_assert_ne!(report_id_of_json(&original), report_id_of_json(&report(changed)));
    }
}
