//! A deliberately minimal DIGEST-MD5 *client* (RFC 2831, qop=auth only, no
//! security layer), used only to prove that the example clients' protocol
//! plumbing handles a server-first mechanism end to end: the challenge, the
//! rspauth in the final BindResponse (LDAP), in a `+` continuation (IMAP) and
//! in a `<challenge>` (XMPP), the empty answers, and Prosody's junk
//! `<success>` data. It is NOT the crate's mechanism (src/), which replaces
//! it in the examples' registry.

use md5::{Digest, Md5};
use rsasl::mechanism::{
    Authentication, EmptyProvider, MechanismData, MechanismError, MechanismErrorKind, SessionError,
    State,
};
use rsasl::prelude::{Mechname, MessageSent};
use rsasl::property::{AuthId, AuthzId, Hostname, Password, Realm, Service};
use rsasl::registry::{Matches, Mechanism, Named, Side};
use std::io::Write;

pub static FIXTURE_DIGEST_MD5: Mechanism = Mechanism::build(
    Mechname::const_new_unchecked(b"DIGEST-MD5"),
    0,
    Some(|| Ok(Box::new(Client::default()))),
    None,
    Side::Server,
    |_| Some(Matches::<Select>::name()),
    |_| true,
);

/// Registry for `clients::sasl::start_with`.
pub static FIXTURE_MECHANISMS: &[Mechanism] = &[FIXTURE_DIGEST_MD5, rsasl::mechanisms::plain::PLAIN];

struct Select;
impl Named for Select {
    fn mech() -> &'static Mechanism {
        &FIXTURE_DIGEST_MD5
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Parse,
    Protocol,
}
#[derive(Debug)]
struct E(Kind, String);
impl std::fmt::Display for E {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}
impl std::error::Error for E {}
impl MechanismError for E {
    fn kind(&self) -> MechanismErrorKind {
        match self.0 {
            Kind::Parse => MechanismErrorKind::Parse,
            Kind::Protocol => MechanismErrorKind::Protocol,
        }
    }
}

#[derive(Default)]
struct Client {
    expected_rspauth: Option<String>,
    done: bool,
}

/// key=value pairs; any value may be quoted (Dovecot quotes all).
fn parse(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b',' || b[i] == b' ') {
            i += 1;
        }
        let k0 = i;
        while i < b.len() && b[i] != b'=' {
            i += 1;
        }
        let key = s[k0..i].trim().to_ascii_lowercase();
        i += 1;
        let mut val = String::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                val.push(b[i] as char);
                i += 1;
            }
            i += 1;
        } else {
            let v0 = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            val = s[v0.min(b.len())..i].trim().to_string();
        }
        if !key.is_empty() {
            out.push((key, val));
        }
    }
    out
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}
fn md5(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().to_vec()
}

impl Authentication for Client {
    fn step(
        &mut self,
        session: &mut MechanismData,
        input: Option<&[u8]>,
        writer: &mut dyn Write,
    ) -> Result<State, SessionError> {
        if self.done {
            return Err(SessionError::MechanismDone);
        }
        let Some(input) = input else {
            return match self.expected_rspauth {
                // The server finished without sending rspauth.
                Some(_) => Err(SessionError::MutualAuthenticationFailed),
                None => Err(SessionError::InputDataRequired),
            };
        };
        let text = std::str::from_utf8(input)
            .map_err(|_| E(Kind::Parse, "challenge is not UTF-8".into()))?;
        let kv = parse(text);
        let get = |k: &str| kv.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.clone());
        if let Some(expected) = self.expected_rspauth.take() {
            self.done = true;
            return if get("rspauth").as_deref() == Some(expected.as_str()) {
                Ok(State::Finished(MessageSent::No))
            } else {
                Err(SessionError::MutualAuthenticationFailed)
            };
        }
        let nonce = get("nonce").ok_or(E(Kind::Parse, "challenge without nonce".into()))?;
        let user = session.need_with::<AuthId, _, _>(&EmptyProvider, |v| Ok(v.to_string()))?;
        let pass = session.need_with::<Password, _, _>(&EmptyProvider, |v| Ok(v.to_vec()))?;
        let realm = match session.maybe_need_with::<Realm, _, _>(&EmptyProvider, |v| Ok(v.to_string()))? {
            Some(r) => r,
            None => get("realm").unwrap_or_default(),
        };
        let authzid = session.maybe_need_with::<AuthzId, _, _>(&EmptyProvider, |v| Ok(v.to_string()))?;
        let service = session.need_with::<Service, _, _>(&EmptyProvider, |v| Ok(v.to_string()))?;
        let host = session.need_with::<Hostname, _, _>(&EmptyProvider, |v| Ok(v.to_string()))?;
        let mut rnd = [0u8; 12];
        getrandom::getrandom(&mut rnd).map_err(|e| E(Kind::Protocol, e.to_string()))?;
        let cnonce = hex(&rnd);
        let uri = format!("{service}/{host}");
        let mut a1 = md5(&[user.as_bytes(), b":", realm.as_bytes(), b":", &pass]);
        a1.extend_from_slice(format!(":{nonce}:{cnonce}").as_bytes());
        if let Some(z) = &authzid {
            a1.extend_from_slice(format!(":{z}").as_bytes());
        }
        let ha1 = hex(&md5(&[&a1]));
        let kd = |a2: &str| {
            let ha2 = hex(&md5(&[a2.as_bytes()]));
            hex(&md5(&[format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}").as_bytes()]))
        };
        let response = kd(&format!("AUTHENTICATE:{uri}"));
        self.expected_rspauth = Some(kd(&format!(":{uri}")));
        let mut msg = format!("charset=utf-8,username=\"{user}\",");
        if !realm.is_empty() {
            msg += &format!("realm=\"{realm}\",");
        }
        msg += &format!(
            "nonce=\"{nonce}\",cnonce=\"{cnonce}\",nc=00000001,qop=auth,digest-uri=\"{uri}\",response={response}"
        );
        if let Some(z) = &authzid {
            msg += &format!(",authzid=\"{z}\"");
        }
        writer.write_all(msg.as_bytes())?;
        Ok(State::Running)
    }
}
