//! The digest-response (RFC 2831 §2.1.2) and response-auth (§2.1.3), typed.

use super::lexer::{lex, parse_maxbuf, set_once, text, Emitter};
use crate::digest::{latin1_decode, latin1_or_utf8, nc_hex};
use crate::error::{DirectiveName, InvalidReason, ParseError};
use crate::{Cipher, Qop, MAXBUF_DEFAULT};

/// Largest digest-response accepted or produced (RFC 2831 §2.1.2).
pub const MAX_RESPONSE_LEN: usize = 4096;

/// A parsed digest-response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The authentication identity.
    pub username: String,
    /// The realm, if the client sent one.
    pub realm: Option<String>,
    /// The server nonce echoed back (unescaped wire bytes).
    pub nonce: Vec<u8>,
    /// The client nonce (unescaped wire bytes).
    pub cnonce: Vec<u8>,
    /// The nonce-count.
    pub nc: u32,
    /// The chosen qop (`auth` when absent).
    pub qop: Qop,
    /// `serv-type/host[/serv-name]`.
    pub digest_uri: String,
    /// The 32 hex digits of `response`, as received.
    pub response: [u8; 32],
    /// The client's receive buffer size.
    pub maxbuf: u32,
    /// `charset=utf-8`.
    pub utf8: bool,
    /// The chosen cipher (qop `auth-conf` only).
    pub cipher: Option<Cipher>,
    /// The authorization identity (always UTF-8).
    pub authzid: Option<String>,
}

/// Decodes a username or realm: UTF-8 when `charset=utf-8`; otherwise ISO-8859-1 as the
/// RFC says, except that bytes which are well-formed non-ASCII UTF-8 are read as UTF-8,
/// because Cyrus SASL's client sends UTF-8 without ever sending `charset`.
fn name_text(v: &[u8], utf8: bool, directive: DirectiveName) -> Result<String, ParseError> {
    if utf8 {
        return text(v, true, directive);
    }
    Ok(match std::str::from_utf8(v) {
        Ok(s) => s.to_owned(),
        Err(_) => latin1_decode(v),
    })
}

