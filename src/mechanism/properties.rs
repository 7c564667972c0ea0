//! The rsasl properties this mechanism asks for and hands out: the policies, a
//! precomputed secret, a reauthentication ticket, the offered realms, and the outcome.

use rsasl::property::{Property, SizedProperty};

use crate::digest::Secret;
pub use crate::{ClientPolicy, ServerPolicy};
use crate::{Negotiated, ReauthTicket};

/// What the mechanism hands the application at the end of an exchange.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// What was negotiated.
    pub negotiated: Negotiated,
    /// Client: a ticket for a later subsequent authentication.
    pub reauth_ticket: Option<ReauthTicket>,
}

macro_rules! sized_property {
    ($(#[$m:meta])* $name:ident => $value:ty) => {
        $(#[$m])*
        #[non_exhaustive]
        #[derive(Debug)]
        pub struct $name;
        impl SizedProperty<'_> for $name {
            type Value = $value;
            const DESCRIPTION: &'static str = stringify!($name);
        }
    };
}

sized_property!(
    /// Client policy ([`ClientPolicy`]).
    DigestClientPolicy => ClientPolicy);
sized_property!(
    /// Server policy ([`ServerPolicy`]).
    DigestServerPolicy => ServerPolicy);
sized_property!(
    /// A precomputed H({username:realm:password}) instead of a password.
    DigestSecret => Secret);
sized_property!(
    /// Client: a ticket from an earlier [`Outcome`], to try a subsequent authentication.
    DigestReauthTicket => ReauthTicket);
sized_property!(
    /// Action at the end of the exchange ([`Outcome`]).
    DigestOutcome => Outcome);

/// The realms the server offered, in the callback's context while it is asked for
/// [`Realm`](rsasl::property::Realm).
#[non_exhaustive]
#[derive(Debug)]
pub struct OfferedRealms;
impl<'a> Property<'a> for OfferedRealms {
    type Value = [String];
    const DESCRIPTION: &'static str = "realms offered by the server";
}
