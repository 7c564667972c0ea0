//! Helpers shared by the integration tests (`mod common;`): the live interop peers
//! (`interop_cyrus.rs`, `interop_jdk.rs`: `peer`, `interop`), the real servers
//! (`servers_*.rs`).
//!
//! `rsasl.rs` (rsasl sessions in memory) is not declared here: the Cyrus plugin's tests
//! include this module and have no rsasl; `mechanism.rs` and the fuzz targets
//! `mechanism_*` include it by `#[path]`.
#![allow(dead_code)]

pub mod interop;
pub mod peer;
pub mod servers;

use sasl_digest_md5::{
    Cipher, CipherSet, ClientConfig, Credential, Qop, QopSet, Requirements, ServerConfig,
    ServerContext, StoredSecret, Target,
};

pub const SERVICE: &str = "ldap";
pub const HOST: &str = "ldap.example.com";
pub const REALM: &str = "example.com";

/// Our server for `ldap/ldap.example.com`, offering `qops`, every cipher and `realms`,
/// with the given `(user, realm, password)` accounts.
pub fn our_server(
    qops: QopSet,
    maxbuf: u32,
    realms: &[&str],
    users: &[(&str, &str, &str)],
) -> ServerContext {
    let config = ServerConfig::new(SERVICE, HOST)
        .realms(realms.iter().copied())
        .qops(qops)
        .ciphers(CipherSet::ALL)
        .maxbuf(maxbuf);
    our_server_with(config, users)
}

/// Our server with this configuration and these `(user, realm, password)` accounts.
pub fn our_server_with(config: ServerConfig, users: &[(&str, &str, &str)]) -> ServerContext {
    let users: Vec<(String, String, String)> = users
        .iter()
        .map(|(u, r, p)| (u.to_string(), r.to_string(), p.to_string()))
        .collect();
    let store = move |user: &str, realm: &str| {
        users
            .iter()
            .find(|(u, r, _)| u == user && r == realm)
            .map(|(_, _, p)| StoredSecret::password(p.clone()))
    };
    ServerContext::new(config, store).expect("server config")
}

/// Our client for `ldap/ldap.example.com` that requires (and takes) exactly `qop`,
/// and only `cipher` if given.
pub fn our_client_config(
    user: &str,
    password: &str,
    qop: Qop,
    cipher: Option<Cipher>,
) -> ClientConfig {
    let target = Target::new(SERVICE, HOST).expect("target");
    let mut c = ClientConfig::new(user, Credential::password(password), target).max_qop(qop);
    c = match qop {
        Qop::Auth => c,
        Qop::AuthInt => c.requirements(Requirements::INTEGRITY),
        Qop::AuthConf => c.requirements(Requirements::CONFIDENTIALITY),
    };
    if let Some(x) = cipher {
        c = c.ciphers(&[x]);
    }
    c
}

/// `--flag value` lists as owned strings.
pub fn strs(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}