impl Response {
    /// Parses a digest-response.
    pub fn parse(input: &[u8]) -> Result<Response, ParseError> {
        let (ds, utf8) = lex(
            input,
            MAX_RESPONSE_LEN,
            &[
                DirectiveName::Username,
                DirectiveName::Realm,
                DirectiveName::Nonce,
                DirectiveName::Cnonce,
                DirectiveName::Authzid,
            ],
        )?;
        let (mut username, mut realm, mut nonce, mut cnonce, mut nc, mut qop) =
            (None, None, None, None, None, None);
        let (mut uri, mut response, mut maxbuf, mut cipher, mut authzid) =
            (None, None, None, None, None);
        for d in &ds {
            let v = &*d.value;
            if d.is("username") {
                set_once(
                    &mut username,
                    name_text(v, utf8, DirectiveName::Username)?,
                    DirectiveName::Username,
                )?;
            } else if d.is("realm") {
                set_once(
                    &mut realm,
                    name_text(v, utf8, DirectiveName::Realm)?,
                    DirectiveName::Realm,
                )?;
            } else if d.is("nonce") {
                set_once(&mut nonce, v.to_vec(), DirectiveName::Nonce)?;
            } else if d.is("cnonce") {
                set_once(&mut cnonce, v.to_vec(), DirectiveName::Cnonce)?;
            } else if d.is("nc") {
                let mut b = [0u8; 4];
                if v.len() != 8 || crate::digest::decode_hex(v, &mut b).is_none() {
                    return Err(ParseError::InvalidValue {
                        directive: DirectiveName::Nc,
                        reason: InvalidReason::NotEightHexDigits,
                    });
                }
                set_once(&mut nc, u32::from_be_bytes(b), DirectiveName::Nc)?;
            } else if d.is("qop") {
                let q = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| Qop::from_token(s.trim()));
                let q = q.ok_or(ParseError::InvalidValue {
                    directive: DirectiveName::Qop,
                    reason: InvalidReason::UnknownQop,
                })?;
                set_once(&mut qop, q, DirectiveName::Qop)?;
            } else if d.is("digest-uri") {
                let s = String::from_utf8(v.to_vec()).ok().filter(|s| s.is_ascii());
                let s = s.ok_or(ParseError::InvalidValue {
                    directive: DirectiveName::DigestUri,
                    reason: InvalidReason::NotAscii,
                })?;
                set_once(&mut uri, s, DirectiveName::DigestUri)?;
            } else if d.is("response") {
                let r = hex32(v, DirectiveName::Response)?;
                set_once(&mut response, r, DirectiveName::Response)?;
            } else if d.is("maxbuf") {
                set_once(&mut maxbuf, parse_maxbuf(v)?, DirectiveName::Maxbuf)?;
            } else if d.is("cipher") {
                let c = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| Cipher::from_token(s.trim()));
                let c = c.ok_or(ParseError::InvalidValue {
                    directive: DirectiveName::Cipher,
                    reason: InvalidReason::UnknownCipher,
                })?;
                set_once(&mut cipher, c, DirectiveName::Cipher)?;
            } else if d.is("authzid") {
                let z = text(v, true, DirectiveName::Authzid)?;
                if z.is_empty() {
                    return Err(ParseError::InvalidValue {
                        directive: DirectiveName::Authzid,
                        reason: InvalidReason::Empty,
                    });
                }
                set_once(&mut authzid, z, DirectiveName::Authzid)?;
            }
        }
        let qop = qop.unwrap_or(Qop::Auth);
        match (qop, cipher) {
            (Qop::AuthConf, None) => return Err(ParseError::Missing(DirectiveName::Cipher)),
            (Qop::Auth | Qop::AuthInt, Some(_)) => {
                return Err(ParseError::InvalidValue {
                    directive: DirectiveName::Cipher,
                    reason: InvalidReason::CipherWithoutAuthConf,
                })
            }
            _ => {}
        }
        Ok(Response {
            username: username.ok_or(ParseError::Missing(DirectiveName::Username))?,
            realm,
            nonce: nonce.ok_or(ParseError::Missing(DirectiveName::Nonce))?,
            cnonce: cnonce
                .filter(|c| !c.is_empty())
                .ok_or(ParseError::Missing(DirectiveName::Cnonce))?,
            nc: nc.ok_or(ParseError::Missing(DirectiveName::Nc))?,
            qop,
            digest_uri: uri.ok_or(ParseError::Missing(DirectiveName::DigestUri))?,
            response: response.ok_or(ParseError::Missing(DirectiveName::Response))?,
            maxbuf: maxbuf.unwrap_or(MAXBUF_DEFAULT),
            utf8,
            cipher,
            authzid,
        })
    }

    /// Emits the response in RFC form (username and realm in UTF-8 when `utf8`, else
    /// ISO-8859-1 where representable).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut e = Emitter::new();
        if self.utf8 {
            e.token("charset", b"utf-8");
        }
        let name = |s: &str| {
            if self.utf8 {
                s.as_bytes().to_vec()
            } else {
                latin1_or_utf8(s).into_owned()
            }
        };
        e.quoted("username", &name(&self.username));
        if let Some(r) = &self.realm {
            e.quoted("realm", &name(r));
        }
        e.quoted("nonce", &self.nonce);
        e.quoted("cnonce", &self.cnonce);
        e.token("nc", &nc_hex(self.nc));
        e.token("qop", self.qop.as_str().as_bytes());
        if let Some(c) = self.cipher {
            e.token("cipher", c.as_str().as_bytes());
        }
        if self.maxbuf != MAXBUF_DEFAULT {
            e.token("maxbuf", self.maxbuf.to_string().as_bytes());
        }
        e.quoted("digest-uri", self.digest_uri.as_bytes());
        e.token("response", &self.response);
        if let Some(z) = &self.authzid {
            e.quoted("authzid", z.as_bytes());
        }
        e.finish()
    }
}

/// A `response` or `rspauth` value: exactly 32 hex digits, kept as received.
fn hex32(v: &[u8], directive: DirectiveName) -> Result<[u8; 32], ParseError> {
    match <[u8; 32]>::try_from(v) {
        Ok(r) if r.iter().all(u8::is_ascii_hexdigit) => Ok(r),
        _ => Err(ParseError::InvalidValue {
            directive,
            reason: InvalidReason::NotThirtyTwoHexDigits,
        }),
    }
}

/// Parses a response-auth token (`rspauth=...`): exactly one `rspauth` of 32 hex digits.
pub fn parse_rspauth(input: &[u8]) -> Result<[u8; 32], ParseError> {
    if input.len() > MAX_RESPONSE_LEN {
        return Err(ParseError::TooLong {
            len: input.len(),
            limit: MAX_RESPONSE_LEN,
        });
    }
    let mut found = None;
    for d in super::lexer::parse(input)? {
        if d.is("rspauth") {
            let r = hex32(&d.value, DirectiveName::Rspauth)?;
            set_once(&mut found, r, DirectiveName::Rspauth)?;
        }
    }
    found.ok_or(ParseError::Missing(DirectiveName::Rspauth))
}

