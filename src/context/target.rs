//! The digest-uri (RFC 2831 §2.1.2 `digest-uri`): `serv-type/host[/serv-name]`, the
//! SSP's target name. The client sends it; the server checks it names its service and
//! host.

use crate::error::{Error, TargetError, UriPart};

/// The digest-uri `serv-type/host[/serv-name]` (the SSP's target name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    service: String,
    host: String,
    serv_name: Option<String>,
}

fn check_uri_part(s: &str, what: UriPart) -> Result<(), Error> {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        let ok = (0x21..0x7f).contains(&c) && !matches!(c, b'/' | b'"' | b'\\');
        if !ok {
            return Err(TargetError::NotPrintable(what).into());
        }
        if c == b'%'
            && !(i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit())
        {
            return Err(TargetError::NotPrintable(what).into());
        }
    }
    Ok(())
}

impl Target {
    /// `service/host`. The host must be non-empty; both parts printable US-ASCII
    /// without `/`, quotes or backslashes (use percent-encoding). An empty service is
    /// allowed (Hadoop uses `/default`).
    pub fn new(service: &str, host: &str) -> Result<Target, Error> {
        if host.is_empty() {
            return Err(TargetError::Empty(UriPart::Host).into());
        }
        check_uri_part(service, UriPart::Service)?;
        check_uri_part(host, UriPart::Host)?;
        Ok(Target {
            service: service.to_owned(),
            host: host.to_owned(),
            serv_name: None,
        })
    }

    /// Adds the `/serv-name` part (for replicated services, RFC 2831 §2.1.2).
    pub fn with_serv_name(mut self, name: &str) -> Result<Target, Error> {
        if name.is_empty() {
            return Err(TargetError::Empty(UriPart::ServName).into());
        }
        check_uri_part(name, UriPart::ServName)?;
        self.serv_name = Some(name.to_owned());
        Ok(self)
    }

    /// Parses `serv-type/host[/serv-name]`.
    pub fn parse(uri: &str) -> Result<Target, Error> {
        let mut parts = uri.splitn(3, '/');
        let service = parts.next().unwrap_or("");
        let host = parts
            .next()
            .ok_or(Error::TargetUnknown(TargetError::NoSlash))?;
        let t = Target::new(service, host)?;
        match parts.next() {
            Some(n) => t.with_serv_name(n),
            None => Ok(t),
        }
    }

    /// The service (serv-type).
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The serv-name, if any.
    pub fn serv_name(&self) -> Option<&str> {
        self.serv_name.as_deref()
    }

    /// The digest-uri string.
    pub fn uri(&self) -> String {
        match &self.serv_name {
            Some(n) => format!("{}/{}/{}", self.service, self.host, n),
            None => format!("{}/{}", self.service, self.host),
        }
    }
}
