//! ZooKeeper client plumbing: the jute wire format (big-endian, every frame a
//! 4-byte length + payload), ConnectRequest/ConnectResponse, SASL packets
//! (`RequestHeader{xid, type=102}` + `GetSASLRequest{buffer token}`, answered by
//! `ReplyHeader{xid, zxid, err}` + `SetSASLResponse{buffer token}`), then
//! `whoAmI`, `create`, `getData`, `delete` and `closeSession`.
//!
//! The flow ZooKeeper's Java client uses: an empty token first (DIGEST-MD5 has no
//! initial response), the challenge comes back, the digest-response goes out, and
//! the reply carries `rspauth` (err 0). A failure is a reply with a non-zero `err`
//! (-124 when the server enforces SASL, else -115) and the server closes the
//! connection. The JDK's DIGEST-MD5 server inside ZooKeeper is fixed to service
//! `zookeeper`, server name and realm `zk-sasl-md5`, and qop `auth`: ZooKeeper
//! never wraps client traffic, so there is no security layer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::sasl;
use super::{connect, timed, Args, AsyncStream, Error, Result};

/// The SASL service ZooKeeper's server is fixed to.
pub const SERVICE: &str = "zookeeper";
/// The server name (digest-uri host) ZooKeeper's server insists on by default.
pub const DEFAULT_HOST: &str = "zk-sasl-md5";
/// The realm ZooKeeper's server offers and insists on by default.
pub const DEFAULT_REALM: &str = "zk-sasl-md5";

/// Largest frame accepted (ZooKeeper's default `jute.maxbuffer` is 0xfffff).
const MAX_FRAME: usize = 4 << 20;

/// Session timeout asked for, in milliseconds (the server bounds it).
const SESSION_TIMEOUT_MS: i32 = 30_000;

/// Operation codes (`ZooDefs.OpCode`).
pub mod op {
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const GET_DATA: i32 = 4;
    pub const SASL: i32 = 102;
    pub const WHO_AM_I: i32 = 107;
    pub const CLOSE_SESSION: i32 = -11;
}

/// xids of server-initiated replies (watch notifications, ping answers).
const XID_NOTIFICATION: i32 = -1;
const XID_PING: i32 = -2;

/// `ZooDefs.Perms.ALL`
const PERMS_ALL: i32 = 31;

/// ZooKeeper's error codes (`KeeperException.Code`), in words.
pub fn error_text(code: i32) -> &'static str {
    match code {
        -1 => "system error",
        -2 => "runtime inconsistency",
        -3 => "data inconsistency",
        -4 => "connection loss",
        -5 => "marshalling error",
        -6 => "unimplemented",
        -7 => "operation timeout",
        -8 => "bad arguments",
        -12 => "unknown session",
        -13 => "new config has no quorum",
        -14 => "reconfig in progress",
        -100 => "API error",
        -101 => "no node",
        -102 => "not authorized (ACL)",
        -103 => "bad version",
        -108 => "no children for ephemerals",
        -110 => "node exists",
        -111 => "node not empty",
        -112 => "session expired",
        -113 => "invalid callback",
        -114 => "invalid ACL",
        -115 => "authentication failed",
        -118 => "session moved",
        -119 => "not a read-only call",
        -120 => "ephemeral node on local session",
        -121 => "no such watcher",
        -122 => "request timeout",
        -123 => "reconfig disabled",
        -124 => "session closed, SASL required",
        -125 => "quota exceeded",
        -127 => "operation throttled",
        _ => "unknown error",
    }
}

/// `ZooKeeper error -124: session closed, SASL required`
pub fn describe(code: i32) -> String {
    format!("ZooKeeper error {code}: {}", error_text(code))
}

/// What a run of the ZooKeeper client found.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub mechanism: String,
    pub negotiated: String,
    /// Session id the server assigned (before SASL).
    pub session_id: i64,
    /// Session timeout the server granted, in milliseconds.
    pub session_timeout_ms: i32,
    /// `whoAmI`: `scheme:id` pairs, e.g. `sasl:alice`, `ip:127.0.0.1`.
    pub whoami: Vec<String>,
    /// The node created, read back and deleted.
    pub path: String,
    /// The data written to it (and read back identical).
    pub data: Vec<u8>,
}

// ---------------------------------------------------------------------------
// Jute encoding

/// Serializer for jute records (big-endian; `buffer`/`ustring` = int length + bytes).
#[derive(Default)]
pub struct Out(pub Vec<u8>);

