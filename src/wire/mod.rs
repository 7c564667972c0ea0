//! The wire format (RFC 2831 §2.1 and §7): the auth-param lexer and emitter, and the
//! three tokens of the exchange, typed.
//!
//! | token | RFC 2831 | type |
//! |---|---|---|
//! | digest-challenge (server, first) | §2.1.1 | [`Challenge`] |
//! | digest-response (client) | §2.1.2 | [`Response`] |
//! | response-auth (server, `rspauth=`) | §2.1.3 | [`parse_rspauth`], [`rspauth_token`] |
//!
//! Nothing here knows about contexts, policies or keys: parsing checks syntax and the
//! RFC's value rules (sizes, duplicates, `nc`, `maxbuf`, charsets), and emitting is
//! the exact inverse for canonical tokens.

mod challenge;
pub mod lexer;
mod response;

pub use challenge::{Challenge, MAX_CHALLENGE_LEN};
pub use response::{parse_rspauth, rspauth_token, Response, MAX_RESPONSE_LEN};
