//! [`HttpError`]: what can go wrong setting a server up.

use std::fmt;
use std::io;

/// A server could not be set up (bind, listen).
#[derive(Debug)]
pub struct HttpError {
    doing: &'static str,
    source: io::Error,
}

impl HttpError {
    pub(crate) fn io(doing: &'static str, source: io::Error) -> Self {
        HttpError { doing, source }
    }

    /// Returns `true` for an operating-system error (all of them, today).
    pub fn is_io(&self) -> bool {
        true
    }

    /// The operating system's error.
    pub fn io_error(&self) -> &io::Error {
        &self.source
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.doing, self.source)
    }
}

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}