impl Out {
    pub fn int(&mut self, v: i32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn long(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn boolean(&mut self, v: bool) -> &mut Self {
        self.0.push(v as u8);
        self
    }
    pub fn buffer(&mut self, v: &[u8]) -> Result<&mut Self> {
        let len = i32::try_from(v.len()).map_err(|_| Error("buffer too long".into()))?;
        self.int(len);
        self.0.extend_from_slice(v);
        Ok(self)
    }
    pub fn string(&mut self, v: &str) -> Result<&mut Self> {
        self.buffer(v.as_bytes())
    }
}

/// Deserializer for jute records; running out of bytes is an error, not a panic.
pub struct In<'a> {
    buf: &'a [u8],
    what: &'a str,
}

impl<'a> In<'a> {
    pub fn new(buf: &'a [u8], what: &'a str) -> Self {
        In { buf, what }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            bail!(
                "truncated ZooKeeper {}: needed {n} more bytes, {} left",
                self.what,
                self.buf.len()
            );
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    pub fn int(&mut self) -> Result<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn long(&mut self) -> Result<i64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }
    pub fn boolean(&mut self) -> Result<bool> {
        Ok(self.take(1)?[0] != 0)
    }
    /// A `buffer`; length -1 is null (`None`).
    pub fn buffer(&mut self) -> Result<Option<Vec<u8>>> {
        match self.int()? {
            -1 => Ok(None),
            n if n < 0 => bail!("bad length {n} in ZooKeeper {}", self.what),
            n => Ok(Some(self.take(n as usize)?.to_vec())),
        }
    }
    /// A `ustring` (null read as empty).
    pub fn string(&mut self) -> Result<String> {
        let b = self.buffer()?.unwrap_or_default();
        String::from_utf8(b).map_err(|_| Error(format!("invalid UTF-8 in ZooKeeper {}", self.what)))
    }
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }
}

// ---------------------------------------------------------------------------
// The connection

/// A failed request: the server's error code, or a transport/format problem.
#[derive(Debug)]
pub enum RequestError {
    /// `ReplyHeader.err` was not 0.
    Server(i32),
    Other(Error),
}

impl From<Error> for RequestError {
    fn from(e: Error) -> Self {
        RequestError::Other(e)
    }
}

impl RequestError {
    /// One line: `WHAT failed (ZooKeeper error N: text)` or `WHAT: cause`.
    pub fn into_error(self, what: &str) -> Error {
        match self {
            RequestError::Server(code) => Error(format!("{what} failed ({})", describe(code))),
            RequestError::Other(e) => e,
        }
    }
}

/// A ZooKeeper session over any stream.
pub struct Conn<S> {
    pub stream: S,
    pub session_id: i64,
    pub session_timeout_ms: i32,
    next_xid: i32,
    timeout: Duration,
}

impl<S: AsyncStream> Conn<S> {
    async fn write_frame(
        stream: &mut S,
        payload: &[u8],
        timeout: Duration,
        what: &str,
    ) -> Result<()> {
        let len = u32::try_from(payload.len()).map_err(|_| Error("frame too long".into()))?;
        let mut frame = Vec::with_capacity(4 + payload.len());
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(payload);
        timed(timeout, what, stream.write_all(&frame)).await?;
        timed(timeout, what, stream.flush()).await
    }

