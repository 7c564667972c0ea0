//! TEMPORARY stub, replaced by the real security layer on merge.
#![allow(missing_docs)]
use crate::{Cipher, Qop, Side};
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    #[error("stub")]
    Stub,
}
impl LayerError {
    pub fn status(&self) -> crate::error::SspiStatus {
        crate::error::SspiStatus::SEC_E_INTERNAL_ERROR
    }
}
#[derive(Debug)]
pub struct Sealer;
#[derive(Debug)]
pub struct Unsealer;
pub fn establish(
    _ha1: &[u8; 16],
    _qop: Qop,
    _cipher: Option<Cipher>,
    _side: Side,
    _peer_maxbuf: u32,
    _own_maxbuf: u32,
) -> Result<(Sealer, Unsealer), LayerError> {
    Err(LayerError::Stub)
}
impl Sealer {
    pub fn seal(&mut self, _msg: &[u8], _out: &mut Vec<u8>) -> Result<(), LayerError> {
        Err(LayerError::Stub)
    }
}
impl Unsealer {
    pub fn unseal(&mut self, _wire: &[u8], _out: &mut Vec<u8>) -> Result<(), LayerError> {
        Err(LayerError::Stub)
    }
}
