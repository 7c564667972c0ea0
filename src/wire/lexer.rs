//! RFC 2831 §7 / RFC 2616 auth-param lexer and emitter.
//!
//! The lexer is tolerant in the way real peers need: any value may be quoted or bare,
//! directive names are case-insensitive, linear white space may surround names, `=`
//! and commas, empty list elements are skipped, and quoted values may contain commas
//! and backslash escapes. It is strict where ambiguity would be dangerous: NUL bytes,
//! unbalanced quotes and junk after a value are errors.

use std::borrow::Cow;

use crate::digest::latin1_decode;
use crate::error::{DirectiveName, InvalidReason, ParseError};
use crate::params::maxbuf_in_range;

/// One `name=value` pair as it appeared on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive<'a> {
    /// The directive name as sent (compare with [`Directive::is`]).
    pub name: &'a str,
    /// The value with quotes removed and backslash escapes resolved.
    pub value: Cow<'a, [u8]>,
    /// Whether the value was a quoted-string.
    pub quoted: bool,
}

impl Directive<'_> {
    /// Case-insensitive name comparison.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_separator(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')'
            | b'<'
            | b'>'
            | b'@'
            | b','
            | b';'
            | b':'
            | b'\\'
            | b'"'
            | b'/'
            | b'['
            | b']'
            | b'?'
            | b'='
            | b'{'
            | b'}'
            | b' '
            | b'\t'
    )
}

fn is_token_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !is_separator(b)
}

/// Splits a token into its `name=value` directives.
///
/// ```
/// use sasl_digest_md5::wire::lexer::parse;
/// let d = parse(br#"realm="a\"b", qop=auth , nonce="x,y""#).unwrap();
/// assert_eq!(d.len(), 3);
/// assert!(d[0].is("REALM"));
/// assert_eq!(&*d[0].value, b"a\"b");
/// assert_eq!(&*d[2].value, b"x,y");
/// ```
pub fn parse(input: &[u8]) -> Result<Vec<Directive<'_>>, ParseError> {
    if input.contains(&0) {
        return Err(ParseError::Nul);
    }
    let mut out = Vec::new();
    let mut i = 0;
    let n = input.len();
    loop {
        // Skip white space and empty list elements.
        while i < n && (is_lws(input[i]) || input[i] == b',') {
            i += 1;
        }
        if i >= n {
            break;
        }
        let start = i;
        while i < n && is_token_char(input[i]) {
            i += 1;
        }
        if i == start {
            return Err(ParseError::Syntax { offset: i });
        }
        // Token characters are ASCII, so this cannot fail.
        let name = std::str::from_utf8(&input[start..i])
            .map_err(|_| ParseError::Syntax { offset: start })?;
        while i < n && is_lws(input[i]) {
            i += 1;
        }
        if i >= n || input[i] != b'=' {
            return Err(ParseError::Syntax { offset: i });
        }
        i += 1;
        while i < n && is_lws(input[i]) {
            i += 1;
        }
        let (value, quoted) = if i < n && input[i] == b'"' {
            i += 1;
            let vstart = i;
            let mut owned: Option<Vec<u8>> = None;
            loop {
                if i >= n {
                    return Err(ParseError::UnbalancedQuote);
                }
                match input[i] {
                    b'"' => break,
                    b'\\' => {
                        if i + 1 >= n {
                            return Err(ParseError::UnbalancedQuote);
                        }
                        let buf = owned.get_or_insert_with(|| input[vstart..i].to_vec());
                        buf.push(input[i + 1]);
                        i += 2;
                    }
                    b => {
                        if let Some(buf) = owned.as_mut() {
                            buf.push(b);
                        }
                        i += 1;
                    }
                }
            }
            let v = match owned {
                Some(v) => Cow::Owned(v),
                None => Cow::Borrowed(&input[vstart..i]),
            };
            i += 1; // closing quote
            (v, true)
        } else {
            // A bare value: tolerant of separators that peers put in unquoted nonces
            // ('/', '=', '+'), it ends at a comma or white space.
            let vstart = i;
            while i < n && input[i] != b',' && !is_lws(input[i]) {
                if input[i] == b'"' {
                    return Err(ParseError::UnbalancedQuote);
                }
                i += 1;
            }
            (Cow::Borrowed(&input[vstart..i]), false)
        };
        while i < n && is_lws(input[i]) {
            i += 1;
        }
        if i < n && input[i] != b',' {
            return Err(ParseError::Syntax { offset: i });
        }
        out.push(Directive {
            name,
            value,
            quoted,
        });
    }
    Ok(out)
}

/// Builds a directive list in the RFC's exact forms.
///
/// ```
/// use sasl_digest_md5::wire::lexer::Emitter;
/// let mut e = Emitter::new();
/// e.quoted("realm", br#"a"b"#);
/// e.token("qop", b"auth");
/// assert_eq!(e.finish(), br#"realm="a\"b",qop=auth"#.to_vec());
/// ```
#[derive(Debug, Default)]
pub struct Emitter {
    buf: Vec<u8>,
}

