//! Enough of JavaScript/TypeScript to read a `docusaurus.config.{js,ts,mjs}`:
//! object and array literals with string, boolean and number values. Anything
//! else (calls, identifiers, spreads, functions) is an opaque value that keeps
//! the last string literal and the object literals inside it, so that
//! `path: path.resolve(__dirname, 'docs')` reads as `'docs'` and the options
//! object of `['@docusaurus/plugin-content-docs', {...}]` is found.
//!
//! The config is code and doclinks never runs it: a value computed at run time
//! is not known, and the defaults apply.

/// A value of the config, as far as literals tell.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Js {
    Str(String),
    Bool(bool),
    Array(Vec<Js>),
    Object(Vec<(String, Js)>),
    /// An expression that is not a literal: its last string literal and the
    /// object and array literals found inside it.
    Opaque {
        last_string: Option<String>,
        inner: Vec<Js>,
    },
}

impl Js {
    /// The value of `key` in an object.
    pub(crate) fn get(&self, key: &str) -> Option<&Js> {
        match self {
            Js::Object(pairs) => pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A string literal, or the last string of an opaque expression.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Js::Str(s) => Some(s),
            Js::Opaque { last_string: Some(s), .. } => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Js::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The strings of an array literal.
    pub(crate) fn strings(&self) -> Vec<String> {
        match self {
            Js::Array(items) => {
                items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect()
            }
            _ => Vec::new(),
        }
    }

    /// The values directly inside this one: array items, object values, the
    /// literals inside an opaque expression.
    #[cfg(test)]
    pub(crate) fn children(&self) -> Vec<&Js> {
        match self {
            Js::Array(items) => items.iter().collect(),
            Js::Object(pairs) => pairs.iter().map(|(_, v)| v).collect(),
            Js::Opaque { inner, .. } => inner.iter().collect(),
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Str(String),
    Word(String),
    Punct(char),
}

fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                i += 2;
            }
            '"' | '\'' | '`' => {
                let mut s = String::new();
                let mut interpolated = false;
                i += 1;
                while i < chars.len() && chars[i] != c {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    } else if c == '`' && chars[i] == '$' && chars.get(i + 1) == Some(&'{') {
                        interpolated = true;
                    }
                    s.push(chars[i]);
                    i += 1;
                }
                i += 1;
                // A template with `${…}` is computed: not a known string.
                tokens.push(if interpolated { Token::Word("`".to_owned()) } else { Token::Str(s) });
            }
            c if c.is_whitespace() => i += 1,
            c if c.is_alphanumeric() || c == '_' || c == '$' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '$' | '.'))
                {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
            c => {
                tokens.push(Token::Punct(c));
                i += 1;
            }
        }
    }
    tokens
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn punct(&self, c: char) -> bool {
        self.peek() == Some(&Token::Punct(c))
    }

    /// One value, up to a `,` or a closing bracket at its own depth.
    fn value(&mut self) -> Js {
        let mut last_string = None;
        let mut inner = Vec::new();
        let mut parts = 0;
        let mut single = None;
        loop {
            match self.peek().cloned() {
                None => break,
                Some(Token::Punct(',' | '}' | ']' | ')' | ';')) => break,
                Some(Token::Punct('{')) => {
                    self.at += 1;
                    let object = self.object();
                    inner.push(object.clone());
                    single = Some(object);
                }
                Some(Token::Punct('[')) => {
                    self.at += 1;
                    let array = self.array();
                    inner.push(array.clone());
                    single = Some(array);
                }
                Some(Token::Punct('(')) => {
                    self.at += 1;
                    while !self.punct(')') && self.peek().is_some() {
                        let value = self.value();
                        if let Some(s) = value.as_str() {
                            last_string = Some(s.to_owned());
                        }
                        inner.extend(value_literals(value));
                        if self.punct(',') {
                            self.at += 1;
                        }
                    }
                    self.at += 1;
                    single = None;
                    parts += 1;
                }
                Some(Token::Str(s)) => {
                    self.at += 1;
                    last_string = Some(s.clone());
                    single = Some(Js::Str(s));
                }
                Some(Token::Word(w)) => {
                    self.at += 1;
                    single = match w.as_str() {
                        "true" => Some(Js::Bool(true)),
                        "false" => Some(Js::Bool(false)),
                        _ => None,
                    };
                }
                Some(Token::Punct(_)) => {
                    self.at += 1;
                    single = None;
                }
            }
            parts += 1;
        }
        match single {
            Some(value) if parts == 1 => value,
            _ => Js::Opaque { last_string, inner },
        }
    }

    fn object(&mut self) -> Js {
        let mut pairs = Vec::new();
        while let Some(token) = self.peek().cloned() {
            match token {
                Token::Punct('}') => {
                    self.at += 1;
                    break;
                }
                Token::Punct(',') => self.at += 1,
                Token::Str(key) | Token::Word(key) => {
                    self.at += 1;
                    if self.punct(':') {
                        self.at += 1;
                        let value = self.value();
                        pairs.push((key, value));
                    } else if self.punct('(') {
                        // A method: its body is code, not data.
                        let _ = self.value();
                        if self.punct('{') {
                            self.at += 1;
                            let _ = self.object();
                        }
                    }
                }
                _ => {
                    // `...spread`, `[computed]: x`: read and dropped.
                    let value = self.value();
                    if let Js::Opaque { inner, .. } = value {
                        for literal in inner {
                            pairs.push((String::new(), literal));
                        }
                    }
                    if !self.punct(',') && !self.punct('}') {
                        self.at += 1;
                    }
                }
            }
        }
        Js::Object(pairs)
    }

    fn array(&mut self) -> Js {
        let mut items = Vec::new();
        while self.peek().is_some() {
            if self.punct(']') {
                self.at += 1;
                break;
            }
            if self.punct(',') {
                self.at += 1;
                continue;
            }
            let before = self.at;
            items.push(self.value());
            if self.at == before {
                self.at += 1;
            }
        }
        Js::Array(items)
    }
}

