//! An `io::Error` kept as an error's source by errors that are `Clone`
//! and `PartialEq` (config and map errors are compared in tests and
//! handed to several callers): shared, and equal when of the same kind
//! saying the same.

use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct IoCause(Arc<std::io::Error>);

impl From<std::io::Error> for IoCause {
    fn from(e: std::io::Error) -> Self {
        Self(Arc::new(e))
    }
}

impl std::fmt::Display for IoCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for IoCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.0.as_ref())
    }
}

impl PartialEq for IoCause {
    fn eq(&self, other: &Self) -> bool {
        self.0.kind() == other.0.kind() && self.0.to_string() == other.0.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn the_io_error_stays_reachable() {
        let cause = IoCause::from(std::io::Error::new(std::io::ErrorKind::NotFound, "gone"));
        assert_eq!(cause.to_string(), "gone");
        let inner = cause.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(
            inner.map(std::io::Error::kind),
            Some(std::io::ErrorKind::NotFound)
        );
        assert_eq!(cause.clone(), cause);
    }
}
