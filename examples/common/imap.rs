//! imap (todo)