impl Emitter {
    /// An empty list.
    pub fn new() -> Self {
        Emitter {
            buf: Vec::with_capacity(256),
        }
    }

    fn sep(&mut self, name: &str) {
        if !self.buf.is_empty() {
            self.buf.push(b',');
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(b'=');
    }

    /// `name="value"`, escaping `"` and `\`.
    pub fn quoted(&mut self, name: &str, value: &[u8]) {
        self.sep(name);
        self.buf.push(b'"');
        for &b in value {
            if b == b'"' || b == b'\\' {
                self.buf.push(b'\\');
            }
            self.buf.push(b);
        }
        self.buf.push(b'"');
    }

    /// `name=value` for values the grammar keeps bare.
    pub fn token(&mut self, name: &str, value: &[u8]) {
        self.sep(name);
        self.buf.extend_from_slice(value);
    }

    /// The bytes written so far.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

// ---- Rules shared by the challenge and response parsers ----

pub(crate) fn text(
    value: &[u8],
    utf8: bool,
    directive: DirectiveName,
) -> Result<String, ParseError> {
    if utf8 {
        String::from_utf8(value.to_vec()).map_err(|_| ParseError::InvalidUtf8(directive))
    } else {
        Ok(latin1_decode(value))
    }
}

pub(crate) fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    name: DirectiveName,
) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(ParseError::Duplicate(name));
    }
    *slot = Some(value);
    Ok(())
}

pub(crate) fn parse_maxbuf(v: &[u8]) -> Result<u32, ParseError> {
    const BAD: ParseError = ParseError::InvalidValue {
        directive: DirectiveName::Maxbuf,
        reason: InvalidReason::MaxbufOutOfRange,
    };
    if v.is_empty() || v.len() > 9 || !v.iter().all(u8::is_ascii_digit) {
        return Err(BAD);
    }
    let n: u32 = std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(BAD)?;
    if !maxbuf_in_range(n) {
        return Err(BAD);
    }
    Ok(n)
}

pub(crate) fn check_charset(v: &[u8]) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case(b"utf-8") {
        Ok(())
    } else {
        Err(ParseError::InvalidValue {
            directive: DirectiveName::Charset,
            reason: InvalidReason::NotUtf8Charset,
        })
    }
}

/// Lexes a token of at most `limit` bytes and reads its `charset` (at most once, only
/// `utf-8`); under `charset=utf-8` every value must be UTF-8 (`names`: the
/// directives to name in the error).
pub(crate) fn lex<'a>(
    input: &'a [u8],
    limit: usize,
    names: &[DirectiveName],
) -> Result<(Vec<Directive<'a>>, bool), ParseError> {
    if input.len() > limit {
        return Err(ParseError::TooLong {
            len: input.len(),
            limit,
        });
    }
    let ds = parse(input)?;
    let mut utf8 = None;
    for d in ds.iter().filter(|d| d.is("charset")) {
        check_charset(&d.value)?;
        set_once(&mut utf8, true, DirectiveName::Charset)?;
    }
    let utf8 = utf8.unwrap_or(false);
    if utf8 {
        if let Some(d) = ds.iter().find(|d| std::str::from_utf8(&d.value).is_err()) {
            let name = names.iter().copied().find(|n| d.is(n.as_str()));
            return Err(ParseError::InvalidUtf8(
                name.unwrap_or(DirectiveName::Other),
            ));
        }
    }
    Ok((ds, utf8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerant_forms() {
        let d = parse(b" ,Nonce = \"a b\" ,, QOP=\"auth,auth-int\",\talgorithm=md5-sess , x=y/z= ")
            .unwrap();
        assert_eq!(d.len(), 4);
        assert!(d[0].is("nonce") && d[0].quoted && &*d[0].value == b"a b");
        assert_eq!(&*d[1].value, b"auth,auth-int");
        assert!(!d[2].quoted);
        assert_eq!(&*d[3].value, b"y/z=");
    }

    #[test]
    fn escapes() {
        let d = parse(br#"a="\\\"\x""#).unwrap();
        assert_eq!(&*d[0].value, b"\\\"x");
        let mut e = Emitter::new();
        e.quoted("a", &d[0].value);
        assert_eq!(parse(&e.finish()).unwrap()[0].value, d[0].value);
    }

    #[test]
    fn rejects() {
        assert_eq!(parse(b"a=\"x"), Err(ParseError::UnbalancedQuote));
        assert_eq!(parse(b"a=\"x\\"), Err(ParseError::UnbalancedQuote));
        assert_eq!(parse(b"a=x\"y\""), Err(ParseError::UnbalancedQuote));
        assert_eq!(parse(b"a=\"x\0\""), Err(ParseError::Nul));
        assert!(matches!(parse(b"a"), Err(ParseError::Syntax { .. })));
        assert!(matches!(parse(b"=x"), Err(ParseError::Syntax { .. })));
        assert!(matches!(parse(b"a=\"x\"y"), Err(ParseError::Syntax { .. })));
        assert!(matches!(parse(b"a b=c"), Err(ParseError::Syntax { .. })));
        assert!(parse(b"").unwrap().is_empty());
    }
}