    async fn read_frame(stream: &mut S, timeout: Duration, what: &str) -> Result<Vec<u8>> {
        let mut len = [0u8; 4];
        let read = async {
            stream.read_exact(&mut len).await?;
            let n = u32::from_be_bytes(len) as usize;
            if n > MAX_FRAME {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("frame of {n} bytes exceeds {MAX_FRAME}"),
                ));
            }
            let mut payload = vec![0u8; n];
            stream.read_exact(&mut payload).await?;
            Ok(payload)
        };
        match tokio::time::timeout(timeout, read).await {
            Err(_) => bail!("timeout after {timeout:?} while {what}"),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                bail!("connection closed by the server while {what}")
            }
            Ok(Err(e)) => bail!("{what}: {e}"),
            Ok(Ok(p)) => Ok(p),
        }
    }

    /// Send ConnectRequest, read ConnectResponse: the session exists before SASL.
    pub async fn handshake(mut stream: S, timeout: Duration) -> Result<Conn<S>> {
        let mut req = Out::default();
        req.int(0) // protocolVersion
            .long(0) // lastZxidSeen
            .int(SESSION_TIMEOUT_MS)
            .long(0) // sessionId: new session
            .buffer(&[0u8; 16])?; // passwd
        req.boolean(false); // readOnly
        Self::write_frame(&mut stream, &req.0, timeout, "sending ConnectRequest").await?;
        let resp = Self::read_frame(&mut stream, timeout, "waiting for ConnectResponse").await?;
        let mut r = In::new(&resp, "ConnectResponse");
        let _protocol_version = r.int()?;
        let session_timeout_ms = r.int()?;
        let session_id = r.long()?;
        let _passwd = r.buffer()?;
        if session_timeout_ms <= 0 || session_id == 0 {
            bail!("server refused the session (ConnectResponse timeout {session_timeout_ms}, session id {session_id:#x})");
        }
        Ok(Conn {
            stream,
            session_id,
            session_timeout_ms,
            next_xid: 1,
            timeout,
        })
    }

    /// Send `RequestHeader{xid, op}` + `body`; return the reply body after a
    /// `ReplyHeader` with err 0. Notifications and ping replies are skipped.
    pub async fn request(
        &mut self,
        op: i32,
        body: &[u8],
        what: &str,
    ) -> Result<Vec<u8>, RequestError> {
        let xid = self.next_xid;
        self.next_xid = self.next_xid.checked_add(1).unwrap_or(1);
        let mut req = Out::default();
        req.int(xid).int(op);
        req.0.extend_from_slice(body);
        Self::write_frame(
            &mut self.stream,
            &req.0,
            self.timeout,
            &format!("sending {what}"),
        )
        .await?;
        loop {
            let frame = Self::read_frame(
                &mut self.stream,
                self.timeout,
                &format!("waiting for the reply to {what}"),
            )
            .await?;
            let mut r = In::new(&frame, "ReplyHeader");
            let rxid = r.int()?;
            let _zxid = r.long()?;
            let err = r.int()?;
            if rxid == XID_NOTIFICATION || rxid == XID_PING {
                continue;
            }
            if rxid != xid {
                return Err(
                    Error(format!("reply to {what} has xid {rxid}, expected {xid}")).into(),
                );
            }
            if err != 0 {
                return Err(RequestError::Server(err));
            }
            return Ok(frame[16..].to_vec());
        }
    }

    /// The SASL exchange in ZooKeeper's packets; returns when rspauth is verified.
    pub async fn authenticate(&mut self, client: &mut sasl::Client) -> Result<()> {
        let mech = client.mechanism.clone();
        // DIGEST-MD5 has no initial response: an empty token asks for the challenge.
        let mut token = if client.client_first() {
            client.step(None)?.output.unwrap_or_default()
        } else {
            Vec::new()
        };
        loop {
            let mut body = Out::default();
            body.buffer(&token)?;
            progress!("C: SASL packet ({} bytes of {mech} data)", token.len());
            let reply = self
                .request(op::SASL, &body.0, "SASL")
                .await
                .map_err(|e| match e {
                    RequestError::Server(code) => {
                        Error(format!("authentication failed ({})", describe(code)))
                    }
                    RequestError::Other(e) => e,
                })?;
            let data = In::new(&reply, "SetSASLResponse")
                .buffer()?
                .unwrap_or_default();
            progress!("S: SASL packet ({} bytes of {mech} data)", data.len());
            let step = client.step(Some(&data))?;
            match (step.finished, step.output) {
                // rspauth verified; nothing more to send (ZooKeeper sends no third packet).
                (true, None) => return Ok(()),
                (true, Some(out)) if out.is_empty() => return Ok(()),
                (_, Some(out)) => token = out,
                (false, None) => bail!("SASL {mech}: the mechanism produced no response"),
            }
        }
    }

    /// `whoAmI` (3.8+): the session's identities as `scheme:id`.
    pub async fn who_am_i(&mut self) -> Result<Vec<String>> {
        let reply = self
            .request(op::WHO_AM_I, &[], "whoAmI")
            .await
            .map_err(|e| e.into_error("whoAmI"))?;
        let mut r = In::new(&reply, "WhoAmIResponse");
        let n = r.int()?;
        if n < 0 || n as usize > r.remaining() {
            bail!("bad identity count {n} in WhoAmIResponse");
        }
        let mut ids = Vec::new();
        for _ in 0..n {
            let scheme = r.string()?;
            let user = r.string()?;
            ids.push(format!("{scheme}:{user}"));
        }
        Ok(ids)
    }

    /// `create` a persistent node readable and writable only by `acl_id`
    /// (`scheme:id`, e.g. `sasl:alice`); returns the path the server created.
    pub async fn create(&mut self, path: &str, data: &[u8], acl_id: &str) -> Result<String> {
        let Some((scheme, id)) = acl_id.split_once(':') else {
            bail!("ACL id must be scheme:id, got '{acl_id}'");
        };
        let mut body = Out::default();
        body.string(path)?.buffer(data)?;
        body.int(1).int(PERMS_ALL); // vector<ACL> of one: perms, Id{scheme, id}
        body.string(scheme)?.string(id)?;
        body.int(0); // flags: persistent
        let what = format!("create {path}");
        let reply = self
            .request(op::CREATE, &body.0, &what)
            .await
            .map_err(|e| e.into_error(&what))?;
        In::new(&reply, "CreateResponse").string()
    }

    /// `getData` (no watch).
    pub async fn get_data(&mut self, path: &str) -> Result<Vec<u8>> {
        let mut body = Out::default();
        body.string(path)?.boolean(false);
        let what = format!("getData {path}");
        let reply = self
            .request(op::GET_DATA, &body.0, &what)
            .await
            .map_err(|e| e.into_error(&what))?;
        Ok(In::new(&reply, "GetDataResponse")
            .buffer()?
            .unwrap_or_default())
    }

    /// `delete` any version.
    pub async fn delete(&mut self, path: &str) -> Result<()> {
        let mut body = Out::default();
        body.string(path)?.int(-1);
        let what = format!("delete {path}");
        self.request(op::DELETE, &body.0, &what)
            .await
            .map_err(|e| e.into_error(&what))?;
        Ok(())
    }

    /// `closeSession`, then shut the stream down.
    pub async fn close(mut self) -> Result<()> {
        self.request(op::CLOSE_SESSION, &[], "closeSession")
            .await
            .map_err(|e| e.into_error("closeSession"))?;
        let _ = tokio::time::timeout(self.timeout, self.stream.shutdown()).await;
        Ok(())
    }
}