fn value_literals(value: Js) -> Vec<Js> {
    match value {
        Js::Opaque { inner, .. } => inner,
        literal @ (Js::Object(_) | Js::Array(_)) => vec![literal],
        _ => Vec::new(),
    }
}

/// Every top-level object literal of a config file, in order.
pub(crate) fn objects(text: &str) -> Vec<Js> {
    let mut parser = Parser { tokens: tokenize(text), at: 0 };
    let mut out = Vec::new();
    while let Some(token) = parser.peek() {
        if token == &Token::Punct('{') {
            parser.at += 1;
            out.push(parser.object());
        } else {
            parser.at += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_docusaurus_config() {
        let text = r#"
// @ts-check
import path from 'path';
const config = {
  url: 'https://x.dev', baseUrl: '/', trailingSlash: false,
  staticDirectories: ['static', "public"],
  presets: [
    ['classic', /** @type {x} */ ({
      docs: { path: '../docs', sidebarPath: require.resolve('./sidebars'), editUrl: `https://e/${x}` },
      blog: false,
    })],
  ],
  plugins: [
    ['content-docs', { id: 'arch', path: path.resolve(__dirname, 'architecture'), routeBasePath: '/architecture' }],
    function plugin() { return { name: 'x' }; },
  ],
};
export default config;
"#;
        let objects = objects(text);
        let config = &objects[0];
        assert_eq!(config.get("baseUrl").and_then(Js::as_str), Some("/"));
        assert_eq!(config.get("trailingSlash").and_then(Js::as_bool), Some(false));
        assert_eq!(config.get("staticDirectories").unwrap().strings(), ["static", "public"]);
        let presets = config.get("presets").unwrap();
        let classic = &presets.children()[0].children()[1];
        let options = match classic {
            Js::Opaque { inner, .. } => &inner[0],
            other => other,
        };
        assert_eq!(options.get("docs").unwrap().get("path").and_then(Js::as_str), Some("../docs"));
        assert_eq!(options.get("blog").and_then(Js::as_bool), Some(false));
        let plugin = &config.get("plugins").unwrap().children()[0].children()[1];
        assert_eq!(plugin.get("path").and_then(Js::as_str), Some("architecture"));
        assert_eq!(plugin.get("routeBasePath").and_then(Js::as_str), Some("/architecture"));
    }
}