/// Emits `rspauth=<hex>`.
pub fn rspauth_token(value: &[u8; 32]) -> Vec<u8> {
    let mut e = Emitter::new();
    e.token("rspauth", value);
    e.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC: &str = r#"charset=utf-8,username="chris",realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",nc=00000001,cnonce="OA6MHXh6VqTrRk",digest-uri="imap/elwood.innosoft.com",response=d388dad90d4bbd760a152321f2143af7,qop=auth"#;

    fn p(s: &str) -> Result<Response, ParseError> {
        Response::parse(s.as_bytes())
    }

    #[test]
    fn rfc_example_round_trip() {
        let r = p(RFC).unwrap();
        assert_eq!(r.username, "chris");
        assert_eq!(r.nc, 1);
        assert_eq!(p(std::str::from_utf8(&r.to_bytes()).unwrap()).unwrap(), r);
    }

    #[test]
    fn quoted_everything() {
        // JDK quotes cipher, curl quotes nc.
        let r = p(&format!(r#"{RFC},cipher="3des""#)
            .replace("qop=auth", "qop=\"auth-conf\"")
            .replace("nc=00000001", "nc=\"00000001\""))
        .unwrap();
        assert_eq!(r.cipher, Some(Cipher::TripleDes));
    }

    #[test]
    fn rejections() {
        let dup = |name: DirectiveName, extra: &str| {
            assert_eq!(
                p(&format!("{RFC},{extra}")),
                Err(ParseError::Duplicate(name)),
                "{name}"
            );
        };
        dup(DirectiveName::Maxbuf, "maxbuf=1000,maxbuf=1000");
        dup(DirectiveName::Charset, "charset=utf-8");
        dup(DirectiveName::Cnonce, "cnonce=\"x\"");
        dup(DirectiveName::Nc, "nc=00000001");
        dup(DirectiveName::DigestUri, "digest-uri=\"imap/x\"");
        dup(
            DirectiveName::Response,
            "response=d388dad90d4bbd760a152321f2143af7",
        );
        dup(DirectiveName::Nonce, "nonce=\"x\"");
        dup(DirectiveName::Username, "username=\"x\"");
        for bad in ["1", "0000001", "000000001", "0000000g", "\"\""] {
            let s = RFC.replace("nc=00000001", &format!("nc={bad}"));
            assert!(
                matches!(
                    p(&s),
                    Err(ParseError::InvalidValue {
                        directive: DirectiveName::Nc,
                        ..
                    })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            p(&RFC.replace("d388dad90d4bbd760a152321f2143af7", "d388")),
            Err(ParseError::InvalidValue { .. })
        ));
        assert_eq!(
            p(&RFC.replace(",cnonce=\"OA6MHXh6VqTrRk\"", "")),
            Err(ParseError::Missing(DirectiveName::Cnonce))
        );
        assert_eq!(
            p(&RFC.replace("qop=auth", "qop=auth-conf")),
            Err(ParseError::Missing(DirectiveName::Cipher))
        );
        assert!(matches!(
            p(&format!("{RFC},cipher=rc4")),
            Err(ParseError::InvalidValue {
                directive: DirectiveName::Cipher,
                ..
            })
        ));
        assert!(matches!(
            p(&format!("{RFC},authzid=\"\"")),
            Err(ParseError::InvalidValue {
                directive: DirectiveName::Authzid,
                ..
            })
        ));
        assert!(matches!(
            p(&format!("{RFC},x=\"{}\"", "a".repeat(4100))),
            Err(ParseError::TooLong { .. })
        ));
        let bad_utf8 = [RFC.as_bytes(), b",authzid=\"\xc3\""].concat();
        assert_eq!(
            Response::parse(&bad_utf8),
            Err(ParseError::InvalidUtf8(DirectiveName::Authzid))
        );
    }

    #[test]
    fn usernames_without_charset() {
        let base = RFC.replace("charset=utf-8,", "");
        let latin1 = base.replace("chris", "J\u{fc}rgen");
        // ISO-8859-1 bytes on the wire (JDK without charset).
        let bytes: Vec<u8> = latin1.chars().map(|c| c as u8).collect();
        assert_eq!(Response::parse(&bytes).unwrap().username, "Jürgen");
        // UTF-8 bytes on the wire without charset (Cyrus).
        assert_eq!(p(&base.replace("chris", "用户")).unwrap().username, "用户");
    }

    #[test]
    fn rspauth() {
        let v = *b"ea40f60335c427b5527b84dbabcdfffd";
        assert_eq!(parse_rspauth(&rspauth_token(&v)).unwrap(), v);
        assert_eq!(
            parse_rspauth(b"rspauth=\"ea40f60335c427b5527b84dbabcdfffd\"").unwrap(),
            v
        );
        assert_eq!(
            parse_rspauth(b"foo=bar"),
            Err(ParseError::Missing(DirectiveName::Rspauth))
        );
        assert_eq!(
            parse_rspauth(b""),
            Err(ParseError::Missing(DirectiveName::Rspauth))
        );
        let twice = [rspauth_token(&v), b",".to_vec(), rspauth_token(&v)].concat();
        assert_eq!(
            parse_rspauth(&twice),
            Err(ParseError::Duplicate(DirectiveName::Rspauth))
        );
    }
}
