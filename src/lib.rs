#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod layer;
mod types;

pub use types::{
    Cipher, CipherSet, Qop, QopSet, Side, MAXBUF_DEFAULT, MAXBUF_MAX, MAXBUF_MIN_EXCLUSIVE,
};
