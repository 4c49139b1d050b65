//! JSON with comments and trailing commas, as DocFX and the Microsoft Learn
//! publishing configs are written: `//` and `/* */` comments and a `,` before
//! `}` or `]` are blanked out, then `serde_json` parses the rest.
//!
//! Blanking (spaces, newlines kept) instead of deleting keeps serde_json's
//! line and column numbers those of the file.

/// Parses JSON that may hold comments and trailing commas.
pub(crate) fn parse(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(&strip(text)).map_err(|e| format!("malformed JSON: {e}"))
}

/// The text with comments and trailing commas replaced by spaces.
pub(crate) fn strip(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let blank = |out: &mut Vec<u8>, range: std::ops::Range<usize>| {
        for byte in &mut out[range] {
            if !matches!(*byte, b'\n' | b'\r') {
                *byte = b' ';
            }
        }
    };
    // The last `,` seen outside strings and comments, not yet followed by a value.
    let mut comma: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                comma = None;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end =
                    bytes[i..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |n| i + n);
                blank(&mut out, i..end);
                i = end;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = text[i + 2..].find("*/").map_or(bytes.len(), |n| i + 2 + n + 2);
                blank(&mut out, i..end);
                i = end;
                continue;
            }
            b',' => comma = Some(i),
            b'}' | b']' => {
                if let Some(at) = comma.take() {
                    out[at] = b' ';
                }
            }
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => comma = None,
        }
        i += 1;
    }
    // Only ASCII bytes were replaced, by ASCII: the text is still UTF-8.
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_trailing_commas() {
        let text = "{\n  // a comment\n  \"a\": [1, 2, ], /* block\n */ \"b\": \"x // not a comment, }\",\n}\n";
        let value = parse(text).unwrap();
        assert_eq!(value["a"], serde_json::json!([1, 2]));
        assert_eq!(value["b"], "x // not a comment, }");
        assert_eq!(strip("[1,\n]"), "[1 \n]");
    }

    #[test]
    fn errors_keep_the_line() {
        let err = parse("{\n// c\n\"a\": ?\n}").unwrap_err();
        assert!(err.contains("line 3"), "{err}");
    }
}
