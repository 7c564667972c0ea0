//! xmpp (todo)
