//! LDAP client plumbing: root DSE mechanisms, SASL bind loop, then WhoAmI
//! (RFC 4532) and a search, all PDUs after the bind going through the
//! stream returned by [`super::secure`].
//!
//! The LDAP messages are `rasn-ldap` types encoded and decoded with `rasn`'s
//! BER codec; this module only frames them (one BER TLV per message) and runs
//! the request/response loop, over any `AsyncRead + AsyncWrite` stream.

use rasn::types::OctetString;
use rasn_ldap::{
    AuthenticationChoice, BindRequest, ExtendedRequest, Filter, LdapMessage, LdapString,
    ProtocolOp, ResultCode, SaslCredentials, SearchRequest, SearchRequestDerefAliases,
    SearchRequestScope, UnbindRequest,
};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::sasl;
use super::{connect, secure, timed, Args, AsyncStream, Error, Result};

/// WhoAmI extended operation (RFC 4532).
pub const WHOAMI_OID: &str = "1.3.6.1.4.1.4203.1.11.3";
/// Largest LDAP message accepted.
const MAX_PDU: usize = 16 << 20;

/// A search result entry: (dn, [(attribute, values)]).
pub type Entry = (String, Vec<(String, Vec<String>)>);

/// What a run of the LDAP client found.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub mechanism: String,
    pub negotiated: String,
    /// WhoAmI answer, e.g. `dn:uid=alice,ou=people,dc=example,dc=com`.
    pub whoami: String,
    /// Entries of the search of the bound entry.
    pub entries: Vec<Entry>,
}

/// An LDAP connection over any stream.
pub struct Conn<S> {
    pub stream: S,
    next_id: u32,
    timeout: Duration,
}

impl<S> Conn<S> {
    pub fn new(stream: S, timeout: Duration) -> Self {
        Conn {
            stream,
            next_id: 1,
            timeout,
        }
    }

    /// Continue on another stream (after the bind: the sealed one), keeping
    /// the message ids.
    pub fn map_stream<T>(self, f: impl FnOnce(S) -> Result<T>) -> Result<Conn<T>> {
        Ok(Conn {
            stream: f(self.stream)?,
            next_id: self.next_id,
            timeout: self.timeout,
        })
    }
}

impl<S: AsyncStream> Conn<S> {
    /// Send one request; returns its message id.
    pub async fn send(&mut self, op: ProtocolOp) -> Result<u32> {
        let id = self.next_id;
        self.next_id += 1;
        let pdu = rasn::ber::encode(&LdapMessage::new(id, op))
            .map_err(|e| Error(format!("encoding LDAP request: {e}")))?;
        let t = self.timeout;
        timed(t, "sending LDAP request", self.stream.write_all(&pdu)).await?;
        timed(t, "sending LDAP request", self.stream.flush()).await?;
        Ok(id)
    }

    /// Read one message; fails on a Notice of Disconnection (message id 0).
    pub async fn recv(&mut self) -> Result<LdapMessage> {
        let t = self.timeout;
        let pdu = timed(
            t,
            "waiting for an LDAP response",
            read_pdu(&mut self.stream),
        )
        .await?;
        let msg: LdapMessage =
            rasn::ber::decode(&pdu).map_err(|e| Error(format!("decoding LDAP response: {e}")))?;
        if msg.message_id == 0 {
            if let ProtocolOp::ExtendedResp(r) = &msg.protocol_op {
                bail!(
                    "server disconnected: {:?} {}",
                    r.result_code,
                    r.diagnostic_message.0
                );
            }
            bail!("unsolicited LDAP message: {:?}", msg.protocol_op);
        }
        Ok(msg)
    }

    /// Receive the response to request `id`.
    async fn recv_for(&mut self, id: u32) -> Result<ProtocolOp> {
        let msg = self.recv().await?;
        if msg.message_id != id {
            bail!(
                "LDAP response for message {} while waiting for {id}",
                msg.message_id
            );
        }
        Ok(msg.protocol_op)
    }

