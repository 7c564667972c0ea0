//! The digest-challenge (RFC 2831 §2.1.1), typed.

use super::lexer::{lex, parse_maxbuf, set_once, text, Emitter};
use crate::digest::latin1_or_utf8;
use crate::error::{DirectiveName, InvalidReason, ParseError};
use crate::{Cipher, CipherSet, Qop, QopSet, MAXBUF_DEFAULT};

/// Largest digest-challenge accepted or produced (RFC 2831 §2.1.1).
pub const MAX_CHALLENGE_LEN: usize = 2048;

/// A parsed digest-challenge.
///
/// ```
/// use sasl_digest_md5::wire::Challenge;
/// use sasl_digest_md5::Qop;
/// let c = Challenge::parse(br#"realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8"#).unwrap();
/// assert_eq!(c.realms, ["elwood.innosoft.com"]);
/// assert!(c.qops.contains(Qop::Auth) && c.utf8);
/// assert_eq!(Challenge::parse(&c.to_bytes()).unwrap(), c);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Offered realms, in order (decoded from UTF-8 or ISO-8859-1 by `charset`).
    pub realms: Vec<String>,
    /// The server nonce, unescaped wire bytes.
    pub nonce: Vec<u8>,
    /// Offered qops (`auth` when the directive is absent). `auth-conf` is dropped when
    /// no offered cipher is one we know.
    pub qops: QopSet,
    /// Offered ciphers we know (empty unless `auth-conf` is offered).
    pub ciphers: CipherSet,
    /// `stale=true`: the previous nonce expired; authenticate afresh.
    pub stale: bool,
    /// The server's receive buffer size.
    pub maxbuf: u32,
    /// `charset=utf-8`.
    pub utf8: bool,
}

