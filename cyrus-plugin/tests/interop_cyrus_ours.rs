//! The repository's live Cyrus interop tests (`tests/interop_cyrus.rs`: our sans-IO
//! client and server against the Cyrus peer program, every qop and cipher, layer
//! messages both ways up to the maxbuf limits, wrong passwords, realms, authzids),
//! run a second time with **our** `libdigestmd5.so` inside the peer's libsasl2
//! (`SASL_PATH`); each peer is checked in `/proc/PID/maps` to have loaded it.

#[path = "../../tests/interop_cyrus.rs"]
mod interop_cyrus;