    /// Search; returns the entries.
    pub async fn search(
        &mut self,
        base: &str,
        scope: SearchRequestScope,
        filter: Filter,
        attrs: &[&str],
    ) -> Result<Vec<Entry>> {
        let req = SearchRequest::new(
            LdapString::from(base),
            scope,
            SearchRequestDerefAliases::NeverDerefAliases,
            0,
            0,
            false,
            filter,
            attrs.iter().map(|a| LdapString::from(*a)).collect(),
        );
        let id = self.send(ProtocolOp::SearchRequest(req)).await?;
        let mut entries = Vec::new();
        loop {
            match self.recv_for(id).await? {
                ProtocolOp::SearchResEntry(e) => {
                    let attrs = e
                        .attributes
                        .iter()
                        .map(|a| {
                            let vals = a
                                .vals
                                .iter()
                                .map(|v| String::from_utf8_lossy(v).into_owned())
                                .collect();
                            (a.r#type.0.clone(), vals)
                        })
                        .collect();
                    entries.push((e.object_name.0.clone(), attrs));
                }
                ProtocolOp::SearchResRef(_) => {}
                ProtocolOp::SearchResDone(done) => {
                    let r = done.0;
                    if r.result_code != ResultCode::Success {
                        bail!(
                            "search of '{base}' failed: {:?} {}",
                            r.result_code,
                            r.diagnostic_message.0
                        );
                    }
                    return Ok(entries);
                }
                other => bail!("unexpected LDAP response to a search: {other:?}"),
            }
        }
    }

    /// WhoAmI extended operation; returns the authzId (`dn:...`, `u:...` or "").
    pub async fn whoami(&mut self) -> Result<String> {
        let req = ExtendedRequest {
            request_name: OctetString::from(WHOAMI_OID.as_bytes()),
            request_value: None,
        };
        let id = self.send(ProtocolOp::ExtendedReq(req)).await?;
        match self.recv_for(id).await? {
            ProtocolOp::ExtendedResp(r) if r.result_code == ResultCode::Success => Ok(r
                .response_value
                .map(|v| String::from_utf8_lossy(&v).into_owned())
                .unwrap_or_default()),
            ProtocolOp::ExtendedResp(r) => {
                bail!(
                    "WhoAmI failed: {:?} {}",
                    r.result_code,
                    r.diagnostic_message.0
                )
            }
            other => bail!("unexpected LDAP response to WhoAmI: {other:?}"),
        }
    }

    /// SASL bind loop (RFC 4513 §5.2.2). Returns when the bind succeeded.
    pub async fn sasl_bind(&mut self, client: &mut sasl::Client) -> Result<()> {
        let mech = client.mechanism.clone();
        // Client-first mechanisms (PLAIN) send their initial response with the
        // first BindRequest; server-first ones (DIGEST-MD5) send none.
        let (mut creds, mut finished) = if client.client_first() {
            let s = client.step(None)?;
            (Some(s.output.unwrap_or_default()), s.finished)
        } else {
            (None, false)
        };
        loop {
            let bind = BindRequest::new(
                3,
                LdapString::from(""),
                AuthenticationChoice::Sasl(SaslCredentials::new(
                    LdapString::from(mech.as_str()),
                    creds.take().map(OctetString::from),
                )),
            );
            let id = self.send(ProtocolOp::BindRequest(bind)).await?;
            let resp = match self.recv_for(id).await? {
                ProtocolOp::BindResponse(r) => r,
                other => bail!("unexpected LDAP response to a bind: {other:?}"),
            };
            let server_creds = resp.server_sasl_creds.as_deref();
            match resp.result_code {
                ResultCode::SaslBindInProgress => {
                    progress!(
                        "S: bind in progress (challenge of {} bytes)",
                        server_creds.map_or(0, |c| c.len())
                    );
                    if finished {
                        bail!("server wants another SASL round but {mech} has finished");
                    }
                    let s = client.step(Some(server_creds.unwrap_or_default()))?;
                    finished = s.finished;
                    creds = Some(s.output.unwrap_or_default());
                }
                ResultCode::Success => {
                    // serverSaslCreds of the final BindResponse (DIGEST-MD5:
                    // rspauth) must still be verified by the mechanism.
                    match (finished, server_creds) {
                        (true, None) => {}
                        (true, Some([])) => {}
                        (true, Some(_)) => bail!("server sent SASL data after {mech} finished"),
                        (false, data) => {
                            let s = client.step(Some(data.unwrap_or_default()))?;
                            if !s.finished || s.output.as_ref().is_some_and(|o| !o.is_empty()) {
                                bail!("server ended the bind but {mech} expects more");
                            }
                        }
                    }
                    progress!("S: bind successful");
                    return Ok(());
                }
                code => bail!(
                    "SASL bind failed: {code:?} ({}) {}",
                    code as u32,
                    resp.diagnostic_message.0
                ),
            }
        }
    }

    /// Send an UnbindRequest (no response) and shut the stream down.
    pub async fn unbind(mut self) -> Result<()> {
        self.send(ProtocolOp::UnbindRequest(UnbindRequest)).await?;
        let _ = tokio::time::timeout(self.timeout, self.stream.shutdown()).await;
        Ok(())
    }
}

/// Read one BER TLV (definite length) from the stream.
async fn read_pdu<S: AsyncStream>(s: &mut S) -> std::io::Result<Vec<u8>> {
    use std::io::{Error as IoError, ErrorKind};
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await?;
    if head[0] != 0x30 {
        return Err(IoError::new(
            ErrorKind::InvalidData,
            format!("not an LDAPMessage (tag {:#04x})", head[0]),
        ));
    }
    let mut pdu = head.to_vec();
    let len = if head[1] < 0x80 {
        head[1] as usize
    } else {
        let n = (head[1] & 0x7f) as usize;
        if n == 0 || n > 4 {
            return Err(IoError::new(
                ErrorKind::InvalidData,
                "unsupported BER length",
            ));
        }
        let mut lb = [0u8; 4];
        s.read_exact(&mut lb[..n]).await?;
        pdu.extend_from_slice(&lb[..n]);
        lb[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize)
    };
    if len > MAX_PDU {
        return Err(IoError::new(
            ErrorKind::InvalidData,
            format!("LDAP message of {len} bytes is too large"),
        ));
    }
    let start = pdu.len();
    pdu.resize(start + len, 0);
    s.read_exact(&mut pdu[start..]).await?;
    Ok(pdu)
}

/// The whole client run: mechanisms, bind, negotiated line, WhoAmI, search.
pub async fn run(args: &Args) -> Result<Outcome> {
    run_with(args, sasl::MECHANISMS).await
}

/// [`run`] with another set of SASL mechanisms (tests).
pub async fn run_with(
    args: &Args,
    mechanisms: &'static [rsasl::prelude::Mechanism],
) -> Result<Outcome> {
    let tcp = connect(args).await?;
    progress!("connected to {}", args.server);
    let mut conn = Conn::new(tcp, args.timeout);

    let root = conn
        .search(
            "",
            SearchRequestScope::BaseObject,
            Filter::Present("objectClass".into()),
            &["supportedSASLMechanisms"],
        )
        .await?;
    let offered: Vec<String> = root
        .iter()
        .flat_map(|(_, attrs)| attrs.iter())
        .filter(|(a, _)| a.eq_ignore_ascii_case("supportedSASLMechanisms"))
        .flat_map(|(_, v)| v.iter().cloned())
        .collect();
    progress!("server SASL mechanisms: {}", offered.join(" "));

    let mut client = sasl::start_with(args, "ldap", &offered, mechanisms)?;
    conn.sasl_bind(&mut client).await?;
    let mechanism = client.mechanism.clone();
    let negotiated = client.negotiated_line();
    progress!("{negotiated}");

    // Everything after the bind goes through the (possibly sealed) stream.
    let session = client.into_session();
    let mut conn = conn.map_stream(|tcp| secure(tcp, session))?;

    let whoami = conn.whoami().await?;
    progress!("whoami: {whoami}");
    let base = whoami.strip_prefix("dn:").unwrap_or("").to_string();
    let entries = if base.is_empty() {
        Vec::new()
    } else {
        conn.search(
            &base,
            SearchRequestScope::BaseObject,
            Filter::Present("objectClass".into()),
            &["cn", "mail", "uid"],
        )
        .await?
    };
    for (dn, attrs) in &entries {
        progress!("entry: dn: {dn}");
        for (a, vals) in attrs {
            for v in vals {
                progress!("entry:   {a}: {v}");
            }
        }
    }
    conn.unbind().await?;
    Ok(Outcome {
        mechanism,
        negotiated,
        whoami,
        entries,
    })
}