/// Splits a comma-separated token list (qop-options, cipher-opts).
fn list(v: &[u8]) -> impl Iterator<Item = &str> {
    v.split(|&b| b == b',')
        .filter_map(|t| std::str::from_utf8(t).ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

impl Challenge {
    /// Parses a digest-challenge; see the crate docs for what is tolerated and what is
    /// refused.
    pub fn parse(input: &[u8]) -> Result<Challenge, ParseError> {
        let (ds, utf8) = lex(
            input,
            MAX_CHALLENGE_LEN,
            &[DirectiveName::Realm, DirectiveName::Nonce],
        )?;
        let mut realms = Vec::new();
        let mut nonce = None;
        let mut qops: Option<QopSet> = None;
        let mut ciphers = CipherSet::EMPTY;
        let mut stale = false;
        let mut maxbuf = None;
        let mut algorithm = None;
        for d in &ds {
            let v = &*d.value;
            if d.is("realm") {
                realms.push(text(v, utf8, DirectiveName::Realm)?);
            } else if d.is("nonce") {
                set_once(&mut nonce, v.to_vec(), DirectiveName::Nonce)?;
            } else if d.is("qop") {
                let set = qops.get_or_insert(QopSet::EMPTY);
                list(v)
                    .filter_map(Qop::from_token)
                    .for_each(|q| set.insert(q));
            } else if d.is("cipher") {
                list(v)
                    .filter_map(Cipher::from_token)
                    .for_each(|c| ciphers.insert(c));
            } else if d.is("stale") {
                stale = v.eq_ignore_ascii_case(b"true");
            } else if d.is("maxbuf") {
                set_once(&mut maxbuf, parse_maxbuf(v)?, DirectiveName::Maxbuf)?;
            } else if d.is("algorithm") {
                if !v.eq_ignore_ascii_case(b"md5-sess") {
                    return Err(ParseError::InvalidValue {
                        directive: DirectiveName::Algorithm,
                        reason: InvalidReason::NotMd5Sess,
                    });
                }
                set_once(&mut algorithm, (), DirectiveName::Algorithm)?;
            }
        }
        let nonce = nonce.ok_or(ParseError::Missing(DirectiveName::Nonce))?;
        if nonce.is_empty() {
            return Err(ParseError::InvalidValue {
                directive: DirectiveName::Nonce,
                reason: InvalidReason::Empty,
            });
        }
        algorithm.ok_or(ParseError::Missing(DirectiveName::Algorithm))?;
        let mut qops = qops.unwrap_or(QopSet::only(Qop::Auth));
        if !qops.contains(Qop::AuthConf) {
            ciphers = CipherSet::EMPTY;
        } else if ciphers.is_empty() {
            qops = qops.iter().filter(|q| *q != Qop::AuthConf).collect();
        }
        Ok(Challenge {
            realms,
            nonce,
            qops,
            ciphers,
            stale,
            maxbuf: maxbuf.unwrap_or(MAXBUF_DEFAULT),
            utf8,
        })
    }

    /// Emits the challenge in RFC form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut e = Emitter::new();
        for r in &self.realms {
            if self.utf8 {
                e.quoted("realm", r.as_bytes());
            } else {
                e.quoted("realm", &latin1_or_utf8(r));
            }
        }
        e.quoted("nonce", &self.nonce);
        let join = |items: Vec<&str>| items.join(",").into_bytes();
        e.quoted("qop", &join(self.qops.iter().map(Qop::as_str).collect()));
        if self.qops.contains(Qop::AuthConf) && !self.ciphers.is_empty() {
            e.quoted(
                "cipher",
                &join(self.ciphers.iter().map(Cipher::as_str).collect()),
            );
        }
        if self.stale {
            e.token("stale", b"true");
        }
        if self.maxbuf != MAXBUF_DEFAULT {
            e.token("maxbuf", self.maxbuf.to_string().as_bytes());
        }
        if self.utf8 {
            e.token("charset", b"utf-8");
        }
        e.token("algorithm", b"md5-sess");
        e.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"nonce="abc",algorithm=md5-sess"#;

    fn p(s: &str) -> Result<Challenge, ParseError> {
        Challenge::parse(s.as_bytes())
    }

    #[test]
    fn real_servers() {
        // slapd (Cyrus)
        let c = p(r#"nonce="n+/=",realm="realm",qop="auth,auth-int,auth-conf",cipher="rc4-40,rc4-56,rc4,des,3des",maxbuf=65536,charset=utf-8,algorithm=md5-sess"#).unwrap();
        assert_eq!(c.qops, QopSet::ALL);
        assert_eq!(c.ciphers, CipherSet::ALL);
        // Dovecot quotes charset and algorithm.
        let c = p(r#"realm="realm",nonce="o71+KeL/6vi6qBRV4bZ+7g==",qop="auth",charset="utf-8",algorithm="md5-sess""#).unwrap();
        assert!(c.utf8);
        // ejabberd: no realm.
        let c = p(r#"nonce="9358774314283015635",qop="auth",charset=utf-8,algorithm=md5-sess"#)
            .unwrap();
        assert!(c.realms.is_empty());
        // JDK: quoted maxbuf.
        assert_eq!(
            p(r#"nonce="x",maxbuf="4096",algorithm=md5-sess"#)
                .unwrap()
                .maxbuf,
            4096
        );
    }

    #[test]
    fn lists_and_tolerance() {
        let c = p(&format!(
            r#"{BASE},realm="a",REALM="b",qop=auth,qop="auth-int, x-unknown""#
        ))
        .unwrap();
        assert_eq!(c.realms, ["a", "b"]);
        assert!(
            c.qops.contains(Qop::Auth)
                && c.qops.contains(Qop::AuthInt)
                && !c.qops.contains(Qop::AuthConf)
        );
        // cipher without auth-conf: ignored.
        let c = p(&format!(r#"{BASE},qop="auth",cipher="rc4""#)).unwrap();
        assert!(c.ciphers.is_empty());
        // auth-conf with only unknown ciphers: not available.
        let c = p(&format!(r#"{BASE},qop="auth,auth-conf",cipher="aes-cbc""#)).unwrap();
        assert!(!c.qops.contains(Qop::AuthConf));
        assert_eq!(p(BASE).unwrap().qops, QopSet::only(Qop::Auth));
        assert!(
            p(&format!(r#"{BASE},x-unknown="1",stale=TRUE"#))
                .unwrap()
                .stale
        );
    }

    #[test]
    fn latin1_realm_without_charset() {
        let c = Challenge::parse(b"nonce=\"n\",realm=\"r\xe9alm\",algorithm=md5-sess").unwrap();
        assert_eq!(c.realms, ["réalm"]);
        assert!(c
            .to_bytes()
            .windows(7)
            .any(|w| w == b"r\xe9alm\"," || w == b"\"r\xe9alm"));
    }

    #[test]
    fn rejections() {
        let long = format!(r#"{BASE},x="{}""#, "a".repeat(2100));
        assert!(matches!(p(&long), Err(ParseError::TooLong { .. })));
        assert_eq!(
            p("algorithm=md5-sess"),
            Err(ParseError::Missing(DirectiveName::Nonce))
        );
        assert_eq!(
            p(&format!("{BASE},nonce=\"b\"")),
            Err(ParseError::Duplicate(DirectiveName::Nonce))
        );
        assert_eq!(
            p("nonce=\"a\""),
            Err(ParseError::Missing(DirectiveName::Algorithm))
        );
        assert_eq!(
            p(&format!("{BASE},algorithm=md5-sess")),
            Err(ParseError::Duplicate(DirectiveName::Algorithm))
        );
        assert!(matches!(
            p("nonce=\"a\",algorithm=md5"),
            Err(ParseError::InvalidValue {
                directive: DirectiveName::Algorithm,
                ..
            })
        ));
        assert_eq!(
            p(&format!("{BASE},maxbuf=100,maxbuf=100")),
            Err(ParseError::Duplicate(DirectiveName::Maxbuf))
        );
        assert_eq!(
            p(&format!("{BASE},charset=utf-8,charset=utf-8")),
            Err(ParseError::Duplicate(DirectiveName::Charset))
        );
        for bad in ["0", "16", "16777216", "-1", "1e3", "", "99999999999"] {
            assert!(
                matches!(
                    p(&format!("{BASE},maxbuf=\"{bad}\"")),
                    Err(ParseError::InvalidValue {
                        directive: DirectiveName::Maxbuf,
                        ..
                    })
                ),
                "{bad}"
            );
        }
        assert_eq!(p(&format!("{BASE},maxbuf=17")).unwrap().maxbuf, 17);
        assert_eq!(
            p(&format!("{BASE},maxbuf=16777215")).unwrap().maxbuf,
            16777215
        );
        assert_eq!(
            p(&format!("{BASE},realm=\"x")),
            Err(ParseError::UnbalancedQuote)
        );
        assert_eq!(
            Challenge::parse(b"nonce=\"a\0\",algorithm=md5-sess"),
            Err(ParseError::Nul)
        );
        assert_eq!(
            Challenge::parse(b"nonce=\"a\",realm=\"\xff\",charset=utf-8,algorithm=md5-sess"),
            Err(ParseError::InvalidUtf8(DirectiveName::Realm))
        );
        assert!(matches!(
            p(&format!("{BASE},charset=latin1")),
            Err(ParseError::InvalidValue { .. })
        ));
    }
}