/// `args` with ZooKeeper's defaults: digest-uri host `zk-sasl-md5` unless `--host`
/// was given, realm `zk-sasl-md5` unless `--realm` was.
pub fn with_defaults(args: &Args) -> Args {
    let mut a = args.clone();
    if !a.host_given {
        a.host = DEFAULT_HOST.to_string();
    }
    if a.realm.is_none() {
        a.realm = Some(DEFAULT_REALM.to_string());
    }
    a
}

/// A fresh node path: `/sasl-digest-md5-<pid>-<nanoseconds>`.
pub fn unique_path() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("/sasl-digest-md5-{}-{nanos}", std::process::id())
}

/// Connect and authenticate: the session, and what SASL negotiated.
pub async fn login(args: &Args) -> Result<(Conn<tokio::net::TcpStream>, sasl::Client)> {
    let args = with_defaults(args);
    let tcp = connect(&args).await?;
    progress!("connected to {}", args.server);
    let mut conn = Conn::handshake(tcp, args.timeout).await?;
    progress!(
        "session {:#018x} established (timeout {} ms), authenticating as {} (digest-uri {SERVICE}/{}, realm {})",
        conn.session_id,
        conn.session_timeout_ms,
        args.user,
        args.host,
        args.realm.as_deref().unwrap_or("")
    );
    // ZooKeeper does not list mechanisms; its SASL server does DIGEST-MD5.
    let mut client = sasl::start(&args, SERVICE, &["DIGEST-MD5".to_string()])?;
    conn.authenticate(&mut client).await?;
    if client.session.has_security_layer() {
        bail!("a security layer was negotiated, but ZooKeeper never wraps its traffic");
    }
    Ok((conn, client))
}

/// The whole client run.
pub async fn run(args: &Args) -> Result<Outcome> {
    run_inspect(args, |_path| async { Ok(()) }).await
}

/// [`run`], calling `inspect(path)` while the node exists (after it was read
/// back, before it is deleted): tests look at it from outside there.
pub async fn run_inspect<F, Fut>(args: &Args, inspect: F) -> Result<Outcome>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let (mut conn, client) = login(args).await?;
    let negotiated = client.negotiated_line();
    progress!("{negotiated}");

    let whoami = conn.who_am_i().await?;
    for id in &whoami {
        progress!("whoami: {id}");
    }
    let Some(sasl_id) = whoami.iter().find(|i| i.starts_with("sasl:")).cloned() else {
        bail!("whoAmI shows no sasl identity after authentication: {whoami:?}");
    };

    let path = unique_path();
    let data = format!("written by sasl-digest-md5 as {sasl_id}").into_bytes();
    let created = conn.create(&path, &data, &sasl_id).await?;
    progress!(
        "created {created} ({} bytes, ACL {sasl_id} all)",
        data.len()
    );
    let back = conn.get_data(&created).await?;
    if back != data {
        bail!(
            "read back {created}: got {:?}, wrote {:?}",
            String::from_utf8_lossy(&back),
            String::from_utf8_lossy(&data)
        );
    }
    progress!("read back {created}: {} bytes, identical", back.len());
    let inspected = inspect(created.clone()).await;
    conn.delete(&created).await?;
    progress!("deleted {created}");
    inspected?;
    let (session_id, session_timeout_ms) = (conn.session_id, conn.session_timeout_ms);
    conn.close().await?;
    progress!("session closed");
    Ok(Outcome {
        mechanism: client.mechanism.clone(),
        negotiated,
        session_id,
        session_timeout_ms,
        whoami,
        path: created,
        data,
    })
}
