//! `libdigestmd5.so`: a drop-in replacement for Cyrus SASL's DIGEST-MD5 plugin, built on
//! the `sasl-digest-md5` crate. Copy the library into the SASL plugin directory (or
//! point `SASL_PATH` at a directory holding it) and every libsasl2 application
//! (OpenLDAP, Postfix, Cyrus IMAP, ...) uses it without change.
//!
//! All `unsafe` code is in [`ffi`]: the C structures, the entry points and the calls
//! back into libsasl2. The protocol logic (`client`, `server`) and the security
//! layer (`layer`) are safe Rust on top of the crate's public API.

// States hold whole contexts (moved once per step); boxing them buys nothing.
#![allow(
    clippy::large_enum_variant,
    clippy::type_complexity,
    clippy::too_many_arguments
)]
// `unsafe` is allowed in `ffi` only.
#![deny(unsafe_code)]

mod client;
#[allow(unsafe_code)]
pub mod ffi;
mod layer;
mod server;

use sasl_digest_md5::Cipher;

/// Constants from `sasl.h` and `saslplug.h`.
pub mod codes {
    use std::ffi::{c_int, c_uint, c_ulong};
    pub const CONTINUE: c_int = 1;
    pub const OK: c_int = 0;
    pub const FAIL: c_int = -1;
    pub const NOMEM: c_int = -2;
    pub const BUFOVER: c_int = -3;
    pub const BADPROT: c_int = -5;
    pub const NOTDONE: c_int = -6;
    pub const BADPARAM: c_int = -7;
    pub const BADMAC: c_int = -9;
    pub const INTERACT: c_int = 2;
    pub const BADSERV: c_int = -10;
    pub const BADAUTH: c_int = -13;
    pub const TOOWEAK: c_int = -15;
    pub const NOUSER: c_int = -20;
    pub const TRANS: c_int = -17;
    pub const NOMECH: c_int = -4;
    pub const BADVERS: c_int = -23;

    pub const PLUG_VERSION: c_int = 4;

    pub const CB_LIST_END: c_ulong = 0;
    pub const CB_USER: c_ulong = 0x4001;
    pub const CB_AUTHNAME: c_ulong = 0x4002;
    pub const CB_PASS: c_ulong = 0x4004;
    pub const CB_GETREALM: c_ulong = 0x4008;

    pub const CU_AUTHID: c_uint = 0x01;
    pub const CU_AUTHZID: c_uint = 0x02;

    pub const SEC_NOPLAINTEXT: c_uint = 0x0001;
    pub const SEC_NOANONYMOUS: c_uint = 0x0010;
    pub const SEC_MUTUAL_AUTH: c_uint = 0x0040;

    pub const FEAT_NEEDSERVERFQDN: c_uint = 0x0001;
    pub const FEAT_ALLOWS_PROXY: c_uint = 0x0020;
    pub const FEAT_SUPPORTS_HTTP: c_uint = 0x1000;

    pub const LOG_ERR: c_int = 1;
    pub const LOG_FAIL: c_int = 2;
    pub const LOG_DEBUG: c_int = 5;
}

/// The application's security properties, less the external SSF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Props {
    /// Minimum acceptable SSF.
    pub min_ssf: u32,
    /// Maximum acceptable SSF.
    pub max_ssf: u32,
    /// Our receive buffer size (0: no security layer).
    pub maxbufsize: u32,
}

impl Props {
    /// The highest SSF a layer may have: none when no buffer is allowed.
    pub fn limit(&self) -> u32 {
        if self.maxbufsize == 0 {
            0
        } else {
            self.max_ssf
        }
    }

    /// The ciphers whose SSF lies within `[min_ssf, limit]`, strongest first (Cyrus's
    /// rule for both the offer and the choice).
    pub fn ciphers(&self) -> Vec<Cipher> {
        Cipher::ALL
            .into_iter()
            .filter(|&c| (self.min_ssf..=self.limit()).contains(&cyrus_ssf(c)))
            .collect()
    }

    /// Our maxbuf as the crate wants it (17..=16777215).
    pub fn maxbuf(&self) -> u32 {
        match self.maxbufsize {
            0 => 65536,
            n => n.clamp(17, 0xFF_FFFF),
        }
    }
}

/// The SSF Cyrus reports for a cipher (single DES counts 55).
pub fn cyrus_ssf(c: Cipher) -> u32 {
    match c {
        Cipher::Des => 55,
        c => c.strength(),
    }
}

/// What a finished authentication reports in `sasl_out_params_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    /// `mech_ssf`.
    pub ssf: u32,
    /// `maxoutbuf`.
    pub maxoutbuf: u32,
}

/// The outcome of a step.
pub(crate) enum StepOut {
    /// `SASL_CONTINUE` with this token (possibly empty).
    Continue(Vec<u8>),
    /// `SASL_OK`, with a last token (server: rspauth) and the layer, if any.
    Done {
        /// Output token.
        out: Option<Vec<u8>>,
        /// What to report.
        done: Done,
        /// The security layer (qop auth-int/auth-conf).
        layer: Option<layer::Layer>,
    },
}

/// The SASL result code for one of the crate's errors, and the text for `seterror`.
pub(crate) fn error_code(e: &sasl_digest_md5::Error) -> std::ffi::c_int {
    use sasl_digest_md5::Error as E;
    match e {
        E::Malformed(_) | E::OutOfSequence(_) | E::TokenRequired => codes::BADPROT,
        E::LogonDenied | E::Stale | E::TargetUnknown(_) => codes::BADAUTH,
        E::MutualAuthFailed(_) => codes::BADSERV,
        E::DowngradeRefused(_) | E::ServerRequiresLayer { .. } => codes::TOOWEAK,
        E::Config(_) => codes::BADPARAM,
        _ => codes::FAIL,
    }
}
